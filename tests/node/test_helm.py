"""The chart installed with Helm on the local node: the operator as a pod, from its image,
with its own ServiceAccount, reached through its Services, surviving what pods and
apiservers go through."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from sagemaker_lab import Emulator, EmulatorControl, KubeCluster, wait_until
from sagemaker_lab.proxy import FreezingProxy
from tests.api.manifests import manifest, typical_spec
from tests.kube import apply_jobs, job_statuses, trainingjobs
from tests.node.conftest import NodeCluster, Release, operator_values, wait_for_arns

pytestmark = pytest.mark.node

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "examples" / "seed-training-job.yaml"
WEBHOOK = "validate.trainingjobs.sagemaker-operator.dev"


def event_reasons(cluster: KubeCluster, namespace: str) -> dict[str, set[str]]:
    listed = json.loads(
        cluster.kubectl(
            "get",
            "events",
            "-n",
            namespace,
            "-o",
            "json",
            "--field-selector=involvedObject.kind=TrainingJob",
        ).stdout
    )
    reasons: dict[str, set[str]] = {}
    for event in listed["items"]:
        reasons.setdefault(event["involvedObject"]["name"], set()).add(event["reason"])
    return reasons


def exec_python(release: Release, pod: str, code: str) -> str:
    return release.cluster.kubectl("exec", "-n", release.namespace, pod, "--", "python", "-c",
                                   code).stdout  # fmt: skip


def test_helm_install_gives_a_ready_hardened_pod_that_completes_the_seed_example(
    install: Callable[..., Release], node_kube: KubeCluster, pod_namespace: str,
) -> None:  # fmt: skip
    release = install()  # helm install --wait: Ready through the chart's real probes
    [pod] = release.ready_pods()
    seen = exec_python(release, pod, (
        "import os\n"
        "print(os.getuid(), os.getgid())\n"
        "try:\n    open('/written', 'w')\nexcept OSError as error:\n    print(error.strerror)\n"
        "import base64, json\n"
        "token = open('/var/run/secrets/kubernetes.io/serviceaccount/token').read()\n"
        "claims = json.loads(base64.urlsafe_b64decode(token.split('.')[1] + '=='))\n"
        "print(claims['sub'])\n"
        "print(os.environ.get('KUBECONFIG'), os.environ.get('POD_ID'))\n"
    )).splitlines()  # fmt: skip
    assert seen[0] == "65532 65532"
    assert seen[1] == "Read-only file system"
    # Its own ServiceAccount's token…
    assert seen[2] == f"system:serviceaccount:{pod_namespace}:{release.fullname}"
    assert seen[3] == f"None {pod}"  # …and nothing else to log in with; kopf named by the pod

    # RBAC proven by use: the create, the status patches and the events below are all made
    # with that token.
    node_kube.kubectl("apply", "-n", pod_namespace, "-f", str(SEED))
    wait_until(lambda: job_statuses(node_kube, pod_namespace) == {"seed-xgboost": "Completed"},
               timeout=90, interval=0.5, description="the seed example Completed",
               diagnose=release.all_logs)  # fmt: skip
    assert {"Created", "Completed"} <= event_reasons(node_kube, pod_namespace)["seed-xgboost"]
    logs = release.all_logs()
    assert "Forbidden" not in logs, logs


def test_metrics_and_the_webhook_answer_through_the_charts_services(
    install: Callable[..., Release], node_kube: KubeCluster, pod_namespace: str,
) -> None:  # fmt: skip
    release = install()
    service = json.loads(node_kube.kubectl("get", "service", f"{release.fullname}-metrics", "-n",
                                           pod_namespace, "-o", "json").stdout)  # fmt: skip
    address = f"http://{service['spec']['clusterIP']}:{service['spec']['ports'][0]['port']}"

    def scraped() -> str:
        try:
            with urllib.request.urlopen(f"{address}/metrics", timeout=5) as answer:
                return str(answer.read().decode())
        except OSError:  # kube-proxy programs a new endpoint a moment after the pod is Ready
            return ""

    page = wait_until(scraped, timeout=30, interval=0.5, description="/metrics via the Service")
    assert "sagemaker_operator_tracker_last_tick_timestamp_seconds" in page

    configuration = json.loads(
        node_kube.kubectl(
            "get", "validatingwebhookconfiguration", release.cluster_name, "-o", "json"
        ).stdout
    )
    assert configuration["webhooks"][0]["failurePolicy"] == "Fail"
    # The CRD's schema admits this role; the namespace policy (the webhook) does not.
    foreign = manifest("foreign-role", typical_spec(
        roleArn="arn:aws:iam::999999999999:role/SomeoneElses"))  # fmt: skip
    refused = node_kube.kubectl("apply", "-n", pod_namespace, "-f", "-",
                                input=json.dumps(foreign), check=False)  # fmt: skip
    assert refused.returncode != 0
    assert f'admission webhook "{WEBHOOK}" denied the request' in refused.stderr
    assert "roleArn" in refused.stderr
    assert trainingjobs(node_kube, pod_namespace) == {}


def test_a_deleted_operator_pod_is_replaced_mid_storm_and_no_job_is_made_twice(
    install: Callable[..., Release], node_kube: KubeCluster, pod_namespace: str,
    pod_emulator: Emulator,
) -> None:  # fmt: skip
    release = install()
    [first] = release.ready_pods()
    names = [f"storm-{n}" for n in range(40)]
    apply_jobs(node_kube, pod_namespace, names)
    node_kube.kubectl("delete", "pod", "-n", pod_namespace, first, "--wait=false")
    wait_until(lambda: [pod for pod in release.ready_pods() if pod != first], timeout=120,
               interval=0.5, description="a new operator pod Ready")  # fmt: skip
    wait_for_arns(node_kube, pod_namespace, len(names), timeout=120, diagnose=release.all_logs)
    control = EmulatorControl(pod_emulator.endpoint_url)
    assert control.stats()["outcomes"]["CreateTrainingJob"].get("ok") == len(names)
    made = pod_emulator.sagemaker_client().list_training_jobs(MaxResults=100)
    assert len(made["TrainingJobSummaries"]) == len(names)


def test_with_peering_one_replica_works_and_the_other_takes_over(
    install: Callable[..., Release], node_kube: KubeCluster, pod_namespace: str,
) -> None:  # fmt: skip
    release = install(peering={"enabled": True})
    wait_until(lambda: len(release.ready_pods()) == 2, timeout=60, description="two replicas")

    def priorities() -> dict[str, int]:
        """The peering object's peers, by name: kopf's identity is the pod's name (POD_ID).
        One cluster-scoped object, also when the chart watches some namespaces only."""
        found = json.loads(node_kube.kubectl("get", "clusterkopfpeering", release.cluster_name,
                                             "-o", "json").stdout)  # fmt: skip
        return {peer: info["priority"] for peer, info in (found.get("status") or {}).items()}

    wait_until(
        lambda: set(priorities()) == set(release.ready_pods()),
        timeout=60,
        interval=1,
        description="both pods in the peering, by name",
        diagnose=release.all_logs,
    )
    ranked = sorted(priorities().items(), key=lambda peer: peer[1])
    standby, active = ranked[0][0], ranked[-1][0]
    apply_jobs(node_kube, pod_namespace, ["before-0", "before-1"])
    wait_for_arns(node_kube, pod_namespace, 2, timeout=60, diagnose=release.all_logs)
    created = "Handler 'create' succeeded"
    assert release.logs(active).count(created) == 2
    assert created not in release.logs(standby)

    resumed = "Resuming operations after the pause"
    before = release.logs(standby).count(resumed)
    node_kube.kubectl("delete", "pod", "-n", pod_namespace, active, "--wait=false")
    wait_until(lambda: release.logs(standby).count(resumed) > before, timeout=90, interval=1,
               description="the standby taking over", diagnose=release.all_logs)  # fmt: skip
    # The webhook's Service still sends to the deleted pod until its endpoint goes (about a
    # second; failurePolicy Fail refuses applies meanwhile, as in any cluster).
    release.wait_for_webhook()
    apply_jobs(node_kube, pod_namespace, ["after-0", "after-1"])
    wait_for_arns(node_kube, pod_namespace, 4, timeout=60, diagnose=release.all_logs)


def test_helm_upgrade_and_uninstall_leave_jobs_and_crds_as_the_readme_says(
    install: Callable[..., Release], node_kube: KubeCluster, pod_namespace: str,
    pod_emulator: Emulator,
) -> None:  # fmt: skip
    control = EmulatorControl(pod_emulator.endpoint_url)
    control.set_profile("fast", {"Training": 600})  # the jobs outlive this test
    release = install()
    [before] = release.ready_pods()
    apply_jobs(node_kube, pod_namespace, ["kept-0", "kept-1"])
    wait_for_arns(node_kube, pod_namespace, 2, timeout=60, diagnose=release.all_logs)

    ca, trusted = release.webhook_ca()
    assert ca == trusted
    release.upgrade(operator_values(pod_emulator, pod_namespace,
                                    operator={"logLevel": "DEBUG"}))  # fmt: skip
    [after] = release.ready_pods()
    assert after != before
    # The chart kept its certificate: the new pod serves the one the apiserver trusts, at
    # once (a new CA would refuse every apply until the kubelet refreshed the Secret).
    assert release.webhook_ca() == (ca, trusted)
    env = exec_python(
        release, after, "import os; print(os.environ['SAGEMAKER_OPERATOR_LOG_LEVEL'])"
    )
    assert env.strip() == "DEBUG"
    apply_jobs(node_kube, pod_namespace, ["after-upgrade"])
    wait_for_arns(node_kube, pod_namespace, 3, timeout=60, diagnose=release.all_logs)

    release.helm("uninstall", release.name, "--namespace", pod_namespace, "--wait",
                 "--timeout=120s")  # fmt: skip
    wait_until(lambda: not release.pods(), timeout=60, description="the operator pod gone")
    # crds/ is never deleted by Helm; the resources stay, and their jobs run on untouched.
    node_kube.kubectl("get", "crd", "trainingjobs.sagemaker-operator.dev")
    assert set(job_statuses(node_kube, pod_namespace).values()) == {"InProgress"}
    assert control.calls("StopTrainingJob") == 0
    for name in trainingjobs(node_kube, pod_namespace):  # let the namespace go afterwards
        node_kube.kubectl("patch", "trainingjob", name, "-n", pod_namespace, "--type=merge",
                          "-p", '{"metadata":{"finalizers":null}}')  # fmt: skip


def test_the_operator_reconnects_after_a_30_second_apiserver_outage(
    install: Callable[..., Release], node_cluster: NodeCluster, pod_namespace: str,
    pod_emulator: Emulator,
) -> None:  # fmt: skip
    kube = node_cluster.cluster
    control = EmulatorControl(pod_emulator.endpoint_url)
    control.set_profile("fast", {"Training": 20})
    release = install()
    [pod] = release.ready_pods()
    names = [f"outage-{n}" for n in range(20)]
    apply_jobs(kube, pod_namespace, names)
    wait_until(lambda: any(job_statuses(kube, pod_namespace).values()), timeout=60,
               interval=0.2, description="the storm under way")  # fmt: skip
    node_cluster.control_plane.stop_apiserver()
    outage_end = time.monotonic() + 30  # the outage is the specification: 30 s
    wait_until(lambda: time.monotonic() >= outage_end, timeout=40, interval=1,
               description="the end of the outage")  # fmt: skip
    node_cluster.control_plane.start_apiserver()

    wait_until(lambda: set(job_statuses(kube, pod_namespace).values()) == {"Completed"},
               timeout=180, interval=1, description="every job Completed after the outage",
               diagnose=release.all_logs)  # fmt: skip
    assert control.stats()["outcomes"]["CreateTrainingJob"].get("ok") == len(names)
    made = pod_emulator.sagemaker_client().list_training_jobs(MaxResults=100)
    assert len(made["TrainingJobSummaries"]) == len(names)
    # Events the outage kept from being posted are posted after it: every resource shows
    # its Created event.
    wait_until(lambda: all("Created" in event_reasons(kube, pod_namespace).get(name, set())
                           for name in names), timeout=120, interval=2,
               description="every resource's Created event", diagnose=release.all_logs)  # fmt: skip
    assert release.ready_pods() == [pod]  # reconnected by itself: the same pod


def test_a_silent_apiserver_connection_stalls_nothing_on_the_node(
    install: Callable[..., Release], node_cluster: NodeCluster, pod_namespace: str,
    pod_emulator: Emulator,
) -> None:  # fmt: skip
    """Every connection the operator has to the apiserver goes silent (a proxy freezes them:
    bytes stop, no reset); connections made afterwards work. The tracker's writes fail at
    their deadline and are made again on new connections; kopf's watches reconnect after
    their inactivity timeout (70 s)."""
    kube = node_cluster.cluster
    control = EmulatorControl(pod_emulator.endpoint_url)
    control.set_profile("fast", {"Training": 15})
    plane = node_cluster.control_plane
    assert plane.node_ip is not None
    assert plane.apiserver_port is not None
    with FreezingProxy((plane.node_ip, plane.apiserver_port), host=plane.node_ip) as proxy:
        release = install(operator={"kubernetesTimeout": 5, "extraEnv": [
            {"name": "AWS_ACCESS_KEY_ID", "value": "emulator"},
            {"name": "AWS_SECRET_ACCESS_KEY", "value": "emulator"},
            # In-cluster login dials KUBERNETES_SERVICE_HOST:PORT: here, the proxy.
            {"name": "KUBERNETES_SERVICE_HOST", "value": plane.node_ip},
            {"name": "KUBERNETES_SERVICE_PORT", "value": str(proxy.port)},
        ]})  # fmt: skip
        [pod] = release.ready_pods()
        apply_jobs(kube, pod_namespace, [f"silent-{n}" for n in range(5)])
        wait_for_arns(kube, pod_namespace, 5, timeout=60, diagnose=release.all_logs)
        assert proxy.freeze() > 0

        wait_until(lambda: set(job_statuses(kube, pod_namespace).values()) == {"Completed"},
                   timeout=120, interval=1, description="jobs that ended while frozen Completed",
                   diagnose=release.all_logs)  # fmt: skip
        apply_jobs(kube, pod_namespace, ["after-freeze"])  # seen once kopf's watch reconnects
        wait_for_arns(kube, pod_namespace, 6, timeout=150, diagnose=release.all_logs)
        assert release.ready_pods() == [pod]
        restarts = release.pods()[0]["status"]["containerStatuses"][0]["restartCount"]
        assert restarts == 0  # liveness saw a tracker that kept ticking
