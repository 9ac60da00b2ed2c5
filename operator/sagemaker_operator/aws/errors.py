"""What an AWS error means for a TrainingJob: try again later, or stop and say why.

Retryable errors are the ones botocore's own standard retry mode retries (throttling,
5xx, connection errors, request timeouts), judged by botocore's checkers so the two
never disagree. Two 4xx errors pass with time, and are waited out with a long backoff:

- ResourceLimitExceeded: a quota such as concurrent training jobs or instances of a type,
  freed as other jobs end (SageMaker's "Quotas" page; CreateTrainingJob's errors);
- ValidationException "Could not assume role": a role just created has not propagated in
  IAM yet ("changes … are eventually consistent", IAM's troubleshooting guide; the
  SageMaker Python SDK retries it when it creates the role itself).

Everything else is terminal: retrying a ValidationException or AccessDenied cannot
succeed until the spec or the policy changes.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.retries import standard

from sagemaker_operator.aws.accounts import AssumeRoleError


class Disposition(enum.Enum):
    RETRY = "retry"
    WAIT = "wait"  # passes with time (a quota, IAM propagation): retried with a long backoff
    TERMINAL = "terminal"


_WAIT_CODES = frozenset({"ResourceLimitExceeded"})
_ASSUME_ROLE = re.compile(r"could not assume role|not authorized to assume", re.IGNORECASE)
# What SageMaker answers for a job that does not exist: ValidationException "Requested
# resource not found." (Describe/Stop of a training job), or ResourceNotFound elsewhere.
_NOT_FOUND_CODES = frozenset({"ResourceNotFound", "ResourceNotFoundException"})
_NOT_FOUND_MESSAGE = re.compile(r"^Requested resource not found|could not find", re.IGNORECASE)


@dataclass(frozen=True)
class AwsError:
    """An AWS failure reduced to what the controller needs to act and to tell the user."""

    disposition: Disposition
    code: str  # the AWS error code, or the botocore exception's class name
    message: str
    http_status: int | None = None

    @property
    def retryable(self) -> bool:
        return self.disposition is Disposition.RETRY

    @property
    def passes(self) -> bool:
        """A 4xx that passes with time: wait it out with a long backoff."""
        return self.disposition is Disposition.WAIT

    @property
    def not_found(self) -> bool:
        """Whether the job named does not exist (deleted, or never created)."""
        return self.code in _NOT_FOUND_CODES or (
            self.code == "ValidationException" and bool(_NOT_FOUND_MESSAGE.search(self.message))
        )

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.message else self.code


_CHECKERS = (
    standard.TransientRetryableChecker(),
    standard.ThrottledRetryableChecker(),
    standard.ThrottlingStatusCodeChecker(),  # type: ignore[attr-defined]  # stubs lag botocore
)


class _HttpStatus:
    """The one attribute of an HTTP response that botocore's checkers read."""

    def __init__(self, status_code: int | None) -> None:
        self.status_code = status_code


ASSUME_ROLE_FAILED = "AssumeRoleFailed"  # the reason when an account's role cannot be assumed


def classify(error: BaseException) -> AwsError:
    """Classify an exception raised by a boto3 call (after botocore's own retries)."""
    if isinstance(error, ClientError):
        response: dict[str, Any] = dict(error.response)
        details = response.get("Error", {})
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        context = standard.RetryContext(
            attempt_number=1, parsed_response=response, http_response=_HttpStatus(status)
        )
        code, message = str(details.get("Code") or "Unknown"), str(details.get("Message") or "")
        if _retryable(context):
            disposition = Disposition.RETRY
        elif code in _WAIT_CODES or (
            code == "ValidationException" and _ASSUME_ROLE.search(message)
        ):
            disposition = Disposition.WAIT
        else:
            disposition = Disposition.TERMINAL
        return AwsError(disposition, code, message, status)
    if isinstance(error, AssumeRoleError):
        # No call was made in the account: its role could not be assumed. STS's own
        # retryable errors (throttling, 5xx, connections) are retried like SageMaker's.
        cause = error.cause
        inner = classify(cause) if isinstance(cause, ClientError | BotoCoreError) else None
        retry = inner is not None and inner.disposition is Disposition.RETRY
        return AwsError(Disposition.RETRY if retry else Disposition.TERMINAL, ASSUME_ROLE_FAILED,
                        str(error))  # fmt: skip
    if isinstance(error, BotoCoreError):
        context = standard.RetryContext(attempt_number=1, caught_exception=error)
        disposition = Disposition.RETRY if _retryable(context) else Disposition.TERMINAL
        return AwsError(disposition, type(error).__name__, str(error))
    raise TypeError(f"not an AWS error: {error!r}") from error


def _retryable(context: standard.RetryContext) -> bool:
    return any(checker.is_retryable(context) for checker in _CHECKERS)
