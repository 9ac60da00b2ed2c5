"""The operator at 1, 100, 1000 and 2000 TrainingJobs: latency, SageMaker calls, CPU, memory.

Everything is real but AWS: the local control plane (kube-apiserver + etcd), the SageMaker
emulator (no rate limit unless a scenario sets one) and `sagemaker-operator run` as its own
process. A watch on the TrainingJobs records when each resource got its ARN and when each
status change became visible. Run: ``make bench`` (``--sizes``, ``--window`` to change).

Scenarios
- single: one job at a time, apply → status.trainingJobArn, repeated.
- per size N, in flight: N jobs created at once (16 client threads) → every ARN; then the
  operator's CPU over a quiet window and its memory; then a restart (SIGKILL, start) →
  every in-flight job tracked again, creates counted.
- per size N, lifecycle: N jobs pass Starting → Downloading → Training → Uploading →
  Completed within the window; ListTrainingJobs and DescribeTrainingJob counted against
  the target (ticks + status changes ÷ 100 + 10 %, one Describe per finished job); status
  lag (SageMaker's LastModifiedTime → visible in the resource); calls after every job
  finished (must be none).
- burst: 100 jobs applied at once to an operator at its default settings (no limit raised)
  → every ARN; target p99 ≤ 4 s.
- deletion: 100 running jobs at the operator's default settings, the emulator's fast
  profile (stopping takes 0.5 s); every resource deleted at once → every resource gone
  (target ≤ 15 s; ACK's sagemaker-controller took 35.7 s), SageMaker calls counted
  (target: one StopTrainingJob per job, no ListTags).
- endings: 100 jobs applied one after the other over 30 s, each taking 285 s, at the
  operator's default settings → the status lag of their endings (target: no worse than
  that of their other changes), calls, CPU and memory while they run.
- drain: the apiserver's raw capacity for the operator's status patches measured first
  (bench/status_writes.py, 16 writers, on the same apiserver); then 2000 jobs change
  together (the emulator's clock advanced past their Starting phase) → the time from the
  first write to the last, against the raw drain time (target: at most 1.2 times).
- paced, paced_events: 2000 jobs whose changes arrive at half that raw capacity (created
  at that rate, phases long enough that one phase's changes end before the next's begin)
  → status lag (target p99 ≤ poll interval + 1 s polling, ≤ 2 s in event mode).
- storm: the emulator allows 5 CreateTrainingJob/s; 200, then 1000 jobs applied at once to
  an operator at its default settings → all created, calls counted (target ≤ 1.2 per job:
  botocore's adaptive retry mode must learn the quota, not hammer it).
- events (event mode, the emulator's SQS queue and rule): N jobs through the same
  lifecycle with the status from SageMaker's events, the lists every 300 s → status lag
  (target p99 ≤ 2 s at 2000), ListTrainingJobs calls (≤ 1 per 5 min per region),
  SQS calls a minute once idle (≤ 3); then again with 10 % of the events dropped → every
  job still ends (the lists catch what the events lost).
- history: a mature account (20,000 finished jobs over three years) whose lists filter
  after paging (the emulator's filter_after_paging); 100 jobs through their lifecycle.
  Target: ListTrainingJobs calls per tick ≤ (jobs created since the oldest in flight) ÷
  100 + 1, whatever the history (read from the operator's list-pages histogram).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime
import functools
import json
import os
import platform
import re
import signal
import tempfile
import threading
import time
import traceback
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import kubernetes
from prometheus_client.parser import text_string_to_metric_families

from bench import report
from bench.status_writes import raw_capacity
from sagemaker_lab import Emulator, EmulatorControl, KubeCluster, wait_until
from sagemaker_lab.binaries import ETCD_VERSION, KUBERNETES_VERSION
from sagemaker_lab.controlplane import LocalControlPlane
from sagemaker_lab.operator import OperatorProcess, operator_environment
from sagemaker_operator.api import GROUP, PLURAL, VERSION
from sagemaker_operator.api import manifests as api_manifests

RESULTS = Path(__file__).parent / "results"
SPEC = {
    "roleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
    "outputDataConfig": {"s3OutputPath": "s3://my-bucket/output"},
}
FAST = {"Starting": 0.5, "Downloading": 0.5, "Uploading": 0.5, "Stopping": 0.5}
CLIENT_THREADS = 16
SCENARIOS = ["single", "burst", "deletion", "endings", "drain", "paced", "paced_events",
             "in_flight", "lifecycle", "events", "storm", "history"]  # fmt: skip
SINGLE_PACE = 0.6  # seconds between single applies
IDLE_WINDOW = 180.0  # seconds the event mode's idle calls are counted over


def step(text: str) -> None:
    print(f"[{time.strftime('%X')}] {text}", flush=True)


def lifecycle_phases(window: float) -> dict[str, float]:
    """Phase lengths that take a job from Starting to Completed within 70 % of ``window``."""
    return {"Starting": 0.15 * window, "Downloading": 0.15 * window,
            "Training": 0.3 * window, "Uploading": 0.1 * window, "Stopping": 1}  # fmt: skip


def arrived(found: dict[str, float], name: str) -> bool:
    return name in found


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "p50": percentile(values, 0.5),
        "p99": percentile(values, 0.99),
        "max": max(values, default=None),
    }


# -- what the benchmark watches ----------------------------------------------------------


@dataclass
class Observer:
    """A watch on one namespace's TrainingJobs: when ARNs and status changes became visible."""

    api: Any
    namespace: str
    arn_at: dict[str, float] = field(default_factory=dict)
    secondary: dict[str, str] = field(default_factory=dict)
    lags: list[float] = field(default_factory=list)
    # The same lags, of the changes to an end state (Completed, Failed, Stopped) and of the
    # others.
    end_lags: list[float] = field(default_factory=list)
    other_lags: list[float] = field(default_factory=list)
    changes: int = 0
    status: dict[str, str] = field(default_factory=dict)
    # When each resource's secondary status was first seen as it is now (time.time()).
    secondary_at: dict[str, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Observer:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        version = None
        while not self._stop.is_set():
            watch = kubernetes.watch.Watch()  # type: ignore[no-untyped-call]
            try:
                for event in watch.stream(  # type: ignore[no-untyped-call]
                    self.api.list_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    self.namespace,
                    PLURAL,
                    resource_version=version,
                    timeout_seconds=10,
                ):
                    body = event["object"]
                    version = body["metadata"]["resourceVersion"]
                    self._see(body, time.time())
                    if self._stop.is_set():
                        return
            except kubernetes.client.ApiException as error:
                if error.status == 410:  # too old: list again from now
                    version = None
                    continue
                raise

    def _see(self, body: dict[str, Any], now: float) -> None:
        name = body["metadata"]["name"]
        status = body.get("status") or {}
        if status.get("trainingJobArn") and name not in self.arn_at:
            self.arn_at[name] = now
        job_status = status.get("trainingJobStatus")
        if job_status:
            self.status[name] = job_status
        secondary = status.get("secondaryStatus")
        if secondary and self.secondary.get(name) != secondary:
            if name in self.secondary or secondary != "Starting":
                self.changes += 1
                modified = status.get("lastModifiedTime")
                if modified:
                    stamp = datetime.datetime.fromisoformat(modified.replace("Z", "+00:00"))
                    lag = now - stamp.timestamp()
                    self.lags.append(lag)
                    ending = job_status in {"Completed", "Failed", "Stopped"}
                    (self.end_lags if ending else self.other_lags).append(lag)
            self.secondary[name] = secondary
            self.secondary_at[name] = now


# -- the operator process ------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int) -> dict[str, float]:
    text = Path(f"/proc/{pid}/status").read_text()
    found = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", text, re.MULTILINE))
    return {"rss_mb": int(found["VmRSS"]) / 1024, "peak_rss_mb": int(found["VmHWM"]) / 1024}


def metrics_url(operator: OperatorProcess) -> str:
    log = operator.log.read_text(errors="replace")  # all of it: the port is logged at start
    ports = re.findall(r"serving metrics on http://0\.0\.0\.0:(\d+)/metrics", log)
    return f"http://127.0.0.1:{ports[-1]}/metrics"


def samples(url: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Every sample of one name in the operator's /metrics, by its labels."""
    with urllib.request.urlopen(url, timeout=10) as page:
        text = page.read().decode()
    return {tuple(sorted(sample.labels.items())): float(sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples if sample.name == name}  # fmt: skip


def gauge(url: str, name: str, labels: dict[str, str]) -> float:
    """One sample of the operator's /metrics (0 when absent), read with prometheus-client."""
    with urllib.request.urlopen(url, timeout=10) as page:
        text = page.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


@contextmanager
def running_operator(
    cluster: KubeCluster, emulator: Emulator, namespace: str, folder: Path, **settings: str
) -> Iterator[OperatorProcess]:
    environment = operator_environment(cluster, emulator, metrics_port="0", **settings)
    with OperatorProcess(environment, namespace, folder / f"{namespace}.log") as operator:
        operator.wait_ready()
        yield operator


def watch_served(api: Any) -> bool:
    """Whether a watch of TrainingJobs is served (not refused with 429 while the apiserver
    initialises the CRD's storage)."""
    try:
        response = api.list_cluster_custom_object(
            GROUP, VERSION, PLURAL, watch=True, timeout_seconds=1, _preload_content=False
        )
    except kubernetes.client.ApiException as error:
        if error.status == 429:
            return False
        raise
    response.read()
    response.release_conn()
    return True


def create_all(api: Any, namespace: str, names: list[str], rate: float | None = None,
               ) -> dict[str, float]:  # fmt: skip
    """Create the resources with CLIENT_THREADS threads (``rate``: at most that many a
    second, evenly); when each create returned."""
    created: dict[str, float] = {}
    started = time.monotonic()

    def create(name: str) -> None:
        api.create_namespaced_custom_object(
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "TrainingJob",
                "metadata": {"name": name},
                "spec": SPEC,
            },
        )
        created[name] = time.time()

    def paced(item: tuple[int, str]) -> None:
        if rate is not None:
            time.sleep(max(0.0, started + item[0] / rate - time.monotonic()))  # its moment
        create(item[1])

    with concurrent.futures.ThreadPoolExecutor(CLIENT_THREADS) as pool:
        list(pool.map(paced, enumerate(names)))
    return created


# -- scenarios -----------------------------------------------------------------------------


class BenchError(Exception):
    """A scenario that missed its deadline, with what was seen (kept in the results)."""

    def __init__(self, details: dict[str, Any]) -> None:
        super().__init__(details["error"])
        self.details = details


def attempt(scenario: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The scenario's figures, or what went wrong: one failure does not lose the rest."""
    try:
        return scenario()
    except BenchError as error:
        step(f"failed: {error}")
        return error.details
    except Exception as error:
        step(f"failed: {error!r}")
        traceback.print_exc()
        return {"error": repr(error)}


@dataclass
class Bench:
    cluster: KubeCluster
    api: Any
    folder: Path
    poll_interval: float
    _raw: dict[str, Any] | None = None

    def operator(
        self, emulator: Emulator, namespace: str, create_rate: str | None = None, **settings: str
    ) -> AbstractContextManager[OperatorProcess]:
        if create_rate is not None:
            settings = {"create_rate": create_rate, "describe_rate": create_rate,
                        "end_describe_rate": create_rate} | settings  # fmt: skip
        return running_operator(
            self.cluster,
            emulator,
            namespace,
            self.folder,
            poll_interval=str(self.poll_interval),
            **settings,
        )

    def namespace(self, name: str) -> str:
        self.cluster.kubectl("create", "namespace", name)
        return name

    def single(self, samples: int) -> dict[str, Any]:
        namespace = self.namespace("single")
        with (
            Emulator(profile="fast", phases={"Training": 3600}) as emulator,
            self.operator(emulator, namespace),
        ):
            observer = Observer(self.api, namespace).start()
            # The first apply after start also waits for kopf's watch to be established:
            # reported on its own, not as a sample.
            first = self._apply_one(observer, namespace, "single-first")
            latencies = []
            for index in range(samples):
                name = f"single-{index:03d}"
                latencies.append(self._apply_one(observer, namespace, name))
                # One job at a time: the next apply comes after the create limiter (2/s by
                # default) has refilled, so no sample waits for the one before it.
                time.sleep(SINGLE_PACE)
            observer.stop()
        return {"apply_to_arn_seconds": summary(latencies), "first_apply_after_start": first}

    def _apply_one(self, observer: Observer, namespace: str, name: str) -> float:
        created = create_all(self.api, namespace, [name])[name]
        wait_until(
            functools.partial(arrived, observer.arn_at, name),
            timeout=30,
            interval=0.01,
            description=f"{name}'s ARN",
        )
        return observer.arn_at[name] - created

    def burst(self, size: int) -> dict[str, Any]:
        """``size`` jobs applied at once, the operator at its default settings."""
        namespace = self.namespace("burst")
        names = [f"job-{index:05d}" for index in range(size)]
        with (
            Emulator(profile="fast", phases={"Training": 3600}) as emulator,
            running_operator(self.cluster, emulator, namespace, self.folder),
        ):
            control = EmulatorControl(emulator.endpoint_url)
            observer = Observer(self.api, namespace).start()
            started = time.time()
            created = create_all(self.api, namespace, names)
            wait_until(lambda: len(observer.arn_at) == size, timeout=300, interval=0.1,
                       description=f"{size} ARNs")  # fmt: skip
            observer.stop()
            return {
                "jobs": size,
                "all_arns_seconds": max(observer.arn_at.values()) - started,
                "apply_to_arn_seconds": summary(
                    [observer.arn_at[name] - created[name] for name in names]
                ),
                "create_calls": control.calls("CreateTrainingJob"),
            }

    def deletion(self, size: int) -> dict[str, Any]:
        """``size`` running jobs, each resource deleted at once, the operator at its defaults."""
        namespace = self.namespace("deletion")
        names = [f"job-{index:05d}" for index in range(size)]
        with (
            Emulator(profile="fast", phases={**FAST, "Training": 3600}) as emulator,
            running_operator(self.cluster, emulator, namespace, self.folder),
        ):
            control = EmulatorControl(emulator.endpoint_url)
            observer = Observer(self.api, namespace).start()
            create_all(self.api, namespace, names)
            wait_until(lambda: list(observer.status.values()).count("InProgress") == size,
                       timeout=300, interval=0.2,
                       description=f"{size} jobs InProgress")  # fmt: skip
            observer.stop()
            before = control.stats()["calls"]
            started = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(CLIENT_THREADS) as pool:
                delete = functools.partial(
                    self.api.delete_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    namespace,
                    PLURAL,
                    _request_timeout=30,
                )
                list(pool.map(delete, names))
            deleted = time.monotonic() - started

            def remaining() -> int:
                listed = self.api.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL,
                                                                _request_timeout=30)  # fmt: skip
                return len(listed["items"])

            try:
                wait_until(lambda: remaining() == 0, timeout=300, interval=0.1,
                           description="every resource gone")  # fmt: skip
            except TimeoutError as error:
                raise BenchError({"error": str(error), "left": remaining()}) from error
            gone = time.monotonic() - started
            after = control.stats()["calls"]
        calls = {operation: after.get(operation, 0) - before.get(operation, 0)
                 for operation in sorted(after)}  # fmt: skip
        return {
            "jobs": size,
            "all_gone_seconds": gone,
            "deletes_sent_seconds": deleted,
            "calls": {operation: count for operation, count in calls.items() if count},
        }

    def in_flight(self, size: int, create_rate: str) -> dict[str, Any]:
        namespace = self.namespace(f"inflight-{size}")
        names = [f"job-{index:05d}" for index in range(size)]
        with Emulator(profile="fast", phases={"Training": 3600}) as emulator:
            control = EmulatorControl(emulator.endpoint_url)
            with self.operator(emulator, namespace, create_rate) as operator:
                observer = Observer(self.api, namespace).start()
                started = time.time()
                created = create_all(self.api, namespace, names)
                wait_until(
                    lambda: len(observer.arn_at) == size,
                    timeout=900,
                    interval=0.2,
                    description=f"{size} ARNs",
                )
                all_arns = max(observer.arn_at.values()) - started
                latencies = [observer.arn_at[name] - created[name] for name in names]
                creates = control.calls("CreateTrainingJob")
                # Quiet state: every job in Training, the operator only ticking.
                time.sleep(2 * self.poll_interval)  # let the last patches settle
                assert operator.process is not None
                pid = operator.process.pid
                before_cpu, before = cpu_seconds(pid), time.monotonic()
                calls_before = control.stats()["calls"]
                time.sleep(3 * self.poll_interval)  # the measured window
                cpu = (cpu_seconds(pid) - before_cpu) / (time.monotonic() - before)
                calls_after = control.stats()["calls"]
                memory = memory_mb(pid)
                # Restart: SIGKILL, start again, until every in-flight job is tracked again.
                operator.process.send_signal(signal.SIGKILL)
                operator.process.wait(10)
                lists_before = control.calls("ListTrainingJobs")
                restarted = time.monotonic()
                served_before = operator.output().count("serving metrics on")
                operator.start()

                def tracked() -> bool:
                    if operator.output().count("serving metrics on") <= served_before:
                        return False  # the new process has not started serving yet
                    try:
                        indexed = gauge(
                            metrics_url(operator),
                            "sagemaker_operator_trainingjobs",
                            {"status": "InProgress"},
                        )
                    except OSError:
                        return False
                    return indexed == size and control.calls("ListTrainingJobs") > lists_before

                wait_until(
                    operator.guard(tracked),
                    timeout=600,
                    interval=0.2,
                    description="every job tracked again",
                )
                restart = time.monotonic() - restarted
                creates_after_restart = control.calls("CreateTrainingJob") - creates
                observer.stop()
        window = {
            name: calls_after.get(name, 0) - calls_before.get(name, 0)
            for name in ("ListTrainingJobs", "DescribeTrainingJob", "CreateTrainingJob")
        }
        return {
            "all_arns_seconds": all_arns,
            "apply_to_arn_seconds": summary(latencies),
            "create_calls": creates,
            "steady_cpu_share_of_one_core": cpu,
            "steady_calls_per_tick": {k: v / 3 for k, v in window.items()},
            "memory": memory,
            "restart_seconds": restart,
            "creates_after_restart": creates_after_restart,
        }

    def drain(self, size: int, create_rate: str) -> dict[str, Any]:
        """``size`` jobs changing together (the emulator's clock paused, then advanced past
        their Starting phase: one status change each, at one moment), against the
        apiserver's raw capacity for the operator's status patches, measured first on the
        same apiserver (bench/status_writes.py)."""
        raw = self.raw(size)
        namespace = self.namespace(f"drain-{size}")
        names = [f"job-{index:05d}" for index in range(size)]
        with (
            Emulator(profile="fast", phases={"Starting": 60, "Downloading": 3600}) as emulator,
            self.operator(emulator, namespace, create_rate) as operator,
        ):
            control = EmulatorControl(emulator.endpoint_url)
            control.pause_clock()
            observer = Observer(self.api, namespace).start()
            create_all(self.api, namespace, names)
            wait_until(lambda: list(observer.secondary.values()).count("Starting") == size,
                       timeout=900, interval=0.5, description=f"{size} jobs Starting")  # fmt: skip
            time.sleep(2 * self.poll_interval)  # every write of the creations done
            assert operator.process is not None
            cpu_before = cpu_seconds(operator.process.pid)
            advanced = time.time()
            control.advance_clock(61)
            try:
                wait_until(
                    lambda: list(observer.secondary.values()).count("Downloading") == size,
                    timeout=600, interval=0.1, description=f"{size} jobs Downloading")  # fmt: skip
            except TimeoutError as error:
                raise BenchError(
                    {
                        "error": str(error),
                        "raw": raw,
                        "operator_log_tail": operator.output()[-4000:],
                    }
                ) from error
            cpu = cpu_seconds(operator.process.pid) - cpu_before
            observer.stop()
        seen = sorted(observer.secondary_at[name] for name in names)
        raw_seconds = size / raw["patches"]["per_second"]
        paired_seconds = size / raw["patches_with_events"]["per_second"]
        drained = seen[-1] - seen[0]
        return {
            "jobs": size,
            "raw": raw,
            "raw_drain_seconds": raw_seconds,
            "raw_drain_with_events_seconds": paired_seconds,
            "first_to_last_write_seconds": drained,
            "change_to_last_write_seconds": seen[-1] - advanced,
            "drain_ratio": drained / raw_seconds,
            "drain_ratio_with_events": drained / paired_seconds,
            "operator_cpu_seconds": cpu,
        }

    def raw(self, size: int) -> dict[str, Any]:
        """The apiserver's raw capacity for the operator's status patches (measured once a
        run, on the run's apiserver)."""
        if self._raw is None:
            self._raw = raw_capacity(self.cluster, size, 4 * size)
        return self._raw

    def paced(self, size: int, share: float, events: bool) -> dict[str, Any]:
        """``size`` jobs whose changes arrive at ``share`` of the apiserver's raw capacity:
        created at that rate, with phases long enough that one phase's changes end before
        the next's begin, so the changes (and the creations before them) come at that rate."""
        rate = share * self.raw(size)["patches"]["per_second"]
        phase = max(20.0, size / rate + 5)
        phases = {"Starting": phase, "Downloading": phase, "Training": phase, "Uploading": phase}
        mode = "events" if events else "polling"
        namespace = self.namespace(f"paced-{mode}-{size}")
        with Emulator(profile="fast", phases=phases) as emulator:
            control = EmulatorControl(emulator.endpoint_url)
            settings: dict[str, str] = {}
            if events:
                queue = emulator.sqs_client().create_queue(QueueName="events")["QueueUrl"]
                control.route_events(queue)
                settings["events_queue_url"] = queue
            with self.operator(emulator, namespace, "1000", **settings):
                observer = Observer(self.api, namespace).start()
                create_all(self.api, namespace, [f"job-{index:05d}" for index in range(size)],
                           rate=rate)  # fmt: skip
                wait_until(lambda: list(observer.status.values()).count("Completed") == size,
                           timeout=4 * phase + size / rate + 300, interval=0.5,
                           description="every job Completed")  # fmt: skip
                observer.stop()
        return {
            "jobs": size, "mode": mode, "changes_per_second": rate,
            "share_of_raw_capacity": share, "phase_seconds": phase,
            "status_lag_seconds": summary(observer.lags),
            "end_lag_seconds": summary(observer.end_lags),
            "target_p99_seconds": 2.0 if events else self.poll_interval + 1,
        }  # fmt: skip

    def endings(self, size: int, duration: float, spread: float) -> dict[str, Any]:
        """``size`` jobs applied one after the other over ``spread`` seconds, each taking
        ``duration`` seconds, the operator at its default settings: the status lag of
        their endings beside that of their other changes, and the calls of a 5-minute
        window while they run."""
        namespace = self.namespace("endings")
        phases = {"Starting": 0.2 * duration, "Downloading": 0.1 * duration,
                  "Training": 0.6 * duration, "Uploading": 0.1 * duration}  # fmt: skip
        with (
            Emulator(profile="fast", phases=phases) as emulator,
            running_operator(self.cluster, emulator, namespace, self.folder) as operator,
        ):
            control = EmulatorControl(emulator.endpoint_url)
            observer = Observer(self.api, namespace).start()
            started = time.monotonic()
            for index in range(size):
                create_all(self.api, namespace, [f"job-{index:05d}"])
                pause = started + (index + 1) * spread / size - time.monotonic()
                time.sleep(max(0.0, pause))  # the next apply's moment
            window_start = control.stats()["calls"]
            assert operator.process is not None
            cpu_before = cpu_seconds(operator.process.pid)
            wait_until(lambda: list(observer.status.values()).count("Completed") == size,
                       timeout=duration + spread + 120, interval=0.5,
                       description="every job Completed")  # fmt: skip
            window_end = control.stats()["calls"]
            cpu = cpu_seconds(operator.process.pid) - cpu_before
            memory = memory_mb(operator.process.pid)
            observer.stop()
        calls = {operation: window_end.get(operation, 0) - window_start.get(operation, 0)
                 for operation in sorted(window_end)}  # fmt: skip
        return {
            "jobs": size,
            "duration_seconds": [duration, duration + spread],
            "end_lag_seconds": summary(observer.end_lags),
            "other_lag_seconds": summary(observer.other_lags),
            "calls_while_running": calls,
            "cpu_seconds_while_running": cpu,
            "memory": memory,
        }

    def lifecycle(self, size: int, window: float, create_rate: str) -> dict[str, Any]:
        namespace = self.namespace(f"lifecycle-{size}")
        phases = lifecycle_phases(window)
        with (
            Emulator(profile="fast", phases=phases) as emulator,
            self.operator(emulator, namespace, create_rate) as operator,
        ):
            control = EmulatorControl(emulator.endpoint_url)
            observer = Observer(self.api, namespace).start()
            started = time.monotonic()
            create_all(self.api, namespace, [f"job-{index:05d}" for index in range(size)])
            try:
                wait_until(
                    lambda: list(observer.status.values()).count("Completed") == size,
                    timeout=window + 300,
                    interval=0.5,
                    description="every job Completed",
                )
            except TimeoutError as error:
                sagemaker = emulator.sagemaker_client()
                done = sum(len(page["TrainingJobSummaries"]) for page in
                           sagemaker.get_paginator("list_training_jobs").paginate(
                               StatusEquals="Completed"))  # fmt: skip
                raise BenchError(
                    {
                        "error": str(error),
                        "completed_in_sagemaker": done,
                        "completed_in_kubernetes": list(observer.status.values()).count(
                            "Completed"
                        ),
                        "calls": control.stats()["outcomes"],
                        "operator_log_tail": operator.output()[-4000:],
                    }
                ) from error
            finished_after = time.monotonic() - started
            calls = control.stats()["calls"]
            region = {"region": "us-east-1"}
            tick_seconds = gauge(
                metrics_url(operator), "sagemaker_operator_tick_duration_seconds_sum", region
            )
            tick_count = gauge(
                metrics_url(operator), "sagemaker_operator_tick_duration_seconds_count", region
            )
            # After the last job finished: nothing more is asked of SageMaker.
            time.sleep(3 * self.poll_interval)  # the measured quiet window
            later = control.stats()["calls"]
            observer.stop()
        ticks = finished_after / self.poll_interval
        lists = calls.get("ListTrainingJobs", 0)
        bound = (ticks + observer.changes / 100) * 1.1
        # A LastModifiedTimeAfter list also returns each job once for its creation (its
        # first status), which the observer does not count as a change.
        bound_with_creations = (ticks + (observer.changes + size) / 100) * 1.1
        return {
            "window_seconds": finished_after,
            "ticks": ticks,
            "status_changes": observer.changes,
            "list_calls": lists,
            "list_bound": bound,
            "list_bound_with_creations": bound_with_creations,
            "describe_calls": calls.get("DescribeTrainingJob", 0),
            "finished_jobs": size,
            "per_job_30s_poller_calls": size * finished_after / 30,
            "calls_after_all_finished": {
                k: later.get(k, 0) - calls.get(k, 0)
                for k in later
                if later.get(k, 0) != calls.get(k, 0)
            },
            "status_lag_seconds": summary(observer.lags),
            "tick_seconds_mean": tick_seconds / tick_count if tick_count else None,
        }

    def events(self, size: int, window: float, create_rate: str, drop: float) -> dict[str, Any]:
        """``size`` jobs through their lifecycle, status from events (``drop`` of them lost)."""
        namespace = self.namespace(f"events-{size}-{round(drop * 100)}")
        phases = lifecycle_phases(window)
        with Emulator(profile="fast", phases=phases) as emulator:
            control = EmulatorControl(emulator.endpoint_url)
            queue = emulator.sqs_client().create_queue(QueueName="events")["QueueUrl"]
            control.route_events(queue)
            if drop:
                control.set_faults(event_drop_rate=drop)
            with self.operator(emulator, namespace, create_rate,
                               events_queue_url=queue) as operator:  # fmt: skip
                observer = Observer(self.api, namespace).start()
                started = time.monotonic()
                create_all(self.api, namespace, [f"job-{index:05d}" for index in range(size)])
                # Lost end states wait for the safety-net list (every 300 s).
                wait_until(lambda: list(observer.status.values()).count("Completed") == size,
                           timeout=window + 420, interval=0.5,
                           description="every job Completed")  # fmt: skip
                took = time.monotonic() - started
                calls = control.stats()["calls"]
                pages = samples(metrics_url(operator), "sagemaker_operator_list_pages_count")
                # Idle: one long poll at a time, 20 s each.
                time.sleep(IDLE_WINDOW)
                idle = control.stats()["calls"]
                published = control.stats()["outcomes"].get("events:PutEvents", {})
                events_mode = gauge(metrics_url(operator), "sagemaker_operator_events_mode", {})
                observer.stop()
                memory = memory_mb(operator.process.pid) if operator.process else None
        sqs_calls = {name: count for name, count in calls.items() if name.startswith("sqs:")}
        return {
            "jobs": size, "dropped_share": drop, "seconds": took,
            "status_changes": observer.changes,
            "status_lag_seconds": summary(observer.lags),
            "list_calls": calls.get("ListTrainingJobs", 0),
            "list_ticks": sum(pages.values()),
            "describe_calls": calls.get("DescribeTrainingJob", 0),
            "sqs_calls": sqs_calls,
            "events_published": published,
            "idle_sqs_calls_per_minute": sum(idle.get(name, 0) - calls.get(name, 0)
                                             for name in idle if name.startswith("sqs:"))
            / (IDLE_WINDOW / 60),
            "idle_sagemaker_calls": sum(
                idle.get(name, 0) - calls.get(name, 0) for name in idle
                if not name.startswith(("sqs:", "events:"))),
            "idle_seconds": IDLE_WINDOW,
            "events_mode": events_mode,
            "memory": memory,
        }  # fmt: skip

    def history(self, size: int, old_jobs: int, window: float) -> dict[str, Any]:
        namespace = self.namespace("history")
        phases = lifecycle_phases(window)
        with Emulator(profile="fast", phases=phases) as emulator:
            control = EmulatorControl(emulator.endpoint_url)
            step(f"seeding {old_jobs} finished jobs")
            control.seed(old_jobs, years=3)
            control.set_faults(filter_after_paging=True)
            with self.operator(emulator, namespace, "100") as operator:
                observer = Observer(self.api, namespace).start()
                started = time.monotonic()
                create_all(self.api, namespace, [f"job-{index:05d}" for index in range(size)])
                wait_until(lambda: list(observer.status.values()).count("Completed") == size,
                           timeout=window + 300, interval=0.5,
                           description="every job Completed")  # fmt: skip
                took = time.monotonic() - started
                pages = samples(metrics_url(operator), "sagemaker_operator_list_pages_bucket")
                observer.stop()
            calls = control.stats()["calls"]
        buckets = {float(dict(labels)["le"]): count for labels, count in pages.items()}
        ticks = buckets[float("inf")]
        target = size // 100 + 1
        within = max((count for bound, count in buckets.items() if bound <= target), default=0)
        largest = min(bound for bound, count in buckets.items() if count == ticks)
        return {
            "old_jobs": old_jobs, "jobs": size, "seconds": took, "ticks": ticks,
            "list_calls": calls.get("ListTrainingJobs", 0),
            "target_pages_per_tick": target, "ticks_within_target": within,
            "max_pages_per_tick_at_most": largest,
            "list_calls_without_the_bound": ticks * (old_jobs + size) / 100,
        }  # fmt: skip

    def storm(self, size: int, quota: float) -> dict[str, Any]:
        namespace = self.namespace(f"storm-{size}")
        with Emulator(profile="fast", phases={"Training": 3600}) as emulator:
            control = EmulatorControl(emulator.endpoint_url)
            control.set_faults(rate_limits={"CreateTrainingJob": quota})
            # The operator's default settings: its create ceiling is far above the quota.
            with running_operator(self.cluster, emulator, namespace, self.folder):
                observer = Observer(self.api, namespace).start()
                started = time.monotonic()
                create_all(self.api, namespace, [f"job-{index:05d}" for index in range(size)])
                wait_until(
                    lambda: len(observer.arn_at) == size,
                    timeout=size / quota * 3 + 120,
                    interval=0.5,
                    description="every job created",
                )
                took = time.monotonic() - started
                observer.stop()
            outcomes = control.stats()["outcomes"]["CreateTrainingJob"]
        return {
            "jobs": size,
            "quota_per_second": quota,
            "seconds": took,
            "create_outcomes": outcomes,
            "calls_per_job": sum(outcomes.values()) / size,
        }


# -- report ----------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    memory = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(int(memory[1]) / 1024**2, 1) if memory else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "kubernetes": KUBERNETES_VERSION,
        "etcd": ETCD_VERSION,
        "packages": {
            name: metadata.version(name)
            for name in ("sagemaker-operator", "kopf", "boto3", "botocore", "kubernetes")
        },
    }


def run(arguments: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(),
        "machine": machine(),
        "settings": vars(arguments) | {"output": str(arguments.output), "logs": None},
    }
    with contextlib.ExitStack() as stack:
        plane = stack.enter_context(LocalControlPlane())
        folder = arguments.logs or stack.enter_context(tempfile.TemporaryDirectory())
        Path(folder).mkdir(parents=True, exist_ok=True)
        cluster = plane.cluster
        crd = api_manifests()
        cluster.kubectl("apply", "--server-side", "-f", "-", input=crd)
        cluster.wait_established(f"{PLURAL}.{GROUP}")
        client = cluster.api_client()
        client.configuration.connection_pool_maxsize = CLIENT_THREADS
        api = kubernetes.client.CustomObjectsApi(client)
        # The apiserver makes a CRD's watch cache on first use and answers 429 "storage is
        # (re)initializing" meanwhile; an operator started into that waited up to 20 s for
        # its first event, and a partial run measured that instead of the operator.
        wait_until(functools.partial(watch_served, api), timeout=60, interval=0.5,
                   description="the TrainingJob watch served")  # fmt: skip
        bench = Bench(cluster, api, Path(folder), arguments.poll_interval)
        if "single" in arguments.scenarios:
            step("single job latency")
            results["single"] = attempt(lambda: bench.single(arguments.samples))
        results["sizes"] = {}
        for size in arguments.sizes:
            figures = results["sizes"][str(size)] = {}
            if "in_flight" in arguments.scenarios:
                step(f"{size} jobs in flight")
                figures["in_flight"] = attempt(
                    lambda size=size: bench.in_flight(size, arguments.create_rate)  # type: ignore[misc]
                )
            if "lifecycle" in arguments.scenarios:
                step(f"{size} jobs through their lifecycle")
                figures["lifecycle"] = attempt(
                    lambda size=size: bench.lifecycle(  # type: ignore[misc]
                        size, arguments.window, arguments.create_rate
                    )
                )
        if "events" in arguments.scenarios:
            results["events"] = {}
            for size in arguments.event_sizes:
                for drop in arguments.event_drops:
                    step(f"event mode: {size} jobs through their lifecycle, {drop:.0%} lost")
                    results["events"][f"{size}-{round(drop * 100)}"] = attempt(
                        lambda size=size, drop=drop: bench.events(  # type: ignore[misc]
                            size, arguments.window, arguments.create_rate, drop
                        )
                    )
        for name, title, scenario in (
            ("burst", "100 jobs applied at once, default settings", lambda: bench.burst(100)),
            (
                "deletion",
                "100 running jobs deleted at once, default settings",
                lambda: bench.deletion(100),
            ),
            (
                "endings",
                "100 jobs of 285-315 s, default settings",
                lambda: bench.endings(100, 285.0, 30.0),
            ),
            (
                "drain",
                "2000 jobs changing together, against the apiserver's raw capacity",
                lambda: bench.drain(2000, arguments.create_rate),
            ),
            (
                "paced",
                "2000 jobs changing at half the raw capacity, polling",
                lambda: bench.paced(2000, 0.5, events=False),
            ),
            (
                "paced_events",
                "2000 jobs changing at half the raw capacity, event mode",
                lambda: bench.paced(2000, 0.5, events=True),
            ),
        ):
            if name in arguments.scenarios:
                step(f"{name}: {title}")
                results[name] = attempt(scenario)
        if "storm" in arguments.scenarios:
            results["storm"] = []
            for jobs in arguments.storm:
                step(f"create storm: {jobs} jobs at 5 creates/s, default settings")
                results["storm"].append(attempt(lambda jobs=jobs: bench.storm(jobs, 5.0)))  # type: ignore[misc]
        if "history" in arguments.scenarios:
            step(f"100 jobs in an account of {arguments.history} old jobs, lists filtered late")
            results["history"] = attempt(
                lambda: bench.history(100, arguments.history, arguments.window)
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scenarios",
        nargs="+",
        choices=SCENARIOS,
        default=SCENARIOS,
        help="which scenarios to run (a partial run prints its JSON and writes no results file)",
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 100, 1000, 2000])
    parser.add_argument("--event-sizes", type=int, nargs="+", default=[2000],
                        help="jobs in the event-mode scenarios")  # fmt: skip
    parser.add_argument("--event-drops", type=float, nargs="+", default=[0.0, 0.1],
                        help="shares of the events lost, one event-mode run each")  # fmt: skip
    parser.add_argument(
        "--window",
        type=float,
        default=120.0,
        help="seconds each lifecycle job takes to pass its statuses",
    )
    parser.add_argument("--poll-interval", type=float, default=10.0)
    parser.add_argument("--samples", type=int, default=30, help="single-job repetitions")
    parser.add_argument("--storm", type=int, nargs="+", default=[200, 1000],
                        help="jobs in each create storm")  # fmt: skip
    parser.add_argument("--history", type=int, default=20_000,
                        help="finished jobs already in the account (history scenario)")  # fmt: skip
    parser.add_argument(
        "--create-rate",
        default="100",
        help="the operator's CreateTrainingJob and DescribeTrainingJob limit in the in_flight "
        "and lifecycle scenarios (the operator's defaults: 50/s and 5/s)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--logs", type=Path, help="keep the operator's logs in this folder (default: dropped)"
    )
    arguments = parser.parse_args()
    results = run(arguments)
    if sorted(arguments.scenarios) != sorted(SCENARIOS):
        print(json.dumps(results, indent=2, default=str))  # a partial run: not a results file
        return
    written = report.write(results, arguments.output)
    print("\n".join(str(path) for path in written))
    print((arguments.output / Path(written[1]).name).read_text())


if __name__ == "__main__":
    main()
