"""CloudWatch Logs of emulated jobs: one stream per instance, lines from the job's timeline."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from sagemaker_emulator import Emulator, EmulatorControl
from sagemaker_emulator.logs import LOG_GROUP
from tests.requests import typical

TWO_INSTANCES = {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 10}


@pytest.fixture
def finished_two_instance_job(emulator: Emulator) -> str:
    """A job with two instances and 5 s of training, run to its end on a paused clock."""
    control = EmulatorControl(emulator.endpoint_url)
    control.set_profile("fast", {"Training": 5})
    control.pause_clock()
    emulator.sagemaker_client().create_training_job(
        **typical("logged", ResourceConfig=TWO_INSTANCES)
    )
    logs = emulator.logs_client()
    before = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix="logged/")
    assert before["logStreams"] == []  # no container has started yet
    control.advance_clock(60)
    return "logged"


def test_each_instance_has_a_stream_with_the_whole_timeline(
    emulator: Emulator, finished_two_instance_job: str
) -> None:
    logs = emulator.logs_client()
    prefix = f"{finished_two_instance_job}/"
    described = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=prefix)
    names = [stream["logStreamName"] for stream in described["logStreams"]]
    assert [name.rsplit("-", 1)[0] for name in names] == ["logged/algo-1", "logged/algo-2"]
    lines = [event["message"] for event in logs.get_log_events(
        logGroupName=LOG_GROUP, logStreamName=names[1], startFromHead=True)["events"]]  # fmt: skip
    assert lines[:2] == [
        "[Downloading] Downloading input data",
        "[Training] Training image download completed. Training in progress.",
    ]
    assert [line for line in lines if "epoch" in line] == [
        f"algo-2: epoch {second}: train-loss={2 / (second + 1) + 0.02:.4f}"
        for second in range(1, 6)
    ]  # fmt: skip
    assert lines[-1].startswith("[Completed]")


def test_get_log_events_pages_forward_and_repeats_its_token_at_the_end(
    emulator: Emulator, finished_two_instance_job: str
) -> None:
    logs = emulator.logs_client()
    stream = logs.describe_log_streams(logGroupName=LOG_GROUP)["logStreams"][0]["logStreamName"]
    everything = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=stream,
                                     startFromHead=True)["events"]  # fmt: skip
    paged: list[str] = []
    page = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=stream,
                               startFromHead=True, limit=3)  # fmt: skip
    while page["events"]:
        paged += [event["message"] for event in page["events"]]
        token = page["nextForwardToken"]
        page = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=stream,
                                   nextToken=token, limit=3)  # fmt: skip
    assert paged == [event["message"] for event in everything]
    assert page["nextForwardToken"] == token  # CloudWatch's end-of-stream signal
    newest = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=stream, limit=2)
    assert [e["message"] for e in newest["events"]] == paged[-2:]  # default: from the tail


def test_filter_log_events_interleaves_the_instances_in_time_and_filters_terms(
    emulator: Emulator, finished_two_instance_job: str
) -> None:
    logs = emulator.logs_client()
    events = [event for page in logs.get_paginator("filter_log_events").paginate(
        logGroupName=LOG_GROUP, logStreamNamePrefix="logged/",
        PaginationConfig={"PageSize": 4}) for event in page["events"]]  # fmt: skip
    assert len(events) == 2 * 9  # per instance: 4 transitions, 5 epochs
    assert [event["timestamp"] for event in events] == sorted(e["timestamp"] for e in events)
    assert len({event["eventId"] for event in events}) == len(events)
    epochs = logs.filter_log_events(logGroupName=LOG_GROUP, filterPattern="epoch",
                                    startTime=events[2]["timestamp"])["events"]  # fmt: skip
    assert len(epochs) == 10
    assert all("epoch" in event["message"] for event in epochs)
    stats = EmulatorControl(emulator.endpoint_url).stats()["calls"]
    assert stats["logs:FilterLogEvents"] == 6  # 5 pages of 4 (the last empty-ended) + 1


def test_unknown_groups_and_streams_are_not_found(
    emulator: Emulator, finished_two_instance_job: str
) -> None:
    logs = emulator.logs_client()
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        logs.filter_log_events(logGroupName="/aws/lambda/other")
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        logs.get_log_events(logGroupName=LOG_GROUP, logStreamName="logged/algo-9-1")
