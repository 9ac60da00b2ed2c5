"""The tracker against AWS as it really behaves: the real gateway (boto3) and the emulator
with its unkind switches on. The Kubernetes side is a recorder of status patches (the
index is rebuilt from them each tick, as kopf's index would be); the tests in this folder
that start the operator show the same against a real apiserver.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import kubernetes
import pytest

from sagemaker_emulator.samples import typical
from sagemaker_lab import Emulator, EmulatorControl, wait_until
from sagemaker_operator.aws.gateway import SageMakerGateway
from sagemaker_operator.aws.rates import RateLimits
from sagemaker_operator.controller.requests import UID_TAG
from sagemaker_operator.controller.runtime import ResourceRef, Runtime
from sagemaker_operator.controller.tracked import Tracked, tracked_from
from sagemaker_operator.controller.tracking import Tracker
from sagemaker_operator.policy import Policy
from sagemaker_operator.settings import OperatorSettings

REGION = "us-east-1"


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gateway uses boto3's default chain: dummy keys (the emulator checks none)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "emulator")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "emulator")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@dataclass
class Cluster:
    """What the apiserver would hold: each resource's status, patched as the tracker does."""

    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Each resource's metadata.creationTimestamp (the apiserver's: no tenant writes it).
    created: dict[str, str] = field(default_factory=dict)
    refuse: dict[str, int] = field(default_factory=dict)  # name → HTTP status of refusals
    patches: list[str] = field(default_factory=list)


class RecordingRuntime(Runtime):
    """The real runtime (settings, gateway, policy) with its Kubernetes writes recorded."""

    cluster: Cluster

    async def patch_status(
        self, ref: ResourceRef, status: dict[str, Any], expect: Any = None
    ) -> None:
        if ref.name in self.cluster.refuse:
            raise kubernetes.client.ApiException(status=self.cluster.refuse[ref.name])
        self.cluster.patches.append(ref.name)
        merged = self.cluster.statuses.setdefault(ref.name, {})
        merged.update(status)

    async def event(self, ref: ResourceRef, reason: str, message: str, **_: Any) -> None:
        pass

    async def tell(self, ref: ResourceRef, reason: str, message: str, **_: Any) -> bool:
        return True


@dataclass
class Harness:
    emulator: Emulator
    runtime: RecordingRuntime
    tracker: Tracker
    cluster: Cluster
    # One event loop for every tick, as in the operator (the rate limiters belong to it).
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    clients: dict[str, Any] = field(default_factory=dict)

    @property
    def control(self) -> EmulatorControl:
        return EmulatorControl(self.emulator.endpoint_url)

    def create(self, name: str, region: str = REGION, **overrides: Any) -> None:
        """A job created for resource ``name`` (tagged with its UID), as the create handler
        leaves its status."""
        if region not in self.clients:
            self.clients[region] = self.emulator.sagemaker_client(region)
        sagemaker = self.clients[region]
        request = typical(name, Tags=[{"Key": UID_TAG, "Value": f"uid-{name}"}], **overrides)
        arn = sagemaker.create_training_job(**request)["TrainingJobArn"]
        now = datetime.datetime.now(datetime.UTC).isoformat()
        self.cluster.created.setdefault(name, now)
        self.cluster.statuses[name] = {
            "trainingJobArn": arn, "trainingJobName": name, "region": region,
            "trainingJobStatus": "InProgress", "secondaryStatus": "Starting",
            "conditions": [{"type": "Ready", "status": "False", "reason": "Starting",
                            "lastTransitionTime": now}],
        }  # fmt: skip

    def index(self) -> dict[str, list[Tracked]]:
        index: dict[str, list[Tracked]] = {}
        for name, status in self.cluster.statuses.items():
            created = self.cluster.created.setdefault(
                name, datetime.datetime.now(datetime.UTC).isoformat()
            )
            tracked = tracked_from("ns", name, f"uid-{name}", 1, status, created=created,
                                   follow_for=self.runtime.settings.follow_for)  # fmt: skip
            if tracked is not None:
                index.setdefault(tracked.region, []).append(tracked)
        return index

    def tick(self, index: dict[str, list[Tracked]] | None = None) -> None:
        """One tick, and the status writes it queued (the writer runs beside the ticks)."""

        async def ticked() -> None:
            await self.tracker.tick(self.index() if index is None else index)
            await self.tracker.writes.drain()

        self.loop.run_until_complete(ticked())

    def status(self, name: str) -> dict[str, Any]:
        return self.cluster.statuses[name]

    def calls(self, operation: str) -> int:
        return self.control.calls(operation)


@pytest.fixture
def harness(emulator: Emulator) -> Iterator[Harness]:
    made = make_harness(emulator)
    yield made
    made.loop.close()


def make_harness(emulator: Emulator, **settings: Any) -> Harness:
    options = {"resync_after": 3600.0, "follow_interval": 0.2} | settings
    gateway = SageMakerGateway(
        endpoint_url=emulator.endpoint_url,
        home_region=REGION,
        limits=RateLimits(create=100, describe=100, list=100, tags=100),
    )
    runtime = RecordingRuntime(OperatorSettings(**options), gateway, REGION,
                               Policy.own_account("123456789012"))  # fmt: skip
    runtime.cluster = Cluster()
    return Harness(emulator, runtime, Tracker(runtime), runtime.cluster)


def test_a_tick_reads_only_the_jobs_created_since_the_oldest_in_flight_whatever_the_history(
    harness: Harness,
) -> None:
    """20,000 old jobs and lists that filter after paging: the list is bounded by creation
    (before: every tick read all 200 pages of the region's history, oldest first)."""
    control = harness.control
    control.seed(20_000, years=3)
    control.set_faults(filter_after_paging=True)
    for index in range(150):
        harness.create(f"job-{index:03}")
    before = harness.calls("ListTrainingJobs")
    harness.tick()
    pages = harness.calls("ListTrainingJobs") - before
    assert pages <= 150 // 100 + 1 + 1, f"{pages} list calls for 150 jobs in flight"
    assert all(harness.status(f"job-{index:03}").get("creationTime") for index in range(150))


def test_a_list_cut_short_by_throttling_keeps_what_it_read_and_goes_on_from_its_token(
    harness: Harness,
) -> None:
    control = harness.control
    control.set_faults(filter_after_paging=True)
    for index in range(350):
        harness.create(f"job-{index:03}")
    control.set_faults(throttle_after={"ListTrainingJobs": 2})  # pages 1-2 of 4, then throttled
    harness.tick()
    written = {
        name for name, status in harness.cluster.statuses.items() if "creationTime" in status
    }
    assert written == {f"job-{index:03}" for index in range(200)}, "pages read are kept"
    control.set_faults(throttle_after={})
    before = harness.calls("ListTrainingJobs")
    harness.tick()
    assert harness.calls("ListTrainingJobs") - before == 2, "on from the token: pages 3 and 4"
    assert all("creationTime" in status for status in harness.cluster.statuses.values())


def test_a_job_whose_describe_is_refused_for_good_does_not_hold_back_the_others(
    harness: Harness,
) -> None:
    control = harness.control
    control.set_faults(denied={"DescribeTrainingJob": ["secret"]})
    harness.create("secret")
    harness.create("open")
    wait_until(lambda: harness.emulator.store.get(REGION, "open").finished, timeout=10)
    harness.tick()
    assert harness.status("open")["trainingJobStatus"] == "Completed"
    assert harness.status("open")["modelArtifacts"]
    secret = harness.status("secret")
    assert secret["trainingJobStatus"] == "Completed"  # from the list's summary
    ready = next(c for c in secret["conditions"] if c["type"] == "Ready")
    assert "DescribeTrainingJob refused: AccessDeniedException" in ready["message"]
    # Both written: neither is listed or described again.
    lists, describes = harness.calls("ListTrainingJobs"), harness.calls("DescribeTrainingJob")
    harness.tick()
    assert (harness.calls("ListTrainingJobs"), harness.calls("DescribeTrainingJob")) == (
        lists, describes)  # fmt: skip


def test_a_status_patch_refused_for_one_job_is_retried_without_holding_back_the_others(
    harness: Harness,
) -> None:
    harness.create("refused")
    harness.create("fine")
    harness.cluster.refuse["refused"] = 403
    harness.tick()
    assert harness.status("fine").get("creationTime"), "the other job is written"
    first_since = dict(harness.tracker._since)
    assert first_since, "the region's list moved on"
    del harness.cluster.refuse["refused"]
    harness.tick()
    assert harness.status("refused").get("creationTime"), "retried next tick"


def test_a_region_that_fails_does_not_stop_the_others(harness: Harness) -> None:
    harness.create("here")
    harness.create("there", region="eu-west-1")
    # A status no tick can read (status is writable by whoever may patch
    # trainingjobs/status): its region fails, with an error that is not botocore's, alone.
    harness.cluster.statuses["there"]["lastModifiedTime"] = "the day before yesterday"
    index = harness.index()
    harness.tick({"eu-west-1": index["eu-west-1"], REGION: index[REGION]})  # the bad one first
    assert harness.status("here").get("creationTime"), "the region after the failing one is tracked"


def test_a_region_sagemaker_does_not_have_gets_no_client(harness: Harness) -> None:
    """Clients are never freed; a made-up region in a status must not make one."""
    harness.create("here")
    harness.cluster.statuses["nowhere"] = dict(harness.status("here"), region="xx-nowhere-9",
                                               trainingJobName="nowhere")  # fmt: skip
    harness.tick()
    assert harness.status("here").get("creationTime")
    assert {region for _, region, _ in harness.runtime.gateway._clients} == {REGION}


def test_answers_with_members_this_botocore_does_not_know_are_tracked(
    harness: Harness, future_model: Any
) -> None:
    """A newer botocore (AWS_DATA_PATH) parses what AWS added; the status models ignore it
    (before: pydantic refused the answer and every tick of the region failed)."""
    harness = make_harness(harness.emulator)  # clients made with the newer model
    harness.control.set_faults(new_answer_members=True)
    harness.create("newer")
    wait_until(lambda: harness.emulator.store.get(REGION, "newer").finished, timeout=10)
    harness.tick()
    assert harness.status("newer")["trainingJobStatus"] == "Completed"


def test_a_change_listed_late_is_found_by_the_safety_net_describe(emulator: Emulator) -> None:
    harness = make_harness(emulator, resync_after=1.0, resync_batch=5)
    harness.control.set_faults(listing_delay=30)  # longer than the list's 1 s overlap
    harness.create("late")
    wait_until(lambda: emulator.store.get(REGION, "late").finished, timeout=10)

    def completed() -> bool:
        harness.tick()
        return harness.status("late").get("trainingJobStatus") == "Completed"

    wait_until(completed, timeout=15, interval=0.5, description="Completed, through a describe")
    describes = harness.calls("DescribeTrainingJob")
    assert describes <= 2, f"{describes} describes (one resync, at most one for the end)"


def test_an_ended_job_is_followed_until_its_warm_pool_and_rules_settle_then_left(
    harness: Harness,
) -> None:
    control = harness.control
    rules = [
        {
            "RuleConfigurationName": "LossNotDecreasing",
            "RuleEvaluatorImage": "503895931360.dkr.ecr.us-east-1.amazonaws.com/x:latest",
        }
    ]
    harness.create("pooled", DebugRuleConfigurations=rules, ResourceConfig={
        "InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10,
        "KeepAlivePeriodInSeconds": 3})  # fmt: skip
    wait_until(lambda: harness.emulator.store.get(REGION, "pooled").finished, timeout=10)
    harness.tick()
    status = harness.status("pooled")
    assert status["trainingJobStatus"] == "Completed"
    assert status["warmPoolStatus"]["status"] == "Available"
    assert status["debugRuleEvaluationStatuses"][0]["ruleEvaluationStatus"] == "InProgress"

    def settled() -> bool:
        harness.tick()
        return not harness.index()

    wait_until(settled, timeout=20, interval=0.2, description="warm pool and rules settled")
    status = harness.status("pooled")
    assert status["warmPoolStatus"]["status"] == "Terminated"
    assert status["debugRuleEvaluationStatuses"][0]["ruleEvaluationStatus"] == "NoIssuesFound"
    calls = harness.control.stats()["calls"]
    harness.tick()
    assert harness.control.stats()["calls"] == calls, "settled: never called again"
    assert control.calls("DescribeTrainingJob") <= 8


def test_a_job_of_someone_else_named_in_status_is_never_tracked(harness: Harness) -> None:
    sagemaker = harness.emulator.sagemaker_client()
    arn = sagemaker.create_training_job(**typical("theirs", Tags=[
        {"Key": UID_TAG, "Value": "uid-of-another-resource"}]))["TrainingJobArn"]  # fmt: skip
    harness.cluster.statuses["mine"] = {
        "trainingJobArn": arn,
        "trainingJobName": "theirs",
        "region": REGION,
        "trainingJobStatus": "InProgress",
    }
    wait_until(lambda: harness.emulator.store.get(REGION, "theirs").finished, timeout=10)
    harness.tick()
    status = harness.status("mine")
    assert status["trainingJobStatus"] == "InProgress", "nothing of their job copied"
    stalled = next(c for c in status["conditions"] if c["type"] == "Stalled")
    assert (stalled["status"], stalled["reason"]) == ("True", "NotOwned")
    assert harness.index() == {}


def test_after_a_restart_each_tick_checks_the_ownership_of_a_poll_intervals_worth_of_jobs(
    emulator: Emulator,
) -> None:
    """150 jobs this process did not create (a restart): one ListTags each, at most 100
    a tick here (the tags limit of 100/s times a 1 s interval), so a tick stays short
    (with the defaults, 2000 checks at 5/s held the first tick 400 s, past liveness)."""
    harness = make_harness(emulator, poll_interval=1.0)
    for index in range(150):
        harness.create(f"job-{index:03}")
    # 30 more this process created: they cost no call, and are never held back.
    for index in range(150, 180):
        harness.create(f"job-{index:03}")
        arn = harness.status(f"job-{index:03}")["trainingJobArn"]
        harness.runtime.owned.add((f"uid-job-{index:03}", arn))
    harness.tick()
    assert harness.calls("ListTags") == 100
    tracked = [index for index in range(180) if harness.status(f"job-{index:03}").get(
        "creationTime")]  # fmt: skip
    assert len(tracked) == 130
    assert set(range(150, 180)) <= set(tracked)
    harness.tick()
    assert harness.calls("ListTags") == 150
    assert all(harness.status(f"job-{index:03}").get("creationTime") for index in range(180))
    harness.loop.close()


def test_arns_in_two_letter_cases_are_one_job(harness: Harness) -> None:
    """Lists answer lower-case ARNs where Describe answers the name's own case (boto3#4606):
    the job is tracked to its end, its status keeps the ARN it was created with, and no
    write is made for a case alone."""
    harness.control.set_faults(mixed_case_arns=True)
    harness.create("MixedCase-Job")
    created = harness.status("MixedCase-Job")["trainingJobArn"]
    assert created.endswith("training-job/MixedCase-Job")
    wait_until(lambda: harness.emulator.store.get(REGION, "MixedCase-Job").finished, timeout=10)
    harness.tick()
    status = harness.status("MixedCase-Job")
    assert status["trainingJobStatus"] == "Completed"
    assert status["trainingJobArn"] == created
    assert status["trainingJobName"] == "MixedCase-Job"
    writes = len(harness.cluster.patches)
    harness.tick()
    assert len(harness.cluster.patches) == writes
