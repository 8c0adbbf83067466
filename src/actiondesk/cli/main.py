"""The ``actiondesk`` command line."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer

from actiondesk.cli.permissions import permissions_app
from actiondesk.cli.remote import remote_app
from actiondesk.cli.run import run_app
from actiondesk.cli.runs import runs_app
from actiondesk.cli.support import TargetArg, load_target
from actiondesk.cli.users import roles_app, tokens_app, users_app
from actiondesk.desk import Desk
from actiondesk.settings import NO_SECRET_KEY

app = typer.Typer(
    name="actiondesk",
    help="actiondesk: an admin panel whose centre is business actions on records.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(runs_app, name="runs")
app.add_typer(run_app)  # run, worker (and runs follow / cancel)
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(roles_app, name="roles")
app.add_typer(permissions_app, name="permissions")
app.add_typer(remote_app, name="remote")

HostOpt = Annotated[str, typer.Option(help="Address to listen on.")]
PortOpt = Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)]


@app.command()
def serve(
    target: TargetArg,
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    reload: Annotated[bool, typer.Option(help="Restart when code changes (development).")] = False,
    workers: Annotated[int, typer.Option(
        help="Server processes sharing the port (each with its own event loop); they need "
             "a shared secret key and state database.", min=1)] = 1,
    forwarded_allow_ips: Annotated[str | None, typer.Option(
        help="Addresses of reverse proxies whose X-Forwarded-For/-Proto headers are trusted "
             "(comma-separated, or * behind a private network); default: 127.0.0.1 or "
             "$FORWARDED_ALLOW_IPS.")] = None,
) -> None:
    """Run the desk (or any ASGI app) at MODULE:ATTR with uvicorn."""
    import uvicorn

    options: dict[str, Any] = {"host": host, "port": port,
                               "forwarded_allow_ips": forwarded_allow_ips}
    if reload or workers > 1:
        # uvicorn imports the app itself in each process (or after each change).
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        if workers > 1:
            check_shareable(target)
        uvicorn.run(target, reload=reload, workers=None if reload else workers, **options)
        return
    uvicorn.run(load_target(target), **options)


def check_shareable(target: str) -> None:
    """Several processes must sign sessions and tokens with one key: a desk whose key is
    random per process would reject every other process's sessions at random."""
    from actiondesk.cli.support import fail

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        app = load_target(target)
    for warning in caught:
        if str(warning.message).startswith(NO_SECRET_KEY):
            fail([f"{target} has no secret key: with --workers every process would sign "
                  "sessions with a random key of its own and refuse the others'; set "
                  "ACTIONDESK_SECRET_KEY (or secret_key=) to one shared key"])
        warnings.warn_explicit(warning.message, warning.category, warning.filename,
                               warning.lineno)
    del app


@app.command()
def check(target: TargetArg) -> None:
    """Report every configuration problem of the desk at MODULE:ATTR, all at once."""
    from actiondesk.cli.support import load_desk

    desk = load_desk(target)
    problems = asyncio.run(_check(desk))
    for note in desk.datasource.notes:
        typer.echo(f"note: {note}")
    if problems:
        _report(problems)
        raise typer.Exit(1)
    names = ", ".join(desk.datasource.collections) or "none"
    typer.echo(f"ok: {len(desk.datasource.collections)} collections ({names})")


async def _check(desk: Desk) -> list[str]:
    problems = await desk.check()
    # Runs waiting longer than a lease for a runner nobody serves (or no worker at all).
    try:
        await desk.state.start()
        problems.extend(await desk.background.unserved(desk.background.config.lease,
                                                       workers=True))
    except Exception:  # noqa: S110 - an unreachable state database is reported above
        pass
    finally:
        await desk.state.close()
    return problems


@app.command()
def migrate(target: TargetArg) -> None:
    """Bring the state database of the desk at MODULE:ATTR up to date (safe to repeat)."""
    from actiondesk.cli.support import load_desk, with_state
    from actiondesk.data.urls import redact

    desk = load_desk(target)
    revision = with_state(desk, desk.state.revision)
    typer.echo(f"state database {redact(desk.state.url)} is at revision {revision} (latest)")


def _report(problems: list[str]) -> None:
    from actiondesk.cli.support import fail

    fail(problems)


@app.command()
def demo(
    path: Annotated[Path, typer.Option(help="The demo SQLite database file.")] = Path(
        "actiondesk-demo.db"
    ),
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    serve_: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Start the server after seeding.")
    ] = True,
    print_token: Annotated[
        bool, typer.Option("--print-token", help="Print a bearer token for a demo user "
                           "(--user) on standard output and exit, without serving; it is "
                           "valid for the demo server on the same --path.")
    ] = False,
    user: Annotated[
        str, typer.Option(help="With --print-token: the demo user, by role (admin, support, "
                          "manager) or email.")
    ] = "admin",
    expires: Annotated[
        str, typer.Option(help="With --print-token: the token's lifetime (90m, 12h, 30d).")
    ] = "12h",
) -> None:
    """Create and seed the demo database if absent, then start the server on it."""
    import uvicorn

    from actiondesk.cli.users import parse_duration
    from actiondesk.data.urls import to_async_url
    from actiondesk.demo.access import find_login
    from actiondesk.demo.app import create_demo_desk, demo_database_url, demo_secret
    from actiondesk.demo.seed import DEMO_COUNTS, seed_demo

    login = find_login(user)
    if login is None:
        raise typer.BadParameter(
            f"no demo user {user!r}: give admin, support, manager or one of their emails",
            param_hint="'--user'",
        )
    lifetime = parse_duration(expires)
    async_url = to_async_url(demo_database_url(path)).render_as_string(hide_password=False)
    seeded = asyncio.run(seed_demo(async_url))
    rows = sum(DEMO_COUNTS.values())
    typer.echo(
        f"demo database: {path} ({'seeded with' if seeded else 'already holds'} "
        f"{rows:,} rows in {len(DEMO_COUNTS)} tables)",
        err=print_token,  # standard output is the token alone: TOKEN=$(actiondesk demo ...)
    )
    if not serve_ and not print_token:
        return
    desk = create_demo_desk(path, secret_key=os.environ.get("ACTIONDESK_SECRET_KEY")
                            or demo_secret(path))
    if print_token:
        typer.echo(asyncio.run(_demo_token(desk, login.email, lifetime)))
        return
    logins = asyncio.run(_prepare_demo(desk))
    url = f"http://{host}:{port}/"
    typer.echo(f"actiondesk demo: {url}  (API docs: {url}api/docs)")
    typer.echo("logins (demo only), with what each role may do under the policies in force:")
    for line in logins:
        typer.echo(line)
    uvicorn.run(desk, host=host, port=port, log_level="info")


async def _prepare_demo(desk: Desk) -> list[str]:
    """Seed the demo's roles, policies and users if absent; the logins to print."""
    from actiondesk.demo.access import describe_logins, seed_demo_access

    await desk.start()
    try:
        await seed_demo_access(desk)
        return await describe_logins(desk)
    finally:
        await desk.stop()


async def _demo_token(desk: Desk, email: str, lifetime: dt.timedelta) -> str:
    from actiondesk.demo.access import seed_demo_access

    await desk.start()
    try:
        await seed_demo_access(desk)
        account = await desk.users.require(email)
        return desk.tokens.access(account, lifetime)
    finally:
        await desk.stop()


def main() -> None:
    app()
