"""Shared pieces of the CLI sub-commands: loading the desk and running against its state."""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from actiondesk.errors import ClientError, ConfigurationError

if TYPE_CHECKING:
    from actiondesk.desk import Desk

T = TypeVar("T")

TargetArg = Annotated[
    str, typer.Argument(help="Where the desk is: MODULE:ATTR, e.g. myapp.admin:desk")
]


def load_target(target: str) -> Any:
    """Import ``MODULE:ATTR`` (the current directory is importable) and return the object."""
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise typer.BadParameter(f"{target!r} is not MODULE:ATTR, e.g. myapp.admin:desk")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ConfigurationError:
        raise
    except ImportError as exc:
        raise typer.BadParameter(f"cannot import {module_name!r}: {exc}") from exc
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise typer.BadParameter(f"module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def load_desk(target: str) -> Desk:
    from actiondesk.desk import Desk

    try:
        desk = load_target(target)
    except ConfigurationError as exc:
        fail(exc.problems)
    if not isinstance(desk, Desk):
        fail([f"{target} is a {type(desk).__name__}, not an actiondesk Desk"])
    return desk


def with_state(desk: Desk, work: Callable[[], Awaitable[T]]) -> T:
    async def run() -> T:
        try:
            await desk.state.start()
            return await work()
        finally:
            await desk.state.close()

    try:
        return asyncio.run(run())
    except ConfigurationError as exc:
        fail(exc.problems)
    except ClientError as exc:
        echo_client_error(exc)
        raise typer.Exit(1) from exc


def echo_client_error(exc: ClientError) -> None:
    """The error and the fields it names, on stderr."""
    typer.echo(f"error: {exc.message}", err=True)
    for name, problem in (exc.fields or {}).items():
        typer.echo(f"  {name}: {problem}", err=True)


def fail(problems: list[str]) -> NoReturn:
    typer.echo(f"{len(problems)} problem(s):", err=True)
    for problem in problems:
        typer.echo(f"  - {problem}", err=True)
    raise typer.Exit(1)


