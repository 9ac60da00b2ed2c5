"""The tracker's writer queue: the newest state of each job wins, nothing read is lost."""

from __future__ import annotations

import asyncio
import datetime

from sagemaker_operator.controller.writes import WriteQueue

T0 = datetime.datetime(2026, 12, 2, 12, 0, tzinfo=datetime.UTC)


def at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


class Writer:
    """Records what it writes; fails the states named in ``failing``."""

    def __init__(self, failing: set[str] | None = None) -> None:
        self.written: list[str] = []
        self.settled: list[tuple[str, bool]] = []
        self.failing = failing or set()
        self.queue: WriteQueue[str, str] = WriteQueue(self.write, 4, self.settle)

    async def write(self, state: str) -> bool:
        if state in self.failing:
            return False
        self.written.append(state)
        return True

    def settle(self, state: str, done: bool) -> None:
        self.settled.append((state, done))


def test_a_job_offered_twice_before_its_turn_is_written_once_with_its_newest_state() -> None:
    async def scenario() -> Writer:
        writer = Writer()
        assert writer.queue.offer("job", "Downloading", at(1))
        assert writer.queue.offer("job", "Training", at(2))
        assert len(writer.queue) == 1
        await writer.queue.drain()
        return writer

    writer = asyncio.run(scenario())
    assert writer.written == ["Training"]
    # The replaced state is settled as done: the newer one carries it.
    assert writer.settled == [("Downloading", True), ("Training", True)]


def test_an_older_state_arriving_late_is_dropped_queued_or_written() -> None:
    async def scenario() -> Writer:
        writer = Writer()
        writer.queue.offer("job", "Training", at(2))
        assert not writer.queue.offer("job", "Downloading", at(1))  # queued: newer
        await writer.queue.drain()
        assert not writer.queue.offer("job", "Downloading", at(1))  # written: newer
        assert not writer.queue.offer("job", "Training", at(2))  # a duplicate
        await writer.queue.drain()
        return writer

    assert asyncio.run(scenario()).written == ["Training"]


def test_a_failed_write_lets_the_same_state_be_offered_again() -> None:
    async def scenario() -> Writer:
        writer = Writer(failing={"Training"})
        writer.queue.offer("job", "Training", at(2))
        await writer.queue.drain()
        assert writer.queue.written("job") is None
        writer.failing.clear()
        assert writer.queue.offer("job", "Training", at(2))
        await writer.queue.drain()
        return writer

    writer = asyncio.run(scenario())
    assert writer.written == ["Training"]
    assert writer.settled == [("Training", False), ("Training", True)]


def test_workers_write_while_more_is_offered_and_each_job_keeps_its_place() -> None:
    async def scenario() -> Writer:
        writer = Writer()
        workers = asyncio.create_task(writer.queue.run())
        for index in range(20):
            writer.queue.offer(f"job-{index}", f"job-{index} Downloading", at(1))
        writer.queue.offer("job-0", "job-0 Training", at(2))
        async with asyncio.timeout(5):
            while len(writer.queue):
                await asyncio.sleep(0.01)
        workers.cancel()
        return writer

    writer = asyncio.run(scenario())
    assert len(writer.written) == 20
    assert "job-0 Training" in writer.written
    assert "job-0 Downloading" not in writer.written


def test_forgotten_jobs_are_neither_written_nor_remembered() -> None:
    async def scenario() -> Writer:
        writer = Writer()
        writer.queue.offer("gone", "Training", at(2))
        writer.queue.offer("kept", "Training", at(2))
        writer.queue.forget(lambda key: key == "kept")
        await writer.queue.drain()
        return writer

    writer = asyncio.run(scenario())
    assert writer.written == ["Training"]
    assert ("Training", True) in writer.settled


def test_liveness_sees_writes_waiting_without_progress() -> None:
    async def scenario() -> WriteQueue[str, str]:
        writer = Writer()
        writer.queue.offer("job", "Training", at(2))
        return writer.queue

    queue = asyncio.run(scenario())
    assert queue.stalled(60, now=queue.last_progress + 30) is None
    assert queue.stalled(60, now=queue.last_progress + 61) == 61


def test_a_different_state_with_the_same_time_is_written_and_a_duplicate_is_not() -> None:
    """Should SageMaker change a job's secondary status or failure reason without moving
    LastModifiedTime, the change is written (before: dropped as no newer)."""

    async def scenario() -> Writer:
        writer = Writer()
        writer.queue.offer("job", "Training", at(2))
        await writer.queue.drain()
        assert not writer.queue.offer("job", "Training", at(2))  # the same state again
        assert writer.queue.offer("job", "Failed", at(2))  # another state, the same time
        await writer.queue.drain()
        return writer

    assert asyncio.run(scenario()).written == ["Training", "Failed"]
