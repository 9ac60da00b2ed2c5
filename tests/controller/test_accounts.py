"""Many AWS accounts from one operator: each namespace's jobs run in the account its policy
rule assumes a role in, and nowhere else (the operator process, a real apiserver, the
emulator's STS and per-account jobs)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from sagemaker_emulator.samples import typical
from sagemaker_lab import Emulator, EmulatorControl, KubeCluster, wait_until
from sagemaker_lab.operator import OperatorProcess, operator_environment
from tests.api.manifests import manifest
from tests.controller.test_crashes import kill_at_random_moments
from tests.controller.test_metrics import scrape
from tests.kube import arn, condition, stalled, trainingjob, trainingjobs

pytestmark = pytest.mark.cluster

OWN, TEAM_A, TEAM_B = "123456789012", "222222222222", "333333333333"
ROLE_A = f"arn:aws:iam::{TEAM_A}:role/sagemaker-operator/team-a"
ROLE_B = f"arn:aws:iam::{TEAM_B}:role/sagemaker-operator/team-b"
ROLE_GONE = f"arn:aws:iam::{TEAM_B}:role/never-created"


def spec(account: str) -> dict[str, Any]:
    return {"roleArn": f"arn:aws:iam::{account}:role/SageMakerRole",
            "outputDataConfig": {"s3OutputPath": "s3://my-bucket/output"}}  # fmt: skip


@dataclass
class Teams:
    """Namespaces own (the operator's account), a (team A's), b (team B's), gone (a rule
    whose role does not exist) and stray (no rule), watched by one operator."""

    cluster: KubeCluster
    emulator: Emulator
    operator: OperatorProcess
    own: str
    a: str
    b: str
    gone: str
    stray: str

    def apply(self, namespace: str, *documents: dict[str, Any]) -> None:
        self.cluster.kubectl("apply", "-n", namespace, "-f", "-",
                             input="\n---\n".join(json.dumps(d) for d in documents))  # fmt: skip

    def arn(self, namespace: str, name: str) -> str | None:
        return arn(self.cluster, namespace, name)

    def run_long(self, *jobs: tuple[str, str]) -> EmulatorControl:
        """Start (namespace, account) jobs that train for two hours, and wait until they
        train; the emulator's control, for what follows."""
        control = EmulatorControl(self.emulator.endpoint_url)
        control.set_profile("fast", {"Training": 7200})
        for namespace, account in jobs:
            self.apply(namespace, manifest(f"long-{account}", {
                **spec(account), "trainingJobName": f"long-{account}"}))  # fmt: skip

        def training() -> bool:
            return all(trainingjobs(self.cluster, namespace)[f"long-{account}"].get(
                "status", {}).get("secondaryStatus") == "Training"
                for namespace, account in jobs)  # fmt: skip

        wait_until(self.operator.guard(training), timeout=30, description="Training")
        return control

    def job_status(self, namespace: str, name: str) -> str | None:
        found = trainingjobs(self.cluster, namespace).get(name, {})
        status: str | None = found.get("status", {}).get("trainingJobStatus")
        return status


@pytest.fixture
def teams(
    kube_cluster: KubeCluster, trainingjob_crd: str, namespace: str, emulator: Emulator,
    tmp_path: Path,
) -> Iterator[Teams]:  # fmt: skip
    suffix = uuid.uuid4().hex[:6]
    names = {key: f"{key}-{suffix}" for key in ("a", "b", "gone", "stray")}
    for name in names.values():
        kube_cluster.kubectl("create", "namespace", name)
    control = EmulatorControl(emulator.endpoint_url)
    control.put_role(ROLE_A, external_id="team-a-external")
    control.put_role(ROLE_B)
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump({"rules": [
        {"namespaces": [names["a"]],
         "assumeRole": {"roleArn": ROLE_A, "externalId": "team-a-external"}},
        {"namespaces": [names["b"]], "assumeRole": {"roleArn": ROLE_B}},
        {"namespaces": [names["gone"]], "assumeRole": {"roleArn": ROLE_GONE}},
        {"namespaces": [namespace]},  # the operator's own account, its own roles
    ]}))  # fmt: skip
    environment = operator_environment(kube_cluster, emulator, poll_interval="1",
                                       create_rate="50", describe_rate="50",
                                       policy_file=str(policy), metrics_port="0")  # fmt: skip
    with OperatorProcess(environment, namespace, tmp_path / "operator.log",
                         also=list(names.values())) as running:  # fmt: skip
        yield Teams(kube_cluster, emulator, running, namespace, **names)
    for name in names.values():
        kube_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_each_namespaces_jobs_run_in_its_account_and_nowhere_else(teams: Teams) -> None:
    # The same job name in three namespaces: three accounts, three jobs.
    for namespace, account in ((teams.own, OWN), (teams.a, TEAM_A), (teams.b, TEAM_B)):
        teams.apply(namespace, manifest("train", {**spec(account), "trainingJobName": "train"}))
    wait_until(teams.operator.guard(lambda: all(
        teams.job_status(namespace, "train") == "Completed"
        for namespace in (teams.own, teams.a, teams.b))), timeout=60,
        description=f"Completed in all three\n{teams.operator.output()}")  # fmt: skip
    assert teams.arn(teams.a, "train") == (
        f"arn:aws:sagemaker:us-east-1:{TEAM_A}:training-job/train")  # fmt: skip
    assert teams.arn(teams.b, "train") == (
        f"arn:aws:sagemaker:us-east-1:{TEAM_B}:training-job/train")  # fmt: skip
    control = EmulatorControl(teams.emulator.endpoint_url)
    assert control.jobs() == {account: {"us-east-1": ["train"]}
                              for account in (OWN, TEAM_A, TEAM_B)}  # fmt: skip
    # One session per role (refreshed only before it expires): two AssumeRoles in all.
    assert control.stats()["outcomes"]["sts:AssumeRole"] == {"ok": 2}
    port = re.search(r"serving metrics on http://0\.0\.0\.0:(\d+)/metrics",
                     teams.operator.output())  # fmt: skip
    assert port is not None
    calls = scrape(f"http://127.0.0.1:{port[1]}/metrics")[
        "sagemaker_operator_sagemaker_calls_total"]  # fmt: skip
    created = {dict(labels)["account"]: value for labels, value in calls.items()
               if dict(labels)["operation"] == "CreateTrainingJob"}  # fmt: skip
    assert created == {"own": 1.0, TEAM_A: 1.0, TEAM_B: 1.0}


def test_a_namespace_reaches_only_the_account_its_rule_names(teams: Teams) -> None:
    # Team A names team B's role; a namespace without a rule names its own.
    teams.apply(teams.a, manifest("reach", spec(TEAM_B)))
    teams.apply(teams.stray, manifest("stray", spec(OWN)))
    for namespace, name in ((teams.a, "reach"), (teams.stray, "stray")):
        found = wait_until(teams.operator.guard(lambda n=namespace, m=name: stalled(  # type: ignore[misc]
            teams.cluster, n, m)), timeout=30, description=f"{name} Stalled")  # fmt: skip
        assert condition(found, "Stalled")["reason"] == "PolicyDenied"
    assert f"arn:aws:iam::{TEAM_B}:role/SageMakerRole is not allowed" in condition(
        trainingjob(teams.cluster, teams.a, "reach"), "Stalled")["message"]  # fmt: skip
    assert "no policy rule covers namespace" in condition(
        trainingjob(teams.cluster, teams.stray, "stray"), "Stalled")["message"]  # fmt: skip
    assert EmulatorControl(teams.emulator.endpoint_url).calls("CreateTrainingJob") == 0


def test_a_role_that_cannot_be_assumed_is_stalled_naming_rule_and_role_with_no_call(
    teams: Teams,
) -> None:
    teams.apply(teams.gone, manifest("orphan", spec(TEAM_B)))
    found = wait_until(teams.operator.guard(lambda: stalled(teams.cluster, teams.gone,
                                                            "orphan")),
                       timeout=30, description="Stalled")  # fmt: skip
    stalled_condition = condition(found, "Stalled")
    assert stalled_condition["reason"] == "AssumeRoleFailed"
    assert f"cannot assume {ROLE_GONE} (policy rule 3)" in stalled_condition["message"]
    assert "AccessDenied" in stalled_condition["message"]
    stats = EmulatorControl(teams.emulator.endpoint_url).stats()
    assert stats["outcomes"]["sts:AssumeRole"] == {"AccessDenied": 1}
    assert stats["calls"].get("CreateTrainingJob", 0) == 0  # in no account at all


def test_credentials_that_expire_mid_run_are_assumed_again_and_tracking_goes_on(
    teams: Teams,
) -> None:
    control = teams.run_long((teams.a, TEAM_A))
    control.advance_clock(3700)  # every session issued so far has expired (AWS's clock)
    control.fail_job(f"long-{TEAM_A}", "AlgorithmError: after the expiry", account=TEAM_A)
    wait_until(teams.operator.guard(lambda: teams.job_status(teams.a, f"long-{TEAM_A}")
                                    == "Failed"),
               timeout=30, description="the failure tracked after the expiry")  # fmt: skip
    outcomes = control.stats()["outcomes"]
    assert outcomes["sts:AssumeRole"]["ok"] == 2  # assumed again once
    assert outcomes["ListTrainingJobs"].get("ExpiredTokenException", 0) >= 1


def test_sigkill_with_two_accounts_loses_and_duplicates_nothing(teams: Teams) -> None:
    control = EmulatorControl(teams.emulator.endpoint_url)
    control.set_profile("fast", {"Training": 600})
    control.set_faults(latency=0.05)
    teams.apply(teams.a, *(manifest(f"a-{index:02}", spec(TEAM_A)) for index in range(10)))
    teams.apply(teams.b, *(manifest(f"b-{index:02}", spec(TEAM_B)) for index in range(10)))
    kill_at_random_moments(teams.operator, times=3, seed=20261203, latest=1.5)

    def all_created() -> bool:
        return all(teams.arn(namespace, f"{prefix}-{index:02}")
                   for namespace, prefix in ((teams.a, "a"), (teams.b, "b"))
                   for index in range(10))  # fmt: skip

    wait_until(teams.operator.guard(all_created), timeout=120, interval=0.5,
               description=f"every ARN\n{teams.operator.output()}")  # fmt: skip
    jobs = {
        account: {
            region: sorted(name.rsplit("-", 1)[0] for name in names)
            for region, names in regions.items()
        }
        for account, regions in control.jobs().items()
    }  # default names: and a UID's start
    assert jobs[TEAM_A] == {"us-east-1": [f"a-{index:02}" for index in range(10)]}
    assert jobs[TEAM_B] == {"us-east-1": [f"b-{index:02}" for index in range(10)]}
    assert jobs.get(OWN, {}) == {}
    assert control.stats()["outcomes"]["CreateTrainingJob"]["ok"] == 20


def test_a_revoked_role_shows_on_its_jobs_and_holds_back_no_other_account(
    teams: Teams,
) -> None:
    control = teams.run_long((teams.a, TEAM_A), (teams.b, TEAM_B))
    control.delete_role(ROLE_A, revoke=True)  # its sessions end; no new one is given
    control.fail_job(f"long-{TEAM_B}", "AlgorithmError: in team B", account=TEAM_B)

    def unreachable() -> dict[str, Any] | None:
        found = trainingjob(teams.cluster, teams.a, f"long-{TEAM_A}")
        return (
            found if condition(found, "Reconciling").get("reason") == "AssumeRoleFailed" else None
        )

    found = wait_until(teams.operator.guard(unreachable), timeout=30,
                       description="team A's job says its account is unreachable")  # fmt: skip
    assert f"not tracked: cannot assume {ROLE_A} (policy rule 1)" in condition(
        found, "Reconciling")["message"]  # fmt: skip
    wait_until(teams.operator.guard(lambda: teams.job_status(teams.b, f"long-{TEAM_B}")
                                    == "Failed"),
               timeout=30, description="team B's job tracked meanwhile")  # fmt: skip


def test_an_account_whose_sts_is_silent_holds_back_no_other_account(teams: Teams) -> None:
    """Team A's STS takes AssumeRole and never answers (each attempt waits its 20 s read
    deadline): the operator's own account goes on at once (before: team A's creates held
    every worker of the one pool all accounts shared, and the own job waited minutes)."""
    control = EmulatorControl(teams.emulator.endpoint_url)
    control.set_faults(silent_accounts=[TEAM_A])
    try:
        teams.apply(teams.a, *(manifest(f"held-{index:02}", spec(TEAM_A)) for index in range(20)))
        wait_until(lambda: control.stats()["outcomes"].get("silent", {}).get(TEAM_A),
                   timeout=30, description="team A's STS silent")  # fmt: skip
        teams.apply(teams.own, manifest("meanwhile", spec(OWN)))
        wait_until(teams.operator.guard(lambda: teams.job_status(teams.own, "meanwhile")
                                        == "Completed"), timeout=20,
                   description="the own account's job Completed meanwhile")  # fmt: skip
    finally:
        control.set_faults(silent_accounts=[])


def test_two_rules_naming_one_role_with_other_external_ids_are_two_accounts(
    kube_cluster: KubeCluster, trainingjob_crd: str, namespace: str, emulator: Emulator,
    tmp_path: Path,
) -> None:  # fmt: skip
    """Rule 2's external id is stale: its namespace's job (left by an earlier operator) is
    unreachable, and rule 1's namespace is tracked all the same (before: both rules'
    namespaces shared one list made with whichever credentials came first, and rule 1's
    healthy job was marked AssumeRoleFailed for good)."""
    stale, fresh = f"stale-{uuid.uuid4().hex[:6]}", f"fresh-{uuid.uuid4().hex[:6]}"
    for name in (stale, fresh):
        kube_cluster.kubectl("create", "namespace", name)
    control = EmulatorControl(emulator.endpoint_url)
    control.put_role(ROLE_A, external_id="current")
    # What an earlier operator left in the stale rule's namespace: a job in team A's
    # account, made while its external id was still good, and its resource's status.
    kube_cluster.kubectl("apply", "-n", stale, "-f", "-",
                         input=json.dumps(manifest("left", spec(TEAM_A))))  # fmt: skip
    uid = trainingjob(kube_cluster, stale, "left")["metadata"]["uid"]
    credentials = emulator.sts_client().assume_role(
        RoleArn=ROLE_A, RoleSessionName="earlier", ExternalId="current")["Credentials"]  # fmt: skip
    team_a = boto3.session.Session().client(
        "sagemaker", endpoint_url=emulator.endpoint_url, region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"])  # fmt: skip
    control.set_profile("fast", {"Training": 600})
    left = team_a.create_training_job(**typical("left", RoleArn=spec(TEAM_A)["roleArn"], Tags=[
        {"Key": "sagemaker-operator.dev/uid", "Value": uid}]))["TrainingJobArn"]  # fmt: skip
    status = {"trainingJobArn": left, "trainingJobName": "left", "region": "us-east-1",
              "trainingJobStatus": "InProgress"}  # fmt: skip
    kube_cluster.kubectl("patch", "trainingjob", "left", "-n", stale, "--subresource=status",
                         "--type=merge", "-p", json.dumps({"status": status}))  # fmt: skip
    control.set_profile("fast")
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump({"rules": [
        {"namespaces": [stale], "assumeRole": {"roleArn": ROLE_A, "externalId": "stale"}},
        {"namespaces": [fresh], "assumeRole": {"roleArn": ROLE_A, "externalId": "current"}},
    ]}))  # fmt: skip
    environment = operator_environment(kube_cluster, emulator, poll_interval="1",
                                       policy_file=str(policy))  # fmt: skip
    with OperatorProcess(environment, stale, tmp_path / "operator.log",
                         also=[fresh]) as operator:  # fmt: skip
        operator.wait_ready()
        kube_cluster.kubectl("apply", "-n", fresh, "-f", "-",
                             input=json.dumps(manifest("train", spec(TEAM_A))))  # fmt: skip
        wait_until(operator.guard(lambda: trainingjob(kube_cluster, fresh, "train").get(
            "status", {}).get("trainingJobStatus") == "Completed"), timeout=60,
            description=f"rule 1's job Completed\n{operator.output()}")  # fmt: skip
        wait_until(operator.guard(lambda: condition(trainingjob(kube_cluster, stale, "left"),
                                                    "Reconciling").get("reason")
                                  == "AssumeRoleFailed"), timeout=30,
                   description="rule 2's job unreachable")  # fmt: skip
    for name in (stale, fresh):
        kube_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)
