"""The tracker's one writer queue: the newest state of each job, written as it comes.

Lists, events and describes offer what they read; workers write it while the next list is
already read. Each job holds one place in the queue, whatever it is offered meanwhile:
the newest state (by SageMaker's LastModifiedTime) wins, and a state older than one
written or being written is dropped, as is the same state again. A state with the same
LastModifiedTime but other content (its digest) is written: should SageMaker change a
job's secondary status or failure reason without moving the time, the change is not
lost. A failed write lets the same state be offered again (the tracker keeps it for its
next tick), so nothing read is lost.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sagemaker_operator import metrics

logger = logging.getLogger(__name__)
K = TypeVar("K", bound=Hashable)
W = TypeVar("W")

EARLIEST = datetime.datetime.min.replace(tzinfo=datetime.UTC)


def modified(answer: Mapping[str, Any]) -> datetime.datetime:
    """A summary's, answer's or event's LastModifiedTime (the earliest moment without one)."""
    stamp = answer.get("LastModifiedTime")
    return stamp if isinstance(stamp, datetime.datetime) else EARLIEST


def digest(answer: Mapping[str, Any]) -> Hashable:
    """What tells two states of a job apart beside their time: its statuses, failure
    reason, and what still settles after the end (warm pool, rule evaluations)."""
    rules = tuple(str(rule.get("RuleEvaluationStatus"))
                  for member in ("DebugRuleEvaluationStatuses", "ProfilerRuleEvaluationStatuses")
                  for rule in answer.get(member) or [])  # fmt: skip
    return (answer.get("TrainingJobStatus"), answer.get("SecondaryStatus"),
            answer.get("FailureReason"), str((answer.get("WarmPoolStatus") or {}).get(
                "Status")), rules)  # fmt: skip


@dataclass(frozen=True)
class Offer(Generic[W]):
    item: W
    modified: datetime.datetime
    digest: Hashable = None


class WriteQueue(Generic[K, W]):
    """Pending writes, one per key, written by ``workers`` tasks with ``write`` (which
    returns whether the write is done: False lets the same state be offered again).
    ``settled`` hears of each item offered: written (True), failed (False), or replaced
    by a newer state of its key before its turn (True: the newer one is written)."""

    def __init__(
        self, write: Callable[[W], Awaitable[bool]], workers: int,
        settled: Callable[[W, bool], None] = lambda item, done: None,
    ) -> None:  # fmt: skip
        self._write = write
        self._settled = settled
        self._workers = workers
        self._pending: dict[K, Offer[W]] = {}
        self._busy: set[K] = set()
        # The LastModifiedTime (and digest) of each job's state written, or being written.
        self._newest: dict[K, tuple[datetime.datetime, Hashable]] = {}
        self._ready = asyncio.Event()  # set: a key may be free to write
        # When a write last finished (time.monotonic()), or the queue last became non-empty.
        self.last_progress = time.monotonic()

    def __len__(self) -> int:
        return len(self._pending) + len(self._busy)

    def offer(self, key: K, item: W, moment: datetime.datetime,
              state: Hashable = None) -> bool:  # fmt: skip
        """Queue ``item`` as ``key``'s state as of ``moment`` (``state``: what tells it from
        another state of the same moment; the item itself by default); False when it is
        older than what is written, being written or queued for the key, or that very
        state again."""
        state = item if state is None else state
        newest = self._newest.get(key)
        if newest is not None and (moment < newest[0] or newest == (moment, state)):
            return False
        queued = self._pending.get(key)
        if queued is not None and (queued.modified > moment or (
                queued.modified == moment and queued.digest == state)):  # fmt: skip
            return False
        if not self._pending and not self._busy:
            self.last_progress = time.monotonic()
        if queued is not None:
            self._settled(queued.item, True)
        self._pending[key] = Offer(item, moment, state)  # a queued key keeps its place
        metrics.WRITE_QUEUE.set(len(self))
        self._ready.set()
        return True

    def written(self, key: K) -> datetime.datetime | None:
        """The LastModifiedTime of ``key``'s state written (or being written)."""
        newest = self._newest.get(key)
        return newest[0] if newest is not None else None

    def forget(self, keep: Callable[[K], bool]) -> None:
        """Drop what is known of the keys ``keep`` refuses (jobs the index let go)."""
        for key in [key for key in self._newest if not keep(key) and key not in self._busy]:
            self._newest.pop(key, None)
        for key in [key for key in self._pending if not keep(key)]:
            self._settled(self._pending.pop(key).item, True)  # nobody to write it for
        metrics.WRITE_QUEUE.set(len(self))

    def stalled(self, limit: float, now: float | None = None) -> float | None:
        """Seconds without a finished write while writes wait, when beyond ``limit``."""
        if not self._pending and not self._busy:
            return None
        idle = (time.monotonic() if now is None else now) - self.last_progress
        return idle if idle > limit else None

    async def run(self) -> None:
        """The workers, until cancelled."""
        async with asyncio.TaskGroup() as group:
            for _ in range(self._workers):
                group.create_task(self._work())

    async def _work(self) -> None:
        while True:
            key = self._next_free()
            if key is None:
                self._ready.clear()
                await self._ready.wait()
                continue
            await self._write_one(key)

    async def drain(self) -> None:
        """Write everything pending now, in this task (without the workers running)."""
        while (key := self._next_free()) is not None:
            await self._write_one(key)

    async def _write_one(self, key: K) -> None:
        offer = self._pending.pop(key)
        self._busy.add(key)
        before = self._newest.get(key)
        self._newest[key] = (offer.modified, offer.digest)
        done = False
        try:
            done = await self._write(offer.item)
        except Exception:  # the write function's own failures are its to handle
            logger.exception("a status write failed")
        finally:
            self._settled(offer.item, done)
            self._busy.discard(key)
            if not done and self._newest.get(key) == (offer.modified, offer.digest):
                if before is None:
                    self._newest.pop(key, None)
                else:
                    self._newest[key] = before
            self.last_progress = time.monotonic()
            metrics.WRITE_QUEUE.set(len(self))
            if key in self._pending:  # offered again while written: its turn now
                self._ready.set()

    def _next_free(self) -> K | None:
        """The longest-waiting key not being written (a key is written by one worker)."""
        return next((key for key in self._pending if key not in self._busy), None)
