"""The lab: what the operator is built, tested, demonstrated and released with. A real
control plane on loopback (and a node), the images, the generator, the release, the demo,
the pytest plugin, and the ``sagemaker-lab`` commands; SageMaker is played by the emulator
package beside it.

Like ``kopf.testing``, this is public API, so users can test their own manifests:

    from sagemaker_emulator import Emulator
    from sagemaker_lab import LocalControlPlane

    with LocalControlPlane() as control_plane, Emulator() as emulator:
        control_plane.cluster.kubectl("apply", "-f", "my-trainingjob.yaml")
"""

from sagemaker_emulator import Emulator, EmulatorControl, wait_until
from sagemaker_lab.binaries import (
    ETCD_VERSION,
    KUBERNETES_VERSION,
    Binaries,
    BinariesError,
    ensure_binaries,
)
from sagemaker_lab.controlplane import (
    ControlPlaneError,
    KubeCluster,
    LocalControlPlane,
)

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
