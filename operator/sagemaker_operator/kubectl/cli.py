"""`kubectl sagemaker logs|describe NAME`, `kubectl sagemaker adopt JOB`, `kubectl sagemaker
convert -f FILE`: kubectl finds `kubectl-sagemaker` on PATH.

The TrainingJob is read with the kubeconfig kubectl uses (KUBECONFIG, --kubeconfig,
--context, its namespace); SageMaker and CloudWatch Logs with boto3's usual chain, in
the region the resource's status names (endpoints: AWS_ENDPOINT_URL_CLOUDWATCH_LOGS,
AWS_ENDPOINT_URL_SAGEMAKER, …).
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
import time
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import boto3
import yaml
from botocore.exceptions import BotoCoreError, ClientError

from sagemaker_operator.api import GROUP, PLURAL, VERSION
from sagemaker_operator.api.trainingjob import Spec, Status
from sagemaker_operator.kubectl import adopt, convert, describe
from sagemaker_operator.kubectl.logs import LogReader
from sagemaker_operator.status.conditions import END_STATES, status_from_sagemaker

_SINCE = re.compile(r"^(\d+)(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


# `convert` and `adopt -n` work offline; what reads the cluster needs this extra.
KUBECTL_EXTRA = "pip install 'sagemaker-operator[kubectl]'"


class PluginError(Exception):
    """Said to the user as `error: …`, exit code 1."""


def _kubernetes() -> ModuleType:
    """The `kubernetes` package (kubeconfig, the API), with the extra named when missing."""
    try:
        import kubernetes  # noqa: PLC0415 - the [kubectl] extra's
    except ModuleNotFoundError as error:
        raise PluginError(f"reading the cluster needs the kubernetes package: {KUBECTL_EXTRA}"
                          ) from error  # fmt: skip
    return kubernetes


def since(text: str) -> datetime.timedelta:
    match = _SINCE.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30s, 10m, 2h or 1d")
    return datetime.timedelta(seconds=int(match[1]) * _UNITS[match[2]])


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-n", "--namespace", help="default: the kubeconfig context's")
    common.add_argument("--kubeconfig", help="default: KUBECONFIG or ~/.kube/config")
    common.add_argument("--context", help="kubeconfig context (default: the current one)")
    top = argparse.ArgumentParser(
        prog="kubectl sagemaker",
        description="Read a TrainingJob's SageMaker logs and summary; adopt an existing job.",
    )
    commands = top.add_subparsers(dest="command", required=True)
    logs = commands.add_parser("logs", parents=[common], help="print the job's CloudWatch logs")
    logs.add_argument("name", help="the TrainingJob")
    logs.add_argument("-f", "--follow", action="store_true",
                      help="keep printing new lines until the job has ended")  # fmt: skip
    logs.add_argument("--since", type=since, help="only lines newer than this (30s, 10m, 2h)")
    logs.add_argument("--poll-interval", type=float, default=5.0,
                      help="seconds between reads when following (default 5)")  # fmt: skip
    shown = commands.add_parser("describe", parents=[common], help="summarise the job")
    shown.add_argument("name", help="the TrainingJob")
    shown.add_argument("--no-aws", action="store_true", help=(
        "print the resource's status only: call no AWS API"))  # fmt: skip
    taken = commands.add_parser("adopt", parents=[common], help=(
        "print the TrainingJob manifest that takes over an existing SageMaker job"))  # fmt: skip
    taken.add_argument("job", help="the SageMaker training job's name")
    taken.add_argument("--region", help="the job's region (default: boto3's)")
    taken.add_argument("--name", help="the TrainingJob's name (default: the job's, lowercased)")
    taken.add_argument("-o", "--output", choices=["yaml", "json"], default="yaml")
    converted = commands.add_parser("convert", help=(
        "print ACK sagemaker-controller TrainingJob manifests as this operator's"))  # fmt: skip
    converted.add_argument("-f", "--filename", required=True,
                           help="the ACK manifest file (- for standard input)")  # fmt: skip
    converted.add_argument("-o", "--output", choices=["yaml", "json"], default="yaml")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    try:
        return _command(arguments)
    except (PluginError, convert.ConversionError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as error:
        print(f"error: AWS: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _command(arguments: argparse.Namespace) -> int:
    if arguments.command == "adopt":
        return _adopt(arguments)
    if arguments.command == "convert":
        return _convert(arguments)
    resource, namespace = _resource(arguments)
    if arguments.command == "logs":
        return _logs(arguments, resource)
    return _describe(arguments, resource, namespace)


def _namespace(arguments: argparse.Namespace) -> str:
    """-n, else the kubeconfig context's namespace, else "default" (the kubeconfig loaded)."""
    kubernetes = _kubernetes()
    try:
        kubernetes.config.load_kube_config(config_file=arguments.kubeconfig,
                                           context=arguments.context)  # fmt: skip
        contexts, active = kubernetes.config.list_kube_config_contexts(
            config_file=arguments.kubeconfig)  # fmt: skip
        if arguments.context:
            active = next(c for c in contexts if c["name"] == arguments.context)
    except (kubernetes.config.ConfigException, StopIteration, OSError) as error:
        raise PluginError(f"kubeconfig: {error}") from error
    return str(arguments.namespace or active.get("context", {}).get("namespace") or "default")


def _adopt(arguments: argparse.Namespace) -> int:
    namespace = arguments.namespace or _namespace(arguments)
    client = boto3.client("sagemaker", region_name=arguments.region)
    region = client.meta.region_name
    if not region:
        raise PluginError("no AWS region: pass --region or set AWS_REGION")
    try:
        described = client.describe_training_job(TrainingJobName=arguments.job)
    except ClientError as error:
        if "not found" in str(error.response.get("Error", {}).get("Message", "")).lower():
            raise PluginError(f"no training job named {arguments.job} in {region}") from error
        raise
    tags: list[dict[str, str]] = []
    token: dict[str, str] = {}
    while True:  # ListTags pages (a job has at most 50 tags: one page, in practice)
        page = client.list_tags(ResourceArn=described["TrainingJobArn"], MaxResults=100, **token)
        tags += [{"Key": tag["Key"], "Value": tag.get("Value", "")} for tag in page["Tags"]]
        if not page.get("NextToken"):
            break
        token = {"NextToken": page["NextToken"]}
    document = adopt.manifest(dict(described), tags, region=region, namespace=namespace,
                              name=arguments.name)  # fmt: skip
    if arguments.output == "json":
        print(json.dumps(document, indent=2))
    else:
        print(yaml.safe_dump(document, sort_keys=False), end="")
    return 0


def _convert(arguments: argparse.Namespace) -> int:
    try:
        if arguments.filename == "-":
            documents = list(yaml.safe_load_all(sys.stdin))
        else:
            with open(arguments.filename, encoding="utf-8") as file:
                documents = list(yaml.safe_load_all(file))
    except (OSError, yaml.YAMLError) as error:
        raise PluginError(f"{arguments.filename}: {error}") from error
    results = convert.convert_all(documents)
    for result in results:
        for note in result.notes:
            print(f"note: {note}", file=sys.stderr)
    manifests = [result.manifest for result in results]
    if arguments.output == "json":
        single = len(manifests) == 1
        listed = {"apiVersion": "v1", "kind": "List", "items": manifests}
        print(json.dumps(manifests[0] if single else listed, indent=2))
    else:
        print(yaml.safe_dump_all(manifests, sort_keys=False), end="")
    return 0


def _resource(arguments: argparse.Namespace) -> tuple[dict[str, Any], str]:
    namespace = _namespace(arguments)
    kubernetes = _kubernetes()
    try:
        found = _get(namespace, arguments.name)
    except kubernetes.client.ApiException as error:
        if error.status == 404:
            raise PluginError(
                f'trainingjob "{arguments.name}" not found in namespace "{namespace}"'
            ) from error
        raise PluginError(f"Kubernetes: {error.status} {error.reason}") from error
    return found, namespace


def _get(namespace: str, name: str) -> dict[str, Any]:
    api: Any = _kubernetes().client.CustomObjectsApi()
    found: dict[str, Any] = api.get_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name
    )
    return found


def _job(resource: dict[str, Any]) -> tuple[Status, str, str]:
    status = Status.model_validate(resource.get("status") or {})
    if not status.training_job_name or not status.region:
        name = resource["metadata"]["name"]
        raise PluginError(f'trainingjob "{name}" has no SageMaker job yet; see '
                          f"kubectl describe trainingjob {name}")  # fmt: skip
    return status, status.training_job_name, status.region


def _logs(arguments: argparse.Namespace, resource: dict[str, Any]) -> int:
    _, job_name, region = _job(resource)
    start = None
    if arguments.since is not None:
        start = int((datetime.datetime.now(datetime.UTC) - arguments.since).timestamp() * 1000)
    reader = LogReader(boto3.client("logs", region_name=region), job_name, start)
    metadata = resource["metadata"]
    hosts = _instances(Spec.model_validate(resource["spec"])) != 1  # prefix lines with algo-n
    while True:
        lines = reader.new_lines()
        for line in lines:
            print(line.render(hosts), flush=True)
        if not arguments.follow:
            return 0
        if resource.get("status", {}).get("trainingJobStatus") in END_STATES:
            return 0  # the read after the end state was seen was the last
        time.sleep(arguments.poll_interval)
        resource = _get(metadata["namespace"], metadata["name"])


def _instances(spec: Spec) -> int:
    config = spec.resource_config
    if config is None:
        return 1
    if config.instance_groups:
        return sum(group.instance_count for group in config.instance_groups)
    return config.instance_count or 1


def _describe(arguments: argparse.Namespace, resource: dict[str, Any], namespace: str) -> int:
    """From the resource's status, which holds what DescribeTrainingJob says (as of the
    operator's last write); with AWS credentials, from a fresh DescribeTrainingJob."""
    status = Status.model_validate(resource.get("status") or {})
    spec = Spec.model_validate(resource["spec"])
    job = status if status.training_job_status else None
    if status.training_job_name and status.region and not arguments.no_aws:
        job = _described(status.training_job_name, status.region) or job
    now = datetime.datetime.now(datetime.UTC)
    print(describe.render(arguments.name, namespace, spec, status, job, now=now), end="")
    return 0


def _described(job_name: str, region: str) -> Status | None:
    """DescribeTrainingJob's answer; None, said on stderr, without AWS credentials or when
    AWS refuses (the resource's status is shown instead)."""
    session = boto3.session.Session(region_name=region)
    if session.get_credentials() is None:
        print("note: no AWS credentials: from the resource's status (as the operator last "
              "wrote it)", file=sys.stderr)  # fmt: skip
        return None
    try:
        answer = session.client("sagemaker").describe_training_job(TrainingJobName=job_name)
    except (ClientError, BotoCoreError) as error:
        print(f"note: AWS: {error}: from the resource's status (as the operator last "
              "wrote it)", file=sys.stderr)  # fmt: skip
        return None
    return status_from_sagemaker(answer)
