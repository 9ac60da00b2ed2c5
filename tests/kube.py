"""Reading TrainingJob resources back from the cluster, as the end-to-end tests do."""

from __future__ import annotations

import json
from typing import Any

from sagemaker_lab import KubeCluster
from tests.api.manifests import manifest, typical_spec


def trainingjobs(cluster: KubeCluster, namespace: str) -> dict[str, dict[str, Any]]:
    """Every TrainingJob of the namespace, by name."""
    listed = cluster.kubectl("get", "trainingjobs", "-n", namespace, "-o", "json").stdout
    return {item["metadata"]["name"]: item for item in json.loads(listed)["items"]}


def apply_jobs(cluster: KubeCluster, namespace: str, names: list[str]) -> None:
    """Apply a typical TrainingJob of each name (job names prefixed by the namespace)."""
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input="\n---\n".join(
        json.dumps(manifest(name, typical_spec(trainingJobName=f"{namespace}-{name}")))
        for name in names))  # fmt: skip


def job_statuses(cluster: KubeCluster, namespace: str) -> dict[str, str | None]:
    """Each TrainingJob's status.trainingJobStatus, by name."""
    return {name: item.get("status", {}).get("trainingJobStatus")
            for name, item in trainingjobs(cluster, namespace).items()}  # fmt: skip


def trainingjob(cluster: KubeCluster, namespace: str, name: str) -> dict[str, Any]:
    """One TrainingJob as the apiserver has it."""
    found: dict[str, Any] = json.loads(
        cluster.kubectl("get", "trainingjob", name, "-n", namespace, "-o", "json").stdout
    )
    return found


def condition(document: dict[str, Any], kind: str) -> dict[str, Any]:
    """The resource's condition of that type ({} when it has none)."""
    return next((c for c in document.get("status", {}).get("conditions", [])
                 if c["type"] == kind), {})  # fmt: skip


def stalled(cluster: KubeCluster, namespace: str, name: str) -> dict[str, Any] | None:
    """The resource, once its Stalled condition is True (for wait_until)."""
    found = trainingjob(cluster, namespace, name)
    return found if condition(found, "Stalled").get("status") == "True" else None


def arn(cluster: KubeCluster, namespace: str, name: str) -> str | None:
    """The resource's status.trainingJobArn (None before it has one, or when it is gone)."""
    found: str | None = trainingjobs(cluster, namespace).get(name, {}).get("status", {}).get(
        "trainingJobArn")  # fmt: skip
    return found


def job_name(cluster: KubeCluster, namespace: str, name: str) -> str:
    """The name of the resource's job (status.trainingJobName): spec.trainingJobName, or
    metadata.name and the start of the resource's UID."""
    return str(trainingjob(cluster, namespace, name)["status"]["trainingJobName"])
