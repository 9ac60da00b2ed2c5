"""Reading TrainingJob resources back from the cluster, as the end-to-end tests do."""

from __future__ import annotations

import json
from typing import Any

from sagemaker_operator.testing import KubeCluster


def trainingjobs(cluster: KubeCluster, namespace: str) -> dict[str, dict[str, Any]]:
    """Every TrainingJob of the namespace, by name."""
    listed = cluster.kubectl("get", "trainingjobs", "-n", namespace, "-o", "json").stdout
    return {item["metadata"]["name"]: item for item in json.loads(listed)["items"]}
