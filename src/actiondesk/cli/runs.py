"""``actiondesk runs``: the audit of action runs, from the command line."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

import typer

from actiondesk.cli.support import TargetArg, load_desk, with_state
from actiondesk.runs.records import RunRecord

runs_app = typer.Typer(help="The audit of action runs.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]

_MESSAGE_WIDTH = 60
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@runs_app.command("list")
def list_runs(
    target: TargetArg,
    action: Annotated[str | None, typer.Option(help="Only this action (its slug).")] = None,
    caller: Annotated[str | None, typer.Option(help="Only this caller (id or email).")] = None,
    status: Annotated[
        str | None,
        typer.Option(help="Only this status: queued, running, succeeded, failed, error, refused, "
                     "cancelled or approval_requested."),
    ] = None,
    limit: Annotated[int, typer.Option(help="How many runs, newest first.", min=1, max=200)] = 20,
    as_json: JsonOpt = False,
) -> None:
    """List the latest runs of the desk at MODULE:ATTR."""
    desk = load_desk(target)
    runs, count = with_state(
        desk,
        lambda: desk.runs.list(action=action, caller=caller, status=status, page_size=limit),
    )
    if as_json:
        typer.echo(json.dumps({"runs": [r.to_json() for r in runs], "count": count}, indent=2))
        return
    if not runs:
        typer.echo("no runs")
        return
    typer.echo(_table(runs))
    typer.echo(f"{len(runs)} of {count} run(s)")


@runs_app.command("show")
def show_run(
    target: TargetArg,
    run_id: Annotated[str, typer.Argument(help="The run id (from `runs list`).")],
    as_json: JsonOpt = False,
) -> None:
    """Show everything recorded about one run."""
    desk = load_desk(target)
    run = with_state(desk, lambda: desk.runs.get(run_id))
    if as_json:
        typer.echo(json.dumps(run.to_json(), indent=2))
        return
    typer.echo(_details(run))


_HEADER = ("STARTED", "STATUS", "ACTION", "COLLECTION", "CALLER", "RECORDS", "DURATION",
           "MESSAGE")


def _row(run: RunRecord) -> tuple[str, ...]:
    cells = (
        run.started_at.strftime("%Y-%m-%d %H:%M:%S"),
        run.status,
        run.action_slug,
        run.collection or "-",
        str(run.caller.get("email") or run.caller.get("id") or "-"),
        "-" if run.record_count is None else str(run.record_count),
        _duration(run.duration_ms),
        _one_line(run.message or "", _MESSAGE_WIDTH),
    )
    return tuple(_safe(cell) for cell in cells)


def _table(runs: list[RunRecord]) -> str:
    rows = [_HEADER, *(_row(r) for r in runs)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _details(run: RunRecord) -> str:
    caller = run.caller
    who = str(caller.get("email") or "")
    if caller.get("id") is not None:
        who += f" (id {caller['id']})"
    lines = [
        f"run:          {run.id}",
        f"action:       {run.action_name} ({run.action_slug}, {run.scope})",
        f"collection:   {run.collection or '-'}",
        f"caller:       {who.strip()}",
        f"status:       {run.status}"
        + (f" (HTTP {run.status_code})" if run.status_code is not None else ""),
        f"result:       {run.result_kind or '-'}",
        "message:      " + (run.message or "-").replace("\n", "\n" + " " * 14),
        f"records:      {'-' if run.record_count is None else run.record_count}",
        f"started:      {run.started_at.isoformat()}",
        f"finished:     {run.finished_at.isoformat() if run.finished_at else '-'}",
        f"duration:     {_duration(run.duration_ms)}",
    ]
    if run.idempotency_key:
        lines.append(f"idempotency:  {run.idempotency_key}")
    if run.has_file:
        lines.append(f"file:         {run.result_filename} ({run.result_mime})")
    lines.append("selection:    " + _indented_json(run.selection))
    lines.append("values:       " + _indented_json(run.values))
    if run.result is not None:
        lines.append("response:     " + _indented_json(run.result))
    return _safe("\n".join(lines))


def _indented_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n" + " " * 14)


def _duration(ms: int | None) -> str:
    if ms is None:
        return "-"
    return f"{ms} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def _one_line(text: str, width: int) -> str:
    flat = " ".join(_safe(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _safe(text: str) -> str:
    # Recorded text comes from handlers and requests: keep terminal escapes out of the output.
    return _CONTROL.sub("?", text)
