"""Display declarations: frozen, checked at declaration time (or on start for reflected
tables) with DisplayError naming what to change; defaults for everything not declared."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import runpy
from pathlib import Path

import pytest
import sqlalchemy as sa

from actiondesk import CollectionDisplay, ConfigurationError, Desk, DisplayError, FieldDisplay
from actiondesk.data.display import humanize, template_fields
from actiondesk.data.presentation import default_record_label, resolve
from actiondesk.data.schema import Collection, field_from_column
from tests.auth_support import client, token_for
from tests.doc_blocks import blocks, section
from tests.live_server import live_server
from tests.sample_schema import create_and_seed, metadata


def desk(url: str = "sqlite:///:memory:", **options: object) -> Desk:
    return Desk(database_url=url, secret_key="test-secret", **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(("given", "message"), [
    ({"format": "currency"}, "format 'currency' is not one of text, number, money"),
    ({"format": "money"}, "needs either currency='EUR'"),
    ({"format": "money", "currency": "EUR", "currency_field": "code"}, "one of them"),
    ({"format": "money", "currency": "euro"}, "is not an ISO 4217 code"),
    ({"currency": "EUR"}, "go with format='money'"),
    ({"format": "number", "decimals": 11}, "decimals must be a whole number from 0 to 10"),
    ({"format": "number", "decimals": True}, "decimals must be a whole number"),
    ({"enum_labels": {"live": 1}}, "enum_labels maps stored values (text) to labels (text)"),
])
def test_a_field_declaration_that_cannot_work_fails_where_it_is_written(
    given: dict[str, object], message: str
) -> None:
    with pytest.raises(DisplayError, match=message.replace("(", r"\(").replace(")", r"\)")):
        FieldDisplay(**given)  # type: ignore[arg-type]


@pytest.mark.parametrize(("template", "message"), [
    ("{company.name}", "write fields as {name} only"),
    ("{0}", "write fields as {name} only"),
    ("{name!r}", "write fields as {name} only"),
    ("{amount:.2f}", "write fields as {name} only"),
    ("{name", "is not a valid template"),
    ("", "record_label is empty"),
])
def test_a_record_label_template_takes_plain_field_names(template: str, message: str) -> None:
    with pytest.raises(DisplayError, match=message.replace("{", r"\{").replace("}", r"\}")):
        CollectionDisplay("companies", record_label=template)


def test_declarations_are_frozen() -> None:
    spec = FieldDisplay(enum_labels={"live": "Live"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.label = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        spec.enum_labels["live"] = "Up"  # type: ignore[index]
    collection = CollectionDisplay("companies", fields={"status": spec})
    with pytest.raises(TypeError):
        collection.fields["name"] = FieldDisplay()  # type: ignore[index]
    with pytest.raises(DisplayError, match=r"fields\['name'\] must be a FieldDisplay, not str"):
        CollectionDisplay("companies", fields={"name": "Name"})  # type: ignore[dict-item]
    assert isinstance(DisplayError("x"), ConfigurationError)


def test_with_models_mistakes_fail_at_declaration() -> None:
    d = desk(models=[metadata])
    with pytest.raises(DisplayError, match="display: no collection 'firms'"):
        d.display("firms")
    with pytest.raises(DisplayError, match="display of 'companies': no field 'turnover'"):
        d.display("companies", fields={"turnover": FieldDisplay(label="Turnover")})
    unknown = re.escape("record_label '{name} {city}' names no field 'city'")
    with pytest.raises(DisplayError, match=unknown):
        d.display("companies", record_label="{name} {city}")
    with pytest.raises(DisplayError, match="takes its currency from 'currency', which is no"):
        d.display("companies", fields={
            "capital": FieldDisplay(format="money", currency_field="currency")})
    with pytest.raises(DisplayError, match="enum_labels of 'status' name values it does not "
                                           "have: closed"):
        d.display("companies", fields={"status": FieldDisplay(enum_labels={"closed": "x"})})
    with pytest.raises(DisplayError, match="'name' is a string field; format 'money' needs"):
        d.display("companies", fields={"name": FieldDisplay(format="money", currency="EUR")})
    declared = d.display("companies", label="Firms")
    assert declared == CollectionDisplay("companies", label="Firms")
    with pytest.raises(DisplayError, match="the display of 'companies' is declared twice"):
        d.display("companies")


def test_reflected_tables_are_checked_on_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'data.db'}"
    asyncio.run(create_and_seed(url))
    d = desk(url, state_url=f"sqlite:///{tmp_path / 'state.db'}")
    d.display("companies", fields={"turnover": FieldDisplay(label="Turnover")})
    d.display("firms")
    problems = asyncio.run(d.check())
    assert any("no field 'turnover'" in p for p in problems), problems
    assert any("display: no collection 'firms'" in p for p in problems), problems
    with pytest.raises(DisplayError):
        asyncio.run(d.start())


@pytest.mark.parametrize(("name", "shown"), [
    ("stripe_id", "Stripe ID"), ("created_at", "Created at"), ("SupportRepId", "Support rep ID"),
    ("emitter_iban", "Emitter IBAN"), ("to_validate", "To validate"), ("EUR", "EUR"),
    ("firstname", "Firstname"), ("image-url", "Image URL"),
])
def test_names_are_humanised(name: str, shown: str) -> None:
    assert humanize(name) == shown


def table(*columns: sa.Column[object]) -> Collection:
    t = sa.Table("t", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), *columns)
    return Collection("t", t, {c.name: field_from_column(c) for c in t.columns}, ("id",), {})


def test_the_default_record_label() -> None:
    assert default_record_label(table(sa.Column("Email", sa.String), sa.Column("Title",
                                                                                 sa.String))) \
        == "Title"
    assert default_record_label(table(sa.Column("first_name", sa.String),
                                      sa.Column("last_name", sa.String))) \
        == "{first_name} {last_name}"
    assert default_record_label(table(sa.Column("name", sa.Integer))) is None  # not text
    plain = table(sa.Column("amount", sa.Numeric))
    presentation, problems = resolve(plain, None)
    assert problems == [] and presentation.label_of({"amount": 3}, "7") == "#7"


def test_labels_are_one_line_of_bounded_length() -> None:
    people = table(sa.Column("firstname", sa.String), sa.Column("lastname", sa.String))
    presentation = resolve(people, CollectionDisplay("t", record_label="{firstname} {lastname}"))[0]
    assert presentation.label_of({"firstname": "Ada", "lastname": None}, "1") == "Ada"
    assert presentation.label_of({"firstname": None, "lastname": None}, "1") == "#1"
    assert presentation.label_of({"firstname": " Ada\n", "lastname": "Lovelace"}, "1") \
        == "Ada Lovelace"
    long = presentation.label_of({"firstname": "x" * 500, "lastname": ""}, "1")
    assert len(long) == 120 and long.endswith("…")
    assert template_fields("{a} {b} {a}") == ("a", "b")


def test_the_readme_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = section("## Readable values")
    (example,) = blocks(text, "python")
    (shown,) = blocks(text, "json")
    url = f"sqlite:///{tmp_path / 'data.db'}"
    asyncio.run(create_and_seed(url))
    monkeypatch.setenv("ACTIONDESK_DATABASE_URL", url)
    monkeypatch.setenv("ACTIONDESK_STATE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    monkeypatch.setenv("ACTIONDESK_SECRET_KEY", "readme-example-secret-key-0123456789")
    script = tmp_path / "readme_readable.py"
    script.write_text(example.text, encoding="utf-8")
    d: Desk = runpy.run_path(str(script))["desk"]
    assert asyncio.run(d.check()) == []
    token = token_for(d)
    with live_server(d) as base, client(base + "/api", token) as api:
        page = api.get("/collections/transactions/records", params={"page_size": 1}).json()
        expected = json.loads(shown.text)
        assert page["records"] == expected["records"]
        assert page["references"] == expected["references"]
        companies = api.get("/collections/companies").json()
        assert companies["label"] == "Firms"
        fields = {f["name"]: f for f in companies["fields"]}
        assert fields["capital"]["currency"] == "EUR"
        assert fields["created_at"]["label"] == "Since"
        counted = api.get("/collections", params={"counts": "true"}).json()["collections"]
        assert {c["name"]: c["count"] for c in counted}["companies"] == 30
