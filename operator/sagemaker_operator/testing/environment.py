"""The environment that points a real operator process at a local cluster and the emulator."""

from __future__ import annotations

import os

from sagemaker_operator.testing.controlplane import KubeCluster
from sagemaker_operator.testing.emulator import DEFAULT_REGION, Emulator


def operator_environment(
    cluster: KubeCluster, emulator: Emulator, **settings: str
) -> dict[str, str]:
    """os.environ plus what `sagemaker-operator run` needs here; ``settings`` become
    ``SAGEMAKER_OPERATOR_<NAME>`` variables (poll_interval="1" → ..._POLL_INTERVAL=1)."""
    return {
        **os.environ,
        "KUBECONFIG": str(cluster.kubeconfig),
        "AWS_ENDPOINT_URL_SAGEMAKER": emulator.endpoint_url,
        "AWS_ENDPOINT_URL_STS": emulator.endpoint_url,
        "AWS_REGION": DEFAULT_REGION,
        "AWS_ACCESS_KEY_ID": "emulator",
        "AWS_SECRET_ACCESS_KEY": "emulator",  # the emulator checks no signature
        **{f"SAGEMAKER_OPERATOR_{name.upper()}": value for name, value in settings.items()},
    }
