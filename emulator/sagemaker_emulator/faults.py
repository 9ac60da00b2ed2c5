"""Injected faults and call counters: what tests use to see how a client copes."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any

_SECONDS = (
    "listing_delay",
    "tag_listing_delay",
    "role_propagation_delay",
    "update_delay",
    "event_delay",
)
_RATES = (
    "throttle_rate",
    "error_rate",
    "event_drop_rate",
    "event_duplicate_rate",
    "event_reorder_rate",
)

# The switches that are true or false.
_SWITCHES = ("filter_after_paging", "new_answer_members", "mixed_case_arns",
             "event_times_as_strings")  # fmt: skip


@dataclass
class Faults:
    """Faults applied to SageMaker operations (never to ``/_emulator/`` control calls).

    ``throttle_rate`` and ``error_rate`` are probabilities in [0, 1]; ``latency`` is
    added to every answer in seconds; ``throttle_operations`` limits throttling to the
    named operations (empty: all). ``rate_limits`` is AWS's own kind of throttling: at
    most so many calls per second of an operation (a token bucket holding one second's
    worth), beyond which calls are throttled. ``refuse_connections_for`` is applied once.

    AWS as it is documented or reported to behave, each off by default (emulator/README.md,
    "The emulator's switches", cites the sources):

    - ``filter_after_paging``: ListTrainingJobs reads a page of ``MaxResults`` jobs (by
      the sort, CreationTime bounds applied first) and filters it after, so a filtered
      list may answer empty pages with a NextToken;
    - ``listing_delay``: a job's change shows in ListTrainingJobs only so many seconds
      after it happened (index lag); Describe shows it at once;
    - ``tag_listing_delay``: ListTags answers no tags for a job created less than so many
      seconds ago;
    - ``new_answer_members``: Describe and List answers carry members this botocore does
      not know (AWS's newer model), at the top and in nested structures;
    - ``max_concurrent_jobs``: CreateTrainingJob answers ResourceLimitExceeded while so
      many jobs of the region are InProgress (0: no limit);
    - ``role_propagation_delay``: CreateTrainingJob answers "could not assume role" for a
      role until so many seconds after the emulator first saw it (IAM propagation);
    - ``denied``: operation → job names refused with AccessDeniedException (a tag
      condition in the caller's IAM policy);
    - ``throttle_after``: operation → calls answered before every further one is
      throttled (a quota running out in the middle of a paginated walk);
    - ``update_delay``: an accepted UpdateTrainingJob shows in DescribeTrainingJob only so
      many seconds later (eventual consistency);
    - ``silent_accounts``: accounts whose STS (AssumeRole of their roles) and SageMaker
      (calls with their credentials) take requests and never answer, as a network path
      that drops packets does, until the account leaves the list (at most SILENCE s);
    - ``mixed_case_arns``: CreateTrainingJob and DescribeTrainingJob answer a job's ARN
      with its name's own letter case, ListTrainingJobs in lower case (boto3#4606);
    - ``event_drop_rate``, ``event_duplicate_rate``, ``event_reorder_rate`` (probabilities)
      and ``event_delay`` (seconds, at most): what befalls each job state-change event on
      its way to a rule's queue (emulator/eventbridge.py): lost, sent twice, held back
      until the job's next event, delayed (so later ones overtake it);
    - ``event_times_as_strings``: the events' times are strings of epoch milliseconds, as
      the example event on AWS's EventBridge page for SageMaker writes them.
    """

    throttle_rate: float = 0.0
    error_rate: float = 0.0
    latency: float = 0.0
    throttle_operations: list[str] = field(default_factory=list)
    rate_limits: dict[str, float] = field(default_factory=dict)
    filter_after_paging: bool = False
    listing_delay: float = 0.0
    tag_listing_delay: float = 0.0
    new_answer_members: bool = False
    max_concurrent_jobs: int = 0
    role_propagation_delay: float = 0.0
    denied: dict[str, list[str]] = field(default_factory=dict)
    throttle_after: dict[str, int] = field(default_factory=dict)
    update_delay: float = 0.0
    silent_accounts: list[str] = field(default_factory=list)
    mixed_case_arns: bool = False
    event_drop_rate: float = 0.0
    event_duplicate_rate: float = 0.0
    event_reorder_rate: float = 0.0
    event_delay: float = 0.0
    event_times_as_strings: bool = False

    def update(self, settings: dict[str, Any]) -> None:
        known = {item.name for item in fields(self)}
        unknown = set(settings) - known - {"refuse_connections_for"}
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        for name in _RATES:
            if name in settings and not 0.0 <= float(settings[name]) <= 1.0:
                raise ValueError(f"{name} must be a probability between 0 and 1")
        for name in ("latency", "refuse_connections_for", *_SECONDS, "max_concurrent_jobs"):
            if name in settings and float(settings[name] or 0) < 0:
                raise ValueError(f"{name} cannot be negative")
        for name in (*_RATES, "latency", *_SECONDS):
            if name in settings:
                setattr(self, name, float(settings[name]))
        for name in _SWITCHES:
            if name in settings:
                if not isinstance(settings[name], bool):
                    raise ValueError(f"{name} must be true or false")
                setattr(self, name, settings[name])
        if "max_concurrent_jobs" in settings:
            self.max_concurrent_jobs = int(settings["max_concurrent_jobs"])
        self._update_lists(settings)

    def _update_lists(self, settings: dict[str, Any]) -> None:
        if "throttle_operations" in settings:
            self.throttle_operations = [str(item) for item in settings["throttle_operations"]]
        if "rate_limits" in settings:
            limits = {
                str(name): float(rate) for name, rate in dict(settings["rate_limits"]).items()
            }
            if any(rate <= 0 for rate in limits.values()):
                raise ValueError("rate_limits must be positive calls per second")
            self.rate_limits = limits
        if "throttle_after" in settings:
            after = dict(settings["throttle_after"])
            self.throttle_after = {str(operation): int(count) for operation, count in after.items()}
        if "silent_accounts" in settings:
            self.silent_accounts = [str(account) for account in settings["silent_accounts"]]
        if "denied" in settings:
            self.denied = {str(operation): [str(name) for name in names]
                           for operation, names in dict(settings["denied"]).items()}  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        return {item.name: getattr(self, item.name) for item in fields(self)}


class FaultInjector:
    """Decides, per call, whether to throttle or fail it; counts every call and outcome."""

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)  # noqa: S311 - fault dice, not cryptography
        self.faults = Faults()
        self.calls: Counter[str] = Counter()
        self.outcomes: Counter[tuple[str, str]] = Counter()
        self.started = time.monotonic()
        self._buckets: dict[str, tuple[float, float]] = {}  # operation → (tokens, when)

    def configure(self, settings: dict[str, Any]) -> None:
        with self._lock:
            self.faults.update(settings)

    def roll(self, operation: str) -> str | None:
        """Return "throttle", "error" or None for a call of ``operation``."""
        with self._lock:
            faults = self.faults
            if operation in faults.rate_limits and not self._take(operation, faults):
                return "throttle"
            if operation in faults.throttle_after and (
                self.outcomes[(operation, "ok")] >= faults.throttle_after[operation]
            ):
                return "throttle"
            throttled = not faults.throttle_operations or operation in faults.throttle_operations
            if throttled and faults.throttle_rate and self._random.random() < faults.throttle_rate:
                return "throttle"
            if faults.error_rate and self._random.random() < faults.error_rate:
                return "error"
            return None

    def _take(self, operation: str, faults: Faults) -> bool:
        """One token of the operation's bucket, if there is one (called under the lock)."""
        rate = faults.rate_limits[operation]
        now = time.monotonic()
        tokens, then = self._buckets.get(operation, (rate, now))
        tokens = min(rate, tokens + (now - then) * rate)
        if tokens < 1:
            self._buckets[operation] = (tokens, now)
            return False
        self._buckets[operation] = (tokens - 1, now)
        return True

    def dice(self) -> float:
        """A roll in [0, 1) of the injector's (seedable) dice."""
        with self._lock:
            return self._random.random()

    def latency(self) -> float:
        with self._lock:
            return self.faults.latency

    def current(self) -> Faults:
        """A copy of the faults now in force (the operations read their switches here)."""
        with self._lock:
            return Faults(**{item.name: getattr(self.faults, item.name)
                             for item in fields(self.faults)})  # fmt: skip

    def record(self, operation: str, outcome: str) -> None:
        with self._lock:
            self.calls[operation] += 1
            self.outcomes[(operation, outcome)] += 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            by_operation: dict[str, dict[str, int]] = {}
            for (operation, outcome), count in sorted(self.outcomes.items()):
                by_operation.setdefault(operation, {})[outcome] = count
            return {
                "calls": dict(sorted(self.calls.items())),
                "outcomes": by_operation,
                "total": sum(self.calls.values()),
                "faults": self.faults.as_dict(),
            }

    def reset(self) -> None:
        with self._lock:
            self.faults = Faults()
            self._buckets.clear()
            self.calls.clear()
            self.outcomes.clear()
