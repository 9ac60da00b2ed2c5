"""The TrainingJob API: the Kubernetes resource's names, and its spec and status as models."""

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
