"""The SageMaker operations the emulator serves: validated request in, shaped answer out."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from botocore.model import StructureShape

from sagemaker_emulator import logs, model
from sagemaker_emulator.jobs import JobStore, SageMakerError, TrainingJob

Operation = Callable[[JobStore, str, dict[str, Any]], dict[str, Any]]

_DEFAULT_PAGE_SIZE = 10
_MAX_ERRORS_IN_MESSAGE = 10


def call(
    store: JobStore, region: str, operation: str, params: dict[str, Any],
    service: str = "sagemaker",
) -> dict[str, Any]:  # fmt: skip
    """Validate ``params`` against the service's model, run ``operation``, shape its answer."""
    handler = SERVICES[service].get(operation)
    if handler is None:
        raise SageMakerError(
            "UnknownOperationException",
            f"The emulator does not implement {service}.{operation}"
            if operation in model.operation_names(service)
            else f"Unknown operation {service}.{operation}",
        )
    problems = model.refusals(operation, params, service)
    if problems:
        shown = problems[:_MAX_ERRORS_IN_MESSAGE]
        count = len(problems)
        raise SageMakerError(
            "ValidationException",
            f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(shown),
        )
    answer = handler(store, region, params)
    output = model.operation_model(operation, service).output_shape
    if output is None:
        return {}
    shaped = model.conform(output, answer)
    if service == "sagemaker" and store.switches().new_answer_members:
        shaped = add_new_members(output, shaped)
    return shaped


def create_training_job(store: JobStore, region: str, params: dict[str, Any]) -> dict[str, Any]:
    job = store.create(region, params)
    return {"TrainingJobArn": _own_case(store, job)}


def describe_training_job(store: JobStore, region: str, params: dict[str, Any]) -> dict[str, Any]:
    _check_denied(store, "DescribeTrainingJob", params["TrainingJobName"])
    job = store.get(region, params["TrainingJobName"])
    return {**job.describe(), "TrainingJobArn": _own_case(store, job)}


def _own_case(store: JobStore, job: TrainingJob) -> str:
    """The job's ARN as this answer writes it: lower case, or with the switch
    ``mixed_case_arns`` the name's own case (lists stay lower case: boto3#4606)."""
    return job.named_arn if store.switches().mixed_case_arns else job.arn


def update_training_job(store: JobStore, region: str, params: dict[str, Any]) -> dict[str, Any]:
    _check_denied(store, "UpdateTrainingJob", params["TrainingJobName"])
    return {"TrainingJobArn": store.update(region, params).arn}


def stop_training_job(store: JobStore, region: str, params: dict[str, Any]) -> dict[str, Any]:
    _check_denied(store, "StopTrainingJob", params["TrainingJobName"])
    store.stop(region, params["TrainingJobName"])
    return {}


def delete_training_job(store: JobStore, region: str, params: dict[str, Any]) -> dict[str, Any]:
    _check_denied(store, "DeleteTrainingJob", params["TrainingJobName"])
    store.delete(region, params["TrainingJobName"])
    return {}


# The filters SageMaker's own index answers (a range of creation times, in creation
# order); with ``filter_after_paging`` the others are applied to each page after it is
# read, as the API reference says of StatusEquals and public reports (aws-sdk #486,
# aws-cli #7596, boto3 #3347) describe of LastModifiedTimeAfter.
_INDEXED = frozenset({"CreationTimeAfter", "CreationTimeBefore"})


def list_training_jobs(store: JobStore, region: str, params: dict[str, Any]) -> dict[str, Any]:
    switches = store.switches()
    now = store.clock.now()
    after_paging = switches.filter_after_paging
    before = {name: value for name, value in params.items()
              if not after_paging or name in _INDEXED}  # fmt: skip
    # A change is listable ``listing_delay`` seconds after it happened (index lag).
    jobs = [job for job in store.all(region) if _matches(job, before)
            and job.last_modified + switches.listing_delay <= now]  # fmt: skip
    sort_by = params.get("SortBy", "CreationTime")
    key: Callable[[TrainingJob], Any] = {
        "Name": lambda job: job.name,
        "CreationTime": lambda job: job.created,
        "Status": lambda job: job.status,
    }[sort_by]
    jobs.sort(
        key=lambda job: (key(job), job.name),
        reverse=params.get("SortOrder", "Ascending") == "Descending",
    )
    offset = _read_token(params.get("NextToken"))
    size = params.get("MaxResults", _DEFAULT_PAGE_SIZE)
    page = jobs[offset : offset + size]
    if after_paging:
        page = [job for job in page if _matches(job, params)]
    summary = model.service_model().shape_for("TrainingJobSummary")
    assert isinstance(summary, StructureShape)
    answer: dict[str, Any] = {
        "TrainingJobSummaries": [model.conform(summary, job.describe()) for job in page]
    }
    if offset + size < len(jobs):
        answer["NextToken"] = _make_token(offset + size)
    return answer


# Members a newer SageMaker adds to its answers (``new_answer_members``): what a client
# whose botocore knows them (a newer model) parses, and older models must accept.
NEW_MEMBERS: dict[str, dict[str, Any]] = {
    "DescribeTrainingJobResponse": {"EmulatorFutureMember": {"Detail": "new"}},
    "TrainingJobSummary": {"EmulatorFutureMember": {"Detail": "new"}},
    "SecondaryStatusTransition": {"EmulatorFutureDetail": "new"},
    "WarmPoolStatus": {"EmulatorFutureDetail": "new"},
}


def add_new_members(shape: StructureShape, answer: Any) -> Any:
    """``answer`` with NEW_MEMBERS added wherever their structures occur."""
    if not isinstance(answer, dict):
        return answer
    extended = {name: _extend(shape.members[name], value) if name in shape.members else value
                for name, value in answer.items()}  # fmt: skip
    extended.update(NEW_MEMBERS.get(shape.name, {}))
    return extended


def _extend(shape: Any, value: Any) -> Any:
    if isinstance(shape, StructureShape):
        return add_new_members(shape, value)
    if isinstance(value, list) and hasattr(shape, "member"):
        return [_extend(shape.member, item) for item in value]
    return value


def _check_denied(store: JobStore, operation: str, name: str) -> None:
    if name in store.switches().denied.get(operation, []):
        raise SageMakerError(
            "AccessDeniedException",
            f"User: arn:aws:sts::{store.account_id}:assumed-role/operator is not authorized to "
            f"perform: sagemaker:{operation} on resource: training-job/{name} because no "
            "identity-based policy allows the action",
        )


def add_tags(store: JobStore, region: str, params: dict[str, Any]) -> dict[str, Any]:
    store.add_tags(region, params["ResourceArn"], params["Tags"])
    return {"Tags": params["Tags"]}


def list_tags(store: JobStore, region: str, params: dict[str, Any]) -> dict[str, Any]:
    tags = [
        {"Key": key, "Value": value}
        for key, value in sorted(store.tags(region, params["ResourceArn"]).items())
    ]
    offset = _read_token(params.get("NextToken"))
    size = params.get("MaxResults", 50)
    answer: dict[str, Any] = {"Tags": tags[offset : offset + size]}
    if offset + size < len(tags):
        answer["NextToken"] = _make_token(offset + size)
    return answer


def delete_tags(store: JobStore, region: str, params: dict[str, Any]) -> dict[str, Any]:
    store.delete_tags(region, params["ResourceArn"], params["TagKeys"])
    return {}


OPERATIONS: dict[str, Operation] = {
    "CreateTrainingJob": create_training_job,
    "DescribeTrainingJob": describe_training_job,
    "ListTrainingJobs": list_training_jobs,
    "StopTrainingJob": stop_training_job,
    "UpdateTrainingJob": update_training_job,
    "DeleteTrainingJob": delete_training_job,
    "AddTags": add_tags,
    "ListTags": list_tags,
    "DeleteTags": delete_tags,
}

SERVICES: dict[str, dict[str, Operation]] = {
    "sagemaker": OPERATIONS,
    # CloudWatch Logs, as far as reading a training job's log needs it.
    "logs": {
        "DescribeLogStreams": logs.describe_log_streams,
        "GetLogEvents": logs.get_log_events,
        "FilterLogEvents": logs.filter_log_events,
    },
}


def _matches(job: TrainingJob, params: dict[str, Any]) -> bool:
    checks: list[tuple[str, Callable[[Any], bool]]] = [
        ("CreationTimeAfter", lambda value: job.created > float(value)),
        ("CreationTimeBefore", lambda value: job.created < float(value)),
        ("LastModifiedTimeAfter", lambda value: job.last_modified > float(value)),
        ("LastModifiedTimeBefore", lambda value: job.last_modified < float(value)),
        ("NameContains", lambda value: value.lower() in job.name.lower()),
        ("StatusEquals", lambda value: job.status == value),
        (
            "WarmPoolStatusEquals",
            lambda value: job.warm_pool is not None and job.warm_pool.get("Status") == value,
        ),
        (
            "TrainingPlanArnEquals",
            lambda value: (job.request.get("ResourceConfig") or {}).get("TrainingPlanArn") == value,
        ),
    ]
    return all(check(params[name]) for name, check in checks if name in params)


def _make_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _read_token(token: str | None) -> int:
    if token is None:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise SageMakerError("ValidationException", "Invalid pagination token.") from error
    if not isinstance(offset, int) or offset < 0:
        raise SageMakerError("ValidationException", "Invalid pagination token.")
    return offset
