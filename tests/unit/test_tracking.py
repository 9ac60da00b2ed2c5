"""Tracking's bookkeeping: which changes the next ListTrainingJobs must still find.

The tracker runs here against a scripted SageMaker (its pages and clock written out in
each test) and records the status patches it would send; the real tracker against the
emulator and a control plane is tested in tests/controller.
"""

from __future__ import annotations

import asyncio
import datetime
from dataclasses import dataclass, field
from typing import Any, cast

from sagemaker_operator.aws.gateway import Listing
from sagemaker_operator.controller.runtime import ResourceRef, Runtime
from sagemaker_operator.controller.tracking import Tracked, Tracker, next_since

REGION = "us-east-1"
T0 = datetime.datetime(2026, 11, 28, 12, 0, tzinfo=datetime.UTC)


def at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


def summary(name: str, secondary: str, modified: float) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:{REGION}:123456789012:training-job/{name}",
        "CreationTime": at(0),
        "LastModifiedTime": at(modified),
        "TrainingJobStatus": "InProgress",
        "SecondaryStatus": secondary,
    }


@dataclass
class ScriptedSageMaker:
    """Each list answers the jobs' state as it was when each page was read: ``pages`` holds,
    per list, the summaries of that list and SageMaker's time at its first page."""

    jobs: dict[str, dict[str, Any]]
    asked: list[datetime.datetime] = field(default_factory=list)
    during_next_list: list[dict[str, Any]] = field(default_factory=list)
    now: float = 0.0

    async def jobs_modified_after(self, region: str, moment: datetime.datetime) -> Listing:
        self.asked.append(moment)
        started = at(self.now)
        first_pages = [dict(job) for job in self.jobs.values() if job["LastModifiedTime"] > moment]
        # Changes while the later pages are read: they land on a page already read.
        for change in self.during_next_list:
            self.jobs[change["TrainingJobName"]] = change
        self.during_next_list = []
        return Listing(first_pages, started)


@dataclass
class Recorder:
    """The runtime's Kubernetes side: status patches and events, recorded."""

    gateway: ScriptedSageMaker
    patches: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def patch_status(self, ref: ResourceRef, status: dict[str, Any]) -> None:
        self.patches.append((ref.name, status))

    async def event(self, ref: ResourceRef, reason: str, message: str, **_: Any) -> None:
        pass


def tracked(name: str, secondary: str, modified: float) -> Tracked:
    status = {
        "trainingJobArn": f"arn:aws:sagemaker:{REGION}:123456789012:training-job/{name}",
        "trainingJobName": name,
        "region": REGION,
        "trainingJobStatus": "InProgress",
        "secondaryStatus": secondary,
        "lastModifiedTime": at(modified).isoformat(),
    }
    return Tracked(ResourceRef("ns", name, f"uid-{name}"), REGION, name, 1, status)


def written(recorder: Recorder, name: str) -> list[str]:
    return [status["secondaryStatus"] for who, status in recorder.patches if who == name]


def test_a_change_to_a_job_on_an_already_read_page_is_found_by_the_next_list() -> None:
    sagemaker = ScriptedSageMaker(
        {"early": summary("early", "Downloading", 9), "late": summary("late", "Starting", 1)}
    )
    recorder = Recorder(sagemaker)
    tracker = Tracker(cast(Runtime, recorder))
    index = {REGION: [tracked("early", "Starting", 1), tracked("late", "Starting", 1)]}

    # The first list starts at 10 s; "early" is read as Downloading, then turns Training
    # at 11 s while later pages are read, one of which holds "late", changed at 14 s.
    sagemaker.now = 10
    sagemaker.during_next_list = [summary("early", "Training", 11)]
    sagemaker.jobs["late"] = summary("late", "Downloading", 14)
    asyncio.run(tracker.tick(index))
    assert written(recorder, "early") == ["Downloading"]

    sagemaker.now = 20
    index = {REGION: [tracked("early", "Downloading", 9), tracked("late", "Downloading", 14)]}
    asyncio.run(tracker.tick(index))
    assert sagemaker.asked[1] < at(11), "the next list must start before the missed change"
    assert written(recorder, "early") == ["Downloading", "Training"]


def test_the_next_list_starts_at_the_latest_change_seen_when_it_is_earlier() -> None:
    changes = [summary("a", "Training", 5), summary("b", "Training", 7)]
    assert next_since(at(0), changes, started=at(10)) == at(7)


def test_the_next_list_never_starts_after_the_moment_this_list_began() -> None:
    changes = [summary("a", "Training", 5), summary("b", "Training", 12)]
    assert next_since(at(0), changes, started=at(10)) == at(10)


def test_a_list_without_changes_leaves_the_start_where_it_was() -> None:
    assert next_since(at(3), [], started=at(10)) == at(3)
    assert next_since(at(3), [summary("a", "Training", 1)], started=at(10)) == at(3)
