"""What the tracker keeps per job, in bytes (tracemalloc): the index entry (controller/
tracked.py, built from the resource's status as the operator writes it), what this process
read from AWS (controller/memory.py) and the tracker's own maps (when each job was seen,
which the last list knew). kopf's own per-resource state (the watched body, its
per-object memories) comes on top: `make bench`'s RSS figures hold everything.

    .venv/bin/python -m bench.tracker_state [--jobs 2000]
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import time
import tracemalloc
from typing import Any

from sagemaker_operator.aws.accounts import OWN
from sagemaker_operator.controller.memory import JobMemory
from sagemaker_operator.controller.tracked import Scope, tracked_from

ACCOUNT = "123456789012"


def status(index: int) -> dict[str, Any]:
    """A status as the operator writes it for a job in flight."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    name = f"job-{index:05d}-1a2b3c4d"
    return {
        "trainingJobArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:training-job/{name}",
        "trainingJobName": name, "region": "us-east-1", "trainingJobStatus": "InProgress",
        "secondaryStatus": "Training", "reason": "Training", "announced": "InProgress/Training",
        "creationTime": now, "lastModifiedTime": now, "trainingStartTime": now,
        "observedGeneration": 1,
        "conditions": [
            {"type": "Ready", "status": "False", "reason": "Training",
             "message": "InProgress / Training: Training image download completed. Training "
                        "in progress.", "lastTransitionTime": now, "observedGeneration": 1},
            {"type": "Reconciling", "status": "True", "reason": "Training",
             "lastTransitionTime": now, "observedGeneration": 1},
            {"type": "Stalled", "status": "False", "reason": "Training",
             "lastTransitionTime": now, "observedGeneration": 1},
        ],
    }  # fmt: skip


def measure(jobs: int) -> dict[str, Any]:
    statuses = [json.loads(json.dumps(status(index))) for index in range(jobs)]  # kopf's copy
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    index = {}
    memory = JobMemory()
    seen: dict[Any, float] = {}
    known: set[Any] = set()
    scope = Scope(OWN, "us-east-1")
    created = datetime.datetime.now(datetime.UTC)
    for number, found in enumerate(statuses):
        tracked = tracked_from("team-a", f"job-{number:05d}", f"uid-{number:032d}", 1, found,
                               created="2026-12-06T00:00:00Z")  # fmt: skip
        assert tracked is not None
        index[tracked.ref.uid] = {tracked.region: tracked}
        memory.learn(tracked.job.key, {"CreationTime": created, "TrainingJobStatus":
                                       "InProgress", "SecondaryStatus": "Training"},
                     tracked.ref.uid)  # fmt: skip
        seen[(scope, tracked.key)] = time.monotonic()
        known.add(tracked.key)
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    total = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    return {"jobs": jobs, "bytes": total, "bytes_per_job": round(total / jobs)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=2000)
    print(json.dumps(measure(parser.parse_args().jobs)))


if __name__ == "__main__":
    main()
