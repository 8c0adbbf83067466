"""``actiondesk remote ...``: the remote providers' action lists."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from actiondesk.cli.support import TargetArg, fail, load_desk
from actiondesk.errors import ClientError, ConfigurationError

remote_app = typer.Typer(help="Remote providers: services whose actions this desk runs.",
                         no_args_is_help=True)
ProviderOpt = Annotated[str | None, typer.Option(help="Only this provider.")]


@remote_app.command("refresh")
def refresh(target: TargetArg, provider: ProviderOpt = None) -> None:
    """Fetch the providers' action lists now and store them: every running server uses them
    within seconds. Reports the actions found, the declarations skipped and why, and the
    providers that cannot be reached (exit status 1)."""
    desk = load_desk(target)

    async def work() -> list[dict[str, Any]]:
        try:
            await desk.datasource.connect()
            await desk.state.start()
            await desk.remote.refresh(provider)
            return desk.remote.status_json()
        finally:
            await desk.remote.stop()
            await desk.datasource.close()
            await desk.state.close()

    try:
        providers = asyncio.run(work())
    except ConfigurationError as exc:
        fail(exc.problems)
    except ClientError as exc:
        fail([exc.message])
    failed = False
    for state in providers:
        if provider is not None and state["name"] != provider:
            continue
        failed = failed or state["error"] is not None
        _show(state)
    if failed:
        raise typer.Exit(1)


def _show(state: dict[str, Any]) -> None:
    count = len(state["actions"])
    typer.echo(f"{state['name']}: {state['status']}, {count} action(s), "
               f"{len(state['skipped'])} skipped")
    if state["error"]:
        typer.echo(f"  error: {state['error']}")
    for action in state["actions"]:
        where = action["collection"] or "(global)"
        typer.echo(f"  {where}/{action['slug']}  {action['name']} [{action['scope']}]")
    for skipped in state["skipped"]:
        name = f" {skipped['name']!r}" if skipped["name"] else ""
        typer.echo(f"  skipped #{skipped['index']}{name}: {skipped['reason']}")
