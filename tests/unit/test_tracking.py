"""Tracking's bookkeeping: which changes the next ListTrainingJobs must still find.

The tracker runs here against a scripted SageMaker (its pages and clock written out in
each test) and records the status patches it would send; the real tracker against the
emulator and a control plane is tested in tests/controller.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any, cast

from botocore.exceptions import EndpointConnectionError

from sagemaker_operator.aws.accounts import OWN, Account
from sagemaker_operator.aws.arns import JobArn
from sagemaker_operator.aws.gateway import Page
from sagemaker_operator.aws.rates import RateLimits
from sagemaker_operator.controller.memory import JobMemory
from sagemaker_operator.controller.runtime import ResourceRef, Runtime
from sagemaker_operator.controller.tracked import Tracked
from sagemaker_operator.controller.tracking import Tracker
from sagemaker_operator.settings import OperatorSettings

REGION = "us-east-1"
# The scripts' clock starts ten minutes ago: resources older than a day would be described
# before their creation bounds a list, and an end over an hour ago owes no Event (the
# suite may run long after this module is imported).
T0 = datetime.datetime.now(datetime.UTC).replace(microsecond=0) - datetime.timedelta(minutes=10)


def tick(tracker: Tracker, index: dict[str, list[Tracked]]) -> None:
    """One tick, and the writes it queued (the writer's workers run beside the ticks)."""

    async def ticked() -> None:
        await tracker.tick(index)
        await tracker.writes.drain()

    asyncio.run(ticked())


def at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


def job_arn(name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:123456789012:training-job/{name}"


def summary(name: str, secondary: str, modified: float) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "TrainingJobArn": job_arn(name),
        "CreationTime": at(0),
        "LastModifiedTime": at(modified),
        "TrainingJobStatus": "InProgress",
        "SecondaryStatus": secondary,
    }


@dataclass
class ScriptedSageMaker:
    """Lists answer the jobs as they are, in two pages; ``during_next_list`` are changes
    made after the first page was read (to jobs on it: they are not seen)."""

    jobs: dict[str, dict[str, Any]]
    asked: list[datetime.datetime] = field(default_factory=list)
    created_after: list[datetime.datetime | None] = field(default_factory=list)
    described: list[str] = field(default_factory=list)
    limits: RateLimits = field(default_factory=RateLimits)
    during_next_list: list[dict[str, Any]] = field(default_factory=list)
    now: float = 0.0
    outage: bool = False

    async def jobs_modified_after(
        self, region: str, moment: datetime.datetime, *,
        created_after: datetime.datetime | None = None, **_: Any,
    ) -> AsyncIterator[Page]:  # fmt: skip
        """Two pages, 4 s apart (a slow list): the first job (in creation order), then the rest."""
        self.asked.append(moment)
        self.created_after.append(created_after)
        if self.outage:
            raise EndpointConnectionError(endpoint_url="https://sagemaker.invalid")
        first, *others = self.jobs
        yield Page(self._changed([first], moment), at(self.now))
        for change in self.during_next_list:
            self.jobs[change["TrainingJobName"]] = change
        self.during_next_list = []
        yield Page(self._changed(others, moment), at(self.now + 4))

    async def describe_training_job(self, region: str, name: str, **_: Any) -> dict[str, Any]:
        self.described.append(name)
        return dict(self.jobs[name])

    def _changed(self, names: list[str], moment: datetime.datetime) -> list[dict[str, Any]]:
        return [dict(self.jobs[name]) for name in names
                if self.jobs[name]["LastModifiedTime"] > moment]  # fmt: skip


class Everything(set[tuple[str, str]]):
    """Every (resource, job) pair: the jobs here are their resources' own."""

    def __contains__(self, item: object) -> bool:
        return True


@dataclass
class Recorder:
    """The runtime's Kubernetes side: status patches and events, recorded."""

    gateway: ScriptedSageMaker
    patches: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    settings: OperatorSettings = field(default_factory=OperatorSettings)
    owned: set[tuple[str, str]] = field(default_factory=Everything)
    memory: JobMemory = field(default_factory=JobMemory)

    async def patch_status(
        self, ref: ResourceRef, status: dict[str, Any], expect: Any = None
    ) -> None:
        self.patches.append((ref.name, status))

    told: list[tuple[str, str]] = field(default_factory=list)
    refuse_events: bool = False

    async def event(self, ref: ResourceRef, reason: str, message: str, **_: Any) -> None:
        pass

    async def tell(self, ref: ResourceRef, reason: str, message: str, **_: Any) -> bool:
        if self.refuse_events:
            return False
        self.told.append((ref.name, reason))
        return True

    async def account_for(self, namespace: str) -> Account:
        return OWN


def stamp(seconds: float) -> str:
    return at(seconds).isoformat().replace("+00:00", "Z")


def fresh(name: str, created: float) -> Tracked:
    """A resource whose create handler just wrote the ARN: no SageMaker time in status."""
    status = {"trainingJobArn": job_arn(name), "trainingJobName": name, "region": REGION}
    return Tracked(ResourceRef("ns", name, f"uid-{name}"), JobArn.parse(job_arn(name)), 1,
                   status, stamp(created))  # fmt: skip


def tracked(name: str, secondary: str, modified: float) -> Tracked:
    """A resource created at 0 s whose status shows its job as of ``modified``."""
    status = {
        "trainingJobArn": job_arn(name),
        "trainingJobName": name,
        "region": REGION,
        "trainingJobStatus": "InProgress",
        "secondaryStatus": secondary,
        "lastModifiedTime": at(modified).isoformat(),
    }
    return Tracked(ResourceRef("ns", name, f"uid-{name}"), JobArn.parse(job_arn(name)), 1,
                   status, stamp(0))  # fmt: skip


def written(recorder: Recorder, name: str) -> list[str]:
    return [status["secondaryStatus"] for who, status in recorder.patches if who == name]


def test_a_change_to_a_job_on_an_already_read_page_is_found_by_the_next_list() -> None:
    sagemaker = ScriptedSageMaker(
        {"early": summary("early", "Downloading", 9), "late": summary("late", "Starting", 1)}
    )
    recorder = Recorder(sagemaker)
    tracker = Tracker(cast(Runtime, recorder))
    index = {REGION: [tracked("early", "Starting", 1), tracked("late", "Starting", 1)]}

    # The first list reads its first page at 10 s: "early" is Downloading. Then "early"
    # turns Training (11 s) and "late" Downloading (13.5 s), before the second page is
    # read (14 s): it holds "late" only, "early" being on the first.
    sagemaker.now = 10
    sagemaker.during_next_list = [summary("early", "Training", 11),
                                  summary("late", "Downloading", 13.5)]  # fmt: skip
    tick(tracker, index)
    assert written(recorder, "early") == ["Downloading"]

    sagemaker.now = 20
    index = {REGION: [tracked("early", "Downloading", 9), tracked("late", "Downloading", 13.5)]}
    tick(tracker, index)
    assert sagemaker.asked[1] < at(11), "the next list must start before the missed change"
    assert written(recorder, "early") == ["Downloading", "Training"]


def test_after_a_quiet_tick_the_next_list_asks_only_for_changes_since_it_began() -> None:
    sagemaker = ScriptedSageMaker(
        {"a": summary("a", "Training", 5), "b": summary("b", "Training", 5.5)}
    )
    recorder = Recorder(sagemaker)
    tracker = Tracker(cast(Runtime, recorder))
    index = {REGION: [tracked("a", "Downloading", 1), tracked("b", "Downloading", 1)]}
    sagemaker.now = 10
    tick(tracker, index)
    index = {REGION: [tracked("a", "Training", 5), tracked("b", "Training", 5.5)]}
    sagemaker.now = 20
    tick(tracker, index)
    # Not from the last change seen (5.5 s), which would list both jobs again every tick.
    assert at(8) < sagemaker.asked[1] <= at(10)
    assert len(recorder.patches) == 2


def test_the_changes_that_waited_longest_are_written_first() -> None:
    sagemaker = ScriptedSageMaker(
        {
            "a": summary("a", "Training", 7),
            "c": summary("c", "Training", 5),
            "b": summary("b", "Training", 3),
        }
    )
    recorder = Recorder(sagemaker)
    sagemaker.now = 10
    index = {REGION: [tracked(name, "Downloading", 1) for name in ("a", "c", "b")]}
    tick(Tracker(cast(Runtime, recorder)), index)
    # Listed in creation order (a, c, b), written oldest change first.
    assert [name for name, _ in recorder.patches] == ["b", "c", "a"]


def test_a_job_just_created_is_listed_from_shortly_before_its_resource_was_created() -> None:
    """Its status has no SageMaker time yet; five minutes back would list every job
    changed in those minutes, each time a new one is created."""
    sagemaker = ScriptedSageMaker({"new": summary("new", "Starting", 10.5)})
    sagemaker.now = 11
    tick(Tracker(cast(Runtime, Recorder(sagemaker))), {REGION: [fresh("new", 10)]})
    assert at(10) - datetime.timedelta(seconds=5) <= sagemaker.asked[0] < at(10)


def test_a_job_listed_before_its_resource_had_the_arn_is_written_from_that_listing() -> None:
    sagemaker = ScriptedSageMaker(
        {"old": summary("old", "Training", 2), "born": summary("born", "Downloading", 9)}
    )
    recorder = Recorder(sagemaker)
    tracker = Tracker(cast(Runtime, recorder))
    sagemaker.now = 10
    tick(tracker, {REGION: [tracked("old", "Downloading", 1)]})
    # "born" was created at 5 s; its resource shows the ARN only now.
    sagemaker.now = 20
    tick(tracker, {REGION: [tracked("old", "Training", 2), fresh("born", 5)]})
    assert written(recorder, "born") == ["Downloading"]
    assert sagemaker.asked[1] >= at(8), "the list need not go back to its creation"


def test_a_failed_tick_is_tried_again_from_the_same_point() -> None:
    sagemaker = ScriptedSageMaker({"born": summary("born", "Downloading", 9)}, outage=True)
    recorder = Recorder(sagemaker)
    tracker = Tracker(cast(Runtime, recorder))
    sagemaker.now = 10
    tick(tracker, {REGION: [fresh("born", 5)]})  # logged, not raised
    sagemaker.outage = False
    sagemaker.now = 20
    tick(tracker, {REGION: [fresh("born", 5)]})
    assert sagemaker.asked[1] == sagemaker.asked[0] < at(5)
    assert written(recorder, "born") == ["Downloading"]


def test_a_job_created_long_after_its_resource_is_listed_from_its_create_call() -> None:
    """Applied at 5 s, created at 40 s (after a queue of creates): the conditions the
    create handler wrote say when, within the create call's allowance."""
    sagemaker = ScriptedSageMaker({"late": summary("late", "Starting", 40)})
    queued = fresh("late", 5)
    status = dict(queued.status) | {
        "conditions": [
            {
                "type": "Ready",
                "status": "False",
                "reason": "Starting",
                "lastTransitionTime": at(40.2).isoformat(),
            }
        ]
    }
    sagemaker.now = 41
    resource = Tracked(queued.ref, queued.job, 1, status, queued.created)
    asyncio.run(Tracker(cast(Runtime, Recorder(sagemaker))).tick({REGION: [resource]}))
    assert at(30) <= sagemaker.asked[0] < at(40)


def test_a_status_cannot_move_what_a_list_reads() -> None:
    """A creationTime of 2000 in status (a tenant may write status) leaves the list's
    creation bound at the resource's creationTimestamp (before: it went back to 2000, and
    every list read the region's history)."""
    sagemaker = ScriptedSageMaker({"a": summary("a", "Training", 5)})
    tampered = tracked("a", "Downloading", 1)
    status = dict(tampered.status, creationTime="2000-01-01T00:00:00Z",
                  lastModifiedTime="2000-01-01T00:00:00Z")  # fmt: skip
    sagemaker.now = 10
    tick(Tracker(cast(Runtime, Recorder(sagemaker))),
         {REGION: [Tracked(tampered.ref, tampered.job, 1, status, tampered.created)]})  # fmt: skip
    (bound,) = sagemaker.created_after
    assert bound is not None
    assert bound >= at(0) - datetime.timedelta(minutes=1)
    assert sagemaker.asked[0] >= at(0) - datetime.timedelta(seconds=61)  # and the overlap


def test_a_job_older_than_a_day_is_described_before_its_creation_bounds_a_list() -> None:
    """Its status may say a job that ended long ago runs: the describe tells (no list with
    a bound of the resource's age), and its CreationTime bounds the lists after."""
    sagemaker = ScriptedSageMaker({"old": summary("old", "Training", 5)})
    recorder = Recorder(sagemaker)
    tracker = Tracker(cast(Runtime, recorder))
    old = tracked("old", "Downloading", 1)
    aged = Tracked(old.ref, old.job, 1, old.status,
                   (T0 - datetime.timedelta(days=3)).isoformat())  # fmt: skip
    sagemaker.now = 10
    tick(tracker, {REGION: [aged]})
    assert sagemaker.described == ["old"]
    assert sagemaker.asked == []
    assert written(recorder, "old") == ["Training"]
    tick(tracker, {REGION: [Tracked(old.ref, old.job, 1, recorder.patches[-1][1] | {
        "trainingJobArn": old.job.arn}, aged.created)]})  # fmt: skip
    assert sagemaker.created_after == [at(0) - datetime.timedelta(seconds=1)]


@dataclass
class Ticking:
    """Just what Tracker.stalled reads of the runtime: the poll interval (and the memory
    every tracker shares)."""

    settings: Any
    memory: JobMemory = field(default_factory=JobMemory)


def test_liveness_fails_once_no_tick_has_finished_for_five_intervals_or_a_minute() -> None:
    @dataclass
    class Settings:
        poll_interval: float

    for interval, limit in ((30.0, 150.0), (1.0, 60.0)):
        tracker = Tracker(cast(Runtime, Ticking(Settings(interval))))
        tracker.last_finished = 1000.0
        assert tracker.stalled(now=1000.0 + limit) is None
        stalled = tracker.stalled(now=1000.0 + limit + 1)
        assert stalled is not None
        assert f"for {limit + 1:.0f} s" in stalled


def test_an_end_whose_event_was_refused_is_announced_by_a_later_tick() -> None:
    """Issue L: the ``Stopped`` event was posted only after its status write, and lost when
    the post failed or the process stopped between the two."""
    stopped = summary("run", "Stopped", 9) | {"TrainingJobStatus": "Stopped"}
    sagemaker = ScriptedSageMaker({"run": stopped})
    recorder = Recorder(sagemaker, refuse_events=True)
    tracker = Tracker(cast(Runtime, recorder))
    running = tracked("run", "Training", 1)
    running = replace(running, status={**running.status, "announced": "InProgress/Training"})
    sagemaker.now = 10
    tick(tracker, {REGION: [running]})
    [(_, status)] = recorder.patches
    assert status["trainingJobStatus"] == "Stopped"
    assert "announced" not in status, "a state whose event was refused is not announced"
    assert recorder.told == []

    # The index now shows the end, not announced; the apiserver takes events again.
    recorder.refuse_events = False
    shown = replace(running, status={**running.status, **status})
    recorder.patches.clear()
    tick(tracker, {REGION: [shown]})
    assert recorder.told == [("run", "Stopped")]
    assert recorder.patches == [("run", {"announced": "Stopped/Stopped"})]
    assert sagemaker.described == ["run"], "what AWS said to this process is not asked again"
