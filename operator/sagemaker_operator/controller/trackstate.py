"""What the tracker's parts share: its state, its constants, and a write's shape.

The tracker (controller/tracking.py) is one object made of parts, each in a file of its
own: its ticks (tracking.py), its lists (listing.py), its follow-ups (followups.py) and
the writes of a job's state (updating.py). This is the state they share, set up once.
"""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sagemaker_operator.controller.guard import OwnershipGuard
from sagemaker_operator.controller.runtime import Runtime
from sagemaker_operator.controller.tracked import JobKey, Scope, Tracked
from sagemaker_operator.controller.writes import WriteQueue

# Lists start this long before the previous list began: SageMaker's clock (its Date
# header, to the second, rounded down) and the moment a change becomes listable may
# differ by that much.
OVERLAP = datetime.timedelta(seconds=1)
FOLLOW_CEILING = 300.0  # seconds: the longest wait between describes of an ended job
# Seconds before a state's Event that could not be posted is tried again (then doubling,
# up to FOLLOW_CEILING).
ANNOUNCE_RETRY = 5.0
# Seconds within which a change's event reaches the queue (EventBridge delivers in near
# real time): a change a list finds that is older, and was not written, no event brought.
EVENT_GRACE = datetime.timedelta(seconds=10)
# A resource this much older than its job may be (a restart found it in flight): its job
# is described before its creation bounds any list.
OLD_RESOURCE = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Resume:
    """A list cut short: where it goes on, with the filters it was asked with."""

    since: datetime.datetime
    created_after: datetime.datetime | None
    token: str
    read_at: datetime.datetime  # its first page's reading


@dataclass(frozen=True)
class Write:
    """A job's state to write: a list's summary, or a describe's (or an event's) answer."""

    tracked: Tracked
    answer: Mapping[str, Any]
    described: bool = False
    # Told whether the state is written (an event's message is deleted only then).
    done: asyncio.Future[bool] | None = field(default=None, compare=False)


def settled(write: Write, done: bool) -> None:
    if write.done is not None and not write.done.done():
        write.done.set_result(done)


class DroppedError(Exception):
    """A job's update gave up for good (its resource is gone or now another)."""


class WrongJobError(Exception):
    """An answer about another job than the resource's ARN names: nothing is written."""


class TrackerState:
    """The tracker's state (every part reads and writes it)."""

    # The writer queue (made by the Tracker, whose parts write).
    writes: WriteQueue[tuple[Scope, str], Write]

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.memory = runtime.memory
        self.guard = OwnershipGuard(runtime, self.memory)
        self._since: dict[Scope, datetime.datetime] = {}
        self._known: dict[Scope, set[JobKey]] = {}
        # The last list's summaries of jobs the index did not hold (yet), by ARN (case
        # ignored): a job created just before a tick is listed before its resource shows
        # the ARN. When it joins the index, that summary is its state, and the list need
        # not go back for it.
        self._unclaimed: dict[Scope, dict[str, Mapping[str, Any]]] = {}
        # The jobs the last tick tried (when it failed, they are not known yet): the quick
        # look at an idle index must not retry a failing tick every second.
        self._attempted: dict[Scope, set[JobKey]] = {}
        # Updates that failed (a status patch refused, a describe throttled): tried again
        # next tick from the same summary, without listing back for them.
        self._retry: dict[Scope, dict[JobKey, Mapping[str, Any]]] = {}
        self._resume: dict[Scope, Resume] = {}
        # When each job's state was last read (a list or a describe; time.monotonic()).
        self._seen: dict[tuple[Scope, JobKey], float] = {}
        # Ended jobs still settling: when to describe them next, and the wait after that.
        self._follow: dict[tuple[Scope, JobKey], tuple[float, float]] = {}
        # When the last tick ended (time.monotonic()), well or not: liveness reads it.
        self.last_finished = time.monotonic()
        # Whether events bring the status now, and what to tell of the changes a list found
        # that no event had brought (controller/events.py sets both).
        self.events_flowing: Callable[[], bool] = lambda: False
        self.events_missed: Callable[[int, int], None] = lambda missed, found: None
        # Jobs whose end an event told, being confirmed by a describe: one call a job (the
        # tasks are held here, as asyncio wants).
        self._confirming: dict[tuple[Scope, str], asyncio.Future[bool]] = {}
        self._confirmations: set[asyncio.Task[None]] = set()
        # The state whose Event this process posted for each resource (by UID): a status
        # write that failed after it is tried again without a second Event.
        self._told: dict[str, str] = {}
        # Resources whose status owes an Event: when to try next, and the wait after that.
        self._owed: dict[str, tuple[float, float]] = {}
