"""``actiondesk users`` and ``actiondesk tokens``: accounts and API tokens."""

from __future__ import annotations

import datetime as dt
import re
import sys
from typing import Annotated

import typer

from actiondesk.cli.support import TargetArg, load_desk, with_state
from actiondesk.services.users import User

users_app = typer.Typer(help="Accounts: create, list, change role, (de)activate, sign out.",
                        no_args_is_help=True)
tokens_app = typer.Typer(help="Bearer tokens for scripts.", no_args_is_help=True)

EmailArg = Annotated[str, typer.Argument(help="The user's email.")]
_DURATION = re.compile(r"^(\d+)([mhd])$")


def parse_duration(text: str) -> dt.timedelta:
    """``90m``, ``12h``, ``30d``."""
    match = _DURATION.match(text.strip())
    if not match:
        raise typer.BadParameter(f"{text!r} is not a duration like 90m, 12h or 30d")
    amount, unit = int(match.group(1)), match.group(2)
    delta = {"m": dt.timedelta(minutes=amount), "h": dt.timedelta(hours=amount),
             "d": dt.timedelta(days=amount)}[unit]
    if not dt.timedelta(minutes=1) <= delta <= dt.timedelta(days=3650):
        raise typer.BadParameter("a token lives between 1 minute and 10 years")
    return delta


def _line(user: User) -> str:
    name = f"{user.first_name} {user.last_name}".strip() or "-"
    state = "active" if user.active else "inactive"
    return f"{user.email:<36} {user.role:<14} {state:<9} {user.team or '-':<14} {name}"


@users_app.command("create")
def create(
    target: TargetArg,
    email: EmailArg,
    role: Annotated[str, typer.Option(help="The user's role (it must exist).")],
    first_name: Annotated[str, typer.Option()] = "",
    last_name: Annotated[str, typer.Option()] = "",
    team: Annotated[str, typer.Option()] = "",
    password: Annotated[
        str | None,
        typer.Option(help="The password (8+ characters). Asked for when omitted on a "
                     "terminal; required when standard input is not one (scripts, CI)."),
    ] = None,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="No password: the account signs in only "
                           "with tokens.")
    ] = False,
) -> None:
    """Create a user of the desk at MODULE:ATTR."""
    desk = load_desk(target)
    if password is None and not no_password:
        password = ask_password("--no-password for an account that signs in only with tokens")
    user = with_state(desk, lambda: desk.users.create(
        email, role=role, password=password, first_name=first_name, last_name=last_name,
        team=team,
    ))
    typer.echo(f"created {user.email} ({user.role})")


def ask_password(alternative: str | None = None) -> str:
    """Prompt for a new password on a terminal; without one there is nobody to ask, so say
    which option to pass instead of failing on an empty read."""
    if not sys.stdin.isatty():
        also = f" (or {alternative})" if alternative else ""
        raise typer.BadParameter(
            "standard input is not a terminal, so the password cannot be asked for: pass "
            f"--password PASSWORD{also}",
            param_hint="'--password'",
        )
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@users_app.command("list")
def list_users(target: TargetArg) -> None:
    """List the users."""
    desk = load_desk(target)
    users = with_state(desk, desk.users.list)
    for user in users:
        typer.echo(_line(user))
    if not users:
        typer.echo("no users yet: actiondesk users create MODULE:ATTR EMAIL --role ROLE")


@users_app.command("set-role")
def set_role(target: TargetArg, email: EmailArg,
             role: Annotated[str, typer.Argument(help="The new role.")]) -> None:
    """Change a user's role (their sessions and tokens end)."""
    desk = load_desk(target)
    user = with_state(desk, lambda: desk.users.set_role(email, role))
    typer.echo(f"{user.email} is now {user.role}")


@users_app.command("deactivate")
def deactivate(target: TargetArg, email: EmailArg) -> None:
    """Deactivate a user: their sessions and tokens stop working at once."""
    desk = load_desk(target)
    user = with_state(desk, lambda: desk.users.deactivate(email))
    typer.echo(f"{user.email} is deactivated")


@users_app.command("activate")
def activate(target: TargetArg, email: EmailArg) -> None:
    """Activate a user again."""
    desk = load_desk(target)
    user = with_state(desk, lambda: desk.users.activate(email))
    typer.echo(f"{user.email} is active")


@users_app.command("sign-out")
def sign_out(target: TargetArg, email: EmailArg) -> None:
    """End every session and bearer token of a user at once (they may sign in again)."""
    desk = load_desk(target)
    user = with_state(desk, lambda: desk.users.sign_out_everywhere(email))
    typer.echo(f"{user.email} is signed out everywhere")


@users_app.command("set-password")
def set_password(
    target: TargetArg,
    email: EmailArg,
    password: Annotated[
        str | None,
        typer.Option(help="The new password. Asked for when omitted on a terminal; required "
                     "when standard input is not one."),
    ] = None,
) -> None:
    """Set a user's password (their sessions and tokens end)."""
    desk = load_desk(target)
    if password is None:
        password = ask_password()
    new_password = password
    user = with_state(desk, lambda: desk.users.set_password(email, new_password))
    typer.echo(f"password of {user.email} changed")


@tokens_app.command("create")
def create_token(
    target: TargetArg,
    user: Annotated[str, typer.Option("--user", help="The user's email.")],
    expires: Annotated[str, typer.Option(help="Lifetime: 90m, 12h, 30d.")] = "30d",
) -> None:
    """Print a bearer token for a user (send it as 'Authorization: Bearer <token>')."""
    desk = load_desk(target)
    lifetime = parse_duration(expires)
    account = with_state(desk, lambda: desk.users.require(user))
    if not account.active:
        typer.echo(f"{account.email} is deactivated", err=True)
        raise typer.Exit(1)
    typer.echo(desk.tokens.access(account, lifetime))


roles_app = typer.Typer(help="Roles: who reads which collections, who administers.",
                        no_args_is_help=True)


@roles_app.command("create")
def create_role(
    target: TargetArg,
    name: Annotated[str, typer.Argument(help="The role's name.")],
    admin: Annotated[bool, typer.Option("--admin", help="May use the settings API.")] = False,
    read_all: Annotated[bool, typer.Option("--read-all", help="Reads every collection.")] = False,
    read: Annotated[list[str] | None, typer.Option(help="A collection it may read "
                                                    "(repeat the option).")] = None,
    description: Annotated[str | None, typer.Option()] = None,
    export: Annotated[bool, typer.Option("--export", help="May export the lists it reads "
                                         "(CSV, JSON lines).")] = False,
) -> None:
    """Create or replace a role (policies per action: the settings API or
    `actiondesk permissions import`)."""
    from actiondesk.permissions.service import RoleSpec

    desk = load_desk(target)
    spec = RoleSpec(name, description, is_admin=admin, read_all=read_all,
                    readable=frozenset(read or ()), can_export=export)
    with_state(desk, lambda: desk.permissions.put_role(spec))
    typer.echo(f"role {name} saved")


@roles_app.command("list")
def list_roles(target: TargetArg) -> None:
    """List the roles."""
    desk = load_desk(target)
    for role in with_state(desk, desk.permissions.list_roles):
        reads = "everything" if role.read_all else ", ".join(sorted(role.readable)) or "nothing"
        exports = ", exports" if role.can_export else ""
        typer.echo(f"{role.name:<16} {'admin' if role.is_admin else '':<6} reads {reads}{exports}")
