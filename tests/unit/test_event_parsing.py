"""Reading SageMaker's state-change events off a queue: what is taken, what is refused."""

from __future__ import annotations

import datetime
import json

import pytest

from sagemaker_operator.aws.events import NotAStateChangeError, parse, queue_region

EVENT = {
    "version": "0", "id": "844e2571-85d4-695f-b930-0153b71dcb42",
    "detail-type": "SageMaker Training Job State Change", "source": "aws.sagemaker",
    "account": "123456789012", "time": "2018-10-06T12:26:13Z", "region": "us-east-1",
    "resources": ["arn:aws:sagemaker:us-east-1:123456789012:training-job/kmeans-1"],
    "detail": {
        "TrainingJobName": "kmeans-1",
        "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/kmeans-1",
        "TrainingJobStatus": "Completed", "SecondaryStatus": "Completed",
        "CreationTime": 1538828757000, "LastModifiedTime": 1538828773500,
        "SecondaryStatusTransitions": [{"Status": "Starting", "StartTime": 1538828757000}],
        "SomethingNew": {"AWS": "adds members"},
        "Tags": {"sagemaker-operator.dev/uid": "1234"},
    },
}  # fmt: skip


def test_an_event_becomes_a_describe_answer_with_datetimes_and_its_tags() -> None:
    change = parse(json.dumps(EVENT))
    assert (change.account, change.region, change.job_name) == (
        "123456789012", "us-east-1", "kmeans-1")  # fmt: skip
    at = datetime.datetime(2018, 10, 6, 12, 26, 13, 500000, tzinfo=datetime.UTC)
    assert change.answer["LastModifiedTime"] == change.modified == at
    started = datetime.datetime(2018, 10, 6, 12, 25, 57, tzinfo=datetime.UTC)
    assert change.answer["SecondaryStatusTransitions"][0]["StartTime"] == started
    assert change.answer["SomethingNew"] == {"AWS": "adds members"}  # passed on, unread
    assert "Tags" not in change.answer
    assert change.tags == {"sagemaker-operator.dev/uid": "1234"}


@pytest.mark.parametrize(("body", "why"), [
    ("not json", "not an EventBridge event"),
    (json.dumps({"detail-type": "x"}), "source"),
    (json.dumps(EVENT | {"detail-type": "SageMaker Endpoint State Change"}),
     "SageMaker Endpoint State Change"),
    (json.dumps(EVENT | {"detail": {"TrainingJobStatus": "Completed"}}), "TrainingJobName"),
])  # fmt: skip
def test_a_message_that_is_no_training_job_state_change_is_refused_saying_why(
    body: str, why: str
) -> None:
    with pytest.raises(NotAStateChangeError, match=why):
        parse(body)


@pytest.mark.parametrize(("url", "region"), [
    ("https://sqs.eu-west-1.amazonaws.com/111122223333/events", "eu-west-1"),
    ("https://sqs-fips.us-gov-west-1.amazonaws.com/111122223333/events", "us-gov-west-1"),
    ("https://ap-south-1.queue.amazonaws.com/111122223333/events", "ap-south-1"),
    ("http://127.0.0.1:4566/123456789012/events", "us-east-1"),
])  # fmt: skip
def test_the_queue_region_comes_from_its_url_else_the_operators(url: str, region: str) -> None:
    assert queue_region(url, "us-east-1") == region


@pytest.mark.parametrize("stamp", [
    1538828773500,  # what SageMaker's events carry: epoch milliseconds
    "1538828773500",  # as the example on AWS's EventBridge page writes them
    "2018-10-06T12:26:13.500Z",  # ISO 8601
    "2018-10-06T12:26:13.500+00:00",
])  # fmt: skip
def test_event_times_as_numbers_numeric_strings_or_iso_strings_are_read(stamp: object) -> None:
    """Before: only numbers were converted, and an event with times as strings had no time
    (dropped as no newer than anything)."""
    event = json.loads(json.dumps(EVENT))
    event["detail"]["LastModifiedTime"] = stamp
    at = datetime.datetime(2018, 10, 6, 12, 26, 13, 500000, tzinfo=datetime.UTC)
    assert parse(json.dumps(event)).modified == at
