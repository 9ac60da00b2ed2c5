"""A tenant can reach its own jobs only: whatever it writes in status, whatever job names it
picks or asks to adopt, and whichever cluster tagged a job (attacks 1, 7 and 8 of the
threat model, through the real apiserver as the tenant, and the operator process)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from sagemaker_emulator.samples import typical
from sagemaker_lab import KubeCluster, wait_until
from sagemaker_operator.kubectl import adopt
from tests.security.conftest import Tenant, make_tenant
from tests.security.teams import (
    CLUSTER_ID,
    Platform,
    patch_spec,
    platform,
    team_job,
)

pytestmark = pytest.mark.cluster

LONG = {"Training": 600.0}
ADOPT = "sagemaker-operator.dev/adopt"


@pytest.fixture(scope="module")
def teams(
    kube_cluster: KubeCluster, tenants: tuple[Tenant, Tenant],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Platform]:  # fmt: skip
    with platform(kube_cluster, tenants, tmp_path_factory.mktemp("identity")) as running:
        yield running


def suffix() -> str:
    return uuid.uuid4().hex[:6]


def training(teams: Platform, tenant: Tenant, name: str) -> bool:
    return bool(tenant.status(name).get("secondaryStatus") == "Training")


def test_a_status_naming_another_teams_job_reaches_neither_that_job_nor_its_resource(
    teams: Platform,
) -> None:
    """Team A keeps its ARN but writes team B's job name into its status, then makes an
    allowed spec change: the update goes to A's own job, B's job and resource are
    untouched and tracked, and A's status is put right (before: UpdateTrainingJob went to
    B's running job, and the tracker copied B's job into A's status)."""
    a, b = teams.a, teams.b
    mine, theirs = f"mine-{suffix()}", f"theirs-{suffix()}"
    pool = {"instanceType": "ml.m5.large", "instanceCount": 1, "volumeSizeInGB": 5,
            "keepAlivePeriodInSeconds": 60}  # fmt: skip
    teams.control.set_profile("fast", LONG)
    a.apply(team_job("team-a", mine, resourceConfig=pool))
    b.apply(team_job("team-b", theirs, resourceConfig=pool))
    wait_until(teams.operator.guard(lambda: training(teams, a, mine) and training(
        teams, b, theirs)), timeout=60, description="both jobs Training")  # fmt: skip
    own_name = a.status(mine)["trainingJobName"]
    their_name = b.status(theirs)["trainingJobName"]

    a.patch_status(mine, {"trainingJobName": their_name})
    patch_spec(a, mine, {"resourceConfig": {**pool, "keepAlivePeriodInSeconds": 1800}})
    wait_until(teams.operator.guard(lambda: (a.status(mine).get("update") or {}).get(
        "state") in ("Applied", "Refused")), timeout=60,
        description="A's update answered")  # fmt: skip
    assert teams.describe(their_name)["ResourceConfig"]["KeepAlivePeriodInSeconds"] == 60
    assert teams.describe(own_name)["ResourceConfig"]["KeepAlivePeriodInSeconds"] == 1800

    teams.control.fail_job(their_name, "Team B's job failed")
    wait_until(teams.operator.guard(lambda: b.status(theirs).get("trainingJobStatus")
                                    == "Failed"), timeout=30,
               description="B's resource still tracked: Failed")  # fmt: skip
    wait_until(teams.operator.guard(lambda: a.status(mine).get("trainingJobName") == own_name),
               timeout=30, description="A's status put right")  # fmt: skip
    status = a.status(mine)
    assert status["trainingJobStatus"] == "InProgress"
    assert "failureReason" not in status


def test_the_same_manifest_runs_in_two_namespaces_and_again_after_its_resource_is_deleted(
    teams: Platform,
) -> None:
    """Default job names are unique per resource (before: the second namespace got
    NameConflict, and a manifest applied again after deletion could never run)."""
    a, b = teams.a, teams.b
    teams.control.set_profile("fast", {})
    name = f"nightly-{suffix()}"
    a.apply(team_job("team-a", name))
    b.apply(team_job("team-b", name))

    def completed(tenant: Tenant) -> str | None:
        status = tenant.status(name)
        stalled = tenant.stalled(name)
        assert stalled is None, stalled
        return (
            status.get("trainingJobArn") if status.get("trainingJobStatus") == "Completed" else None
        )

    first = wait_until(teams.operator.guard(lambda: completed(a)), timeout=60,
                       description="A's job Completed")  # fmt: skip
    other = wait_until(teams.operator.guard(lambda: completed(b)), timeout=60,
                       description="B's job Completed")  # fmt: skip
    assert first != other
    a.kubectl("delete", "trainingjob", name, "--timeout=60s")
    a.apply(team_job("team-a", name))
    again = wait_until(teams.operator.guard(lambda: completed(a)), timeout=60,
                       description="the manifest applied again: a new job")  # fmt: skip
    assert again not in (first, other)


def adopt_manifest(team: str, name: str, job: str, **annotations: str) -> dict[str, Any]:
    document = team_job(team, name, trainingJobName=job)
    document["metadata"]["annotations"] = {ADOPT: "true", **annotations}
    return document


def test_adopting_another_teams_job_tells_nothing_about_it(teams: Platform) -> None:
    """Asked to adopt team B's job, team A learns no more than for a name no job has:
    the same reason and message, no resource, UID or field named (before: AdoptConflict
    named B's resource and its UID)."""
    a, b = teams.a, teams.b
    teams.control.set_profile("fast", LONG)
    secret = f"team-b-secret-{suffix()}"
    b.apply(team_job("team-b", "secret", trainingJobName=secret))
    wait_until(teams.operator.guard(lambda: b.status("secret").get("trainingJobArn")),
               timeout=30, description="B's job")  # fmt: skip
    nothing = f"team-b-nothing-{suffix()}"
    a.apply(
        adopt_manifest("team-a", "take-secret", secret),
        adopt_manifest("team-a", "take-nothing", nothing),
    )
    refusals = {}
    for name, job in (("take-secret", secret), ("take-nothing", nothing)):
        found = wait_until(teams.operator.guard(lambda name=name: a.stalled(name)),  # type: ignore[misc]
                           timeout=30, description=f"{name} refused")  # fmt: skip
        refusals[name] = (found["reason"], found["message"].replace(job, "JOB"))
    assert refusals["take-secret"] == refusals["take-nothing"]
    uid = b.resource("secret")["metadata"]["uid"]
    for text in (uid, b.namespace, "secret ", "team-b-training"):
        assert text not in refusals["take-secret"][1]
    assert teams.tags(secret)["sagemaker-operator.dev/uid"] == uid


def test_a_job_another_cluster_tagged_is_adopted_only_when_the_annotation_names_it(
    teams: Platform,
) -> None:
    """A cluster sharing the account: its job's owning resource is not on this apiserver,
    which is no sign that it is gone (before: adopted at once, re-tagged, and stoppable)."""
    a = teams.a
    job = f"other-cluster-{suffix()}"
    other = {"sagemaker-operator.dev/uid": str(uuid.uuid4()),
             "sagemaker-operator.dev/namespace": a.namespace,
             "sagemaker-operator.dev/name": "train",
             "sagemaker-operator.dev/cluster": "the-other-cluster"}  # fmt: skip
    request = typical(job, RoleArn="arn:aws:iam::123456789012:role/team-a-training",
                      InputDataConfig=[{"ChannelName": "train", "DataSource": {
                          "S3DataSource": {"S3DataType": "S3Prefix",
                                           "S3Uri": "s3://team-a-data/train"}}}],
                      OutputDataConfig={"S3OutputPath": "s3://team-a-data/output"},
                      Tags=[{"Key": "team", "Value": "ml"},
                            *({"Key": key, "Value": value}
                              for key, value in other.items())])  # fmt: skip
    teams.control.set_profile("fast", LONG)
    sagemaker = teams.emulator.sagemaker_client()
    arn = sagemaker.create_training_job(**request)["TrainingJobArn"]
    # What `kubectl sagemaker adopt` writes for it (the plugin's own function).
    tags = [{"Key": tag["Key"], "Value": tag.get("Value", "")}
            for tag in sagemaker.list_tags(ResourceArn=arn)["Tags"]]  # fmt: skip
    described = sagemaker.describe_training_job(TrainingJobName=job)
    document = adopt.manifest(described, tags, region="us-east-1", namespace=a.namespace,
                              name="take-over")  # fmt: skip
    a.apply(document)

    def answered() -> dict[str, Any] | None:
        status = a.status("take-over")
        return a.stalled("take-over") or (status if status.get("trainingJobArn") else None)

    refused = wait_until(teams.operator.guard(answered), timeout=30, description="answered")
    assert refused.get("reason") == "AdoptConflict", refused
    assert "another cluster" in refused["message"]
    assert teams.tags(job)["sagemaker-operator.dev/uid"] == other["sagemaker-operator.dev/uid"]

    a.kubectl("delete", "trainingjob", "take-over", "--timeout=30s")
    document["metadata"]["annotations"]["sagemaker-operator.dev/adopt-from-cluster"] = (
        "the-other-cluster")  # fmt: skip
    a.apply(document)
    wait_until(teams.operator.guard(lambda: a.status("take-over").get("trainingJobArn")),
               timeout=30, description="adopted on purpose")  # fmt: skip
    after = teams.tags(job)
    assert after["sagemaker-operator.dev/uid"] == a.resource("take-over")["metadata"]["uid"]
    assert after["sagemaker-operator.dev/cluster"] == CLUSTER_ID


def test_a_tenant_with_the_charts_edit_role_alone_cannot_write_status(
    kube_cluster: KubeCluster, tenant_edit_role: str
) -> None:
    """The chart's edit role: TrainingJobs, never their status (the other tests grant status
    as a namespace-admin Role does, which the threat model allows)."""
    tenant = make_tenant(kube_cluster, tenant_edit_role, "edit-only", extras=False)
    try:
        for verb in ("create", "update", "patch", "delete", "list", "watch"):
            assert tenant.can(verb, "trainingjobs.sagemaker-operator.dev"), verb
        assert not tenant.can("patch", "trainingjobs.sagemaker-operator.dev",
                              "--subresource=status")  # fmt: skip
        assert not tenant.can("create", "kopfpeerings.kopf.dev")
        assert not tenant.can("create", "clusterkopfpeerings.kopf.dev")
    finally:
        kube_cluster.kubectl("delete", "namespace", tenant.namespace, "--wait=false")
