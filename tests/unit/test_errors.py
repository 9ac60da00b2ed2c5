"""AWS errors are classified as botocore's standard retry mode would: retry or stop."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from sagemaker_operator.aws.errors import Disposition, classify
from sagemaker_operator.controller.create import retry_delay, role_wait_message
from sagemaker_operator.controller.runtime import is_transient
from sagemaker_operator.kube import KubeApiError


def client_error(code: str, status: int, message: str = "m") -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "CreateTrainingJob")


@pytest.mark.parametrize(("code", "status"), [
    ("ThrottlingException", 400),
    ("Throttling", 400),
    ("TooManyRequestsException", 400),
    ("SomethingNew", 429),
    ("InternalFailure", 500),
    ("ServiceUnavailable", 503),
    ("RequestTimeout", 408),
])  # fmt: skip
def test_throttling_server_errors_and_timeouts_are_retried(code: str, status: int) -> None:
    error = classify(client_error(code, status))
    assert error.disposition is Disposition.RETRY
    assert error.code == code


@pytest.mark.parametrize(("code", "status"), [
    ("ValidationException", 400),
    ("AccessDeniedException", 400),
    ("ResourceInUse", 400),
    ("ResourceNotFound", 400),
    ("SomeFutureClientError", 400),
])  # fmt: skip
def test_client_errors_are_terminal(code: str, status: int) -> None:
    error = classify(client_error(code, status, "the reason"))
    assert error.disposition is Disposition.TERMINAL
    assert not error.retryable
    assert str(error) == f"{code}: the reason"
    assert error.http_status == status


@pytest.mark.parametrize(("code", "message"), [
    ("ResourceLimitExceeded", "The account-level service limit 'Number of concurrent training "
     "jobs' is 2 Jobs, with current utilization of 2 Jobs"),
    ("ValidationException", "Could not assume role arn:aws:iam::123456789012:role/New. Please "
     "ensure that the role exists and allows principal 'sagemaker.amazonaws.com' to assume "
     "the role."),
])  # fmt: skip
def test_a_quota_or_a_role_iam_has_not_propagated_passes_with_time(code: str, message: str) -> None:
    error = classify(client_error(code, 400, message))
    assert error.disposition is Disposition.WAIT
    assert error.passes
    assert not error.retryable


def test_not_found_is_read_from_the_error_code_or_sagemakers_exact_answer() -> None:
    assert classify(
        client_error("ValidationException", 400, "Requested resource not found.")
    ).not_found
    assert classify(client_error("ResourceNotFound", 400, "whatever")).not_found
    # A message that merely mentions the words is not "not found".
    assert not classify(
        client_error("ValidationException", 400, "The S3 prefix was not found in bucket x")
    ).not_found
    assert not classify(client_error("AccessDeniedException", 400, "not found")).not_found


@pytest.mark.parametrize("exception", [
    EndpointConnectionError(endpoint_url="https://api.sagemaker.us-east-1.amazonaws.com"),
    ConnectTimeoutError(endpoint_url="https://api.sagemaker.us-east-1.amazonaws.com"),
    ReadTimeoutError(endpoint_url="https://api.sagemaker.us-east-1.amazonaws.com"),
])  # fmt: skip
def test_connection_errors_are_retried(exception: Exception) -> None:
    error = classify(exception)
    assert error.retryable
    assert error.code == type(exception).__name__


def test_missing_credentials_are_terminal() -> None:
    error = classify(NoCredentialsError())
    assert error.disposition is Disposition.TERMINAL
    assert error.code == "NoCredentialsError"


def test_other_exceptions_are_not_aws_errors() -> None:
    with pytest.raises(TypeError, match="not an AWS error"):
        classify(ValueError("boom"))


def test_retries_back_off_exponentially_with_jitter_and_a_ceiling() -> None:
    first = [retry_delay(0, 15, 300) for _ in range(200)]
    assert all(7.5 <= delay <= 15 for delay in first)
    assert len(set(first)) > 100  # jittered, so retries of many resources do not align
    assert max(retry_delay(3, 15, 300) for _ in range(200)) > 15 * 4
    assert all(retry_delay(30, 15, 300) <= 300 for _ in range(200))


def test_a_ceiling_below_the_first_delay_bounds_every_delay() -> None:
    assert all(2.5 <= retry_delay(retry, 15, 5) <= 5 for retry in range(5) for _ in range(50))


def test_kubernetes_errors_worth_retrying_are_outages_not_refusals() -> None:
    """Events are posted again after an apiserver outage: what is transient is retried."""

    for status in (0, 429, 500, 503, 504):
        assert is_transient(KubeApiError(status, "Scripted"))
    for status in (400, 403, 404, 409, 422):
        assert not is_transient(KubeApiError(status, "Scripted"))
    assert is_transient(ConnectionRefusedError())
    assert not is_transient(ValueError("a bug"))


def test_a_role_wait_says_until_when_and_then_what_to_check() -> None:
    """Issue M: "could not assume role" was retried for an hour as IAM propagation, and the
    message never said until when."""
    now = datetime.datetime(2026, 12, 6, 12, 0, tzinfo=datetime.UTC)
    waiting = role_wait_message("Could not assume role arn:aws:iam::1:role/x", 60.0, 600.0, now)
    assert waiting.endswith(
        "a new role may not have propagated in IAM yet: retried until "
        "2026-12-06T12:09:00Z (600 s after the first attempt), then Stalled"
    )
    stalled = role_wait_message("Could not assume role arn:aws:iam::1:role/x", 600.0, 600.0, now)
    assert "still refused 600 s after the first attempt, so not IAM propagation" in stalled
    assert "trust policy lets sagemaker.amazonaws.com assume it" in stalled
