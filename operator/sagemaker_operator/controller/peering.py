"""Hot standby: a replica that kopf's peering pauses must not poll SageMaker either.

kopf pauses its handlers while a live peer of higher priority exists, but the tracker runs
beside them; it asks the same question of the peering object before each tick.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

DEFAULT_LIFETIME = 60  # seconds, kopf's default peer lifetime


def outranked(peers: Mapping[str, Any], priority: int, now: datetime.datetime) -> bool:
    """Whether the peering object's status lists a live peer of higher priority."""
    for peer in peers.values():
        if not isinstance(peer, Mapping) or int(peer.get("priority", 0)) <= priority:
            continue
        seen = peer.get("lastseen")
        if seen is None:
            return True
        last = datetime.datetime.fromisoformat(str(seen).replace("Z", "+00:00"))
        if last.tzinfo is None:
            last = last.replace(tzinfo=datetime.UTC)
        lifetime = datetime.timedelta(seconds=int(peer.get("lifetime", DEFAULT_LIFETIME)))
        if last + lifetime > now:
            return True
    return False
