// After an action the records table reloads in place (same page, sort, filter and selection) and
// shows what the action did: rows whose values changed, and new rows, are marked; new records
// the page does not show (a new related row that would land on page 2) are pinned at the top of
// the table, marked "New", until the person changes the list.
import { h } from "./dom.js";

const MAX_PINNED = 10;

/** The `n` newest records of the table's filter, by a single integer primary key; else null. */
async function newestRecords(table, n) {
  const key = table.collection.primary_key;
  if (key.length !== 1 || table.byName[key[0]]?.type !== "integer") return null;
  try {
    const page = await table.options.fetchPage({ ...table.params(), sort: `-${key[0]}`, page: 1, page_size: n });
    return page.records;
  } catch {
    return null;
  }
}

/** Reload `table` and mark what changed since the rows now on screen were loaded. */
export async function refreshTable(table) {
  const before = new Map(table.records.map((r) => [r.id, JSON.stringify(r.values)]));
  const countBefore = table.error ? null : table.count;
  await table.load();
  if (table.error) return;
  const changed = new Set();
  const added = new Set();
  for (const record of table.records) {
    if (!before.has(record.id)) added.add(record.id);
    else if (before.get(record.id) !== JSON.stringify(record.values)) changed.add(record.id);
  }
  const grown = countBefore === null ? 0 : table.count - countBefore;
  let fresh = new Set();
  let pinned = [];
  if (grown > 0) {
    const newest = await newestRecords(table, Math.min(grown, MAX_PINNED));
    if (newest) {
      fresh = new Set(newest.map((r) => r.id));
      const shown = new Set(table.records.map((r) => r.id));
      pinned = newest.filter((r) => !shown.has(r.id));
    } else fresh = added; // no ordered key: the rows this page did not show before
  }
  for (const id of fresh) changed.delete(id);
  table.marks = { fresh, changed };
  table.pinned = pinned;
  table.renderTable();
  table.tableWrap.querySelector("tr.is-new, tr.is-changed")?.scrollIntoView({ block: "nearest" });
}

/** Put the pinned rows at the top of `tbody` and mark new and changed rows (after a render). */
export function markRows(table, tbody, columns) {
  const { fresh, changed } = table.marks || { fresh: new Set(), changed: new Set() };
  const pinned = (table.pinned || []).map((record) => {
    const row = table.row(record, columns);
    row.dataset.pinned = "";
    return row;
  });
  tbody.prepend(...pinned);
  for (const row of tbody.querySelectorAll("tr")) {
    const isNew = fresh.has(row.dataset.id);
    row.classList.toggle("is-new", isNew);
    row.classList.toggle("is-changed", changed.has(row.dataset.id));
    if (isNew) row.querySelector(".cell-check + td")?.append(h("span", { class: "tag row-new-tag", dataset: { newTag: "" } }, "New"));
    else if (changed.has(row.dataset.id)) row.title = "Changed by the last action";
  }
}
