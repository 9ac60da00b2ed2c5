"""The Helm chart: lint, render, server-side dry run, install, and least-privilege RBAC."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from sagemaker_lab import KubeCluster
from sagemaker_operator.policy import Policy
from sagemaker_operator.settings import OperatorSettings
from tests.helm.conftest import ALL_OPTIONS, CERT_MANAGER, CHART, Helm

VALUES = {"default": None, "all-options": ALL_OPTIONS, "cert-manager": CERT_MANAGER}
STAND_IN_CRDS = [CHART / "crds" / "kopf-peering.yaml",
                 Path(__file__).parent / "servicemonitor-crd.yaml",
                 Path(__file__).parent / "cert-manager-crds.yaml"]  # fmt: skip


def render(helm: Helm, values: Path | None, namespace: str = "operators",
           release: str = "sagemaker-operator", *extra: str) -> list[dict[str, Any]]:  # fmt: skip
    arguments = ["template", release, str(CHART), "--namespace", namespace, *extra]
    if values is not None:
        arguments += ["--values", str(values)]
    return [doc for doc in yaml.safe_load_all(helm(*arguments).stdout) if doc]


def find(documents: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [document for document in documents if document["kind"] == kind]


@pytest.fixture
def cluster_ready(kube_cluster: KubeCluster, trainingjob_crd: str) -> KubeCluster:
    """The TrainingJob CRD, kopf's peering CRDs, a ServiceMonitor stand-in, and the
    namespaces the all-options values name."""
    for path in STAND_IN_CRDS:
        kube_cluster.kubectl("apply", "--server-side", "-f", str(path))
    kube_cluster.kubectl("wait", "--for=condition=Established", "--timeout=30s",
                         "crd/clusterkopfpeerings.kopf.dev", "crd/kopfpeerings.kopf.dev",
                         "crd/servicemonitors.monitoring.coreos.com",
                         "crd/certificates.cert-manager.io",
                         "crd/issuers.cert-manager.io")  # fmt: skip
    for name in ("team-a", "team-b"):
        kube_cluster.kubectl("create", "namespace", name, check=False)
    return kube_cluster


@pytest.mark.parametrize("values", VALUES.values(), ids=VALUES.keys())
def test_the_chart_lints_clean(helm: Helm, values: Path | None) -> None:
    arguments = ["lint", "--strict", str(CHART)]
    result = helm(*arguments, *(["--values", str(values)] if values else []))
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("operator.pollInterval=-1", "pollInterval"),
        ("operator.deletionPolicy=keep", "deletionPolicy"),
        ("operator.rateLimits.create=0", "create"),
        ("image.pullPolicy=Sometimes", "pullPolicy"),
        ("operator.watchNamespaces[0]=Team_A", "watchNamespaces"),
        ("operator.pollIntervall=5", "pollIntervall"),
        ("webhook.port=70000", "port"),
        ("operator.events.queueUrl=sagemaker-events", "queueUrl"),
        ("operator.region=eu-west-1", "region"),  # one region setting: aws.region
    ],
)  # fmt: skip
def test_a_wrong_value_fails_at_install_naming_it(helm: Helm, setting: str, named: str) -> None:
    refused = helm("template", "x", str(CHART), "--set", setting, check=False)
    assert refused.returncode != 0
    assert "values don't meet the specifications of the schema" in refused.stderr
    assert named in refused.stderr


@pytest.mark.parametrize("values", VALUES.values(), ids=VALUES.keys())
def test_every_rendered_object_passes_a_server_side_dry_run(
    cluster_helm: Helm, cluster_ready: KubeCluster, namespace: str, values: Path | None
) -> None:
    documents = render(cluster_helm, values, namespace)
    manifests = "\n---\n".join(json.dumps(document) for document in documents)
    result = cluster_ready.kubectl("apply", "--dry-run=server", "-f", "-", input=manifests)
    assert len(result.stdout.strip().splitlines()) == len(documents)


@pytest.mark.parametrize("values", VALUES.values(), ids=VALUES.keys())
def test_rbac_grants_no_wildcard_and_no_secret(helm: Helm, values: Path | None) -> None:
    documents = render(helm, values)
    rules = [rule for role in find(documents, "ClusterRole") + find(documents, "Role")
             for rule in role["rules"]]  # fmt: skip
    assert rules
    for rule in rules:
        for key in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[key], rule
        assert "secrets" not in rule["resources"], rule


def test_the_pod_is_hardened_and_runs_one_replica_at_a_time(helm: Helm) -> None:
    deployment = find(render(helm, None), "Deployment")[0]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = pod["containers"][0]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
        "privileged": False, "capabilities": {"drop": ["ALL"]},
    }  # fmt: skip
    assert container["image"] == "ghcr.io/sagemaker-operator/sagemaker-operator:0.2.0"
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "probes"}


def test_every_value_reaches_the_operator_as_a_valid_setting(
    helm: Helm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    documents = render(helm, ALL_OPTIONS)
    container = find(documents, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    environment = {item["name"]: item["value"] for item in container["env"] if "value" in item}
    fields = {item["name"]: item["valueFrom"]["fieldRef"]["fieldPath"]
              for item in container["env"] if "valueFrom" in item}  # fmt: skip
    assert fields == {"POD_ID": "metadata.name"}  # kopf's identity: the pod's name
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = OperatorSettings()
    assert settings.model_dump(exclude_defaults=True) == {
        "endpoint_url": "https://api.sagemaker.eu-west-1.amazonaws.com",
        "namespaces": ["team-a", "team-b"], "poll_interval": 20.0,
        "events_queue_url": "https://sqs.eu-west-1.amazonaws.com/111122223333/sagemaker-events",
        "events_poll_interval": 600.0, "events_early_for": 60.0,
        "create_rate": 1.0, "describe_rate": 4.0, "end_describe_rate": 8.0, "list_rate": 1.0,
        "stop_rate": 1.0,
        "retry_delay": 30.0, "max_retry_delay": 600.0, "deletion_policy": "retain",
        "wait_retry_delay": 30.0, "max_wait_retry_delay": 900.0, "role_wait_for": 1200.0,
        "resync_after": 300.0,
        "resync_batch": 20, "follow_interval": 60.0, "follow_for": 3600.0,
        "policy_file": Path("/etc/sagemaker-operator/policy/policy.yaml"),
        "account_id": "111122223333", "cluster_id": "prod-eu-1",
        "peering": "operators-sagemaker-operator",
        "probe_port": 8181, "metrics_port": 9191, "webhook_port": 9444,
        "webhook_cert_dir": Path("/etc/sagemaker-operator/tls"), "kubernetes_timeout": 20.0,
        "log_level": "DEBUG",
    }  # fmt: skip
    assert environment["AWS_REGION"] == "eu-west-1"
    assert environment["AWS_STS_REGIONAL_ENDPOINTS"] == "regional"
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(find(documents, "ConfigMap")[0]["data"]["policy.yaml"])
    policy = Policy.load(policy_file)
    assert len(policy.rules) == 3
    team_b = policy.account_for("ml", {"platform.example.com/tenant": "team-b"})
    assert team_b is not None
    assert team_b.role_arn == "arn:aws:iam::222233334444:role/sagemaker-operator"
    assert team_b.external_id == "team-b-7f3c"
    account = find(documents, "ServiceAccount")[0]
    assert account["metadata"]["name"] == "sagemaker-operator-irsa"
    assert account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/sagemaker-operator"
    }


def test_a_managed_crd_is_the_generated_file_and_survives_uninstall(helm: Helm) -> None:
    documents = render(helm, None, "operators", "sagemaker-operator",
                       "--set", "crds.manage=true")  # fmt: skip
    crds = {crd["metadata"]["name"]: crd for crd in find(documents, "CustomResourceDefinition")}
    generated_file = CHART.parents[1] / "crds" / "trainingjobs.sagemaker-operator.dev.yaml"
    generated = yaml.safe_load(generated_file.read_text())
    managed = crds["trainingjobs.sagemaker-operator.dev"]
    assert managed["spec"] == generated["spec"]
    assert managed["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert set(crds) == {"trainingjobs.sagemaker-operator.dev",
                         "clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"}  # fmt: skip


def can_i(cluster: KubeCluster, account: str, *request: str) -> bool:
    answer = cluster.kubectl("auth", "can-i", *request, f"--as={account}", check=False)
    return answer.stdout.strip() == "yes"


@pytest.mark.parametrize("values", VALUES.values(), ids=VALUES.keys())
def test_helm_install_creates_every_object_with_least_privilege(
    cluster_helm: Helm, cluster_ready: KubeCluster, namespace: str, values: Path | None
) -> None:
    release = "sagemaker-operator"  # its cluster-scoped objects carry this name
    arguments = ["install", release, str(CHART), "--namespace", namespace, "--wait=false"]
    cluster_helm(*arguments, *(["--values", str(values)] if values else []))
    try:
        for document in render(cluster_helm, values, namespace):
            where = document["metadata"].get("namespace")
            located = ["-n", where] if where else []
            cluster_ready.kubectl("get", document["kind"].lower(),
                                  document["metadata"]["name"], *located)  # fmt: skip
        every = values == ALL_OPTIONS
        account_name = "sagemaker-operator-irsa" if every else "sagemaker-operator"
        account = f"system:serviceaccount:{namespace}:{account_name}"
        served = "team-a" if every else "any-namespace"
        assert can_i(cluster_ready, account, "patch", "trainingjobs.sagemaker-operator.dev",
                     "--subresource=status", "-n", served)  # fmt: skip
        assert can_i(cluster_ready, account, "watch", "trainingjobs.sagemaker-operator.dev",
                     "-n", served)  # fmt: skip
        assert can_i(cluster_ready, account, "create", "events", "-n", served)
        assert can_i(cluster_ready, account, "get", f"namespaces/{served}")
        for request in (["get", "secrets", "-n", served], ["list", "secrets", "-A"],
                        ["get", "secrets", "-n", namespace],
                        ["create", "trainingjobs.sagemaker-operator.dev", "-n", served],
                        ["delete", "trainingjobs.sagemaker-operator.dev", "-n", served],
                        ["list", "pods", "-n", served], ["get", "configmaps", "-n", served],
                        ["create", "validatingwebhookconfigurations"]):  # fmt: skip
            assert not can_i(cluster_ready, account, *request), request
        if every:  # watching team-a and team-b only: nothing elsewhere
            assert not can_i(cluster_ready, account, "patch",
                             "trainingjobs.sagemaker-operator.dev", "-n", "team-c")  # fmt: skip
            assert not can_i(cluster_ready, account, "get", "namespaces/team-c")
    finally:
        cluster_helm("uninstall", release, "--namespace", namespace, "--wait=false")


CLUSTER_SCOPED = ("ClusterRole", "ClusterRoleBinding", "ValidatingWebhookConfiguration")


def test_the_webhook_is_registered_for_create_only(helm: Helm) -> None:
    """The handler checks CREATE; with the operator down, an UPDATE (a finalizer removed, a
    label edited, a namespace deleted) must not be refused."""
    documents = render(
        helm, None, "operators", "sagemaker-operator", "--set", "webhook.enabled=true"
    )
    (configuration,) = find(documents, "ValidatingWebhookConfiguration")
    (webhook,) = configuration["webhooks"]
    assert [rule["operations"] for rule in webhook["rules"]] == [["CREATE"]]


def test_two_releases_of_one_name_in_two_namespaces_share_no_cluster_scoped_object(
    helm: Helm,
) -> None:
    names = []
    for namespace in ("team-a-ops", "team-b-ops"):
        documents = render(helm, None, namespace, "ops", "--set", "webhook.enabled=true")
        names.append({(doc["kind"], doc["metadata"]["name"]) for doc in documents
                      if doc["kind"] in CLUSTER_SCOPED})  # fmt: skip
        assert {kind for kind, _ in names[-1]} == set(CLUSTER_SCOPED)
    assert not names[0] & names[1]


def test_helm_upgrade_keeps_the_webhooks_certificate(
    cluster_helm: Helm, cluster_ready: KubeCluster, namespace: str
) -> None:
    """Each render used to make a new CA: after every upgrade (and Argo CD sync) the
    apiserver trusted a CA the running pods did not serve until the kubelet refreshed the
    mounted Secret, and refused every apply meanwhile."""
    release = "kept-cert"
    install = ["--namespace", namespace, "--set", "webhook.enabled=true", "--wait=false"]
    cluster_helm("install", release, str(CHART), *install)

    def certificate() -> tuple[str, str, str]:
        secret = json.loads(cluster_ready.kubectl("get", "secret", f"{release}-sagemaker-operator"
                                                  "-webhook-tls", "-n", namespace, "-o",
                                                  "json").stdout)  # fmt: skip
        configuration = json.loads(cluster_ready.kubectl(
            "get", "validatingwebhookconfiguration", f"{namespace}-{release}-sagemaker-operator",
            "-o", "json").stdout)  # fmt: skip
        bundle = configuration["webhooks"][0]["clientConfig"]["caBundle"]
        return secret["data"]["ca.crt"], secret["data"]["tls.crt"], bundle

    try:
        first = certificate()
        assert first[0] == first[2], "the apiserver trusts the Secret's CA"
        cluster_helm("upgrade", release, str(CHART), *install, "--set", "operator.logLevel=DEBUG")
        assert certificate() == first
    finally:
        cluster_helm("uninstall", release, "--namespace", namespace, "--wait=false")


def test_tenant_roles_aggregate_into_edit_and_view_without_status(helm: Helm) -> None:
    """What tenants need, and not the status: the operator's to write (docs/multi-tenancy.md)."""
    roles = {role["metadata"]["name"]: role for role in find(render(helm, None), "ClusterRole")}
    edit, view = (
        roles["operators-sagemaker-operator-edit"],
        roles["operators-sagemaker-operator-view"],
    )
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    jobs = {"apiGroups": ["sagemaker-operator.dev"], "resources": ["trainingjobs"]}
    writes = ["create", "update", "patch", "delete", "deletecollection"]
    assert edit["rules"] == [{**jobs, "verbs": ["get", "list", "watch", *writes]}]
    assert view["rules"] == [{**jobs, "verbs": ["get", "list", "watch"]}]
    without = render(
        helm, None, "operators", "sagemaker-operator", "--set", "rbac.tenantRoles=false"
    )
    assert not [role for role in find(without, "ClusterRole")
                if role["metadata"]["name"].endswith(("-edit", "-view"))]  # fmt: skip


def test_peering_is_one_cluster_scoped_object_whatever_namespaces_are_watched(helm: Helm) -> None:
    """A KopfPeering in a watched namespace is its tenant's to write: one peer there paused
    the operator everywhere."""
    documents = render(helm, ALL_OPTIONS)
    assert not find(documents, "KopfPeering")
    (peering,) = find(documents, "ClusterKopfPeering")
    assert peering["metadata"]["name"] == "operators-sagemaker-operator"
    rules = [rule for role in find(documents, "ClusterRole") + find(documents, "Role")
             for rule in role["rules"] if rule["apiGroups"] == ["kopf.dev"]]  # fmt: skip
    peerings = {"apiGroups": ["kopf.dev"], "resources": ["clusterkopfpeerings"]}
    assert rules == [
        {**peerings, "verbs": ["list", "watch"]},
        {**peerings, "verbs": ["get", "patch"], "resourceNames": ["operators-sagemaker-operator"]},
    ]


def test_the_network_policy_lets_in_the_webhook_and_the_listed_scrapers_only(helm: Helm) -> None:
    assert not find(render(helm, None), "NetworkPolicy")
    (policy,) = find(render(helm, ALL_OPTIONS), "NetworkPolicy")
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert policy["spec"]["ingress"] == [
        {"ports": [{"port": "webhook", "protocol": "TCP"}],
         "from": [{"ipBlock": {"cidr": "10.0.0.0/16"}}]},
        {"ports": [{"port": "metrics", "protocol": "TCP"}],
         "from": [{"namespaceSelector": {"matchLabels": {
             "kubernetes.io/metadata.name": "monitoring"}}}]},
    ]  # fmt: skip


def test_the_install_notes_say_when_one_default_policy_would_serve_every_namespace(
    cluster_helm: Helm, cluster_ready: KubeCluster, namespace: str
) -> None:
    default = cluster_helm("install", "notes", str(CHART), "--namespace", namespace,
                           "--dry-run=server").stdout  # fmt: skip
    assert "no namespace policy is set. Every namespace may use every role" in default
    assert "strict: true" in default
    strict = cluster_helm("install", "notes", str(CHART), "--namespace", namespace,
                          "--dry-run=server", "--set", "operator.namespacePolicy.strict=true",
                          "--set", "operator.namespacePolicy.rules[0].namespaces[0]=a",
                          ).stdout  # fmt: skip
    assert "NOTE:" not in strict


GLOBALS = {"empty": {}, "set": {"imageRegistry": "registry.example.com", "storageClass": "gp3"}}


@pytest.mark.parametrize("globals_", GLOBALS.values(), ids=GLOBALS.keys())
def test_the_chart_renders_as_a_dependency_of_an_umbrella_chart(
    helm: Helm, tmp_path: Path, globals_: dict[str, Any]
) -> None:
    """Issue M: the schema refused `global`, which Helm gives every subchart, so the chart
    failed inside an umbrella chart even with no globals set."""
    umbrella = tmp_path / "platform"
    (umbrella / "charts").mkdir(parents=True)
    (umbrella / "Chart.yaml").write_text(yaml.safe_dump({
        "apiVersion": "v2", "name": "platform", "version": "1.0.0",
        "dependencies": [{"name": "sagemaker-operator", "version": ">=0.0.0-0",
                          "repository": f"file://{CHART}"}],
    }))  # fmt: skip
    (umbrella / "values.yaml").write_text(yaml.safe_dump({
        "global": globals_, "sagemaker-operator": {"operator": {"logLevel": "DEBUG"}},
    }))  # fmt: skip
    helm("dependency", "build", str(umbrella))
    documents = [
        doc
        for doc in yaml.safe_load_all(
            helm("template", "platform", str(umbrella), "--namespace", "operators").stdout
        )
        if doc
    ]
    (deployment,) = find(documents, "Deployment")
    assert deployment["metadata"]["name"] == "platform-sagemaker-operator"


def test_name_overrides_name_every_object(helm: Helm) -> None:
    documents = render(helm, None, "operators", "release", "--set", "fullnameOverride=smo",
                       "--set", "webhook.enabled=true")  # fmt: skip
    names = {(doc["kind"], doc["metadata"]["name"]) for doc in documents}
    assert ("Deployment", "smo") in names
    assert ("Service", "smo-webhook") in names
    assert ("ClusterRole", "operators-smo") in names
    renamed = render(helm, None, "operators", "release", "--set", "nameOverride=trainer")
    (deployment,) = find(renamed, "Deployment")
    assert deployment["metadata"]["name"] == "release-trainer"
    assert deployment["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] == "trainer"


def test_conventional_pod_values_reach_the_pod_and_the_hardened_defaults_stay(
    helm: Helm,
) -> None:
    pod_spec = find(render(helm, ALL_OPTIONS), "Deployment")[0]["spec"]
    assert pod_spec["revisionHistoryLimit"] == 3
    pod = pod_spec["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"
    assert {"name": "ca-bundle", "configMap": {"name": "corporate-ca"}} in pod["volumes"]
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"name": "ca-bundle", "mountPath": "/etc/ssl/corporate",
            "readOnly": True} in container["volumeMounts"]  # fmt: skip
    assert {"name": "AWS_CA_BUNDLE", "value": "/etc/ssl/corporate/ca.pem"} in container["env"]
    assert container["envFrom"] == [{"configMapRef": {"name": "proxy-settings"}}]
    default = find(render(helm, None), "Deployment")[0]["spec"]
    assert default["revisionHistoryLimit"] == 10
    assert "topologySpreadConstraints" not in default["template"]["spec"]
    assert "envFrom" not in default["template"]["spec"]["containers"][0]


def test_a_disruption_budget_guards_a_standby_and_never_blocks_a_single_replica(
    helm: Helm,
) -> None:
    assert not find(render(helm, None), "PodDisruptionBudget")
    (budget,) = find(render(helm, ALL_OPTIONS), "PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"] == (
        "sagemaker-operator"
    )
    off = render(helm, ALL_OPTIONS, "operators", "sagemaker-operator",
                 "--set", "podDisruptionBudget.enabled=false")  # fmt: skip
    assert not find(off, "PodDisruptionBudget")


def test_cert_manager_issues_the_webhook_certificate_from_an_issuer_the_chart_makes(
    helm: Helm,
) -> None:
    documents = render(helm, CERT_MANAGER)
    issuers = {doc["metadata"]["name"]: doc["spec"] for doc in find(documents, "Issuer")}
    assert issuers == {
        "sagemaker-operator-selfsigned": {"selfSigned": {}},
        "sagemaker-operator-webhook-ca": {"ca": {"secretName": "sagemaker-operator-webhook-ca"}},
    }
    certificates = {doc["metadata"]["name"]: doc["spec"] for doc in find(documents, "Certificate")}
    assert certificates["sagemaker-operator-webhook-ca"]["isCA"] is True
    assert certificates["sagemaker-operator-webhook"]["issuerRef"] == {
        "name": "sagemaker-operator-webhook-ca",
        "kind": "Issuer",
    }
    assert not find(documents, "Secret"), "cert-manager writes the Secret, not the chart"
    (configuration,) = find(documents, "ValidatingWebhookConfiguration")
    assert configuration["metadata"]["annotations"] == {
        "cert-manager.io/inject-ca-from": "operators/sagemaker-operator-webhook"
    }
    named = render(helm, CERT_MANAGER, "operators", "sagemaker-operator",
                   "--set", "webhook.certManager.issuerRef.name=corporate",
                   "--set", "webhook.certManager.issuerRef.kind=ClusterIssuer")  # fmt: skip
    assert not find(named, "Issuer")
    (certificate,) = find(named, "Certificate")
    assert certificate["spec"]["issuerRef"] == {"name": "corporate", "kind": "ClusterIssuer"}
