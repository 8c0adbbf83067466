"""Configuration mistakes in the built-in record actions fail at start-up, all at once, each
saying what to change; a declared action cannot take a built-in's slug."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa

from actiondesk import ActionContext, ConfigurationError, Desk, Editing
from tests.editing.editing_app import create_tables, metadata


def test_every_problem_is_reported(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'data.db'}"
    asyncio.run(create_tables(url))
    binary = sa.MetaData()
    sa.Table("blobs", binary, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("content", sa.LargeBinary))
    desk = Desk(database_url=url, state_url=f"sqlite:///{tmp_path / 's.db'}",
                secret_key="k", models=[metadata, binary], collections={
                    "nope": Editing(),
                    "items": {"fields": ["label", "colour"], "read_only": "label",
                              "edit_if": {"field": "shade", "operator": "equal", "value": 1}},
                    "blobs": Editing(fields=["content"]),
                })
    problems = asyncio.run(desk.check())
    assert any("unknown collection 'nope'" in p for p in problems), problems
    assert any("fields names unknown field 'colour'" in p for p in problems), problems
    assert any("read_only must be a list of field names" in p for p in problems), problems
    assert any("edit_if" in p and "shade" in p for p in problems), problems
    assert any("'content', a binary column" in p for p in problems), problems
    with pytest.raises(ConfigurationError, match="collection options"):
        desk.collection("items", colour=True)


def test_a_declared_action_cannot_take_a_built_in_slug(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'data.db'}"
    asyncio.run(create_tables(url))
    desk = Desk(database_url=url, state_url=f"sqlite:///{tmp_path / 's.db'}", secret_key="k",
                models=[metadata], collections={"owners": Editing()})

    @desk.action("owners", name="Edit")
    async def edit(ctx: ActionContext) -> None: ...

    with pytest.raises(ConfigurationError, match="slug 'edit' is already used"):
        asyncio.run(desk.start())
