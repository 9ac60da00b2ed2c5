"""The ``sagemaker-operator`` command line: ``run`` (the controller) and ``crd`` (its CRD and
admission policy). The development commands are the lab's (``sagemaker-lab``)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import typing
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from sagemaker_operator import __version__, api

if TYPE_CHECKING:
    from sagemaker_operator.settings import OperatorSettings

# Installed without the [controller] extra (the kubectl plugin alone), `run` says what is missing.
CONTROLLER_EXTRA = "pip install 'sagemaker-operator[controller]'"


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    # `run` loads no more than it runs: not the `kubernetes` package (controller_modules).
    if given[:1] == ["run"]:
        with contextlib.suppress(ModuleNotFoundError):  # without the extra: said below
            controller_modules()
    parser = _parser()
    arguments = parser.parse_args(given)
    if not hasattr(arguments, "run"):
        parser.print_help()
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    result: int = arguments.run(arguments)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sagemaker-operator",
        description="Run Amazon SageMaker training jobs from Kubernetes TrainingJob resources.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    operate = commands.add_parser(
        "run", help="run the operator (settings also from SAGEMAKER_OPERATOR_* variables)"
    )
    try:
        from sagemaker_operator.settings import OperatorSettings  # noqa: PLC0415 (the extra's)
    except ModuleNotFoundError as error:
        operate.set_defaults(run=_not_installed, missing=error.name)
    else:
        _settings_flags(operate, OperatorSettings)
        operate.set_defaults(run=_run_operator)

    crd = commands.add_parser(
        "crd", help=("print the TrainingJob CRD and its admission policy (kubectl apply -f -)")
    )
    crd.set_defaults(run=_print_crd)
    return parser


def _settings_flags(parser: argparse.ArgumentParser, settings: type[OperatorSettings]) -> None:
    """One flag per operator setting (--poll-interval for poll_interval, …), made from
    OperatorSettings itself so flags, environment variables and docs cannot drift."""
    for name, field in settings.model_fields.items():
        options: dict[str, Any] = {"help": field.description, "dest": name}
        annotation = field.annotation
        if typing.get_origin(annotation) is typing.Literal:
            options["choices"] = typing.get_args(annotation)
        elif name == "namespaces":
            options.update(action="append", dest=name, metavar="NAMESPACE",
                           help="a namespace to watch (repeatable; default: all)")  # fmt: skip
            parser.add_argument("--namespace", **options)
            continue
        else:
            kinds = [kind for kind in typing.get_args(annotation) or (annotation,)
                     if kind is not type(None)]  # fmt: skip
            options["type"] = kinds[0] if kinds and kinds[0] in (float, int, Path) else str
        parser.add_argument(f"--{name.replace('_', '-')}", **options)


def _not_installed(arguments: argparse.Namespace) -> int:
    print(f"sagemaker-operator run: {arguments.missing} is not installed: the controller's "
          f"dependencies come with {CONTROLLER_EXTRA}", file=sys.stderr)  # fmt: skip
    return 2


def controller_modules() -> tuple[type[Exception], ModuleType, type[OperatorSettings]]:
    """What `run` needs: pydantic's ValidationError, the controller's start and settings.

    kopf logs in with the `kubernetes` package when it finds it (installed for the plugin
    and the test platform); the operator has its own client (kube/), and `run` does not
    load that package's 30 MB: to kopf, it is not installed."""
    if "kubernetes" not in sys.modules:
        sys.modules["kubernetes"] = None  # type: ignore[assignment]
    # The controller's modules (kopf, pydantic-settings) load only for `run`.
    from pydantic import ValidationError  # noqa: PLC0415

    from sagemaker_operator.controller import operator  # noqa: PLC0415
    from sagemaker_operator.settings import OperatorSettings  # noqa: PLC0415

    return ValidationError, operator, OperatorSettings


def _run_operator(arguments: argparse.Namespace) -> int:
    ValidationError, operator, OperatorSettings = controller_modules()  # noqa: N806
    flags = {
        name: getattr(arguments, name)
        for name in OperatorSettings.model_fields
        if getattr(arguments, name, None) is not None
    }
    try:
        operator.run(OperatorSettings(**flags))
    except (ValidationError, operator.ConfigurationError) as error:
        print(f"sagemaker-operator run: {error}", file=sys.stderr)
        return 2
    return 0


def _print_crd(arguments: argparse.Namespace) -> int:
    sys.stdout.write(api.manifests())
    return 0
