"""``actiondesk permissions export / import``: roles, policies and action settings as a TOML
file, so they can be reviewed in version control.

The file holds one ``[[role]]`` table per role, one ``[[policy]]`` per policy and one
``[[action]]`` per action setting. Conditions are filters written as JSON text; a global
action has no ``collection`` key.
"""

from __future__ import annotations

import asyncio
import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from actiondesk.cli.support import TargetArg, echo_client_error, fail, load_desk, with_state
from actiondesk.errors import ClientError, ConfigurationError
from actiondesk.permissions.service import PermissionsService

if TYPE_CHECKING:
    from actiondesk.desk import Desk

permissions_app = typer.Typer(
    help="Roles, action policies and action settings, to and from a TOML file.",
    no_args_is_help=True,
)

FileArg = Annotated[Path, typer.Argument(help="The TOML file ('-' for standard output).")]

# TOML table name for each section of the exported data.
_TABLES = (("role", "roles"), ("policy", "policies"), ("action", "actions"))
_FILTER_KEYS = frozenset({"condition", "enabled_if"})
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_NOT_LITERAL = re.compile(r"['\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
            "\r": "\\r"}
_HEADER = """\
# actiondesk permissions: roles, action policies and action settings.
# Apply with: actiondesk permissions import MODULE:ATTR FILE [--merge]
# Conditions are filters in JSON text; a global action has no collection.
"""


def to_toml(data: Mapping[str, Any]) -> str:
    """TOML text of exported permissions (``PermissionsService.export_data``)."""
    lines = [_HEADER]
    for table, section in _TABLES:
        for entry in data.get(section, []):
            lines.append(f"[[{table}]]")
            for key, value in entry.items():
                if value is None:  # TOML has no null: an absent key reads back as None
                    continue
                if key in _FILTER_KEYS:
                    value = json.dumps(value, ensure_ascii=False)
                lines.append(f"{_key(key)} = {_value(value)}")
            lines.append("")
    return "\n".join(lines)


def from_toml(text: str) -> dict[str, Any]:
    """Exported permissions from TOML text, for ``PermissionsService.import_data``; a
    ConfigurationError if it is not TOML. The data itself is checked by the import."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"the file is not valid TOML: {exc}") from None
    # A file without [[action]] tables has no action settings, and so on.
    data: dict[str, Any] = {section: document.pop(table, []) for table, section in _TABLES}
    # Anything else is reported by the import's checks, with everything wrong in the data.
    data.update(document)
    return data


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"{type(value).__name__} has no TOML form here")


def _string(text: str) -> str:
    # JSON conditions read best without escaped quotes: a literal string when TOML allows.
    if ('"' in text or "\\" in text) and not _NOT_LITERAL.search(text):
        return f"'{text}'"
    out = []
    for char in text:
        code = ord(char)
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\\uFFFD")  # a lone surrogate has no UTF-8 form
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


@permissions_app.command("export")
def export(target: TargetArg, file: FileArg) -> None:
    """Write the roles, policies and action settings of the desk at MODULE:ATTR to FILE."""
    desk = load_desk(target)
    data = with_state(desk, PermissionsService(desk.state).export_data)
    text = to_toml(data)
    if str(file) == "-":
        typer.echo(text, nl=False)
        return
    try:
        file.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail([f"cannot write {file}: {exc.strerror or exc}"])
    typer.echo(f"exported {_counts(data)} to {file}")


@permissions_app.command("import")
def import_(
    target: TargetArg,
    file: Annotated[Path, typer.Argument(help="The TOML file, as written by export.")],
    merge: Annotated[
        bool,
        typer.Option("--merge", help="Keep the roles, policies and settings the file does "
                     "not mention (by default the file replaces them all)."),
    ] = False,
) -> None:
    """Check FILE against the desk at MODULE:ATTR (its actions and collections), then apply
    it; on any problem, print them all and apply nothing."""
    desk = load_desk(target)
    try:
        data = from_toml(file.read_text(encoding="utf-8"))
    except OSError as exc:
        fail([f"cannot read {file}: {exc.strerror or exc}"])
    except UnicodeDecodeError:
        fail([f"{file} is not UTF-8 text"])
    except ConfigurationError as exc:
        fail([f"{file}: {p}" for p in exc.problems])
    try:
        asyncio.run(_import(desk, data, replace=not merge))
    except ConfigurationError as exc:
        typer.echo(f"nothing was applied from {file}", err=True)
        fail(exc.problems)
    except ClientError as exc:  # e.g. it would leave no active admin
        typer.echo(f"nothing was applied from {file}", err=True)
        echo_client_error(exc)
        raise typer.Exit(1) from None
    how = "merged into" if merge else "replacing"
    typer.echo(f"imported {_counts(data)} ({how} the permissions before)")


async def _import(desk: Desk, data: Mapping[str, Any], *, replace: bool) -> None:
    try:
        await desk.start()
        await PermissionsService(desk.state).import_data(
            data,
            known_actions={(a.collection, a.slug) for a in desk.registry.all()},
            schemas=desk.datasource.collections,
            replace=replace,
        )
    finally:
        await desk.stop()


def _counts(data: Mapping[str, Any]) -> str:
    def count(section: str) -> int:
        entries = data.get(section)
        return len(entries) if isinstance(entries, list) else 0

    return (f"{count('roles')} role(s), {count('policies')} policy(ies), "
            f"{count('actions')} action setting(s)")
