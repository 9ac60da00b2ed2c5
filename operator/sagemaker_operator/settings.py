"""The operator's settings, from flags and SAGEMAKER_OPERATOR_* environment variables.

AWS's own variables (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_SAGEMAKER, IRSA's
AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, …) work as in any boto3 program; these
settings only add to them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAGEMAKER_OPERATOR_", extra="forbid")

    region: str | None = Field(
        default=None, description="default region for jobs without spec.region "
        "(default: boto3's, e.g. AWS_REGION)"
    )  # fmt: skip
    endpoint_url: str | None = Field(
        default=None, description="SageMaker endpoint (default: boto3's)"
    )
    namespaces: list[str] = Field(
        default_factory=list, description="namespaces to watch, by exact name (default: all)"
    )
    poll_interval: float = Field(
        default=10.0, gt=0, description="seconds between ListTrainingJobs calls per region"
    )
    events_queue_url: str | None = Field(
        default=None,
        description="an SQS queue an EventBridge rule sends SageMaker's training job state "
        "changes to: status comes from it, and lists poll only every events_poll_interval "
        "(default: no queue, lists poll every poll_interval)",
    )  # fmt: skip
    events_poll_interval: float = Field(
        default=300.0, gt=0,
        description="seconds between ListTrainingJobs calls per region while the events "
        "queue is read (the safety net for an event lost); back to poll_interval while "
        "it cannot be read",
    )  # fmt: skip
    events_early_for: float = Field(
        default=120.0, gt=0,
        description="seconds an event of a job no resource shows yet is kept and offered "
        "again (a resource's create write still on its way), by the clock; then it is "
        "deleted",
    )  # fmt: skip
    create_rate: float = Field(
        default=50.0, gt=0,
        description="CreateTrainingJob calls/s at most: a ceiling; once SageMaker throttles, "
        "botocore's adaptive retry mode sends at the rate it allows",
    )  # fmt: skip
    describe_rate: float = Field(default=5.0, gt=0, description="DescribeTrainingJob calls/s")
    end_describe_rate: float = Field(
        default=50.0, gt=0,
        description="DescribeTrainingJob calls/s for jobs a list shows ended (failure reason, "
        "artifacts, billable time), apart from the other describes: a ceiling, with "
        "botocore's adaptive retry mode behind it",
    )  # fmt: skip
    list_rate: float = Field(default=2.0, gt=0, description="ListTrainingJobs calls/s")
    stop_rate: float = Field(
        default=50.0, gt=0,
        description="StopTrainingJob calls/s at most: a ceiling; once SageMaker throttles, "
        "botocore's adaptive retry mode sends at the rate it allows",
    )  # fmt: skip
    retry_delay: float = Field(
        default=15.0, gt=0,
        description="seconds before the first retry of a call botocore gave up on; doubles "
        "per retry, with jitter",
    )  # fmt: skip
    max_retry_delay: float = Field(default=300.0, gt=0, description="ceiling of retry_delay")
    wait_retry_delay: float = Field(
        default=60.0, gt=0,
        description="seconds before retrying a create AWS refused for a reason that passes "
        "(ResourceLimitExceeded, a role IAM has not propagated yet); doubles per retry",
    )  # fmt: skip
    max_wait_retry_delay: float = Field(
        default=600.0, gt=0, description="ceiling of wait_retry_delay"
    )
    role_wait_for: float = Field(
        default=600.0, gt=0,
        description="seconds a create refused with 'could not assume role' is retried, taken "
        "for a new role IAM has not propagated yet (minutes, per IAM's docs); then the "
        "resource is Stalled: the role's trust policy or name is wrong",
    )  # fmt: skip
    resync_after: float = Field(
        default=600.0, gt=0,
        description="seconds after which a job in flight that no list has shown is described "
        "(the safety net for changes AWS lists late)",
    )  # fmt: skip
    resync_batch: int = Field(
        default=10, ge=1, description="at most this many such describes per region and tick"
    )
    follow_interval: float = Field(
        default=30.0, gt=0,
        description="seconds before a finished job whose rule evaluations or warm pool have "
        "not settled is described again; doubles per describe, up to 300",
    )  # fmt: skip
    follow_for: float = Field(
        default=7200.0, ge=0,
        description="seconds after its end that such a job is followed at most",
    )  # fmt: skip
    deletion_policy: Literal["delete", "retain"] = Field(
        default="delete",
        description="on resource deletion: stop the job (delete) or leave it running (retain)",
    )
    policy_file: Path | None = Field(
        default=None,
        description="namespace policy (YAML); default: roles of the operator's own account only",
    )
    account_id: str | None = Field(
        default=None, description="the operator's AWS account (default: from STS)"
    )
    cluster_id: str | None = Field(
        default=None, min_length=1, max_length=256, pattern=r"^[\w.:/=+@-]+$",
        description="this cluster's identity in the jobs' ownership tags: a job tagged by "
        "another cluster sharing the account is never adopted, tracked or stopped here "
        "(default: the UID of the kube-system namespace)",
    )  # fmt: skip
    peering: str | None = Field(
        default=None, description="kopf peering object's name (a ClusterKopfPeering): "
        "replicas where only the highest priority one works (default: standalone)",
    )  # fmt: skip
    probe_port: int | None = Field(
        default=None, ge=1, le=65535,
        description="serve kopf's liveness probe on http://0.0.0.0:PORT/healthz",
    )  # fmt: skip
    metrics_port: int | None = Field(
        default=None, ge=0, le=65535,
        description="serve Prometheus metrics on http://0.0.0.0:PORT/metrics (0: any port)",
    )  # fmt: skip
    webhook_port: int | None = Field(
        default=None, ge=0, le=65535,
        description="serve the validating admission webhook on this port (0: any port)",
    )  # fmt: skip
    webhook_cert_dir: Path | None = Field(
        default=None, description="the webhook's tls.crt and tls.key (default: a self-signed "
        "certificate, and the operator registers the webhook itself)",
    )  # fmt: skip
    kubernetes_timeout: float = Field(
        default=15.0, gt=0,
        description="seconds any one Kubernetes API request may take (kopf's own too); a "
        "connection gone silent fails it then, instead of stalling the operator",
    )  # fmt: skip
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="the operator's log level"
    )
