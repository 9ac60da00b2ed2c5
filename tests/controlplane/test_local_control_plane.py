"""The local control plane is a real Kubernetes API server: what a cluster does, it does."""

from __future__ import annotations

import json
import subprocess
import textwrap
import threading
from typing import Any, cast

import pytest
from kubernetes import client, watch

from sagemaker_lab import KUBERNETES_VERSION, KubeCluster, wait_until

pytestmark = pytest.mark.cluster

GROUP = "testing.sagemaker-operator.dev"
CRD = textwrap.dedent(f"""\
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: widgets.{GROUP}
    spec:
      group: {GROUP}
      scope: Namespaced
      names: {{plural: widgets, singular: widget, kind: Widget}}
      versions:
        - name: v1
          served: true
          storage: true
          subresources: {{status: {{}}}}
          schema:
            openAPIV3Schema:
              type: object
              properties:
                spec:
                  type: object
                  required: [size]
                  properties:
                    size: {{type: integer, minimum: 1}}
                status:
                  type: object
                  x-kubernetes-preserve-unknown-fields: true
    """)


@pytest.fixture(scope="module")
def widgets(kube_cluster: KubeCluster) -> str:
    kube_cluster.kubectl("apply", "-f", "-", input=CRD)
    kube_cluster.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s", f"crd/widgets.{GROUP}"
    )
    return f"widgets.{GROUP}"


def test_the_python_client_creates_a_namespace(kube_cluster: KubeCluster) -> None:
    core = client.CoreV1Api(kube_cluster.api_client())
    name = "created-by-python-client"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    try:
        status = core.read_namespace(name).status
        assert status is not None
        assert status.phase == "Active"
        assert name in kube_cluster.kubectl("get", "namespaces", "-o", "name").stdout
    finally:
        core.delete_namespace(name)


def test_a_crd_applied_with_kubectl_is_served_and_validates(
    kube_cluster: KubeCluster, widgets: str, namespace: str
) -> None:
    resources = kube_cluster.kubectl("api-resources", f"--api-group={GROUP}", "-o", "name").stdout
    assert widgets in resources
    refused = kube_cluster.kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        check=False,
        input=f"apiVersion: {GROUP}/v1\nkind: Widget\nmetadata: {{name: w0}}\nspec: {{size: 0}}\n",
    )
    assert refused.returncode != 0
    assert "spec.size" in refused.stderr


def test_a_custom_resource_is_created_watched_patched_and_deleted(
    kube_cluster: KubeCluster, widgets: str, namespace: str
) -> None:
    api = client.CustomObjectsApi(kube_cluster.api_client())
    events: list[tuple[str, Any]] = []
    # The watch starts from the list's version: every change after it is delivered, however
    # late the watch request reaches the server (from no version, a watch that started
    # after the patch would show the object once, as ADDED with its status).
    listed = cast("dict[str, Any]", api.list_namespaced_custom_object(GROUP, "v1", namespace,
                                                                      "widgets"))  # fmt: skip
    since = listed["metadata"]["resourceVersion"]

    def follow() -> None:
        stream = watch.Watch()
        for event in stream.stream(
            api.list_namespaced_custom_object, GROUP, "v1", namespace, "widgets",
            resource_version=since, timeout_seconds=30,
        ):  # fmt: skip
            events.append((event["type"], event["object"]))
            if event["type"] == "DELETED":
                stream.stop()

    watcher = threading.Thread(target=follow, daemon=True)
    watcher.start()
    body = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Widget",
        "metadata": {"name": "w1"},
        "spec": {"size": 3},
    }
    api.create_namespaced_custom_object(GROUP, "v1", namespace, "widgets", body)
    api.patch_namespaced_custom_object_status(
        GROUP, "v1", namespace, "widgets", "w1", {"status": {"phase": "Ready"}}
    )
    widget = cast(
        "dict[str, Any]", api.get_namespaced_custom_object(GROUP, "v1", namespace, "widgets", "w1")
    )
    assert widget["status"] == {"phase": "Ready"}
    api.delete_namespaced_custom_object(GROUP, "v1", namespace, "widgets", "w1")
    watcher.join(30)

    assert [kind for kind, _ in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert events[1][1]["status"] == {"phase": "Ready"}
    remaining = cast(
        "dict[str, Any]", api.list_namespaced_custom_object(GROUP, "v1", namespace, "widgets")
    )
    assert remaining["items"] == []


def test_rbac_authorizes_service_accounts_only_as_granted(
    kube_cluster: KubeCluster, namespace: str
) -> None:
    kube_cluster.kubectl("create", "serviceaccount", "reader", "-n", namespace)
    kube_cluster.kubectl(
        "create",
        "role",
        "read-configmaps",
        "-n",
        namespace,
        "--verb=get,list",
        "--resource=configmaps",
    )
    kube_cluster.kubectl(
        "create",
        "rolebinding",
        "reader",
        "-n",
        namespace,
        "--role=read-configmaps",
        f"--serviceaccount={namespace}:reader",
    )
    reader = f"--as=system:serviceaccount:{namespace}:reader"

    def can(verb: str, resource: str) -> str:
        return kube_cluster.kubectl(
            "auth", "can-i", verb, resource, "-n", namespace, reader, check=False
        ).stdout.strip()

    assert wait_until(
        lambda: can("list", "configmaps") == "yes",
        timeout=10,
        description="the role binding to take effect",
    )
    assert can("get", "secrets") == "no"
    assert can("create", "configmaps") == "no"


def test_service_account_tokens_are_signed_and_accepted(
    kube_cluster: KubeCluster, namespace: str
) -> None:
    kube_cluster.kubectl("create", "serviceaccount", "robot", "-n", namespace)
    token = kube_cluster.kubectl("create", "token", "robot", "-n", namespace).stdout.strip()
    review = kube_cluster.kubectl(
        "create",
        "-o",
        "json",
        "-f",
        "-",
        input=json.dumps(
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenReview",
                "spec": {"token": token},
            }
        ),
    ).stdout
    status = json.loads(review)["status"]
    assert status["authenticated"] is True
    assert status["user"]["username"] == f"system:serviceaccount:{namespace}:robot"


@pytest.mark.local_only
def test_the_server_reports_the_version_it_was_built_from(kube_cluster: KubeCluster) -> None:
    version = json.loads(kube_cluster.kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"] == KUBERNETES_VERSION
    assert version["clientVersion"]["gitVersion"] == KUBERNETES_VERSION


def test_kubectl_errors_carry_its_message(kube_cluster: KubeCluster) -> None:
    with pytest.raises(subprocess.CalledProcessError) as raised:
        kube_cluster.kubectl("get", "namespace", "does-not-exist")
    assert "not found" in raised.value.stderr
