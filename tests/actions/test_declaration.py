"""Declaration mistakes fail at once with a message that says what to change."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from actiondesk import Action, ActionContext, Condition, ConfigurationError, Desk, Scope
from actiondesk import fields as f
from tests.sample_schema import metadata


async def handler(ctx: ActionContext) -> None:
    return None


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    return Desk(database_url=f"sqlite:///{tmp_path / 'x.db'}",
                state_url=f"sqlite:///{tmp_path / 's.db'}", secret_key="k", models=[metadata])


def test_decorator_returns_a_frozen_spec(desk: Desk) -> None:
    spec = desk.action("companies", name="Mark as Live", description="Go live")(handler)
    assert isinstance(spec, Action)
    assert spec.slug == "mark-as-live" and spec.scope is Scope.SINGLE
    assert spec.collection == "companies" and spec.is_async
    with pytest.raises(AttributeError):
        spec.slug = "other"  # type: ignore[misc]
    assert desk.action(name="Ping")(handler).scope is Scope.GLOBAL


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"collection": None, "scope": "single"}, "needs a collection"),
        ({"collection": "companies", "scope": "several"}, "not one of single, bulk, global"),
        ({"collection": "ghosts"}, "unknown collection 'ghosts'"),
        ({"collection": "companies", "slug": "Bad Slug"}, "lowercase"),
        ({"collection": "companies", "form": [f.String("a"), f.Text("a")]}, "repeated: a"),
        ({"collection": "companies", "form": ["amount"]}, "must be form fields"),
        ({"collection": "companies", "form": [f.Reference("r", reference="ghosts")]},
         "unknown collection 'ghosts'"),
        ({"collection": "companies", "enabled_if": Condition("nope", "equal", 1)},
         "unknown field 'nope'"),
        ({"collection": "companies", "enabled_if": {"field": "status", "operator": "meh"}},
         "unknown filter operator"),
        ({"collection": None, "enabled_if": Condition("id", "equal", 1)}, "global action"),
    ],
)
def test_mistakes_fail_at_declaration(desk: Desk, kwargs: dict[str, Any], message: str) -> None:
    collection = kwargs.pop("collection")
    with pytest.raises(ConfigurationError, match=message):
        desk.action(collection, name="Thing", **kwargs)(handler)


def test_duplicate_slug_per_collection(desk: Desk) -> None:
    desk.action("companies", name="Go")(handler)
    desk.action("transactions", name="Go")(handler)
    with pytest.raises(ConfigurationError, match="slug 'go' is already used in collection"):
        desk.action("companies", name="Go!")(handler)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: f.form_field("x", "Colour"), "unknown type 'Colour'"),
        (lambda: f.Enum("x"), "needs enum_values"),
        (lambda: f.Reference("x"), "needs reference="),
        (lambda: f.String("x", reference="companies"), "only for reference fields"),
        (lambda: f.String("x", pattern="("), "not a valid regular expression"),
        (lambda: f.String("1x"), "letters, digits"),
        (lambda: f.String("x", colour="red"), "unknown option"),
        (lambda: f.jet_params([{"name": "x", "field": "ForeignKey"}]), "related_model"),
        (lambda: f.jet_params([{"name": "x"}]), "needs 'name' and 'field'"),
    ],
)
def test_form_field_mistakes(build: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        build()


def test_jet_params_map_to_fields() -> None:
    fields = f.jet_params(
        [
            {"name": "from_account", "field": "ForeignKey", "required": True,
             "params": {"related_model": {"model": "bank.account"}}},
            {"name": "amount", "field": "DecimalField", "required": True},
            {"name": "comment", "field": "TextField"},
            {"name": "when", "field": "DateTimeField", "verbose_name": "When"},
            {"name": "flag", "field": "BooleanField"},
            {"name": "n", "field": "IntegerField"},
            {"name": "day", "field": "DateField"},
        ],
        model_names={"bank.account": "accounts"},
    )
    assert [(x.name, x.type.value) for x in fields] == [
        ("from_account", "reference"), ("amount", "decimal"), ("comment", "text"),
        ("when", "datetime"), ("flag", "boolean"), ("n", "number"), ("day", "date_only"),
    ]
    assert fields[0].reference == "accounts" and fields[0].required is True
    assert fields[3].label == "When"


def test_reflected_collections_are_checked_at_start(tmp_path: Path) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'r.db'}")
    metadata.create_all(engine)
    engine.dispose()
    desk = Desk(database_url=f"sqlite:///{tmp_path / 'r.db'}",
                state_url=f"sqlite:///{tmp_path / 's.db'}", secret_key="k")
    desk.action("ghosts", name="Boo")(handler)
    desk.action("companies", name="Ref", form=[f.Reference("r", reference="phantoms")])(handler)
    problems = asyncio.run(desk.check())
    assert any("unknown collection 'ghosts'" in p for p in problems)
    assert any("'phantoms'" in p for p in problems)
