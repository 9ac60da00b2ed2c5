"""What goes over the wire: answers fit the service model exactly; the server is concurrent."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.model import ListShape, MapShape, Shape, StructureShape

from sagemaker_emulator import Emulator, EmulatorControl, model, wait_until
from sagemaker_emulator.control import EmulatorControlError
from tests import wire
from tests.requests import typical

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient


def unknown_members(shape: Shape, value: Any, path: str = "") -> list[str]:
    """Every member of ``value`` that ``shape`` does not declare, and every wrong type."""
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            return [f"{path}: expected an object"]
        found = [f"{path}.{key}" for key in value if key not in shape.members]
        for key, item in value.items():
            if key in shape.members:
                found += unknown_members(shape.members[key], item, f"{path}.{key}")
        missing = [
            f"{path}.{name} (required)" for name in shape.required_members if name not in value
        ]
        return found + missing
    if isinstance(shape, ListShape):
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        return [
            problem
            for index, item in enumerate(value)
            for problem in unknown_members(shape.member, item, f"{path}[{index}]")
        ]
    if isinstance(shape, MapShape):
        if not isinstance(value, dict):
            return [f"{path}: expected a map"]
        return [
            problem
            for key, item in value.items()
            for problem in unknown_members(shape.value, item, f"{path}[{key}]")
        ]
    expected: dict[str, type | tuple[type, ...]] = {
        "string": str,
        "integer": int,
        "long": int,
        "boolean": bool,
        "timestamp": (int, float),
        "float": (int, float),
        "double": (int, float),
    }
    kind = expected.get(shape.type_name)
    if kind is not None and not isinstance(value, kind):
        return [f"{path}: {type(value).__name__} is not {shape.type_name}"]
    return []


@pytest.fixture
def finished_job(emulator: Emulator, sagemaker: SageMakerClient) -> str:
    control = EmulatorControl(emulator.endpoint_url)
    control.pause_clock()
    sagemaker.create_training_job(
        **typical(
            "shaped",
            EnableManagedSpotTraining=True,
            StoppingCondition={"MaxRuntimeInSeconds": 600, "MaxWaitTimeInSeconds": 900},
        )
    )
    control.advance_clock(5)
    return "shaped"


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("DescribeTrainingJob", {"TrainingJobName": "shaped"}),
        ("ListTrainingJobs", {"MaxResults": 100}),
        (
            "ListTags",
            {"ResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/shaped"},
        ),
        (
            "AddTags",
            {
                "ResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/shaped",
                "Tags": [{"Key": "k", "Value": "v"}],
            },
        ),
        ("CreateTrainingJob", typical("another")),
    ],
)
def test_every_answer_has_only_members_of_the_output_shape(
    emulator: Emulator, finished_job: str, operation: str, params: dict[str, Any]
) -> None:
    status, body = wire.send(emulator.endpoint_url, operation, params)
    assert status == 200, body
    output = model.operation_model(operation).output_shape
    assert output is not None
    assert unknown_members(output, body) == []
    assert body  # a shape check of an empty answer would prove nothing


def test_botocore_parses_a_describe_answer_into_every_member_sent(
    emulator: Emulator, finished_job: str, sagemaker: SageMakerClient
) -> None:
    _, raw = wire.send(
        emulator.endpoint_url, "DescribeTrainingJob", {"TrainingJobName": finished_job}
    )
    parsed = sagemaker.describe_training_job(TrainingJobName=finished_job)
    assert set(raw) == set(parsed) - {"ResponseMetadata"}
    assert parsed["TrainingJobStatus"] == "Completed"
    assert parsed["BillableTimeInSeconds"] < parsed["TrainingTimeInSeconds"]


def test_stop_and_delete_tags_answer_an_empty_object(
    emulator: Emulator, sagemaker: SageMakerClient
) -> None:
    arn = sagemaker.create_training_job(**typical("empty-answers"))["TrainingJobArn"]
    assert wire.send(
        emulator.endpoint_url, "StopTrainingJob", {"TrainingJobName": "empty-answers"}
    ) == (200, {})
    assert wire.send(
        emulator.endpoint_url, "DeleteTags", {"ResourceArn": arn, "TagKeys": ["team"]}
    ) == (200, {})


def test_concurrent_clients_create_each_job_exactly_once(emulator: Emulator) -> None:
    barrier = threading.Barrier(8)
    results: list[str] = []
    lock = threading.Lock()

    def worker(worker_id: int) -> None:
        sagemaker = emulator.sagemaker_client()
        barrier.wait()
        for index in range(20):
            sagemaker.create_training_job(**typical(f"w{worker_id}-{index}"))
        try:
            sagemaker.create_training_job(**typical("contended"))
            outcome = "created"
        except ClientError as error:
            outcome = error.response["Error"]["Code"]
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results) == ["ResourceInUse"] * 7 + ["created"]
    stats = EmulatorControl(emulator.endpoint_url).stats()
    assert stats["jobs"] == 8 * 20 + 1
    assert stats["outcomes"]["CreateTrainingJob"] == {"ok": 161, "ResourceInUse": 7}


def test_control_routes_that_do_not_exist_are_404(emulator: Emulator) -> None:
    with pytest.raises(EmulatorControlError, match="404"):
        EmulatorControl(emulator.endpoint_url)._call("GET", "nothing-here")


@pytest.fixture
def emulator_process() -> Iterator[tuple[subprocess.Popen[str], str]]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sagemaker_emulator",
            "--port",
            "0",
            "--throttle-rate",
            "1",
            "--throttle-operations",
            "ListTrainingJobs",
            "--phase",
            "Training=30",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
    assert match, line
    yield process, match[1]
    process.terminate()
    process.wait(10)


def test_the_cli_serves_the_emulator_with_faults_and_phases_from_flags(
    emulator_process: tuple[subprocess.Popen[str], str],
) -> None:
    process, endpoint = emulator_process
    sagemaker = boto3.client(
        "sagemaker",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="a",
        aws_secret_access_key="b",
    )
    sagemaker.create_training_job(**typical("from-cli"))
    with pytest.raises(ClientError, match="ThrottlingException"):
        sagemaker.list_training_jobs()
    control = EmulatorControl(endpoint)
    assert control.profile() == {
        "profile": "fast",
        "phases": {
            "Starting": 0.5,
            "Downloading": 0.5,
            "Training": 30.0,
            "Uploading": 0.5,
            "Stopping": 0.5,
            "RuleEvaluation": 1.0,
        },
    }
    control.advance_clock(2)
    assert sagemaker.describe_training_job(TrainingJobName="from-cli")["SecondaryStatus"] == (
        "Training"
    )
    process.terminate()
    assert wait_until(
        lambda: process.poll() is not None, timeout=10, description="emulator to exit on SIGTERM"
    )


def test_the_cli_refuses_a_malformed_phase() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sagemaker_emulator", "--phase", "Training"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
    assert "--phase expects NAME=SECONDS" in result.stderr


def test_a_request_cut_off_by_a_client_that_died_is_not_counted_as_a_call(
    emulator: Emulator,
) -> None:
    host, port = emulator.endpoint_url.removeprefix("http://").split(":")
    body = b'{"TrainingJobName": "cut"'
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: SageMaker.CreateTrainingJob\r\n"
            b"Content-Type: application/x-amz-json-1.1\r\n"
            + f"Content-Length: {len(body) + 500}\r\n\r\n".encode() + body
        )  # fmt: skip
        connection.shutdown(socket.SHUT_WR)  # the client is gone before its body is
        assert connection.recv(1024) == b""  # no answer: the server just closes
    control = EmulatorControl(emulator.endpoint_url)
    assert control.stats()["calls"] == {}
    control.reset()  # and the server still serves
    assert emulator.sagemaker_client().list_training_jobs()["TrainingJobSummaries"] == []
