"""The TrainingJob API: the Kubernetes resource's names, and its spec and status as models."""

GROUP = "sagemaker-operator.dev"
VERSION = "v1alpha1"
KIND = "TrainingJob"
PLURAL = "trainingjobs"
SINGULAR = "trainingjob"
# spec.tags may not use this prefix: the operator's ownership tags live under it.
RESERVED_TAG_PREFIX = f"{GROUP}/"
