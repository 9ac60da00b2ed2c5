"""Whose AWS account a call acts in: the operator's own, or one whose role it assumes.

A namespace policy rule may name a role for the operator to assume (policy/): the jobs
of its namespaces are then created, tracked, described, stopped and tagged with that
role's credentials, and never with any other. The credentials are botocore's own
assume-role machinery (``AssumeRoleCredentialFetcher`` behind refreshable credentials):
assumed on first use, from the operator's own credentials (IRSA, Pod Identity,
environment, profile), refreshed 15 minutes before they expire, one set per role, shared
by every client of that account. A session that AWS ends before its expiry (revoked, or
judged expired by AWS's clock) is assumed again once (``AssumedCredentials.expire``).
"""

from __future__ import annotations

import datetime
import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    CredentialProvider,
    CredentialResolver,
    Credentials,
    DeferredRefreshableCredentials,
)
from botocore.exceptions import BotoCoreError, ClientError


@dataclass(frozen=True)
class Account:
    """The credentials a call uses: the operator's own (``role_arn`` None), or a role the
    operator assumes, with the external id and session name the policy gives."""

    role_arn: str | None = None
    external_id: str | None = None
    session_name: str = "sagemaker-operator"
    rule: str = "the default rule"  # where the policy names it, for messages

    @property
    def id(self) -> str | None:
        """The account's 12 digits (None for the operator's own: not known offline)."""
        if self.role_arn is None:
            return None
        fields = self.role_arn.split(":")
        return fields[4] if len(fields) > 4 else None

    @property
    def label(self) -> str:
        """For metrics and messages: the account id, or "own"."""
        return self.id or "own"

    def __str__(self) -> str:
        if self.role_arn is None:
            return "the operator's own account"
        return f"account {self.id} (role {self.role_arn}, {self.rule})"


OWN = Account()

# What AWS answers for credentials it no longer takes before their expiry: a revoked
# session, or one its clock finds expired (STS's and SageMaker's codes).
EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId",
                           "UnrecognizedClientException", "RequestExpired"})  # fmt: skip


class AssumeRoleError(BotoCoreError):
    """The operator could not assume an account's role; no call was made in that account."""

    fmt = "cannot assume {role} ({rule}): {error}"

    def __init__(self, account: Account, error: BaseException) -> None:
        super().__init__(role=account.role_arn, rule=account.rule, error=error)
        self.account = account
        self.cause = error


class AssumedCredentials(DeferredRefreshableCredentials):
    """A role's refreshable credentials, assumed on first use."""

    def __init__(self, fetcher: AssumeRoleCredentialFetcher, cache: dict[str, Any]) -> None:
        super().__init__(refresh_using=fetcher.fetch_credentials, method="assume-role")
        self._assumed_cache = cache
        self._expiring = threading.Lock()

    def expire(self, refused: str | None) -> None:
        """Assume the role again at next use: AWS refused the session whose access key is
        ``refused`` before its expiry. Calls that failed together assume it once: a key
        already replaced is not expired again."""
        with self._expiring:
            try:
                current = self.get_frozen_credentials().access_key
            except (ClientError, BotoCoreError):
                current = refused  # not even the current session is usable: start afresh
            if current != refused:
                return
            self._assumed_cache.clear()
            # botocore's own expiry field: in the past, the next use refreshes (mandatory).
            self._expiry_time = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)


class _Given(CredentialProvider):
    METHOD = "assume-role"

    def __init__(self, credentials: Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials


def assumed_session(
    account: Account, new_session: Callable[[], botocore.session.Session], region: str,
    sts_config: Config,
) -> tuple[botocore.session.Session, AssumedCredentials]:  # fmt: skip
    """A botocore session acting as ``account``: its credentials assume the role from the
    operator's own (``new_session()``'s default chain; STS in ``region``, with
    ``sts_config``'s deadlines and retries)."""
    assert account.role_arn is not None
    source = new_session()
    own = source.get_credentials()
    if own is None:
        raise AssumeRoleError(account, RuntimeError("the operator has no AWS credentials"))
    extra: dict[str, Any] = {"RoleSessionName": account.session_name}
    if account.external_id is not None:
        extra["ExternalId"] = account.external_id
    cache: dict[str, Any] = {}
    fetcher = AssumeRoleCredentialFetcher(
        client_creator=functools.partial(_sts_client, source, region, sts_config),
        source_credentials=own, role_arn=account.role_arn, extra_args=extra, cache=cache,
    )  # fmt: skip
    credentials = AssumedCredentials(fetcher, cache)
    session = new_session()
    session.register_component("credential_provider", CredentialResolver([_Given(credentials)]))
    return session, credentials


def _sts_client(
    source: botocore.session.Session, region: str, config: Config, service: str, **keys: Any
) -> Any:
    return source.create_client(service, region_name=region, config=config, **keys)


def check(credentials: AssumedCredentials, account: Account) -> None:
    """Have the account's credentials ready (assumed or refreshed as needed), or raise
    AssumeRoleError: a call is never signed with anything else."""
    try:
        credentials.get_frozen_credentials()
    except (ClientError, BotoCoreError) as error:
        raise AssumeRoleError(account, error) from error


def said(message: str, account: Account) -> str:
    """An error's message naming the account it happened in (unless it is the operator's
    own, or the message names its role already)."""
    if account.role_arn is None or account.role_arn in message:
        return message
    return f"{message} (in {account})"


def holds(account: Account, arn: str) -> bool:
    """Whether the ARN is of the account (always, for the operator's own: its id is not
    known offline, and its credentials reach nothing else)."""
    fields = arn.split(":")
    return account.id is None or (len(fields) > 4 and fields[4] == account.id)


def expired(error: BaseException) -> bool:
    """Whether AWS refused the call's credentials as expired or unknown."""
    return isinstance(error, ClientError) and (
        str(error.response.get("Error", {}).get("Code")) in EXPIRED_CODES
    )
