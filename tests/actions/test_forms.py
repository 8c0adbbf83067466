"""Forms: every field type validated on the server, dynamic properties, load and change."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from tests.support import execute, jsonapi, refused


def data_url(content: bytes, name: str = "a.txt", mime: str = "text/plain") -> str:
    return f"data:{mime};name={name};base64," + base64.b64encode(content).decode()


def echo(api: httpx.Client, values: dict[str, Any]) -> httpx.Response:
    return execute(api, "echo", jsonapi(["2"], {"s": "abc", **values}))


def test_every_field_type_arrives_typed(actions_api: httpx.Client) -> None:
    values = {
        "s": "abc", "t": "two\nlines", "n": 42, "d": "12.50", "b": True,
        "date": "2026-03-01T10:00:00Z", "day": "2026-03-01", "time": "09:30",
        "dt": "2026-03-01T10:00:00+02:00", "e": "high", "j": {"k": [1, 2]},
        "file": data_url(b"hello", "../../etc/passwd"),
        "files": [data_url(b"one", "1.txt"), {"filename": "2.bin", "mime":
                  "application/octet-stream", "content": base64.b64encode(b"two").decode()}],
        "sl": ["x", "y"], "nl": [1, 2.5], "el": ["a", "b"], "ref": "7",
        "password": "hunter2", "fixed": "locked",
    }
    response = echo(actions_api, values)
    assert response.status_code == 200, response.text
    got = json.loads(response.json()["success"])
    assert got["s"] == ["str", "abc"]
    assert got["n"] == ["int", "42"]
    assert got["d"] == ["Decimal", "12.50"]
    assert got["b"] == ["bool", "True"]
    assert got["date"] == ["datetime", "2026-03-01 10:00:00+00:00"]
    assert got["day"] == ["date", "2026-03-01"]
    assert got["time"] == ["time", "09:30:00"]
    assert got["dt"] == ["datetime", "2026-03-01 10:00:00+02:00"]
    assert got["e"] == ["str", "high"]
    assert got["j"] == ["dict", "{'k': [1, 2]}"]
    assert got["file"] == ["FileValue", "passwd", "text/plain", "hello"]
    assert got["files"] == [["FileValue", "1.txt", "text/plain", "one"],
                            ["FileValue", "2.bin", "application/octet-stream", "two"]]
    assert got["nl"] == [["int", "1"], ["float", "2.5"]]
    assert got["ref"] == ["str", "7"]
    assert got["fixed"] == ["str", "locked"]
    assert got["password_length"] == 7
    audit = actions_api.get(f"/runs/{response.headers['x-actiondesk-run-id']}").json()
    assert audit["values"]["password"] == "[redacted]"
    assert audit["values"]["file"] == {"filename": "passwd", "mime": "text/plain", "size": 5}
    assert audit["values"]["d"] == "12.50"
    assert "hunter2" not in json.dumps(audit)


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"s": None}, "s", "is required"),
        ({"s": ""}, "s", "is required"),
        ({"s": "a"}, "s", "at least 2"),
        ({"s": "abcdefghijk"}, "s", "at most 10"),
        ({"s": "ABC"}, "s", "format"),
        ({"s": 5}, "s", "must be text"),
        ({"n": "many"}, "n", "must be a number"),
        ({"n": True}, "n", "must be a number"),
        ({"n": 101}, "n", "at most 100"),
        ({"n": -1}, "n", "at least 0"),
        ({"d": "1e999999"}, "d", "at most 1000"),
        ({"d": "NaN"}, "d", "finite"),
        ({"d": "0"}, "d", "at least 0.01"),
        ({"d": "abc"}, "d", "decimal"),
        ({"b": "yes"}, "b", "true or false"),
        ({"date": "tomorrow"}, "date", "date and time"),
        ({"day": "2019-12-31"}, "day", "at least 2020-01-01"),
        ({"day": "31/12/2020"}, "day", "YYYY-MM-DD"),
        ({"time": "25:00"}, "time", "time"),
        ({"e": "medium"}, "e", "one of: low, high"),
        ({"file": "not a data url"}, "file", "data URL"),
        ({"file": data_url(b"x" * 1001)}, "file", "larger than the limit of 1,000 bytes"),
        ({"file": "data:text/plain;base64,@@@"}, "file", "base64"),
        ({"files": [data_url(b"ok"), 3]}, "files", "item 2"),
        ({"sl": ["a", "b", "c", "d"]}, "sl", "at most 3 items"),
        ({"sl": "a,b"}, "sl", "must be a list"),
        ({"nl": [1, "x"]}, "nl", "item 2 must be a number"),
        ({"el": ["a", "z"]}, "el", "item 2"),
        ({"ref": "999"}, "ref", "no record '999' in companies"),
        ({"ref": "abc"}, "ref", "no record"),
        ({"fixed": "unlocked"}, "fixed", "read-only"),
        ({"surprise": 1}, "surprise", "not a field"),
    ],
)
def test_bad_values_are_422_naming_the_field(
    actions_api: httpx.Client, values: dict[str, Any], field: str, message: str
) -> None:
    body = refused(echo(actions_api, values), 422)
    assert message in body["fields"][field], body
    # Nothing ran; the refusal is in the runs audit, with what was wrong.
    run = actions_api.get(f"/runs/{body['detail']['run_id']}").json()
    assert run["status"] == "refused" and run["status_code"] == 422
    assert field in run["message"] and run["finished_at"] == run["started_at"]


def test_all_errors_are_reported_at_once(actions_api: httpx.Client) -> None:
    body = refused(echo(actions_api, {"s": None, "n": "x", "e": "z"}), 422)
    assert set(body["fields"]) == {"s", "n", "e"}


def test_form_load_computes_defaults_and_dynamic_properties(actions_api: httpx.Client) -> None:
    response = actions_api.post("/collections/companies/actions/dynamic/form",
                                json=jsonapi(["5"]))
    assert response.status_code == 200, response.text
    fields = {f["name"]: f for f in response.json()["fields"]}
    assert fields["kind"]["value"] == "charge" and fields["kind"]["enum_values"] == [
        "refund", "charge"]
    assert fields["reason"]["visible"] is False and fields["reason"]["required"] is False
    assert fields["amount"]["value"] == "5000.25"
    assert fields["amount"]["label"] == "Amount for admin@test.example"
    assert fields["amount"]["constraints"] == {"max": "999999"}


def test_form_change_recomputes_from_current_values(actions_api: httpx.Client) -> None:
    body = jsonapi(["5"], {"kind": "refund", "amount": "12"}, changed_field="kind")
    response = actions_api.post("/collections/companies/actions/dynamic/form", json=body)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload["changed_field"] == "kind"
    fields = {f["name"]: f for f in payload["fields"]}
    assert fields["reason"]["visible"] is True and fields["reason"]["required"] is True
    assert fields["amount"]["value"] == "12"
    unknown = actions_api.post("/collections/companies/actions/dynamic/form",
                               json=jsonapi(["5"], {}, changed_field="nope"))
    assert refused(unknown, 400)["fields"] == {"data.attributes.changed_field": "unknown field"}


def test_visibility_and_dynamic_required_hold_on_execute(actions_api: httpx.Client) -> None:
    refund = execute(actions_api, "dynamic", jsonapi(["5"], {"kind": "refund"}))
    assert refused(refund, 422)["fields"] == {"reason": "is required"}
    charge = execute(actions_api, "dynamic",
                     jsonapi(["5"], {"kind": "charge", "reason": "ignored"}))
    assert charge.status_code == 200
    assert "reason" not in json.loads(charge.json()["success"])
    too_much = execute(actions_api, "dynamic", jsonapi(["5"], {"kind": "charge", "amount": "1e7"}))
    assert "at most 999999" in refused(too_much, 422)["fields"]["amount"]
    defaulted = execute(actions_api, "dynamic", jsonapi(["5"], {}))
    assert json.loads(defaulted.json()["success"]) == {"kind": "charge", "amount": "5000.25"}


def test_form_endpoints_check_conditions_like_execute(actions_api: httpx.Client) -> None:
    refused(actions_api.post("/collections/companies/actions/mark-as-live/form",
                           json=jsonapi(["1"])), 403)
    refused(actions_api.post("/collections/companies/actions/echo/form", json=jsonapi([])), 400)
    refused(actions_api.post("/collections/companies/actions/nope/form", json=jsonapi(["1"])), 404)
    loaded = actions_api.post("/actions/ping/form", json=None)
    assert loaded.status_code == 200 and loaded.json()["fields"][0]["name"] == "who"
