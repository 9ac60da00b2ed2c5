"""What an AWS error means for a TrainingJob: try again later, or stop and say why.

Retryable errors are the ones botocore's own standard retry mode retries (throttling,
5xx, connection errors, request timeouts), judged by botocore's checkers so the two
never disagree. Everything else is terminal: retrying a ValidationException,
AccessDenied or ResourceLimitExceeded cannot succeed until the spec or the policy
changes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.retries import standard


class Disposition(enum.Enum):
    RETRY = "retry"
    TERMINAL = "terminal"


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


def classify(error: BaseException) -> AwsError:
    """Classify an exception raised by a boto3 call (after botocore's own retries)."""
    if isinstance(error, ClientError):
        response: dict[str, Any] = dict(error.response)
        details = response.get("Error", {})
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        context = standard.RetryContext(
            attempt_number=1, parsed_response=response, http_response=_HttpStatus(status)
        )
        return AwsError(
            Disposition.RETRY if _retryable(context) else Disposition.TERMINAL,
            str(details.get("Code") or "Unknown"),
            str(details.get("Message") or ""),
            status,
        )
    if isinstance(error, BotoCoreError):
        context = standard.RetryContext(attempt_number=1, caught_exception=error)
        disposition = Disposition.RETRY if _retryable(context) else Disposition.TERMINAL
        return AwsError(disposition, type(error).__name__, str(error))
    raise TypeError(f"not an AWS error: {error!r}") from error


def _retryable(context: standard.RetryContext) -> bool:
    return any(checker.is_retryable(context) for checker in _CHECKERS)
