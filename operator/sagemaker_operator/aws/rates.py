"""How fast the operator calls SageMaker, by operation: its client-side rate limits."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimits:
    """Calls per second per region, for each operation, at most. Defaults stay well under
    AWS's quotas, but for creates, stops and the describes of ended jobs: their ceilings
    only guard against a runaway, and botocore's adaptive retry mode learns SageMaker's
    quota from its throttling answers (what a user asked for, or an ending, does not wait
    behind a conservative limit)."""

    create: float = 50.0
    describe: float = 5.0
    list: float = 2.0
    stop: float = 50.0
    # DescribeTrainingJob of a job a list shows ended (its failure reason, artifacts,
    # billable time): a limiter of its own, so endings never queue behind resyncs and
    # follow-ups, and the status of an ended job is not later than any other change's.
    end_describe: float = 50.0
    tags: float = 5.0  # ListTags and AddTags
    update: float = 2.0  # UpdateTrainingJob: one call per accepted spec change
    # The list limit holds on average over this many seconds (the poll interval): a tick's
    # pages go out together, and the changes made while they are read (listed again by
    # the next tick) stay few.
    list_period: float = 1.0
