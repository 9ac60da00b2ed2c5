"""What this process has read from AWS about each job: the facts no tenant can write.

The tracker bounds its lists and its follow-ups by these, not by the resource's status:
a job's CreationTime (the list's ``CreationTimeAfter``), whether AWS has shown it ended,
and how long an ended job is still followed. The bounds are forgotten when the job
leaves the index, the rest when its resource is deleted, and all with the process: a
restarted operator learns it again from its first list or describe of each job.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sagemaker_operator.status.announcements import state_key
from sagemaker_operator.status.conditions import END_STATES


@dataclass
class JobMemory:
    # Job key (the ARN, case ignored) → its CreationTime as AWS answered it.
    created: dict[str, datetime.datetime] = field(default_factory=dict)
    # Jobs AWS has answered as ended (Completed, Failed, Stopped), with the UID of the
    # resource that answer was written for.
    ended: dict[str, str] = field(default_factory=dict)
    # Ended jobs still followed (rules, warm pool): until when (time.monotonic()).
    follow_until: dict[str, float] = field(default_factory=dict)
    # The state (status.announcements.state_key) AWS last answered for each job.
    said: dict[str, str] = field(default_factory=dict)
    # Who waits for a job's end (a delete handler after its stop), by job key.
    _ending: dict[str, asyncio.Event] = field(default_factory=dict)

    def learn(self, key: str, answer: Mapping[str, Any], uid: str) -> None:
        """Remember what an answer of AWS (a summary, a describe) says of the job, written
        for the resource of this UID."""
        stamp = answer.get("CreationTime")
        if isinstance(stamp, datetime.datetime):
            self.created[key] = stamp
        if answer.get("TrainingJobStatus") in END_STATES:
            self.ended[key] = uid
            waiting = self._ending.pop(key, None)
            if waiting is not None:
                waiting.set()
        said = state_key({"trainingJobStatus": answer.get("TrainingJobStatus"),
                          "secondaryStatus": answer.get("SecondaryStatus")})  # fmt: skip
        if said is not None:
            self.said[key] = said

    async def ended_within(self, key: str, uid: str, timeout: float) -> bool:
        """Whether AWS answers the job ended (for this resource) within ``timeout`` seconds:
        the tracker's lists and events tell it, no call is made here."""
        if self.ended.get(key) == uid:
            return True
        waiting = self._ending.setdefault(key, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiting.wait(), timeout)
        return self.ended.get(key) == uid

    def forget(self, keep: Callable[[str], bool]) -> None:
        """Drop the bounds of the jobs ``keep`` refuses (they left the index). That AWS
        answered a job ended is kept until its resource is deleted (``release``): deleting
        it then needs no call."""
        for known in (self.created, self.follow_until, self.said):
            for key in [key for key in known if not keep(key)]:
                del known[key]

    def release(self, key: str, uid: str) -> None:
        """Drop everything known of a job whose resource (this UID) is gone; a resource
        that only named the job (its status pointed at another's) releases nothing."""
        if self.ended.get(key, uid) != uid:
            return
        self.created.pop(key, None)
        self.follow_until.pop(key, None)
        self.ended.pop(key, None)
        self.said.pop(key, None)
        self._ending.pop(key, None)
