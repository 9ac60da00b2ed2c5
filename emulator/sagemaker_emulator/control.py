"""A client for the emulator's ``/_emulator/`` test controls, over HTTP.

Works the same for an emulator in this process and one started with
``sagemaker-emulator`` elsewhere on this machine.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class EmulatorControlError(RuntimeError):
    pass


class EmulatorControl:
    def __init__(self, endpoint_url: str, timeout: float = 10.0) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")
        self.timeout = timeout

    def health(self) -> bool:
        try:
            return bool(self._call("GET", "health").get("ok"))
        except (OSError, EmulatorControlError):
            return False

    def stats(self) -> dict[str, Any]:
        """Calls per operation, outcomes per operation, the total, faults, number of jobs."""
        stats: dict[str, Any] = self._call("GET", "stats")
        return stats

    def calls(self, operation: str) -> int:
        return int(self.stats()["calls"].get(operation, 0))

    def reset(self) -> None:
        """Forget every job, fault, counter and clock change."""
        self._call("POST", "reset")

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        """Any of the fields of emulator.faults.Faults, and refuse_connections_for."""
        faults: dict[str, Any] = self._call("POST", "faults", settings)
        return faults

    def pause_clock(self) -> float:
        return float(self._call("POST", "clock", {"action": "pause"})["now"])

    def resume_clock(self) -> float:
        return float(self._call("POST", "clock", {"action": "resume"})["now"])

    def advance_clock(self, seconds: float) -> float:
        return float(self._call("POST", "clock", {"action": "advance", "seconds": seconds})["now"])

    def profile(self) -> dict[str, Any]:
        """The profile name and phase lengths used for new jobs."""
        answer: dict[str, Any] = self._call("GET", "profile")
        return answer

    def set_profile(self, profile: str, phases: dict[str, float] | None = None) -> dict[str, Any]:
        """Phase lengths for jobs created from now on."""
        answer: dict[str, Any] = self._call(
            "POST", "profile", {"profile": profile, "phases": phases or {}}
        )
        return answer

    def seed(self, count: int, region: str | None = None, years: float = 3.0) -> int:
        """Add ``count`` old Completed jobs (created over the last ``years``) to a region;
        returns how many jobs it holds."""
        payload: dict[str, Any] = {"count": count, "years": years}
        if region is not None:
            payload["region"] = region
        return int(self._call("POST", "seed", payload, timeout=300)["jobs"])

    def fail_job(
        self, name: str, reason: str, region: str | None = None, account: str | None = None
    ) -> None:
        payload: dict[str, Any] = {"reason": reason}
        if region is not None:
            payload["region"] = region
        if account is not None:
            payload["account"] = account
        self._call("POST", f"jobs/{name}/fail", payload)

    def jobs(self) -> dict[str, dict[str, list[str]]]:
        """Every job's name, by account and region."""
        accounts: dict[str, dict[str, list[str]]] = self.stats()["accounts"]
        return accounts

    def put_role(
        self, role_arn: str, *, external_id: str | None = None, trusts: list[str] | None = None
    ) -> dict[str, Any]:
        """A role that may be assumed (AssumeRole), by the accounts it trusts (default: the
        emulator's own), with this external id if given."""
        payload: dict[str, Any] = {"roleArn": role_arn}
        if external_id is not None:
            payload["externalId"] = external_id
        if trusts is not None:
            payload["trusts"] = trusts
        answer: dict[str, Any] = self._call("POST", "roles", payload)
        return answer

    def delete_role(self, role_arn: str, *, revoke: bool = False) -> None:
        """No new session of the role; with ``revoke``, its sessions end too."""
        self._call("POST", "roles", {"roleArn": role_arn, "delete": True, "revoke": revoke})

    def route_events(self, queue_url: str, **rule: str) -> dict[str, Any]:
        """An EventBridge rule: every training job state change of the queue's account and
        region (or ``account``, ``region``) goes to the queue from now on."""
        answer: dict[str, Any] = self._call("POST", "event-rules", {"queueUrl": queue_url, **rule})
        return answer

    def events_published(self) -> int:
        """How many state-change events reached a queue so far."""
        return int(self._call("GET", "event-rules")["published"])

    def _call(
        self, method: str, route: str, payload: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:  # fmt: skip
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(  # noqa: S310 - the URL is the emulator's own
            f"{self.endpoint_url}/_emulator/{route}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:  # noqa: S310
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            raise EmulatorControlError(
                f"{method} /_emulator/{route} answered {error.code}: {detail}"
            ) from error
