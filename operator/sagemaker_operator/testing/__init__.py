"""The local test platform: a real control plane on loopback and a SageMaker emulator.

Like ``kopf.testing``, this is public API, so users can test their own manifests:

    from sagemaker_operator.testing import Emulator, LocalControlPlane

    with LocalControlPlane() as control_plane, Emulator() as emulator:
        control_plane.cluster.kubectl("apply", "-f", "my-trainingjob.yaml")
"""

from sagemaker_operator.testing.binaries import (
    ETCD_VERSION,
    KUBERNETES_VERSION,
    Binaries,
    BinariesError,
    ensure_binaries,
)
from sagemaker_operator.testing.controlplane import (
    ControlPlaneError,
    KubeCluster,
    LocalControlPlane,
)
from sagemaker_operator.testing.emulator import Emulator, EmulatorControl
from sagemaker_operator.testing.waiting import wait_until

__all__ = [
    "ETCD_VERSION",
    "KUBERNETES_VERSION",
    "Binaries",
    "BinariesError",
    "ControlPlaneError",
    "Emulator",
    "EmulatorControl",
    "KubeCluster",
    "LocalControlPlane",
    "ensure_binaries",
    "wait_until",
]
