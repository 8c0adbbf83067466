"""Editing, creating and deleting records in a real browser: the Edit dialog and inline edit
on the record page, New on the collection page, Delete with its confirmation, a conflict
with an edit made meanwhile (reload, then save), and an edit that needs approval."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.editing.editing_app import EMAILS, EditingServer, serve
from tests.ui.helpers import Site, expect, off_loop, screenshot, toasts

PASSWORD = "editing-ui-password-2026"


@pytest.fixture(scope="module")
def editing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EditingServer]:
    served = serve("sqlite", tmp_path_factory.mktemp("ui-editing"), PASSWORD)
    yield off_loop(lambda: next(served))
    with contextlib.suppress(StopIteration):  # the server stops, the database goes
        off_loop(lambda: next(served))


def page_as(new_page: Any, editing: EditingServer, role: str = "admin") -> Any:
    return new_page(Site(editing.base), EMAILS[role], PASSWORD)


def new_item(editing: EditingServer, **values: Any) -> str:
    with editing.client() as api:
        answer = api.post("/collections/items/records", json={"values": {
            "label": "item", "kind": "a", "active": True, "qty": 1, **values}})
        assert answer.status_code == 200, answer.text
        record_id: str = answer.json()["record"]["id"]
        return record_id


def label_of(editing: EditingServer, record_id: str) -> Any:
    return editing.rows(f"SELECT label FROM items WHERE id = {int(record_id)}")[0][0]


def test_edit_in_the_dialog(new_page: Any, editing: EditingServer) -> None:
    record_id = off_loop(lambda: new_item(editing, label="before"))
    page = page_as(new_page, editing)
    page.goto(f"{editing.base}/collections/items/records/{record_id}")
    page.locator("[data-edit-record]").click()
    dialog = page.locator("dialog[data-action-dialog=edit]")
    expect(dialog.get_by_label("Label", exact=True)).to_have_value("before")
    expect(dialog.locator("[data-field=_original]")).to_have_count(0)
    dialog.get_by_label("Label", exact=True).fill("after")
    screenshot(page, "record-edit-dialog")
    dialog.locator("[data-submit]").click()
    expect(toasts(page).filter(has_text="label updated")).to_be_visible()
    expect(page.locator("dd[data-field=label]")).to_contain_text("after")
    assert off_loop(lambda: label_of(editing, record_id)) == "after"
    # The change is audited: its run keeps the label before and after.
    toasts(page).filter(has_text="label updated").get_by_role("link", name="See the change").click()
    expect(page.locator("main")).to_contain_text("before")


def test_edit_one_field_inline(new_page: Any, editing: EditingServer) -> None:
    record_id = off_loop(lambda: new_item(editing, label="inline"))
    page = page_as(new_page, editing)
    page.goto(f"{editing.base}/collections/items/records/{record_id}")
    page.locator("[data-inline-edit=label]").click()
    editor = page.locator("[data-inline-editor=label]")
    editor.get_by_label("Label").fill("")
    editor.get_by_role("button", name="Save").click()
    expect(editor.locator("[data-inline-error]")).to_contain_text("Label is required")
    editor.get_by_label("Label").fill("renamed")
    editor.get_by_role("button", name="Save").click()
    expect(page.locator("dd[data-field=label]")).to_contain_text("renamed")
    assert off_loop(lambda: label_of(editing, record_id)) == "renamed"


def test_new_record_from_the_collection_page(new_page: Any, editing: EditingServer) -> None:
    page = page_as(new_page, editing)
    page.goto(f"{editing.base}/collections/items")
    page.locator("[data-new-record]").click()
    dialog = page.locator("dialog[data-action-dialog=create]")
    dialog.locator("[data-submit]").click()
    expect(dialog.locator("[data-field=label] .field-error")).to_be_visible()
    dialog.get_by_label("Label", exact=True).fill("made in the browser")
    dialog.locator("[data-submit]").click()
    link = toasts(page).filter(has_text="created").get_by_role("link", name="Open it")
    expect(link).to_be_visible()
    link.click()
    expect(page.locator("dd[data-field=label]")).to_contain_text("made in the browser")


def test_delete_names_how_many_and_goes_back(new_page: Any, editing: EditingServer) -> None:
    record_id = off_loop(lambda: new_item(editing, label="doomed"))
    page = page_as(new_page, editing)
    page.goto(f"{editing.base}/collections/items/records/{record_id}")
    page.locator("[data-delete-record]").click()
    dialog = page.locator("dialog[data-action-dialog=delete]")
    expect(dialog).to_contain_text("Delete 1 item?")
    dialog.locator("[data-submit]").click()
    expect(page).to_have_url(f"{editing.base}/collections/items")
    rows = off_loop(lambda: editing.rows(
        f"SELECT count(*) FROM items WHERE id = {int(record_id)}"))
    assert rows[0][0] == 0


def test_delete_refused_while_others_refer(new_page: Any, editing: EditingServer) -> None:
    off_loop(lambda: new_item(editing, owner_id="1"))
    page = page_as(new_page, editing)
    page.goto(f"{editing.base}/collections/owners/records/1")
    page.locator("[data-delete-record]").click()
    page.locator("dialog[data-action-dialog=delete] [data-submit]").click()
    expect(toasts(page).filter(has_text="of items")).to_be_visible()
    assert off_loop(lambda: editing.rows("SELECT count(*) FROM owners WHERE id = 1"))[0][0] == 1


def test_a_conflict_offers_to_reload(new_page: Any, editing: EditingServer) -> None:
    record_id = off_loop(lambda: new_item(editing, label="shared", qty=1))
    page = page_as(new_page, editing)
    page.goto(f"{editing.base}/collections/items/records/{record_id}")
    page.locator("[data-edit-record]").click()
    dialog = page.locator("dialog[data-action-dialog=edit]")
    expect(dialog.get_by_label("Qty", exact=True)).to_have_value("1")

    def meanwhile() -> None:
        with editing.client() as api:
            current = api.get(f"/collections/items/records/{record_id}").json()["values"]
            answer = api.patch(f"/collections/items/records/{record_id}",
                               json={"values": {"qty": 5}, "original": current})
            assert answer.status_code == 200, answer.text

    off_loop(meanwhile)
    dialog.get_by_label("Label", exact=True).fill("mine")
    dialog.locator("[data-submit]").click()
    expect(dialog.locator("[data-form-error]")).to_contain_text("changed since")
    expect(dialog.locator("[data-field=qty].has-error")).to_be_visible()
    screenshot(page, "record-edit-conflict")
    dialog.locator("[data-reload-record]").click()
    expect(dialog.get_by_label("Qty", exact=True)).to_have_value("5")
    dialog.get_by_label("Label", exact=True).fill("mine")
    dialog.locator("[data-submit]").click()
    expect(page.locator("dd[data-field=label]")).to_contain_text("mine")
    assert off_loop(lambda: label_of(editing, record_id)) == "mine"


def test_an_edit_that_needs_approval(new_page: Any, editing: EditingServer) -> None:
    record_id = off_loop(lambda: new_item(editing, label="pricey", price="10"))
    page = page_as(new_page, editing, "clerk")
    page.goto(f"{editing.base}/collections/items/records/{record_id}")
    expect(page.locator("[data-edit-record] .tag")).to_have_text("approval")
    page.locator("[data-edit-record]").click()
    dialog = page.locator("dialog[data-action-dialog=edit]")
    dialog.get_by_label("Price", exact=True).fill("500")
    dialog.locator("[data-submit]").click()
    expect(toasts(page).filter(has_text="waits for approval")).to_be_visible()
    price = off_loop(lambda: editing.rows(
        f"SELECT price FROM items WHERE id = {int(record_id)}"))[0][0]
    assert float(price) == 10
