"""`kubectl sagemaker adopt JOB`: the TrainingJob manifest that takes over an existing job.

The spec is rebuilt from DescribeTrainingJob and ListTags (controller/requests.py's
``adopted_request``: every CreateTrainingJob member Describe reports, tags but AWS's own
``aws:`` ones), with the adopt annotation: applied, it makes no job; the operator checks
that it describes the job truly and tags the job as the resource's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sagemaker_operator.api import ADOPT_ANNOTATION, GROUP, KIND, VERSION
from sagemaker_operator.api.trainingjob import Spec
from sagemaker_operator.controller.requests import adopted_request


def resource_name(job_name: str) -> str:
    """A job name as a Kubernetes object name (lowercase: SageMaker names allow capitals)."""
    return job_name.lower()


def manifest(
    described: Mapping[str, Any], tags: list[dict[str, str]], *, region: str, namespace: str,
    name: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    job_name = str(described["TrainingJobName"])
    request = adopted_request(described, tags)
    spec = Spec.model_validate({**request, "region": region}).to_kubernetes()
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {
            "name": name or resource_name(job_name),
            "namespace": namespace,
            "annotations": {ADOPT_ANNOTATION: "true"},
        },
        "spec": spec,
    }
