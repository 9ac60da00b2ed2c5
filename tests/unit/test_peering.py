"""A standby replica recognises a live peer of higher priority in kopf's peering status."""

from __future__ import annotations

import datetime

from sagemaker_operator.controller.peering import outranked

NOW = datetime.datetime(2026, 11, 28, 19, 0, tzinfo=datetime.UTC)


def peer(priority: int, seconds_ago: float, lifetime: int = 60) -> dict[str, object]:
    seen = NOW - datetime.timedelta(seconds=seconds_ago)
    return {"priority": priority, "lifetime": lifetime, "lastseen": seen.isoformat()}


def test_a_live_peer_of_higher_priority_outranks() -> None:
    assert outranked({"a": peer(10, 5), "me": peer(5, 0)}, 5, NOW)


def test_a_dead_higher_peer_or_a_lower_one_does_not() -> None:
    assert not outranked({"a": peer(10, 61), "b": peer(3, 1), "me": peer(5, 0)}, 5, NOW)
    assert not outranked({}, 5, NOW)


def test_kopfs_naive_timestamps_are_utc_and_lifetimes_are_the_peers_own() -> None:
    naive = (NOW - datetime.timedelta(seconds=100)).replace(tzinfo=None).isoformat()
    assert outranked({"a": {"priority": 9, "lifetime": 300, "lastseen": naive}}, 1, NOW)
    assert not outranked({"a": {"priority": 9, "lifetime": 30, "lastseen": naive}}, 1, NOW)


def test_a_peer_without_lastseen_or_seen_in_years_to_come_is_dead() -> None:
    """kopf counts a peer without ``lastseen`` alive forever, and one seen in ten years alive
    for ten years: either, written by hand, would pause the operator for good. A clock a
    little ahead (within the lifetime) is a live peer's."""
    assert not outranked({"a": {"priority": 2**31 - 1, "lifetime": 60}}, 1, NOW)
    for ahead, alive in ((3650 * 86400, False), (61, False), (30, True)):
        seen = (NOW + datetime.timedelta(seconds=ahead)).isoformat()
        found = outranked({"a": {"priority": 9, "lifetime": 60, "lastseen": seen}}, 1, NOW)
        assert found is alive, ahead
