"""`kubectl sagemaker describe`: a TrainingJob and its SageMaker job, readable at a glance."""

from __future__ import annotations

import datetime

from sagemaker_operator.api.trainingjob import Spec, Status
from sagemaker_operator.status.conditions import END_STATES


def duration(seconds: float) -> str:
    """``1h02m``, ``3m07s``, ``42s``."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def console_url(region: str, job: str) -> str:
    return (f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}"
            f"#/jobs/{job}")  # fmt: skip


def render(
    name: str, namespace: str, spec: Spec, resource: Status, job: Status | None,
    *, now: datetime.datetime,
) -> str:  # fmt: skip
    """The summary. ``job`` is DescribeTrainingJob's answer (None: no job yet)."""
    region = resource.region or "?"
    lines = [f"Name:          {namespace}/{name}"]
    conditions = [f"  {c.type}={c.status}" + (f" ({c.reason})" if c.reason else "")
                  + (f": {c.message}" if c.message else "")
                  for c in resource.conditions or []]  # fmt: skip
    if job is None:
        lines += ["Conditions:" + ("" if conditions else "    none yet"), *conditions,
                  "Training job:  none yet"]  # fmt: skip
        return "\n".join(lines) + "\n"
    state = job.training_job_status or "?"
    if job.secondary_status and job.secondary_status != state:
        state += f" ({job.secondary_status})"
    lines += [
        f"Training job:  {job.training_job_name or resource.training_job_name} in {region}",
        f"ARN:           {job.training_job_arn}",
        f"Status:        {state}",
    ]
    if job.failure_reason:
        lines.append(f"Failure:       {job.failure_reason}")
    lines += ["Conditions:", *conditions, "", "Transitions:", *_transitions(job, now)]
    lines += ["", "Metrics:"]
    metrics = job.final_metric_data_list or []
    lines += [f"  {metric.metric_name} = {metric.value:g}" for metric in metrics] or [
        "  none reported (yet)"
    ]
    lines += ["", "Artifacts:"]
    if job.model_artifacts is not None:
        lines.append(f"  model:        {job.model_artifacts.s3_model_artifacts}")
    lines.append(f"  output path:  {spec.output_data_config.s3_output_path}")
    if spec.checkpoint_config is not None:
        lines.append(f"  checkpoints:  {spec.checkpoint_config.s3_uri}")
    lines += ["", "Time:", *_time(spec, job)]
    job_name = job.training_job_name or resource.training_job_name or name
    lines += ["", "Links:", f"  console:      {console_url(region, job_name)}"]
    if resource.cloud_watch_logs_url:
        lines.append(f"  logs:         {resource.cloud_watch_logs_url}")
    lines.append(f"  follow logs:  kubectl sagemaker logs {name} -n {namespace} -f")
    return "\n".join(lines) + "\n"


def _transitions(job: Status, now: datetime.datetime) -> list[str]:
    """The secondary-status transitions as a table, with how long each took."""
    lines: list[str] = []
    rows = [("STATUS", "STARTED", "DURATION", "MESSAGE")]
    transitions = job.secondary_status_transitions or []
    ended = job.training_job_status in END_STATES
    for index, transition in enumerate(transitions):
        start, end = transition.start_time, transition.end_time
        if end is None and ended and index == len(transitions) - 1:
            took = "-"  # the end state itself
        else:
            took = duration(((end or now) - start).total_seconds()) + ("" if end else " so far")
        rows.append((transition.status, start.strftime("%Y-%m-%d %H:%M:%SZ"), took,
                     transition.status_message or ""))  # fmt: skip
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
        lines.append("  " + "  ".join([*cells, row[3]]))
    return lines


def _time(spec: Spec, job: Status) -> list[str]:
    lines: list[str] = []
    if job.training_time_in_seconds is not None:
        lines.append(f"  training:     {duration(job.training_time_in_seconds)}")
    if job.billable_time_in_seconds is not None:
        billable = f"  billable:     {duration(job.billable_time_in_seconds)}"
        if spec.enable_managed_spot_training and job.training_time_in_seconds:
            saved = 100 * (1 - job.billable_time_in_seconds / job.training_time_in_seconds)
            billable += f" (managed spot saved {saved:.0f} %)"
        lines.append(billable)
    if job.training_time_in_seconds is None:
        lines.append("  not finished")
    return lines
