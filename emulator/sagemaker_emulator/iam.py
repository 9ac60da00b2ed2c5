"""IAM roles and STS sessions as the emulator plays them: whose account a request is.

In AWS the credentials decide the account: a request signed with keys from
``sts:AssumeRole`` acts in the role's account. The emulator reads the access key id from
the request's signature (it checks no signature) and looks it up here; keys it did not
issue (any other credentials) act in the emulator's own account.

- a role must exist (``POST /_emulator/roles``) and trust the caller's account, and its
  external id, if it has one, must be given: otherwise AssumeRole answers AccessDenied, as
  AWS does for a role that does not exist or does not trust the caller;
- a session expires ``DurationSeconds`` (default 3600, at most the role's 3600) after it
  was issued, on the emulator's clock: advancing the clock expires it without waiting,
  and a call with it answers ExpiredTokenException. The Expiration it reports is that
  moment as the caller's clock reads it (so botocore's refresh logic sees the truth);
- deleting a role refuses new sessions; ``revoke`` also ends its sessions at once (AWS's
  "revoke active sessions").
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sagemaker_emulator.jobs import SageMakerError

ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]+)$")
MAX_SESSION = 3600  # a role's MaxSessionDuration default
MIN_SESSION = 900


@dataclass
class Role:
    arn: str
    external_id: str | None = None
    trusts: set[str] = field(default_factory=set)  # account ids allowed to assume it

    @property
    def account(self) -> str:
        match = ROLE_ARN.match(self.arn)
        assert match is not None
        return match[1]

    @property
    def name(self) -> str:
        match = ROLE_ARN.match(self.arn)
        assert match is not None
        return match[2]


@dataclass(frozen=True)
class Session:
    access_key: str
    role: str
    account: str
    name: str
    expires: float  # the emulator's clock


class Iam:
    """Roles and the sessions issued for them; every method is thread-safe."""

    def __init__(self, now: Callable[[], float], own_account: str) -> None:
        self.now = now
        self.own_account = own_account
        self._lock = threading.Lock()
        self._roles: dict[str, Role] = {}
        self._sessions: dict[str, Session] = {}

    def put_role(self, arn: str, external_id: str | None, trusts: list[str] | None) -> Role:
        if ROLE_ARN.match(arn) is None:
            raise ValueError(f"{arn!r} is not a role ARN")
        role = Role(arn, external_id, set(trusts or [self.own_account]))
        with self._lock:
            self._roles[arn] = role
        return role

    def delete_role(self, arn: str, *, revoke: bool = False) -> None:
        with self._lock:
            self._roles.pop(arn, None)
            if revoke:
                self._sessions = {key: session for key, session in self._sessions.items()
                                  if session.role != arn}  # fmt: skip

    def assume(self, caller: str, arn: str, session_name: str, external_id: str | None,
               duration: int | None) -> Session:  # fmt: skip
        """A new session of the role for the caller's account; AccessDenied if not allowed."""
        seconds = MAX_SESSION if duration is None else duration
        if not MIN_SESSION <= seconds <= MAX_SESSION:
            raise SageMakerError("ValidationError", "The requested DurationSeconds exceeds the "
                                 "MaxSessionDuration set for this role.")  # fmt: skip
        with self._lock:
            role = self._roles.get(arn)
            allowed = (
                role is not None
                and caller in role.trusts
                and (role.external_id is None or role.external_id == external_id)
            )
            if not allowed:
                raise SageMakerError("AccessDenied", (
                    f"User: arn:aws:iam::{caller}:user/sagemaker-operator is not authorized to "
                    f"perform: sts:AssumeRole on resource: {arn}"), status=403)  # fmt: skip
            assert role is not None
            session = Session("ASIA" + secrets.token_hex(8).upper(), arn, role.account,
                              session_name, self.now() + seconds)  # fmt: skip
            self._sessions[session.access_key] = session
            return session

    def account_of(self, access_key: str | None) -> tuple[str, Session | None]:
        """The account a request signed with ``access_key`` acts in (and its session);
        ExpiredTokenException once the session has expired or was revoked."""
        if access_key is None or not access_key.startswith("ASIA"):
            return self.own_account, None
        with self._lock:
            session = self._sessions.get(access_key)
        if session is None or self.now() >= session.expires:
            raise SageMakerError(
                "ExpiredTokenException", "The security token included in the request is expired"
            )
        return session.account, session

    def clear(self) -> None:
        with self._lock:
            self._roles.clear()
            self._sessions.clear()
