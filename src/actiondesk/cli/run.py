"""``actiondesk run``, ``runs follow``, ``runs cancel`` and ``worker``: actions and background
runs from the command line.

``run`` executes an action as a user, with the same checks as the API (the user's role,
record conditions, form validation, approval rules). A background action is queued; with the
in-process runner this command also executes it (unless a server takes it first) and shows a
progress bar until it ends. Ctrl-C stops following: the run is handed back and resumed by a
server or worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import signal
import sys
import time
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from actiondesk.cli.runs import runs_app
from actiondesk.cli.support import TargetArg, echo_client_error, fail, load_desk
from actiondesk.errors import ClientError, ConfigurationError

if TYPE_CHECKING:
    from actiondesk.desk import Desk
    from actiondesk.permissions.access import Access
    from actiondesk.runs.executor import Outcome
    from actiondesk.runs.records import RunRecord

POLL_SECONDS = 0.5
BAR_WIDTH = 30

run_app = typer.Typer()


def _value(text: str) -> tuple[str, Any]:
    name, sep, raw = text.partition("=")
    if not sep or not name:
        raise typer.BadParameter(f"{text!r} is not NAME=VALUE", param_hint="--value")
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError:
        return name, raw
    # Numbers stay text (decimals keep their digits); lists, objects, booleans are JSON.
    return name, parsed if isinstance(parsed, list | dict | bool) or parsed is None else raw


@run_app.command("run")
def run(
    target: TargetArg,
    collection: Annotated[str, typer.Argument(help="The collection, or - for a global action.")],
    action: Annotated[str, typer.Argument(help="The action's slug, e.g. mark-as-live.")],
    as_user: Annotated[str, typer.Option("--as", help="Run as this user (email).")],
    ids: Annotated[list[str] | None, typer.Option(
        "--ids", help="Record ids (repeat, or comma-separated).")] = None,
    all_records: Annotated[bool, typer.Option(
        "--all", help="Every record matching --filter / --search.")] = False,
    filter_: Annotated[str | None, typer.Option(
        "--filter", help='A filter (JSON), e.g. {"field": "status", "operator": "equal", '
        '"value": "new"}.')] = None,
    search: Annotated[str | None, typer.Option(help="Search text, with --all.")] = None,
    values: Annotated[list[str] | None, typer.Option(
        "--value", help="A form value NAME=VALUE (repeat).")] = None,
    follow: Annotated[bool, typer.Option(
        "--follow/--no-follow", help="Show progress until a background run ends.")] = True,
) -> None:
    """Run ACTION on COLLECTION as a user; follow a background run with a progress bar."""
    from actiondesk.actions.document import ActionRequest
    from actiondesk.data.filters import parse_filter
    from actiondesk.errors import FilterError

    chosen = tuple(i.strip() for item in ids or [] for i in item.split(",") if i.strip())
    if (filter_ or search) and not all_records:
        raise typer.BadParameter("--filter and --search select records with --all")
    if chosen and all_records:
        raise typer.BadParameter("give --ids or --all, not both")
    subset = None
    if filter_:
        try:
            subset = parse_filter(json.loads(filter_))
        except (json.JSONDecodeError, FilterError) as exc:
            raise typer.BadParameter(f"not a filter: {exc}", param_hint="--filter") from exc
    request = ActionRequest(
        ids=chosen, all_records=all_records, subset_filter=subset, search=search or None,
        values=dict(_value(v) for v in values or []),
    )
    desk = load_desk(target)
    code = _run_async(desk, _run(desk, None if collection == "-" else collection, action,
                                 request, as_user, follow))
    raise typer.Exit(code)


async def _access(desk: Desk, email: str) -> Access:
    from actiondesk.permissions.access import Access

    user = await desk.users.by_email(email)
    if user is None or not user.active:
        raise ClientError(f"no active user {email!r}")
    snapshot = await desk.permissions.snapshot()
    return Access(caller=user.caller(), snapshot=snapshot, dev_mode=desk.permissions.dev_mode)


async def _run(
    desk: Desk, collection: str | None, slug: str, request: Any, email: str, follow: bool
) -> int:
    access = await _access(desk, email)
    outcome = await desk.actions.execute(collection, slug, request, access)
    rendered = outcome.rendered
    if rendered.kind == "approval":
        approval = (rendered.body or {}).get("approval", {})
        typer.echo(f"{rendered.message}: approval request {approval.get('id')}")
        return 0
    if rendered.kind != "queued":
        _print_result(outcome)
        return 0 if rendered.status < 400 else 1
    typer.echo(f"run {outcome.run_id} queued "
               f"(follow it: actiondesk runs follow <app> {outcome.run_id})")
    if not follow:
        return 0
    worker = None
    if desk.background.config.runner == "inprocess":
        # No server may be running: execute it here unless one claims it first.
        worker = asyncio.create_task(desk.background.run_here(outcome.run_id))
    try:
        run = await _follow(desk, outcome.run_id, sys.stdout)
    finally:
        if worker is not None:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await worker
    return 0 if run.status == "succeeded" else 1


def _print_result(outcome: Outcome) -> None:
    rendered = outcome.rendered
    if rendered.file is not None:
        typer.echo(f"{rendered.status} file {rendered.file.filename} (run {outcome.run_id})")
        return
    body = json.dumps(rendered.body) if rendered.body is not None else "(no content)"
    typer.echo(f"{rendered.status} {body} (run {outcome.run_id})")


async def _follow(desk: Desk, run_id: str, out: TextIO) -> RunRecord:
    """Show the run's progress until it ends; the finished run."""
    bar = ProgressBar(out)
    while True:
        run = await desk.runs.get(run_id)
        bar.show(run)
        if run.finished:
            bar.close(run)
            return run
        await asyncio.sleep(POLL_SECONDS)


class ProgressBar:
    """One line redrawn in place on a terminal; elsewhere a line per change (at most one a
    second), so logs stay readable."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self.last = ""
        self.printed_at = 0.0

    def show(self, run: RunRecord) -> None:
        line = render_progress(run)
        if line == self.last:
            return
        if self.tty:
            self.out.write("\r\x1b[2K" + line)
            self.out.flush()
        elif time.monotonic() - self.printed_at >= 1.0 or run.finished:
            self.out.write(line + "\n")
            self.out.flush()
            self.printed_at = time.monotonic()
        self.last = line

    def close(self, run: RunRecord) -> None:
        if self.tty:
            self.out.write("\n")
        message = f": {run.message}" if run.message else ""
        self.out.write(f"run {run.id} {run.status}{message}\n")
        self.out.flush()


def render_progress(run: RunRecord) -> str:
    progress = run.to_json()["progress"] or {}
    done, total = progress.get("done") or 0, progress.get("total")
    if total:
        filled = min(BAR_WIDTH, round(BAR_WIDTH * done / total))
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        head = f"[{bar}] {progress['percent']:5.1f}% {done:,}/{total:,}"
    else:
        head = f"{done:,} done"
    rate = progress.get("rate")
    tail = f" {rate:,.0f}/s" if rate else ""
    if progress.get("eta_seconds") is not None:
        tail += f" ETA {_seconds(progress['eta_seconds'])}"
    return f"{head}{tail} {run.status}"


def _seconds(value: float) -> str:
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def _run_async(desk: Desk, work: Any, *, runner: bool = False) -> int:
    async def main() -> int:
        try:
            await desk.start(runner=runner)
            result: int = await work
            return result
        finally:
            await desk.stop()

    try:
        return asyncio.run(main())
    except ConfigurationError as exc:
        fail(exc.problems)
    except ClientError as exc:
        echo_client_error(exc)
        return 1
    except KeyboardInterrupt:
        typer.echo("\nstopped following; the run goes on (actiondesk runs follow ...)", err=True)
        return 130


@runs_app.command("follow")
def follow_run(
    target: TargetArg,
    run_id: Annotated[str, typer.Argument(help="The run id.")],
) -> None:
    """Show a run's progress bar until it ends (exit code 0 when it succeeded)."""
    desk = load_desk(target)

    async def work() -> int:
        run = await _follow(desk, run_id, sys.stdout)
        return 0 if run.status == "succeeded" else 1

    raise typer.Exit(_run_async(desk, work()))


@runs_app.command("cancel")
def cancel_run(
    target: TargetArg,
    run_id: Annotated[str, typer.Argument(help="The run id.")],
    as_user: Annotated[str, typer.Option("--as", help="Cancel as this user (the run's caller "
                                         "or an admin).")],
) -> None:
    """Cancel a background run: a queued one at once, a running one after its batch."""
    desk = load_desk(target)

    async def work() -> int:
        run = await desk.background.cancel(run_id, await _access(desk, as_user))
        state = "cancel requested" if run.status == "running" else run.status
        typer.echo(f"run {run.id}: {state}")
        return 0

    raise typer.Exit(_run_async(desk, work()))


@run_app.command("worker")
def worker(
    target: TargetArg,
    concurrency: Annotated[int | None, typer.Option(
        help="Runs at once (default: the desk's runner_concurrency).", min=1)] = None,
) -> None:
    """Execute background runs of the desk until stopped (SIGINT / SIGTERM): Procrastinate
    workers with runner='procrastinate', else the in-process runner without a web server."""
    desk = load_desk(target)
    config = desk.background.config
    slots = concurrency or config.concurrency

    async def work() -> int:
        runner = desk.background.runner
        typer.echo(f"actiondesk worker {desk.background.owner}: runner {runner.name}, "
                   f"{slots} at once, lease {config.lease.total_seconds():g} s")
        warner = asyncio.create_task(_warn_unserved(desk))
        try:
            if runner.name == "procrastinate":
                from actiondesk.background.procrastinate import ProcrastinateRunner

                assert isinstance(runner, ProcrastinateRunner)  # noqa: S101
                await runner.work(slots)
            else:
                stop = asyncio.Event()
                loop = asyncio.get_running_loop()
                for signum in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(signum, stop.set)
                await stop.wait()
        finally:
            warner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await warner
        return 0

    if config.runner == "inprocess" and concurrency is not None:
        desk.background.runner.concurrency = concurrency  # type: ignore[attr-defined]
    raise typer.Exit(_run_async(desk, work(), runner=config.runner == "inprocess"))


async def _warn_unserved(desk: Desk) -> None:
    """At start and every lease while it lasts: a warning on stderr for runs queued for a
    runner this worker does not serve (it would otherwise do nothing, silently). The same
    warning is repeated every ten checks, a changed one at once."""
    every = max(desk.background.config.lease.total_seconds(), 1.0)
    last: list[str] = []
    checks = 0
    while True:
        try:
            found = await desk.background.unserved(dt.timedelta(0))
        except Exception:  # the state database is away; the runner reports that itself
            found = last
        checks = 0 if found != last else checks + 1
        if found and checks % 10 == 0:
            for warning in found:
                typer.echo(f"WARNING: {warning}", err=True)
        last = found
        await asyncio.sleep(every)
