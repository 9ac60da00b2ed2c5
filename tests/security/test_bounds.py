"""What a list reads is bounded by what no tenant writes (attack 2 of the threat model): a
status whose creationTime says 2000 must not make every list of the region walk its
history."""

from __future__ import annotations

from pathlib import Path

import pytest

from sagemaker_lab import Emulator, EmulatorControl, KubeCluster, wait_until
from sagemaker_lab.operator import OperatorProcess, operator_environment
from tests.controller.test_events import metric
from tests.security.conftest import Tenant

pytestmark = pytest.mark.cluster

HISTORY = 3000  # old jobs in the region: 30 pages of 100


def pages(operator: OperatorProcess) -> tuple[float, float]:
    """The ListTrainingJobs pages the ticks read so far, and the ticks that listed."""
    return (metric(operator, "sagemaker_operator_list_pages_sum") or 0.0,
            metric(operator, "sagemaker_operator_list_pages_count") or 0.0)  # fmt: skip


def test_a_creation_time_of_2000_in_status_does_not_make_lists_read_the_history(
    kube_cluster: KubeCluster, tenant: Tenant, emulator: Emulator, tmp_path: Path
) -> None:
    control = EmulatorControl(emulator.endpoint_url)
    control.seed(HISTORY, years=3)
    control.set_faults(filter_after_paging=True)  # lists page through what they filter out
    control.set_profile("fast", {"Training": 600})
    environment = operator_environment(kube_cluster, emulator, poll_interval="1",
                                       metrics_port="0")  # fmt: skip
    with OperatorProcess(environment, tenant.namespace, tmp_path / "operator.log") as operator:
        operator.wait_ready()
        tenant.training(operator, "long")
        tenant.patch_status("long", {"creationTime": "2000-01-01T00:00:00Z",
                                     "lastModifiedTime": "2000-01-01T00:00:00Z"})  # fmt: skip
        read, ticks = pages(operator)
        wait_until(operator.guard(lambda: pages(operator)[1] >= ticks + 5), timeout=60,
                   description="5 more ticks")  # fmt: skip
        more_read, more_ticks = pages(operator)
        per_tick = (more_read - read) / (more_ticks - ticks)
        # One page a tick (the jobs created since the resource), not HISTORY / 100.
        assert per_tick <= 2, f"{per_tick:.1f} pages a tick"
        assert tenant.status("long")["trainingJobStatus"] == "InProgress"
