"""EventBridge, as far as SageMaker's training job state changes go: rules that send every
"SageMaker Training Job State Change" event of an account and region to an SQS queue.

SageMaker sends these events in near real time, and "may send multiple events to
EventBridge for each state change" (SageMaker Developer Guide, "Events that Amazon
SageMaker AI sends to Amazon EventBridge"). Each event's ``detail`` is the job's
DescribeTrainingJob answer with its times in epoch milliseconds, and its tags as a map;
an SQS target receives the whole event as the message body. The emulator sends one when
a job's status, secondary status or LastModifiedTime changes (a publisher thread looks
every ``PUBLISH_EVERY`` seconds), with the faults of ``Faults``: ``event_duplicate_rate``,
``event_drop_rate``, ``event_delay`` (each event held back a random 0..delay seconds: later
ones overtake it) and ``event_reorder_rate`` (held back until the job's next event has
gone, or for ``HOLD_AT_MOST``).
"""

from __future__ import annotations

import datetime
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sagemaker_emulator import model
from sagemaker_emulator.jobs import JobStore, TrainingJob
from sagemaker_emulator.sqs import Queues

if TYPE_CHECKING:
    from sagemaker_emulator.faults import FaultInjector

logger = logging.getLogger(__name__)

DETAIL_TYPE = "SageMaker Training Job State Change"
PUBLISH_EVERY = 0.1  # seconds between looks at the jobs (while a rule exists)
HOLD_AT_MOST = 2.0  # seconds a reordered event waits for the job's next one


@dataclass(frozen=True)
class Rule:
    """Every training job state change of ``account`` in ``region`` → the queue."""

    name: str
    account: str
    region: str
    queue_arn: str


class EventBus:
    def __init__(
        self, stores: Callable[[], Mapping[str, JobStore]], queues: Queues,
        injector: FaultInjector,
    ) -> None:  # fmt: skip
        self._stores = stores
        self._queues = queues
        self._injector = injector
        self._rules: dict[str, Rule] = {}
        self._lock = threading.Lock()
        # What was last sent of each job: (account, region, name) → its state.
        self._sent: dict[tuple[str, str, str], tuple[str, str, float]] = {}
        # Reordered: sent after the job's next event (or when held HOLD_AT_MOST).
        self._held: dict[tuple[str, str, str], tuple[float, Rule, str]] = {}
        self._delayed: list[tuple[float, Rule, str]] = []
        self.published = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def put_rule(self, rule: Rule) -> None:
        with self._lock:
            self._rules[rule.name] = rule
            # Only changes after the rule exists are sent, as in EventBridge.
            for store in self._stores().values():
                if store.account_id == rule.account:
                    for job in store.all(rule.region):
                        self._sent[(rule.account, rule.region, job.name)] = _state(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="emulator-eventbridge")  # fmt: skip
                self._thread.start()

    def rules(self) -> list[Rule]:
        with self._lock:
            return list(self._rules.values())

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._sent.clear()
            self._held.clear()
            self._delayed.clear()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(PUBLISH_EVERY):
            try:
                self.publish()
            except Exception:  # a bug of ours must not end the events for good
                logger.exception("publishing SageMaker events failed")

    def publish(self) -> None:
        """Send an event for every job whose state changed since its last event."""
        with self._lock:
            rules = list(self._rules.values())
        stores = self._stores()
        for rule in rules:
            store = stores.get(rule.account)
            if store is None:
                continue
            for job in store.all(rule.region):
                key = (rule.account, rule.region, job.name)
                state = _state(job)
                if self._sent.get(key) == state:
                    continue
                self._sent[key] = state
                as_strings = self._injector.current().event_times_as_strings
                self._emit(rule, key, event(job, rule, store, as_strings))
        self._release_delayed()

    def _emit(self, rule: Rule, key: tuple[str, str, str], body: str) -> None:
        faults = self._injector.current()
        dice = self._injector.dice
        held = self._held.pop(key, None)
        bodies: list[str] = []
        if faults.event_drop_rate and dice() < faults.event_drop_rate:
            self._injector.record("events:PutEvents", "dropped")
        elif held is None and faults.event_reorder_rate and dice() < faults.event_reorder_rate:
            self._held[key] = (time.monotonic() + HOLD_AT_MOST, rule, body)
        else:
            bodies.append(body)
            if faults.event_duplicate_rate and dice() < faults.event_duplicate_rate:
                bodies.append(body)
        if held is not None:
            bodies.append(held[2])  # after the newer one
        for one in bodies:
            delay = faults.event_delay * dice() if faults.event_delay else 0.0
            if delay:
                self._delayed.append((time.monotonic() + delay, rule, one))
            else:
                self._deliver(rule, one)

    def _release_delayed(self) -> None:
        now = time.monotonic()
        for key, (when, _, _) in list(self._held.items()):
            if when <= now:
                self._delayed.append(self._held.pop(key))
        due = [item for item in self._delayed if item[0] <= now]
        self._delayed = [item for item in self._delayed if item[0] > now]
        for _, rule, body in due:
            self._deliver(rule, body)

    def _deliver(self, rule: Rule, body: str) -> None:
        try:
            queue = self._queues.by_arn(rule.queue_arn)
        except Exception:  # a rule whose queue is gone: EventBridge drops (and counts) it
            self._injector.record("events:PutEvents", "FailedInvocation")
            return
        self._queues.send(queue, body)
        self._injector.record("events:PutEvents", "ok")
        self.published += 1


def _state(job: TrainingJob) -> tuple[str, str, float]:
    return (job.status, job.secondary, job.last_modified)


def event(job: TrainingJob, rule: Rule, store: JobStore, as_strings: bool = False) -> str:
    """The EventBridge event of the job as it is now, as an SQS target receives it
    (``as_strings``: its times as strings, as AWS's example event writes them)."""
    output = model.operation_model("DescribeTrainingJob").output_shape
    assert output is not None
    detail = model.conform(output, job.describe())
    detail = _milliseconds(output, detail, as_strings)
    detail["Tags"] = dict(job.tags)
    moment = datetime.datetime.fromtimestamp(job.last_modified, datetime.UTC)
    return json.dumps({
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": "aws.sagemaker",
        "account": store.account_id,
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": rule.region,
        "resources": [job.arn],
        "detail": detail,
    })  # fmt: skip


def _milliseconds(shape: Any, value: Any, as_strings: bool) -> Any:
    """The answer with every timestamp in epoch milliseconds, as the events carry them."""
    if shape.type_name == "timestamp" and isinstance(value, int | float):
        return str(round(value * 1000)) if as_strings else round(value * 1000)
    if shape.type_name == "structure" and isinstance(value, dict):
        return {name: _milliseconds(shape.members[name], item, as_strings)
                if name in shape.members else item for name, item in value.items()}  # fmt: skip
    if shape.type_name == "list" and isinstance(value, list):
        return [_milliseconds(shape.member, item, as_strings) for item in value]
    return value
