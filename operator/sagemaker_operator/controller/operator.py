"""Start the operator: settings in, kopf running the handlers until stopped."""

from __future__ import annotations

import asyncio
import logging
import os
import random

import boto3
import kopf
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from sagemaker_operator import metrics
from sagemaker_operator.aws import regions, servicemodel
from sagemaker_operator.aws.gateway import CONNECT_TIMEOUT, READ_TIMEOUT, SageMakerGateway
from sagemaker_operator.aws.rates import RateLimits
from sagemaker_operator.controller import handlers  # importing registers the handlers
from sagemaker_operator.controller.allocator import fewer_malloc_arenas
from sagemaker_operator.controller.runtime import Runtime
from sagemaker_operator.kube import KubeApiError
from sagemaker_operator.policy import Policy
from sagemaker_operator.settings import OperatorSettings


class ConfigurationError(RuntimeError):
    pass


def run(settings: OperatorSettings) -> None:
    fewer_malloc_arenas()  # before any thread starts
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    # The operator calls a few of SageMaker's operations: their part of its model only.
    servicemodel.load_only()
    gateway = SageMakerGateway(
        endpoint_url=settings.endpoint_url,
        limits=RateLimits(create=settings.create_rate, describe=settings.describe_rate,
                          list=settings.list_rate, stop=settings.stop_rate,
                          end_describe=settings.end_describe_rate,
                          list_period=settings.poll_interval),
    )  # fmt: skip
    region = settings.region or gateway.default_region()
    if not region:
        raise ConfigurationError(
            "no AWS region: set AWS_REGION (or SAGEMAKER_OPERATOR_REGION, or --region)"
        )
    try:
        regions.check(region, region)
    except regions.UnknownRegionForPartitionError as error:
        raise ConfigurationError(f"the operator's region: {error}") from error
    gateway.home_region = region
    gateway.warm_up(region)
    # Replicas must differ: kopf pauses every operator of an equal-priority pair.
    priority = random.SystemRandom().randint(1, 2**31 - 1)
    runtime = Runtime(
        settings=settings,
        gateway=gateway,
        default_region=region,
        policy=load_policy(settings, region),
        priority=priority if settings.peering else None,
    )
    try:
        # The credentials, read before kopf starts (never on the event loop): the pod's
        # service account, else KUBECONFIG or ~/.kube/config.
        runtime.connect()
    except KubeApiError as error:
        raise ConfigurationError(f"no Kubernetes credentials: {error.message}") from error
    try:
        runtime.cluster_id = asyncio.run(_cluster_identity(runtime))
    except KubeApiError as error:
        raise ConfigurationError(
            "cannot read the kube-system namespace's UID for this cluster's identity "
            f"({error}); set SAGEMAKER_OPERATOR_CLUSTER_ID (--cluster-id)"
        ) from error
    if settings.webhook_port is not None:
        handlers.register_webhook()
    if settings.metrics_port is not None:
        port = metrics.serve(settings.metrics_port)
        logging.getLogger(__name__).info("serving metrics on http://0.0.0.0:%d/metrics", port)
    liveness = None if settings.probe_port is None else (
        f"http://0.0.0.0:{settings.probe_port}/healthz")  # fmt: skip
    asyncio.run(kopf.operator(
        standalone=settings.peering is None,
        peering_name=settings.peering,
        priority=priority,
        liveness_endpoint=liveness,
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
        memo=kopf.Memo(runtime=runtime),
    ))  # fmt: skip
    # Stopped (SIGTERM, Ctrl-C) and cleaned up. An AWS call a worker thread may still wait
    # on (each attempt has a deadline, but botocore retries) has no reader left, and
    # interpreter exit would join that thread, past the pod's grace period: exit now.
    logging.shutdown()
    os._exit(0)


async def _cluster_identity(runtime: Runtime) -> str:
    """Read before kopf starts, on a loop of its own (its session closed with it)."""
    try:
        return await runtime.cluster_identity()
    finally:
        await runtime.close_kube()


def load_policy(settings: OperatorSettings, region: str) -> Policy:
    """The policy file, or else: the roles of the operator's own account only."""
    if settings.policy_file is not None:
        try:
            return Policy.load(settings.policy_file)
        except (OSError, ValueError) as error:
            raise ConfigurationError(f"policy file {settings.policy_file}: {error}") from error
    account = settings.account_id
    logging.getLogger(__name__).warning(
        "no namespace policy file: every namespace may use the roles and ARNs of the "
        "operator's own account. Fine for one team; for several, give each namespace a "
        "rule and set `strict: true` (docs/multi-tenancy.md)")  # fmt: skip
    if account is None:
        try:
            # Patient: an operator restarted during an AWS hiccup should not crash-loop.
            retries = Config(
                retries={"mode": "standard", "total_max_attempts": 10},
                connect_timeout=CONNECT_TIMEOUT,
                read_timeout=READ_TIMEOUT,
            )
            # On the clients' loader: botocore's endpoint data (6.6 MB) is parsed once.
            session = boto3.session.Session(botocore_session=servicemodel.session())
            sts = session.client("sts", region_name=region, config=retries)
            account = sts.get_caller_identity()["Account"]
        except (BotoCoreError, ClientError) as error:
            raise ConfigurationError(
                "cannot tell the operator's AWS account for the default policy "
                f"({error}); set SAGEMAKER_OPERATOR_ACCOUNT_ID or a policy file"
            ) from error
    return Policy.own_account(account)
