"""Event mode: status from SageMaker's state-change events on an SQS queue, lists as the net.

The real operator process, a real apiserver, and the emulator's SQS and EventBridge rule
(emulator/eventbridge.py), with its unkind switches: events dropped, duplicated,
reordered and delayed must still give every job its end state, and a queue that cannot
be read must leave the operator polling as usual, saying so.
"""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sagemaker_emulator.samples import typical
from sagemaker_lab import Emulator, EmulatorControl, KubeCluster, wait_until
from sagemaker_lab.operator import OperatorProcess, operator_environment
from sagemaker_operator.controller.requests import UID_TAG
from tests.kube import apply_jobs, job_statuses, trainingjobs

pytestmark = pytest.mark.cluster

PHASES = {"Starting": 1.0, "Downloading": 1.0, "Training": 2.0, "Uploading": 1.0}
QUEUE = "sagemaker-events"


@pytest.fixture
def queue_url(emulator: Emulator) -> str:
    # A short visibility timeout: a message left for later (its job not shown by its
    # resource yet) comes back within the test.
    url = emulator.sqs_client().create_queue(QueueName=QUEUE, Attributes={
        "VisibilityTimeout": "5"})["QueueUrl"]  # fmt: skip
    control = EmulatorControl(emulator.endpoint_url)
    control.route_events(url)
    control.set_profile("fast", PHASES)
    return url


@pytest.fixture
def operator_settings(queue_url: str) -> dict[str, str]:
    # The safety-net interval is long: in these tests a status that comes before it came
    # from an event (but in the test of lost events, where the net must catch them).
    return {"poll_interval": "1", "create_rate": "50", "describe_rate": "50",
            "metrics_port": "0", "events_queue_url": queue_url,
            "events_poll_interval": "300"}  # fmt: skip


def metric(operator: OperatorProcess, name: str, **labels: str) -> float | None:
    """The sum of the samples of ``name`` with ``labels`` (None: there is none)."""
    port = re.search(r"serving metrics on http://0\.0\.0\.0:(\d+)/metrics", operator.output())
    assert port is not None, operator.output()
    with urllib.request.urlopen(f"http://127.0.0.1:{port[1]}/metrics", timeout=10) as page:
        text = page.read().decode()
    found = [sample.value for family in text_string_to_metric_families(text)
             for sample in family.samples
             if sample.name == name and labels.items() <= sample.labels.items()]  # fmt: skip
    return float(sum(found)) if found else None


def all_completed(cluster: KubeCluster, namespace: str, count: int) -> bool:
    statuses = job_statuses(cluster, namespace)
    return len(statuses) == count and set(statuses.values()) == {"Completed"}


@pytest.mark.parametrize("times_as_strings", [False, True], ids=["times", "times-as-strings"])
def test_status_follows_the_events_and_lists_wait_for_the_long_interval(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess, times_as_strings: bool,
) -> None:  # fmt: skip
    """Also with the events' times as strings of epoch milliseconds, as AWS's example
    event writes them (the emulator's ``event_times_as_strings``; before issue L such an
    event had no time and was dropped)."""
    operator_process.wait_ready()
    control = EmulatorControl(emulator.endpoint_url)
    control.set_faults(event_times_as_strings=times_as_strings)
    wait_until(lambda: metric(operator_process, "sagemaker_operator_events_mode") == 1,
               timeout=30, description="the operator reading the events queue")  # fmt: skip
    names = [f"job-{index}" for index in range(6)]
    apply_jobs(kube_cluster, namespace, names)
    wait_until(operator_process.guard(lambda: all_completed(kube_cluster, namespace, 6)),
               timeout=60, description="6 jobs Completed")  # fmt: skip
    # One list at most (the first job after an idle spell is listed at once); with
    # poll_interval 1 the lists would have been one a second.
    assert control.calls("ListTrainingJobs") <= 1
    # One Describe a job, however many events tell its end: whoever may send to the queue
    # could forge one, so an end is written as DescribeTrainingJob answers it.
    assert control.calls("DescribeTrainingJob") == 6
    for resource in trainingjobs(kube_cluster, namespace).values():
        status = resource["status"]
        assert status["secondaryStatus"] == "Completed"
        assert status["modelArtifacts"]["s3ModelArtifacts"].endswith("model.tar.gz")
    # Every message was deleted once its state was written.
    sqs = emulator.sqs_client()

    def queue_empty() -> bool:
        attributes = sqs.get_queue_attributes(QueueUrl=sqs.get_queue_url(QueueName=QUEUE)[
            "QueueUrl"], AttributeNames=["All"])["Attributes"]  # fmt: skip
        return (attributes["ApproximateNumberOfMessages"] == "0"
                and attributes["ApproximateNumberOfMessagesNotVisible"] == "0")  # fmt: skip

    wait_until(queue_empty, timeout=30, description="every event deleted")
    # Each job's 5 states came as events; Starting may come before the resource shows the
    # job (left for later, then stale or written), every later one is written.
    written = metric(operator_process, "sagemaker_operator_queue_events_total", outcome="written")
    assert written is not None
    assert written >= 6 * 4


def test_lost_duplicated_reordered_and_late_events_still_end_every_job(
    kube_cluster: KubeCluster, trainingjob_crd: str, namespace: str, emulator: Emulator,
    queue_url: str, tmp_path: Path,
) -> None:  # fmt: skip
    """A third of the events lost, a third sent twice, a third held back, all up to 1 s
    late: every job still shows its end state, its last secondary status and its model
    (lost ones through the lists, every 5 s here)."""
    control = EmulatorControl(emulator.endpoint_url)
    control.set_faults(event_drop_rate=0.3, event_duplicate_rate=0.3,
                       event_reorder_rate=0.3, event_delay=1.0)  # fmt: skip
    environment = operator_environment(
        kube_cluster, emulator, poll_interval="1", create_rate="50", describe_rate="50",
        events_queue_url=queue_url, events_poll_interval="5",
    )  # fmt: skip
    with OperatorProcess(environment, namespace, tmp_path / "operator.log") as operator:
        operator.wait_ready()
        names = [f"job-{index}" for index in range(12)]
        apply_jobs(kube_cluster, namespace, names)
        wait_until(operator.guard(lambda: all_completed(kube_cluster, namespace, 12)),
                   timeout=90, description="12 jobs Completed")  # fmt: skip
        for resource in trainingjobs(kube_cluster, namespace).values():
            assert resource["status"]["secondaryStatus"] == "Completed"
            assert resource["status"]["modelArtifacts"]["s3ModelArtifacts"]
        outcomes = control.stats()["outcomes"]["events:PutEvents"]
        assert outcomes.get("dropped", 0) > 0  # the net had something to catch


@pytest.mark.slow
def test_a_queue_that_cannot_be_read_leaves_the_operator_polling_and_saying_so(
    kube_cluster: KubeCluster, trainingjob_crd: str, namespace: str, emulator: Emulator,
    tmp_path: Path,
) -> None:  # fmt: skip
    EmulatorControl(emulator.endpoint_url).set_profile("fast", PHASES)
    missing = f"{emulator.endpoint_url}/123456789012/no-such-queue"
    environment = operator_environment(
        kube_cluster, emulator, poll_interval="1", create_rate="50", metrics_port="0",
        events_queue_url=missing, events_poll_interval="300",
    )  # fmt: skip
    with OperatorProcess(environment, namespace, tmp_path / "operator.log") as operator:
        operator.wait_ready()
        apply_jobs(kube_cluster, namespace, ["job-0", "job-1"])
        wait_until(operator.guard(lambda: all_completed(kube_cluster, namespace, 2)),
                   timeout=60, description="2 jobs Completed by polling")  # fmt: skip
        assert "the events queue" in operator.output()
        assert "cannot be read" in operator.output()
        assert "NonExistentQueue" in operator.output()
        assert metric(operator, "sagemaker_operator_events_mode") == 0
        # The queue appears: the operator reads it from its next try on.
        sqs = emulator.sqs_client()
        url = sqs.create_queue(QueueName="no-such-queue")["QueueUrl"]
        assert url == missing
        wait_until(lambda: metric(operator, "sagemaker_operator_events_mode") == 1,
                   timeout=40, description="the events queue read again")  # fmt: skip
        assert "can be read again" in operator.output()


@pytest.mark.slow
def test_events_of_a_job_no_resource_shows_are_deleted_once_they_have_waited_long_enough(
    kube_cluster: KubeCluster, trainingjob_crd: str, namespace: str, emulator: Emulator,
    queue_url: str, tmp_path: Path,
) -> None:  # fmt: skip
    """A job tagged as some resource's that no resource shows (a restart's leftovers, a
    deleted resource's late events, another installation's job in the account): its
    events wait for the resource a bounded time by the clock, then are deleted, and the
    queue drains (before: kept and handled again every second for good, never deleted)."""
    environment = operator_environment(
        kube_cluster, emulator, poll_interval="1", metrics_port="0",
        events_queue_url=queue_url, events_poll_interval="300", events_early_for="2",
    )  # fmt: skip
    with OperatorProcess(environment, namespace, tmp_path / "operator.log") as operator:
        operator.wait_ready()
        sqs = emulator.sqs_client()
        emulator.sagemaker_client().create_training_job(**typical(
            "nobodys", Tags=[{"Key": UID_TAG, "Value": "uid-of-no-resource"}]))  # fmt: skip

        def drained() -> bool:
            attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])[
                "Attributes"]  # fmt: skip
            return (emulator.store.get("us-east-1", "nobodys").finished
                    and attributes["ApproximateNumberOfMessages"] == "0"
                    and attributes["ApproximateNumberOfMessagesNotVisible"] == "0")  # fmt: skip

        wait_until(operator.guard(drained), timeout=30, description="the queue drained")
        expired = metric(operator, "sagemaker_operator_queue_events_total", outcome="expired")
        assert expired is not None
        assert expired >= 1


@pytest.mark.slow
def test_a_queue_that_answers_but_receives_nothing_is_found_out_by_the_lists(
    kube_cluster: KubeCluster, trainingjob_crd: str, namespace: str, emulator: Emulator,
    queue_url: str, tmp_path: Path,
) -> None:  # fmt: skip
    """The rule delivers nothing (an SSE-KMS queue whose key EventBridge may not use, a rule
    disabled or in another region: the queue still answers): a list finds changes no event
    brought, and the operator says so, naming the queue, and polls at the usual interval
    (before: every status waited the long safety-net interval, events mode 1, no word)."""
    control = EmulatorControl(emulator.endpoint_url)
    control.set_faults(event_drop_rate=1.0)
    control.set_profile("fast", {"Starting": 1, "Downloading": 1, "Training": 600})
    environment = operator_environment(
        kube_cluster, emulator, poll_interval="1", metrics_port="0",
        events_queue_url=queue_url, events_poll_interval="15",
    )  # fmt: skip
    with OperatorProcess(environment, namespace, tmp_path / "operator.log") as operator:
        operator.wait_ready()
        apply_jobs(kube_cluster, namespace, ["job-0", "job-1", "job-2"])
        wait_until(operator.guard(lambda: (metric(
            operator, "sagemaker_operator_events_missed_total") or 0) > 0), timeout=60,
            description="changes no event brought")  # fmt: skip
        assert metric(operator, "sagemaker_operator_events_mode") == 0
        assert f"no event brought them: is the rule sending to {queue_url}" in operator.output()
        lists = control.calls("ListTrainingJobs")
        wait_until(operator.guard(lambda: control.calls("ListTrainingJobs") >= lists + 5),
                   timeout=15, description="lists at the poll interval again")  # fmt: skip
