"""What the local node makes of the machine it is on: the plan, or one error naming all
that is missing."""

from __future__ import annotations

import dataclasses

import pytest

from sagemaker_lab.node import MachineFacts, NodeError, preflight

CAPABLE = MachineFacts(root=True, cgroup="v2", cap_sys_resource=True, podman=True,
                       containerd=True, runc=True, cni_plugins=True, iptables=True)  # fmt: skip


def test_a_cgroup_v2_machine_with_every_capability_needs_no_workaround() -> None:
    plan = preflight(CAPABLE)
    assert plan.fail_cgroup_v1
    assert not plan.restrict_oom_score_adj
    assert plan.notes == ()


def test_cgroup_v1_keeps_the_kubelet_running_and_says_so() -> None:
    plan = preflight(dataclasses.replace(CAPABLE, cgroup="v1"))
    assert not plan.fail_cgroup_v1
    assert any("cgroup v1" in note for note in plan.notes)


def test_without_cap_sys_resource_containerd_restricts_oom_score_adj() -> None:
    plan = preflight(dataclasses.replace(CAPABLE, cap_sys_resource=False))
    assert plan.restrict_oom_score_adj
    assert any("CAP_SYS_RESOURCE" in note for note in plan.notes)


@pytest.mark.parametrize(
    ("lacking", "named"),
    [
        ({"root": False}, "root"),
        ({"cgroup": "none"}, "cgroup file system"),
        ({"podman": False}, "podman (apt-get install podman)"),
        ({"containerd": False}, "containerd"),
        ({"runc": False}, "runc"),
        ({"cni_plugins": False}, "containernetworking-plugins"),
        ({"iptables": False}, "iptables"),
    ],
)
def test_what_the_machine_lacks_is_named(lacking: dict[str, object], named: str) -> None:
    with pytest.raises(NodeError, match="it lacks") as refused:
        preflight(dataclasses.replace(CAPABLE, **lacking))  # type: ignore[arg-type]
    assert named in str(refused.value)


def test_every_missing_thing_is_named_at_once() -> None:
    with pytest.raises(NodeError) as refused:
        preflight(dataclasses.replace(CAPABLE, podman=False, runc=False, iptables=False))
    assert str(refused.value).count("\n  - ") == 3
