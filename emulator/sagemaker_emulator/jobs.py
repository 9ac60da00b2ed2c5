"""Training jobs as SageMaker runs them: a lifecycle in time, per account and region.

A job's state is derived lazily from the emulator's clock: every read first plays the
job's scheduled transitions up to "now". No background thread moves jobs, so pausing
the clock freezes them and advancing it plays any stretch of time at once.

Lifecycle (secondary status in brackets), each phase's length from the profile:

    InProgress [Starting → Downloading → Training → Uploading] → Completed [Completed]
    StopTrainingJob:             → Stopping [Stopping] → Stopped [Stopped]
    MaxRuntimeInSeconds reached: → Stopping [Stopping] → Stopped [MaxRuntimeExceeded]
    failure injected:            → Failed [Failed], with the given FailureReason
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sagemaker_emulator.clock import Clock
from sagemaker_emulator.defaults import with_defaults
from sagemaker_emulator.faults import Faults

PHASES = ("Starting", "Downloading", "Training", "Uploading")
PROFILES: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        # The whole job in about three seconds: for tests.
        "fast": MappingProxyType(
            {
                "Starting": 0.5,
                "Downloading": 0.5,
                "Training": 1.0,
                "Uploading": 0.5,
                "Stopping": 0.5,
                "RuleEvaluation": 1.0,
            }
        ),
        # Close to a small real job (minutes): for demos and benchmarks.
        "realistic": MappingProxyType(
            {
                "Starting": 90.0,
                "Downloading": 45.0,
                "Training": 300.0,
                "Uploading": 20.0,
                "Stopping": 30.0,
                # Debugger and profiler rules run as processing jobs that end after the
                # training job does (minutes, in AWS's examples).
                "RuleEvaluation": 120.0,
            }
        ),
    }
)
PHASE_NAMES = (*PHASES, "Stopping", "RuleEvaluation")
END_STATES = frozenset({"Completed", "Failed", "Stopped"})
DEFAULT_MAX_RUNTIME = 86_400  # SageMaker's default when StoppingCondition is omitted
MAX_TAGS = 50

_MESSAGES = {
    "Starting": "Starting the training job",
    "Downloading": "Downloading input data",
    "Training": "Training image download completed. Training in progress.",
    "Uploading": "Uploading generated training model",
    "Completed": "Training job completed",
    "Stopping": "Stopping the training job",
    "Stopped": "The training job was stopped",
    "MaxRuntimeExceeded": "Training job exceeded MaxRuntimeInSeconds provided",
    "Failed": "Training job failed",
}


class SageMakerError(Exception):
    """An error as SageMaker answers it: a code (``__type``), a message and an HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def not_found() -> SageMakerError:
    # What SageMaker answers for an unknown training job (not ResourceNotFound).
    return SageMakerError("ValidationException", "Requested resource not found.")


def profile_durations(name: str, overrides: Mapping[str, float] | None = None) -> dict[str, float]:
    """Phase lengths in seconds for a named profile, with per-phase overrides."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    durations = dict(PROFILES[name])
    for phase, seconds in (overrides or {}).items():
        if phase not in durations:
            raise ValueError(f"unknown phase {phase!r}; phases are {', '.join(PHASE_NAMES)}")
        if seconds < 0:
            raise ValueError(f"phase {phase} cannot last {seconds} seconds")
        durations[phase] = float(seconds)
    return durations


# The secondary statuses in which UpdateTrainingJob takes a RemoteDebugConfig.
REMOTE_DEBUG_PHASES = frozenset({"Downloading", "Training"})


@dataclass
class TrainingJob:
    name: str
    arn: str
    request: dict[str, Any]
    created: float
    durations: dict[str, float]
    tags: dict[str, str] = field(default_factory=dict)
    status: str = "InProgress"
    secondary: str = "Starting"
    failure_reason: str | None = None
    last_modified: float = 0.0
    training_start: float | None = None
    training_end: float | None = None
    warm_pool: dict[str, Any] | None = None
    transitions: list[dict[str, Any]] = field(default_factory=list)
    _events: list[tuple[float, int, str]] = field(default_factory=list)
    _sequence: Iterator[int] = field(default_factory=itertools.count)
    _now: float = 0.0  # the last moment advanced to (what rule evaluations compare with)
    # Accepted UpdateTrainingJob requests not yet reflected (``update_delay``), by number.
    _updates: dict[int, dict[str, Any]] = field(default_factory=dict)
    _warm_pool_expiry: float | None = None

    def __post_init__(self) -> None:
        self.last_modified = self.created
        self._enter("Starting", self.created)
        moment = self.created
        for phase in PHASES[1:]:
            moment += self.durations[PHASES[PHASES.index(phase) - 1]]
            self._schedule(moment, f"phase:{phase}")
        self._schedule(moment + self.durations["Uploading"], "complete")
        self._schedule(self.created + self.max_runtime, "max-runtime")

    @property
    def max_runtime(self) -> int:
        condition = self.request.get("StoppingCondition") or {}
        return int(condition.get("MaxRuntimeInSeconds") or DEFAULT_MAX_RUNTIME)

    @property
    def finished(self) -> bool:
        return self.status in END_STATES

    def advance(self, now: float) -> None:
        """Play every scheduled transition due at or before ``now``."""
        self._now = max(self._now, now)
        while self._events and self._events[0][0] <= now:
            moment, _, event = heapq.heappop(self._events)
            self._apply(moment, event)

    def stop(self, now: float) -> None:
        self.advance(now)
        if self.status != "InProgress":
            raise SageMakerError(
                "ValidationException",
                f"The request was rejected because the training job is in status {self.status}.",
            )
        self._begin_stopping(now, final_secondary="Stopped")

    def fail(self, now: float, reason: str) -> None:
        self.advance(now)
        if self.finished:
            raise SageMakerError(
                "ValidationException", f"training job {self.name} already ended as {self.status}"
            )
        self._keep_only_updates()
        self.status = "Failed"
        self.failure_reason = reason
        self.training_end = now
        self._enter("Failed", now, message=reason)

    @property
    def named_arn(self) -> str:
        """The ARN with the name in its own letter case (the switch ``mixed_case_arns``)."""
        return self.arn[: len(self.arn) - len(self.name)] + self.name

    def describe(self) -> dict[str, Any]:
        """The DescribeTrainingJob answer, before it is cut to the output shape."""
        answer: dict[str, Any] = with_defaults(self.request)
        answer.pop("Tags", None)
        output = self.request.get("OutputDataConfig", {}).get("S3OutputPath", "").rstrip("/")
        answer.update(
            TrainingJobArn=self.arn,
            TrainingJobStatus=self.status,
            SecondaryStatus=self.secondary,
            FailureReason=self.failure_reason,
            ModelArtifacts={"S3ModelArtifacts": f"{output}/{self.name}/output/model.tar.gz"},
            CreationTime=self.created,
            LastModifiedTime=self.last_modified,
            TrainingStartTime=self.training_start,
            TrainingEndTime=self.training_end,
            SecondaryStatusTransitions=[dict(item) for item in self.transitions],
            WarmPoolStatus=self.warm_pool,
        )
        if self.finished and self.training_start is not None and self.training_end is not None:
            seconds = max(1, round(self.training_end - self.training_start))
            answer["TrainingTimeInSeconds"] = seconds
            spot = bool(self.request.get("EnableManagedSpotTraining"))
            # Managed spot bills a fraction of the time, as the console shows savings.
            answer["BillableTimeInSeconds"] = max(1, round(seconds * 0.3)) if spot else seconds
        if self.status == "Completed":
            answer["FinalMetricDataList"] = self._final_metrics()
        for kind in ("Debug", "Profiler"):
            rules = self.request.get(f"{kind}RuleConfigurations") or []
            if rules:
                answer[f"{kind}RuleEvaluationStatuses"] = [
                    self._rule_status(rule["RuleConfigurationName"], kind) for rule in rules
                ]
        return answer

    def rules_done_at(self) -> float | None:
        """When the rule evaluations end: a while after the job does."""
        if self.training_end is None:
            return None
        return self.training_end + self.durations.get("RuleEvaluation", 0.0)

    def _rule_status(self, name: str, kind: str) -> dict[str, Any]:
        done = self.rules_done_at()
        finished = done is not None and self._now >= done
        return {
            "RuleConfigurationName": name,
            "RuleEvaluationJobArn": f"{self.arn.replace(':training-job/', ':processing-job/')}"
                                    f"-{name.lower()}"[:256],
            "RuleEvaluationStatus": "NoIssuesFound" if finished else "InProgress",
            "LastModifiedTime": done if finished else self.created,
        }  # fmt: skip

    def _final_metrics(self) -> list[dict[str, Any]]:
        """A value per metric the job defines (its regexes would find in the log)."""
        algorithm = self.request.get("AlgorithmSpecification") or {}
        names = [item["Name"] for item in algorithm.get("MetricDefinitions") or []]
        if not names and algorithm.get("AlgorithmName"):
            names = ["train:loss"]  # what a built-in algorithm reports
        return [{"MetricName": name, "Value": round(0.5 / (index + 1), 4),
                 "Timestamp": self.training_end} for index, name in enumerate(names)]  # fmt: skip

    # -- lifecycle internals -------------------------------------------------------------

    def _schedule(self, moment: float, event: str) -> None:
        heapq.heappush(self._events, (moment, next(self._sequence), event))

    def _apply(self, moment: float, event: str) -> None:
        kind, _, argument = event.partition(":")
        if kind == "phase":
            if argument == "Downloading":
                self.training_start = moment
            self._enter(argument, moment)
        elif kind == "complete":
            self.status = "Completed"
            self.training_end = moment
            self._enter("Completed", moment)
            keep_alive = (self.request.get("ResourceConfig") or {}).get("KeepAlivePeriodInSeconds")
            if keep_alive:
                self.warm_pool = {"Status": "Available"}
                self._expire_warm_pool(moment + keep_alive)
        elif kind == "max-runtime":
            if self.status == "InProgress":
                self._begin_stopping(moment, final_secondary="MaxRuntimeExceeded")
        elif kind == "stopped":
            self.status = "Stopped"
            self.training_end = moment
            self._enter(argument, moment)
        elif kind == "warm-pool-terminated":
            if self._warm_pool_expiry != moment:
                return  # rescheduled by an update of the keep-alive
            assert self.training_end is not None
            self.warm_pool = {
                "Status": "Terminated",
                "ResourceRetainedBillableTimeInSeconds": max(0, round(moment - self.training_end)),
            }
            self.last_modified = moment
        elif kind == "update":
            self._reflect(self._updates.pop(int(argument)), moment)

    def update(self, now: float, params: dict[str, Any], delay: float) -> None:
        """UpdateTrainingJob: refused (ValidationException) as SageMaker refuses it, else
        shown by Describe ``delay`` seconds later (``update_delay``).

        - ProfilerConfig, ProfilerRuleConfigurations and RemoteDebugConfig change only
          while the job is InProgress (profiling and remote debugging are of a running
          job: "Update Debugger profiling configuration", SageMaker developer guide), and
          RemoteDebugConfig only while its secondary status is Downloading or Training
          (UpdateTrainingJob's API reference);
        - a rule already configured keeps its configuration; new ones are added;
        - ResourceConfig.KeepAlivePeriodInSeconds changes while the job runs, or after it
          while its warm pool is Available; 0 terminates the pool ("Update a warm pool",
          "Terminate a warm pool": train-warm-pools-how-to-use in the developer guide).
        """
        self.advance(now)
        changes = {key: value for key, value in params.items() if key != "TrainingJobName"}
        if not changes:
            raise SageMakerError(
                "ValidationException", "UpdateTrainingJob needs at least one setting to update."
            )
        profiling = [key for key in ("ProfilerConfig", "ProfilerRuleConfigurations",
                                     "RemoteDebugConfig") if key in changes]  # fmt: skip
        if profiling and self.status != "InProgress":
            raise SageMakerError(
                "ValidationException",
                f"{', '.join(profiling)} can be updated only while the training job is "
                f"InProgress; training job {self.name} is {self.status}.",
            )
        if "RemoteDebugConfig" in changes and self.secondary not in REMOTE_DEBUG_PHASES:
            raise SageMakerError(
                "ValidationException",
                "RemoteDebugConfig can be updated only while the training job's "
                f"SecondaryStatus is Downloading or Training; training job {self.name} is "
                f"{self.secondary}.",
            )
        for rule in changes.get("ProfilerRuleConfigurations") or []:
            for existing in self.request.get("ProfilerRuleConfigurations") or []:
                if existing["RuleConfigurationName"] == rule["RuleConfigurationName"] and (
                    existing != rule
                ):
                    raise SageMakerError(
                        "ValidationException",
                        f"Rule configuration {rule['RuleConfigurationName']} already exists "
                        f"for training job {self.name} and cannot be changed.",
                    )
        if "ResourceConfig" in changes and self.finished:
            pool = (self.warm_pool or {}).get("Status")
            if pool != "Available":
                raise SageMakerError(
                    "ValidationException",
                    f"KeepAlivePeriodInSeconds of training job {self.name} can be updated "
                    f"only while its warm pool is Available; it is {pool or 'not retained'}.",
                )
        number = next(self._sequence)
        self._updates[number] = changes
        if delay > 0:
            self._schedule(now + delay, f"update:{number}")
        else:
            self._reflect(self._updates.pop(number), now)
            self.advance(now)  # a keep-alive already past ends the pool now

    def _reflect(self, changes: dict[str, Any], moment: float) -> None:
        request = self.request
        if "ProfilerConfig" in changes:
            request["ProfilerConfig"] = {**(request.get("ProfilerConfig") or {}),
                                         **changes["ProfilerConfig"]}  # fmt: skip
        if "RemoteDebugConfig" in changes:
            request["RemoteDebugConfig"] = dict(changes["RemoteDebugConfig"])
        if "ProfilerRuleConfigurations" in changes:
            rules = list(request.get("ProfilerRuleConfigurations") or [])
            names = {rule["RuleConfigurationName"] for rule in rules}
            rules += [rule for rule in changes["ProfilerRuleConfigurations"]
                      if rule["RuleConfigurationName"] not in names]  # fmt: skip
            request["ProfilerRuleConfigurations"] = rules
        if "ResourceConfig" in changes:
            keep_alive = int(changes["ResourceConfig"]["KeepAlivePeriodInSeconds"])
            request["ResourceConfig"] = {**request["ResourceConfig"],
                                         "KeepAlivePeriodInSeconds": keep_alive}  # fmt: skip
            if (self.warm_pool or {}).get("Status") == "Available":
                assert self.training_end is not None
                self._expire_warm_pool(max(moment, self.training_end + keep_alive))
        self.last_modified = moment

    def _expire_warm_pool(self, moment: float) -> None:
        self._warm_pool_expiry = moment
        self._schedule(moment, "warm-pool-terminated")

    def _keep_only_updates(self) -> None:
        """Drop the scheduled lifecycle (the job stops or fails); accepted updates stay."""
        self._events = [event for event in self._events if event[2].startswith("update:")]
        heapq.heapify(self._events)

    def _begin_stopping(self, moment: float, final_secondary: str) -> None:
        self._keep_only_updates()
        self.status = "Stopping"
        self._enter("Stopping", moment)
        self._schedule(moment + self.durations["Stopping"], f"stopped:{final_secondary}")

    def _enter(self, secondary: str, moment: float, message: str | None = None) -> None:
        if self.transitions:
            self.transitions[-1]["EndTime"] = moment
        self.transitions.append(
            {
                "Status": secondary,
                "StartTime": moment,
                "StatusMessage": message or _MESSAGES.get(secondary, secondary),
            }
        )
        self.secondary = secondary
        self.last_modified = moment


class JobStore:
    """All training jobs of one account, by region; every method is thread-safe."""

    def __init__(self, clock: Clock, account_id: str, durations: dict[str, float]) -> None:
        self.clock = clock
        self.account_id = account_id
        self.durations = dict(durations)
        self._lock = threading.RLock()
        self._jobs: dict[str, dict[str, TrainingJob]] = {}
        self._roles_seen: dict[str, float] = {}
        # The switches in force (the emulator's fault injector sets this).
        self.switches: Callable[[], Faults] = Faults

    def create(self, region: str, request: dict[str, Any]) -> TrainingJob:
        name = request["TrainingJobName"]
        switches = self.switches()
        with self._lock:
            jobs = self._jobs.setdefault(region, {})
            existing = jobs.get(name.lower())
            if existing is not None:
                raise SageMakerError(
                    "ResourceInUse",
                    "Training job names must be unique within an AWS account and region, "
                    f"and a training job with this name already exists ({existing.arn})",
                )
            role = str(request.get("RoleArn", ""))
            first_seen = self._roles_seen.setdefault(role, self.clock.now())
            if self.clock.now() < first_seen + switches.role_propagation_delay:
                # What SageMaker answers while a new role has not propagated in IAM.
                raise SageMakerError(
                    "ValidationException",
                    f"Could not assume role {role}. Please ensure that the role exists and "
                    "allows principal 'sagemaker.amazonaws.com' to assume the role.",
                )
            if switches.max_concurrent_jobs:
                running = sum(1 for job in self.all(region) if job.status == "InProgress")
                if running >= switches.max_concurrent_jobs:
                    raise SageMakerError(
                        "ResourceLimitExceeded",
                        "The account-level service limit 'Number of concurrent training jobs'"
                        f" is {switches.max_concurrent_jobs} Jobs, with current utilization of"
                        f" {running} Jobs and a request delta of 1 Jobs. Please use AWS Service"
                        " Quotas to request an increase for this quota.",
                    )
            tags = {tag["Key"]: tag.get("Value", "") for tag in request.get("Tags") or []}
            job = TrainingJob(
                name=name,
                arn=f"arn:aws:sagemaker:{region}:{self.account_id}:training-job/{name.lower()}",
                request=request,
                created=self.clock.now(),
                durations=dict(self.durations),
                tags=tags,
            )
            jobs[name.lower()] = job
            return job

    def get(self, region: str, name: str) -> TrainingJob:
        with self._lock:
            job = self._jobs.get(region, {}).get(name.lower())
            if job is None:
                raise not_found()
            job.advance(self.clock.now())
            return job

    def delete(self, region: str, name: str) -> None:
        """DeleteTrainingJob: only a job that ended, without an Available warm pool."""
        with self._lock:
            job = self.get(region, name)
            if not job.finished or (job.warm_pool or {}).get("Status") == "Available":
                raise SageMakerError(
                    "ValidationException",
                    f"Training job {job.name} is in status {job.status}; only a job in a "
                    "terminal state without an available warm pool can be deleted.",
                )
            del self._jobs[region][name.lower()]

    def seed(self, region: str, count: int, years: float = 3.0) -> int:
        """``count`` Completed jobs created over the last ``years`` (a mature account's
        history), oldest first; returns how many jobs the region holds."""
        now = self.clock.now()
        span = years * 365 * 86_400
        with self._lock:
            jobs = self._jobs.setdefault(region, {})
            for index in range(count):
                created = round(now - span + span * index / max(count, 1) - 3600, 3)
                name = f"history-{int(created)}-{index:06}"
                request = {"TrainingJobName": name, "RoleArn": "arn:aws:iam::"
                           f"{self.account_id}:role/Old", "OutputDataConfig": {
                               "S3OutputPath": "s3://history/"}}  # fmt: skip
                durations = dict.fromkeys(PHASE_NAMES, 60.0)
                job = TrainingJob(name=name, arn=f"arn:aws:sagemaker:{region}:"
                                  f"{self.account_id}:training-job/{name}", request=request,
                                  created=created, durations=durations)  # fmt: skip
                job.advance(created + 3600)
                jobs[name] = job
            return len(jobs)

    def by_arn(self, region: str, arn: str) -> TrainingJob:
        """The job of this ARN (with the switch ``mixed_case_arns``, only as Describe writes
        it: a lower-case one of a name with capitals is refused, as boto3#4606 reports)."""
        mixed = self.switches().mixed_case_arns
        with self._lock:
            for job in self._jobs.get(region, {}).values():
                if (job.named_arn if mixed else job.arn) == arn:
                    return job
        raise not_found()

    def all(self, region: str) -> list[TrainingJob]:
        now = self.clock.now()
        with self._lock:
            jobs = list(self._jobs.get(region, {}).values())
            for job in jobs:
                job.advance(now)
            return jobs

    def stop(self, region: str, name: str) -> None:
        with self._lock:
            self.get(region, name).stop(self.clock.now())

    def update(self, region: str, params: dict[str, Any]) -> TrainingJob:
        with self._lock:
            job = self.get(region, params["TrainingJobName"])
            job.update(self.clock.now(), params, self.switches().update_delay)
            return job

    def fail(self, region: str, name: str, reason: str) -> None:
        with self._lock:
            self.get(region, name).fail(self.clock.now(), reason)

    def add_tags(self, region: str, arn: str, tags: list[dict[str, str]]) -> None:
        with self._lock:
            job = self.by_arn(region, arn)
            merged = dict(job.tags)
            merged.update({tag["Key"]: tag.get("Value", "") for tag in tags})
            if len(merged) > MAX_TAGS:
                raise SageMakerError(
                    "ValidationException",
                    f"The resource {arn} would have {len(merged)} tags; the limit is {MAX_TAGS}.",
                )
            job.tags = merged

    def delete_tags(self, region: str, arn: str, keys: list[str]) -> None:
        with self._lock:
            job = self.by_arn(region, arn)
            job.tags = {key: value for key, value in job.tags.items() if key not in keys}

    def tags(self, region: str, arn: str) -> dict[str, str]:
        delay = self.switches().tag_listing_delay
        with self._lock:
            job = self.by_arn(region, arn)
            if self.clock.now() < job.created + delay:
                return {}  # not listed yet (tags lag their resource's creation)
            return dict(job.tags)

    def set_durations(self, durations: dict[str, float]) -> None:
        """Phase lengths for jobs created from now on."""
        with self._lock:
            self.durations = dict(durations)

    def names(self) -> dict[str, list[str]]:
        """Every job's name, by region."""
        with self._lock:
            return {region: sorted(job.name for job in jobs.values())
                    for region, jobs in self._jobs.items() if jobs}  # fmt: skip

    def count(self) -> int:
        with self._lock:
            return sum(len(jobs) for jobs in self._jobs.values())

    def clear(self) -> None:
        with self._lock:
            self._jobs.clear()
            self._roles_seen.clear()
