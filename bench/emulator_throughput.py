"""How many SageMaker requests per second the emulator answers on this machine.

The emulator runs in its own process (as ``sagemaker-emulator``); real boto3
clients in this process send a mix of DescribeTrainingJob, ListTrainingJobs and
CreateTrainingJob from several threads for a fixed time. Run: ``make bench-emulator``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import botocore

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=200, help="jobs present before measuring")
    arguments = parser.parse_args()

    server = subprocess.Popen(
        [sys.executable, "-m", "sagemaker_emulator", "--port", "0",
         "--profile", "realistic"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        match = re.search(r"listening on (\S+)", server.stdout.readline())
        if match is None:
            raise SystemExit("the emulator did not start")
        result = measure(match[1], arguments.seconds, arguments.threads, arguments.jobs)
    finally:
        server.terminate()
        server.wait(10)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"emulator-throughput-{time.strftime('%Y-%m-%d')}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written to {out}")


def client(endpoint: str) -> Any:
    return boto3.client(
        "sagemaker", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="bench", aws_secret_access_key="bench",
    )  # fmt: skip


def measure(endpoint: str, seconds: float, threads: int, jobs: int) -> dict[str, Any]:
    seed = client(endpoint)
    for index in range(jobs):
        seed.create_training_job(
            TrainingJobName=f"seed-{index}",
            RoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
            OutputDataConfig={"S3OutputPath": "s3://bench/out"},
        )
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start_line = threading.Barrier(threads + 1)
    stop_at = 0.0

    def worker(number: int) -> None:
        sagemaker = client(endpoint)
        own: list[float] = []
        start_line.wait()
        count = 0
        while time.monotonic() < stop_at:
            began = time.monotonic()
            try:
                if count % 10 == 0:
                    sagemaker.create_training_job(
                        TrainingJobName=f"bench-{number}-{count}",
                        RoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
                        OutputDataConfig={"S3OutputPath": "s3://bench/out"},
                    )
                elif count % 10 == 1:
                    sagemaker.list_training_jobs(MaxResults=100)
                else:
                    sagemaker.describe_training_job(TrainingJobName=f"seed-{count % jobs}")
            except botocore.exceptions.ClientError as error:
                with lock:
                    errors.append(str(error))
            own.append(time.monotonic() - began)
            count += 1
        with lock:
            latencies.extend(own)

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    stop_at = time.monotonic() + seconds
    start_line.wait()
    began = time.monotonic()
    for thread in workers:
        thread.join()
    elapsed = time.monotonic() - began
    latencies.sort()
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "botocore": botocore.__version__,
        },
        "threads": threads,
        "seconds": round(elapsed, 2),
        "jobs_before": jobs,
        "requests": len(latencies),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "latency_ms": {
            "p50": round(statistics.median(latencies) * 1000, 2),
            "p99": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        },
        "errors": len(errors),
        "mix": "10% CreateTrainingJob, 10% ListTrainingJobs (100 per page), 80% Describe",
    }


if __name__ == "__main__":
    main()
