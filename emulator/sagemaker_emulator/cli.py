"""``sagemaker-emulator`` (or ``python -m sagemaker_emulator``): the emulator served in the
foreground, for any client that takes an endpoint URL (boto3's ``endpoint_url``, the AWS
CLI's ``--endpoint-url``), until interrupted."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from sagemaker_emulator.jobs import PHASE_NAMES, PROFILES
from sagemaker_emulator.server import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, Emulator


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="sagemaker-emulator",
        description="Serve the SageMaker emulator (SageMaker, SQS, STS, CloudWatch Logs) until "
        "interrupted; its controls are under /_emulator/.",
    )
    add_arguments(parser)
    return serve(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default="fast",
        help="phase lengths: fast (seconds, for tests) or realistic (minutes)",
    )
    parser.add_argument(
        "--phase",
        action="append",
        default=[],
        metavar="NAME=SECONDS",
        help=f"override one phase's length; phases: {', '.join(PHASE_NAMES)}",
    )
    parser.add_argument("--account-id", default=DEFAULT_ACCOUNT_ID)
    parser.add_argument(
        "--region", default=DEFAULT_REGION, help="region for requests whose signature names none"
    )
    parser.add_argument(
        "--throttle-rate",
        type=float,
        default=0.0,
        help="probability of a ThrottlingException per call",
    )
    parser.add_argument(
        "--throttle-operations",
        default="",
        help="comma-separated operations to throttle (default: all)",
    )
    parser.add_argument(
        "--error-rate",
        type=float,
        default=0.0,
        help="probability of an HTTP 500 InternalFailure per call",
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds added to every SageMaker answer"
    )
    parser.add_argument(
        "--refuse-connections-for",
        type=float,
        default=0.0,
        help="refuse connections for this many seconds after start",
    )
    parser.add_argument("--seed", type=int, help="seed for the fault dice (reproducible runs)")


def _parse_phases(items: list[str]) -> dict[str, float]:
    phases: dict[str, float] = {}
    for item in items:
        name, separator, seconds = item.partition("=")
        try:
            phases[name] = float(seconds)
        except ValueError:
            separator = ""
        if not separator:
            raise SystemExit(f"--phase expects NAME=SECONDS, got {item!r}")
    return phases


def serve(arguments: argparse.Namespace) -> int:
    faults: dict[str, Any] = {
        "throttle_rate": arguments.throttle_rate,
        "error_rate": arguments.error_rate,
        "latency": arguments.latency,
        "throttle_operations": [op for op in arguments.throttle_operations.split(",") if op],
    }
    stop_on_sigterm()
    try:
        emulator = Emulator(
            arguments.host,
            arguments.port,
            profile=arguments.profile,
            phases=_parse_phases(arguments.phase),
            account_id=arguments.account_id,
            default_region=arguments.region,
            faults=faults,
            seed=arguments.seed,
        )
        emulator.start()
    except (ValueError, OSError) as error:
        print(f"sagemaker-emulator: {error}", file=sys.stderr)
        return 1
    print(
        f"SageMaker emulator listening on {emulator.endpoint_url} "
        f"(profile {arguments.profile}); controls under {emulator.endpoint_url}/_emulator/",
        flush=True,
    )
    if arguments.refuse_connections_for > 0:
        emulator.refuse_connections(arguments.refuse_connections_for)
    wait_until_interrupted()
    emulator.stop()
    return 0


def stop_on_sigterm() -> None:
    """From now on SIGTERM (a supervisor's stop) interrupts the main thread as Ctrl-C does,
    so what it started is stopped in order."""
    signal.signal(signal.SIGTERM, lambda *_: _interrupt())


def wait_until_interrupted() -> None:
    """Block the main thread until Ctrl-C (or SIGTERM, after ``stop_on_sigterm``)."""
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()


def _interrupt() -> None:
    raise KeyboardInterrupt
