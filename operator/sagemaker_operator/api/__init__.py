"""The TrainingJob API: the Kubernetes resource's names, and its spec and status as models."""

from importlib import resources

GROUP = "sagemaker-operator.dev"
VERSION = "v1alpha1"
KIND = "TrainingJob"
PLURAL = "trainingjobs"
SINGULAR = "trainingjob"
# spec.tags may not use this prefix: the operator's ownership tags live under it.
RESERVED_TAG_PREFIX = f"{GROUP}/"
# Annotations users write on a TrainingJob (docs/trainingjob.md, docs/migrating-from-ack.md).
DELETION_POLICY_ANNOTATION = f"{GROUP}/deletion-policy"  # "delete" (default) or "retain"
ADOPT_ANNOTATION = f"{GROUP}/adopt"  # "true": take over the existing job of that name
ADOPT_FROM_CLUSTER_ANNOTATION = f"{GROUP}/adopt-from-cluster"  # the cluster id that tagged it


def manifests() -> str:
    """What installs the API (`sagemaker-operator crd`): the CRD, then the admission policy
    that keeps what SageMaker cannot change from changing (both generated)."""
    folder = resources.files(__name__)
    return (
        folder.joinpath("crd.yaml").read_text()
        + "---\n"
        + (folder.joinpath("immutable-spec.yaml").read_text())
    )
