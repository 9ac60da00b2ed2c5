"""What the apiserver takes: status patches of the operator's shape per second, for the
shipped CRD (with its admission policy) and the same CRD without its CEL rules, without its
status schema, without any schema, and with or without its transition rules, side by side
on one local apiserver (issue N, part 1). ``--crd FILE`` measures another CRD as
"shipped" (an older one: ``git show REV:operator/sagemaker_operator/api/crd.yaml``).

Each variant is the shipped CRD under a group of its own (so all four coexist); N objects
are created with a typical spec, then P JSON patches of the operator's shape (a test of
metadata.uid, then the status fields: status, secondary status, three conditions, times)
go to their status subresource from W concurrent writers (aiohttp, one session). The rate
is patches over wall time; errors are counted.

    .venv/bin/python -m bench.status_writes [--objects 2000] [--patches 8000] [--writers 16]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import datetime
import json
import ssl
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from sagemaker_lab import KubeCluster
from sagemaker_lab.controlplane import LocalControlPlane
from sagemaker_operator.api import PLURAL, VERSION

SPEC = {
    "roleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
    "algorithmSpecification": {"trainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/"
                               "train:1", "trainingInputMode": "File"},
    "hyperParameters": {"epochs": "10", "learning_rate": "0.01"},
    "inputDataConfig": [{"channelName": "train", "dataSource": {"s3DataSource": {
        "s3DataType": "S3Prefix", "s3Uri": "s3://my-bucket/train"}}}],
    "outputDataConfig": {"s3OutputPath": "s3://my-bucket/output"},
    "resourceConfig": {"instanceType": "ml.m5.large", "instanceCount": 1, "volumeSizeInGB": 10},
    "stoppingCondition": {"maxRuntimeInSeconds": 3600},
}  # fmt: skip
VARIANTS = (
    "shipped",
    "no-cel",
    "no-status-schema",
    "schemaless",
    "no-transition-rules",
    "only-transition-rules",
)
_OPEN = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def variant(crd: dict[str, Any], name: str) -> dict[str, Any]:
    """The shipped CRD as ``name`` (its own group: bench-<name>.local)."""
    made = copy.deepcopy(crd)
    group = f"bench-{name}.local"
    made["metadata"] = {"name": f"{PLURAL}.{group}"}
    made["spec"]["group"] = group
    made["spec"]["names"].pop("categories", None)
    made["spec"]["names"].pop("shortNames", None)
    schema = made["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    if name == "no-cel":
        _drop_rules(schema)
    elif name == "no-transition-rules":
        _drop_rules(schema, lambda rule: "oldSelf" in rule["rule"])
    elif name == "only-transition-rules":
        _drop_rules(schema, lambda rule: "oldSelf" not in rule["rule"])
    elif name == "no-status-schema":
        schema["properties"]["status"] = dict(_OPEN)
    elif name == "schemaless":
        schema["properties"]["spec"] = dict(_OPEN)
        schema["properties"]["status"] = dict(_OPEN)
    return made


def _drop_rules(node: Any, which: Callable[[dict[str, Any]], bool] = lambda rule: True) -> None:
    """Remove the CEL rules ``which`` selects, everywhere in the schema."""
    if isinstance(node, dict):
        kept = [rule for rule in node.get("x-kubernetes-validations", []) if not which(rule)]
        node.pop("x-kubernetes-validations", None)
        if kept:
            node["x-kubernetes-validations"] = kept
        for child in node.values():
            _drop_rules(child, which)
    elif isinstance(node, list):
        for child in node:
            _drop_rules(child, which)


def status(index: int) -> dict[str, Any]:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    secondary = ("Starting", "Downloading", "Training", "Uploading")[index % 4]
    return {
        "trainingJobStatus": "InProgress", "secondaryStatus": secondary,
        "lastModifiedTime": now, "reason": secondary,
        "conditions": [
            {"type": "Ready", "status": "False", "reason": secondary,
             "message": f"InProgress / {secondary}", "lastTransitionTime": now,
             "observedGeneration": 1},
            {"type": "Reconciling", "status": "True", "reason": secondary,
             "lastTransitionTime": now, "observedGeneration": 1},
            {"type": "Stalled", "status": "False", "reason": secondary,
             "lastTransitionTime": now, "observedGeneration": 1},
        ],
    }  # fmt: skip


def event(group: str, name: str, uid: str, index: int) -> dict[str, Any]:
    """The Event of a transition, as the operator posts it (controller/runtime.py)."""
    now = datetime.datetime.now(datetime.UTC).isoformat()
    secondary = ("Starting", "Downloading", "Training", "Uploading")[index % 4]
    return {
        "metadata": {"generateName": f"{name}.", "namespace": "default"},
        "involvedObject": {"apiVersion": f"{group}/{VERSION}", "kind": "TrainingJob",
                           "namespace": "default", "name": name, "uid": uid},
        "reason": secondary, "message": f"training job {name}: {secondary}", "type": "Normal",
        "source": {"component": "sagemaker-operator"},
        "firstTimestamp": now, "lastTimestamp": now, "count": 1,
    }  # fmt: skip


class Writer:
    def __init__(self, server: str, context: ssl.SSLContext, writers: int,
                 events: bool = False) -> None:  # fmt: skip
        self.server, self.context, self.writers = server, context, writers
        # Each patch preceded by the transition's Event, as the operator writes a change.
        self.events = events
        self.group = ""

    async def measure(self, group: str, objects: int, patches: int) -> dict[str, Any]:
        self.group = group
        base = f"{self.server}/apis/{group}/{VERSION}/namespaces/default/{PLURAL}"
        connector = aiohttp.TCPConnector(ssl=self.context, limit=self.writers)
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            uids = await self._create(session, base, objects)
            queue: asyncio.Queue[int] = asyncio.Queue()
            for index in range(patches):
                queue.put_nowait(index)
            errors: list[int] = []
            started = time.monotonic()
            await asyncio.gather(*(self._patch(session, base, uids, queue, errors)
                                   for _ in range(self.writers)))  # fmt: skip
            seconds = time.monotonic() - started
        return {"patches": patches, "errors": len(errors), "seconds": round(seconds, 2),
                "per_second": round((patches - len(errors)) / seconds, 1)}  # fmt: skip

    async def _create(self, session: aiohttp.ClientSession, base: str, objects: int,
                      ) -> list[tuple[str, str]]:  # fmt: skip
        names = [f"job-{index:05d}" for index in range(objects)]
        created: list[tuple[str, str]] = []
        semaphore = asyncio.Semaphore(self.writers)

        async def one(name: str) -> None:
            body = {"apiVersion": f"{self.group}/{VERSION}",
                    "kind": "TrainingJob", "metadata": {"name": name}, "spec": SPEC}  # fmt: skip
            async with semaphore, session.post(base, json=body) as answer:
                found = await answer.json()
                if answer.status != 201:
                    raise RuntimeError(f"create {name}: {answer.status} {found}")
                created.append((name, found["metadata"]["uid"]))
            uid = created[-1][1]
            first = [{"op": "test", "path": "/metadata/uid", "value": uid},
                     {"op": "add", "path": "/status", "value": status(0)}]  # fmt: skip
            async with semaphore, session.patch(
                f"{base}/{name}/status", data=json.dumps(first),
                headers={"Content-Type": "application/json-patch+json"},
            ) as answer:  # fmt: skip
                if answer.status != 200:
                    raise RuntimeError(f"status {name}: {answer.status} {await answer.text()}")

        await asyncio.gather(*(one(name) for name in names))
        return created

    async def _patch(self, session: aiohttp.ClientSession, base: str,
                     uids: list[tuple[str, str]], queue: asyncio.Queue[int],
                     errors: list[int]) -> None:  # fmt: skip
        while not queue.empty():
            index = queue.get_nowait()
            name, uid = uids[index % len(uids)]
            operations = [{"op": "test", "path": "/metadata/uid", "value": uid},
                          *({"op": "add", "path": f"/status/{key}", "value": value}
                            for key, value in status(index).items())]  # fmt: skip
            if self.events:
                events = f"{self.server}/api/v1/namespaces/default/events"
                body = event(self.group, name, uid, index)
                async with session.post(events, json=body) as answer:
                    await answer.read()
                    if answer.status != 201:
                        errors.append(answer.status)
            async with session.patch(
                f"{base}/{name}/status", data=json.dumps(operations),
                headers={"Content-Type": "application/json-patch+json"},
            ) as answer:  # fmt: skip
                await answer.read()
                if answer.status != 200:
                    errors.append(answer.status)


def writer_for(cluster: KubeCluster, writers: int, events: bool = False) -> Writer:
    """A load generator with the cluster's credentials."""
    client = cluster.api_client().configuration
    context = ssl.create_default_context(cafile=client.ssl_ca_cert)
    context.load_cert_chain(client.cert_file, client.key_file)
    return Writer(client.host, context, writers, events)


def install(cluster: KubeCluster, crd: dict[str, Any], name: str, policy: bool) -> str:
    """The CRD as variant ``name`` (with the shipped admission policy when ``policy``),
    Established; its group."""
    made = variant(crd, name)
    cluster.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(made))
    cluster.wait_established(str(made["metadata"]["name"]))
    if policy:  # what installs it: CRD and policy
        source = resources.files("sagemaker_operator.api").joinpath("immutable-spec.yaml")
        documents = list(yaml.safe_load_all(source.read_text()))
        documents[0]["spec"]["matchConstraints"]["resourceRules"][0]["apiGroups"] = [
            made["spec"]["group"]]  # fmt: skip
        for document in documents:
            document["metadata"]["name"] += f"-{name}"
        documents[1]["spec"]["policyName"] = documents[0]["metadata"]["name"]
        cluster.kubectl("apply", "--server-side", "-f", "-",
                        input="\n---\n".join(json.dumps(d) for d in documents))  # fmt: skip
    time.sleep(2)  # the new group's handler and watch cache settle before timing
    return str(made["spec"]["group"])


def shipped_crd(crd_file: Path | None = None) -> dict[str, Any]:
    text = (crd_file.read_text() if crd_file else
            resources.files("sagemaker_operator.api").joinpath("crd.yaml").read_text())  # fmt: skip
    found: dict[str, Any] = yaml.safe_load(text)
    return found


def raw_capacity(cluster: KubeCluster, objects: int, patches: int, writers: int = 16,
                 ) -> dict[str, Any]:  # fmt: skip
    """The apiserver's rate for the operator's status patches on the shipped CRD, alone
    and each after its transition's Event (what the operator writes for a change)."""
    found = {}
    for name, events in (("patches", False), ("patches_with_events", True)):
        group = install(cluster, shipped_crd(), f"raw-{name.replace('_', '-')}", policy=True)
        writer = writer_for(cluster, writers, events)
        found[name] = asyncio.run(writer.measure(group, objects, patches))
    return found


def run(objects: int, patches: int, writers: int, variants: list[str],
        crd_file: Path | None = None) -> dict[str, Any]:  # fmt: skip
    crd = shipped_crd(crd_file)
    results: dict[str, Any] = {"objects": objects, "patches": patches, "writers": writers}
    with LocalControlPlane() as plane:
        writer = writer_for(plane.cluster, writers)
        for name in variants:
            group = install(plane.cluster, crd, name,
                            policy=name == "shipped" and crd_file is None)  # fmt: skip
            results[name] = asyncio.run(writer.measure(group, objects, patches))
            print(f"{name}: {results[name]}", flush=True)
    base = results.get("no-cel", {}).get("per_second")
    if base and "shipped" in results:
        results["shipped_share_of_no_cel"] = round(results["shipped"]["per_second"] / base, 3)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--patches", type=int, default=8000)
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--output", type=Path, help="write the figures as JSON here")
    parser.add_argument("--crd", type=Path, help="another CRD file as 'shipped' (a candidate)")
    arguments = parser.parse_args()
    results = run(arguments.objects, arguments.patches, arguments.writers, arguments.variants,
                  arguments.crd)  # fmt: skip
    print(json.dumps(results, indent=2))
    if arguments.output:
        arguments.output.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
