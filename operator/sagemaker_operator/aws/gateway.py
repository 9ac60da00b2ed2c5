"""SageMaker, as the controller calls it: async, rate-limited, retried by botocore.

boto3 is blocking, so each call runs in a bounded thread pool, one per account (an
account whose STS or SageMaker goes silent holds its own threads only). Each (account, region,
operation) has its own client-side rate limiter (aiolimiter), because SageMaker's quotas
are per account, region and operation; botocore's standard retry mode retries
throttling, 5xx and connection errors with exponential backoff and jitter. Every call
names the account it acts in (aws/accounts.py): the operator's own credentials come from
boto3's usual chain (AWS_REGION, AWS_PROFILE, IRSA's web identity, …), an assumed role's
from botocore's assume-role machinery on top of them; a call is made with that account's
credentials or not at all. Endpoints come from the same chain
(AWS_ENDPOINT_URL_SAGEMAKER, AWS_ENDPOINT_URL_STS); ``endpoint_url`` overrides
SageMaker's.
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import functools
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from aiolimiter import AsyncLimiter
from botocore.config import Config

from sagemaker_operator import metrics
from sagemaker_operator.aws import accounts, regions, servicemodel
from sagemaker_operator.aws.accounts import Account, AssumedCredentials
from sagemaker_operator.aws.rates import RateLimits

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

T = TypeVar("T")


@dataclass(frozen=True)
class Page:
    """A page of a ListTrainingJobs answer, and SageMaker's time when it was read.

    The pages are read one after the other while the jobs go on changing: a job on a page
    already read may change before the last page is read. Such a change is later than the
    first page's ``read_at``, so listing again from there finds it.
    """

    summaries: list[dict[str, Any]]
    read_at: datetime.datetime
    # Where the list goes on (None: this was the last page). A list cut short (throttled)
    # goes on from here next time, with the same filters.
    next_token: str | None = None


# Seconds: SageMaker's control-plane calls answer in well under a second.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 20.0
CLIENT_IDLE = 900.0  # seconds a client (and its account's session) is kept unused


class SageMakerGateway:
    def __init__(
        self,
        *,
        endpoint_url: str | None = None,
        limits: RateLimits | None = None,
        max_attempts: int = 5,
        workers: int = 16,
        home_region: str | None = None,
    ) -> None:
        self.endpoint_url = endpoint_url
        # The operator's own region: jobs may name the regions of its partition only.
        self.home_region = home_region
        self.limits = limits or RateLimits()
        # Every attempt has a deadline: a connection that goes silent fails after
        # READ_TIMEOUT, and botocore retries it on a new one (botocore's default is 60 s).
        deadlines = Config(connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT)
        adaptive = deadlines.merge(Config(
            retries={"mode": "adaptive", "total_max_attempts": max_attempts},
            max_pool_connections=workers))  # fmt: skip
        self._configs = {
            # Creates: a burst goes out at once; once SageMaker throttles, the client's
            # adaptive rate limiter (botocore's, per client) sends at the rate it allows,
            # retries included. Creates have a client of their own: a throttled burst
            # slows the creates, not the stops, describes and tags.
            "create": adaptive,
            # Stops, updates, tags, describes: worth waiting for through botocore's backoff.
            "act": adaptive,
            # Tracking reads: the next tick is the retry; a throttled list must not hold
            # a tick for botocore's backoff (up to 20 s an attempt).
            "poll": deadlines.merge(Config(retries={"mode": "standard", "total_max_attempts": 2},
                                           max_pool_connections=workers)),
        }  # fmt: skip
        # A pool of worker threads per account: the calls of an account whose STS or
        # SageMaker stops answering (each waits its deadline) hold that account's threads
        # only, never another's.
        self._workers = workers
        self._executors: dict[str, ThreadPoolExecutor] = {}
        self._clients: dict[tuple[Account, str, str], SageMakerClient] = {}
        # When each client was last used (time.monotonic()): clients and sessions unused for
        # CLIENT_IDLE are dropped (a rule removed, a region no longer used).
        self._used: dict[tuple[Account, str, str], float] = {}
        self._swept = time.monotonic()
        self._clients_lock = threading.Lock()
        self._limiters: dict[tuple[str, str, str], AsyncLimiter] = {}
        # An assumed role's session and credentials, shared by its clients of every region.
        self._accounts: dict[Account, tuple[Any, AssumedCredentials]] = {}
        self._sts_config = deadlines.merge(
            Config(retries={"mode": "standard", "total_max_attempts": max_attempts})
        )

    def default_region(self) -> str | None:
        # botocore reads AWS_DEFAULT_REGION and the profile; AWS_REGION is what the other
        # SDKs (and EKS) set, so it counts too.
        return boto3.session.Session().region_name or os.environ.get("AWS_REGION") or None

    async def create_training_job(
        self, region: str, request: dict[str, Any], *, account: Account,
        wanted: Callable[[bool], bool] = lambda retry: True,
    ) -> str:  # fmt: skip
        """The new job's ARN. ``wanted(retry)`` is asked (in the worker thread) before each
        attempt is sent, botocore's retries included (``retry``: not the first): False
        abandons the create (CreateAbandonedError), so a job is never created for what no
        longer wants one (a resource deleted while its create waited for the limiter or
        for throttling to pass)."""

        def create(client: SageMakerClient) -> Any:
            _attempts.wanted, _attempts.made = wanted, 0
            try:
                return client.create_training_job(**request)
            finally:
                _attempts.wanted = None

        answer = await self._call(account, region, "create", create, purpose="create")
        return str(answer["TrainingJobArn"])

    async def describe_training_job(
        self, region: str, name: str, *, account: Account, polling: bool = False,
        ended: bool = False,
    ) -> dict[str, Any]:  # fmt: skip
        """``polling``: a tracker's read (the next tick is its retry); ``ended``: a job a list
        shows ended, under the end_describe ceiling and adaptive retries."""
        answer = await self._call(account, region, "describe",
                                  lambda client: client.describe_training_job(TrainingJobName=name),
                                  purpose="poll" if polling and not ended else "act",
                                  limit="end_describe" if ended else None)  # fmt: skip
        return dict(answer)

    async def stop_training_job(self, region: str, name: str, *, account: Account) -> None:
        await self._call(account, region, "stop", lambda client: client.stop_training_job(
            TrainingJobName=name))  # fmt: skip

    async def update_training_job(
        self, region: str, request: dict[str, Any], *, account: Account
    ) -> None:
        await self._call(account, region, "update", lambda client: client.update_training_job(
            **request))  # fmt: skip

    async def add_tags(
        self, region: str, arn: str, tags: Mapping[str, str], *, account: Account
    ) -> None:
        pairs: list[Any] = [{"Key": key, "Value": value} for key, value in tags.items()]
        await self._call(account, region, "tags", lambda client: client.add_tags(
            ResourceArn=arn, Tags=pairs))  # fmt: skip

    async def list_tags(self, region: str, arn: str, *, account: Account) -> list[dict[str, str]]:
        answer = await self._call(account, region, "tags", lambda client: client.list_tags(
            ResourceArn=arn, MaxResults=100))  # fmt: skip
        return [{"Key": tag["Key"], "Value": tag.get("Value", "")} for tag in answer["Tags"]]

    async def jobs_modified_after(
        self, region: str, moment: datetime.datetime, *, account: Account,
        created_after: datetime.datetime | None = None, token: str | None = None,
    ) -> AsyncIterator[Page]:  # fmt: skip
        """Summaries of every job of the region modified after ``moment`` (and created after
        ``created_after``), a page at a time, from ``token`` when given (a list cut short).

        SageMaker may read each page of ``MaxResults`` jobs first and filter it after (its
        API reference says so of StatusEquals; aws-sdk #486, aws-cli #7596 and boto3 #3347
        report it of LastModifiedTimeAfter): a list then walks every job of the region,
        oldest first, to find the few that changed. ``CreationTimeAfter`` bounds that walk
        to the jobs created since; the caller passes the creation of its oldest job.
        """
        parameters: dict[str, Any] = {
            "LastModifiedTimeAfter": moment,
            "MaxResults": 100,
            "SortBy": "CreationTime",
            "SortOrder": "Ascending",
        }
        if created_after is not None:
            parameters["CreationTimeAfter"] = created_after
        if token is not None:
            parameters["NextToken"] = token
        while True:
            asked = datetime.datetime.now(datetime.UTC)
            # Each page is a call of its own, rate-limited as such.
            answer = await self._call(
                account, region, "list",
                functools.partial(_list_training_jobs, parameters=dict(parameters)),
                purpose="poll",
            )  # fmt: skip
            summaries = [dict(summary) for summary in answer["TrainingJobSummaries"]]
            yield Page(summaries, _server_time(answer) or asked, answer.get("NextToken"))
            if not answer.get("NextToken"):
                return
            parameters["NextToken"] = answer["NextToken"]

    def close(self) -> None:
        for executor in list(self._executors.values()):
            executor.shutdown(wait=False, cancel_futures=True)

    def _executor(self, account: Account) -> ThreadPoolExecutor:
        executor = self._executors.get(account.label)
        if executor is None:
            executor = self._executors[account.label] = ThreadPoolExecutor(
                max_workers=self._workers, thread_name_prefix=f"sagemaker-{account.label}"
            )
        return executor

    async def _call(
        self, account: Account, region: str, operation: str,
        call: Callable[[SageMakerClient], T], purpose: str = "act", *, limit: str | None = None,
    ) -> T:  # fmt: skip
        """``limit``: the rate limit it counts against (default: the operation's)."""
        waiting = time.monotonic()
        async with self._limiter(account, region, limit or operation):
            started = time.monotonic()
            metrics.RATE_LIMITER_WAIT.labels(operation).observe(started - waiting)
            loop = asyncio.get_running_loop()
            try:
                # The client is looked up (or made, which loads the service model) in the
                # worker thread too: nothing slow runs on the event loop.
                return await loop.run_in_executor(
                    self._executor(account), lambda: self._attempt(account, region, purpose, call)
                )
            finally:
                metrics.SAGEMAKER_LATENCY.labels(operation).observe(time.monotonic() - started)

    def _attempt(
        self, account: Account, region: str, purpose: str, call: Callable[[SageMakerClient], T]
    ) -> T:
        """``call`` with the account's client. An assumed role's credentials are made
        ready first (AssumeRoleError, and no call, when they cannot be); a call AWS refuses
        as made with expired credentials is made once more with freshly assumed ones."""
        client = self._client(account, region, purpose)
        credentials = self._accounts[account][1] if account.role_arn is not None else None
        if credentials is None:
            return call(client)
        self._ready(credentials, account)
        used = credentials.get_frozen_credentials().access_key
        try:
            return call(client)
        except Exception as error:
            if not accounts.expired(error):
                raise
            metrics.CREDENTIAL_REFRESHES.labels(account.label, "forced").inc()
            credentials.expire(used)
            self._ready(credentials, account)
            return call(client)

    @staticmethod
    def _ready(credentials: AssumedCredentials, account: Account) -> None:
        try:
            accounts.check(credentials, account)
        except accounts.AssumeRoleError:
            metrics.ASSUME_ROLE_FAILURES.labels(account.label).inc()
            raise

    def warm_up(self, region: str) -> None:
        """Make the default region's clients and the request validator's model now, before
        the operator starts serving: the first apply must not wait for them."""
        servicemodel.operation_model("CreateTrainingJob").input_shape  # noqa: B018 - loads it
        for purpose in self._configs:
            self._client(accounts.OWN, region, purpose)

    def _limiter(self, account: Account, region: str, operation: str) -> AsyncLimiter:
        # SageMaker's quotas are per account: one limiter for every session of a role.
        key = (account.label, region, operation)
        if key not in self._limiters:
            rate: float = getattr(self.limits, operation)
            period = self.limits.list_period if operation == "list" else 1.0
            # At most one period's worth of calls in a burst; a rate below one call a period
            # is one call per 1/rate seconds (a bucket must hold at least one call).
            self._limiters[key] = (
                AsyncLimiter(rate * period, period) if rate * period >= 1
                else AsyncLimiter(1, 1.0 / rate)
            )  # fmt: skip
        return self._limiters[key]

    def _client(self, account: Account, region: str, purpose: str) -> SageMakerClient:
        with self._clients_lock:
            now = time.monotonic()
            self._used[(account, region, purpose)] = now
            if now - self._swept > CLIENT_IDLE:
                self._sweep(now)
            client = self._clients.get((account, region, purpose))
            if client is None:
                # Only a region SageMaker has gets a client (aws/regions.py); checked once,
                # as the client is made.
                regions.check(region, self.home_region or region)
                # A session per client (boto3 sessions are not thread-safe, clients are),
                # all sharing one loaded service model, and an account's credentials.
                session = boto3.session.Session(botocore_session=self._session(account, region))
                client = session.client(
                    "sagemaker", region_name=region, endpoint_url=self.endpoint_url,
                    config=self._configs[purpose],
                )  # fmt: skip
                client.meta.events.register("needs-retry.sagemaker", functools.partial(
                    _count_attempt, account=account.label))  # fmt: skip
                # Last of the before-send handlers, after the adaptive rate limiter's wait
                # (registered for every operation: a handler of the operation's own event
                # would run first, before that wait): right before the attempt goes out.
                client.meta.events.register_last("before-send", _ask_before_sending)
                self._clients[(account, region, purpose)] = client
            return client

    def _sweep(self, now: float) -> None:
        """Drop the clients unused for CLIENT_IDLE, and the sessions none is left of (called
        under the lock)."""
        self._swept = now
        for key in [key for key, used in self._used.items() if now - used > CLIENT_IDLE]:
            self._used.pop(key, None)
            self._clients.pop(key, None)
        kept = {account for account, _, _ in self._clients}
        for account in [account for account in self._accounts if account not in kept]:
            del self._accounts[account]

    def _session(self, account: Account, region: str) -> Any:
        """A botocore session with the account's credentials (called under the lock)."""
        if account.role_arn is None:
            return servicemodel.session()
        if account not in self._accounts:
            self._accounts[account] = accounts.assumed_session(
                account, servicemodel.session, self.home_region or region, self._sts_config
            )
        session, _ = self._accounts[account]
        return session


class CreateAbandonedError(Exception):
    """A create's ``wanted`` said no before an attempt was sent: no job was created by it."""


# The create call a worker thread is making: its ``wanted`` (botocore's before-send runs in
# the thread that makes the call).
_attempts = threading.local()


def _ask_before_sending(**_: Any) -> None:
    wanted: Callable[[bool], bool] | None = getattr(_attempts, "wanted", None)
    if wanted is None:
        return
    _attempts.made += 1
    if not wanted(_attempts.made > 1):
        raise CreateAbandonedError("the create is no longer wanted")


def _count_attempt(
    *, response: Any = None, caught_exception: BaseException | None = None,
    operation: Any = None, account: str = "own", **_: Any,
) -> None:  # fmt: skip
    """botocore's per-attempt event (also the one its retry handler decides on)."""
    if caught_exception is not None:
        outcome = type(caught_exception).__name__
    elif response is not None and response[0].status_code < 300:
        outcome = "ok"
    elif response is not None:
        outcome = str(response[1].get("Error", {}).get("Code") or response[0].status_code)
    else:
        outcome = "unknown"
    metrics.SAGEMAKER_CALLS.labels(getattr(operation, "name", "unknown"), outcome, account).inc()


def _server_time(answer: Any) -> datetime.datetime | None:
    """The answer's Date header: SageMaker's clock (to the second, rounded down)."""
    date = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    try:
        return email.utils.parsedate_to_datetime(date) if date else None
    except (TypeError, ValueError):
        return None


def _list_training_jobs(client: SageMakerClient, parameters: dict[str, Any]) -> Any:
    return client.list_training_jobs(**parameters)
