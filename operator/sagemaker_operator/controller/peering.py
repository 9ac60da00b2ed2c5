"""Hot standby: a replica that kopf's peering pauses must not poll SageMaker either.

kopf pauses its handlers while a live peer of higher priority exists, but the tracker runs
beside them; it asks the same question of the peering object before each tick.

The peering object is always the cluster-scoped ClusterKopfPeering, also when the operator
watches some namespaces only: kopf would otherwise keep a KopfPeering in every watched
namespace and pause every namespace for a peer any of them lists, and whoever may edit
their own namespace may write one. A peer is alive for its ``lifetime`` after its
``lastseen``: a peer without one is dead (kopf counts it alive forever), and so is one
whose ``lastseen`` is more than its lifetime ahead (no live peer's clock is that far off).
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
            continue
        last = datetime.datetime.fromisoformat(str(seen).replace("Z", "+00:00"))
        if last.tzinfo is None:
            last = last.replace(tzinfo=datetime.UTC)
        lifetime = datetime.timedelta(seconds=int(peer.get("lifetime", DEFAULT_LIFETIME)))
        if last - lifetime <= now < last + lifetime:  # further ahead: no live peer's clock
            return True
    return False
