// The record page: the record's fields (many-to-one values link to their record), its actions,
// one tab per one-to-many relationship, with its own table, selection and actions run in
// the parent's context, and the Activity tab (record_activity.js). Only the open tab loads.
import { ActionContext, ActionsMenu } from "./actions.js";
import { api, pageUrl, segment } from "./api.js";
import { clear, h, humanize, nouns, pageData } from "./dom.js";
import { fieldLabel } from "./display.js";
import { activityTab } from "./record_activity.js";
import { RecordEditing } from "./record_edit.js";
import { formatValue, manyToOneLinks, recordLabel } from "./records.js";
import { referenceCell } from "./references.js";
import { onChange } from "./sync.js";
import { RecordsTable } from "./table.js";
import { refreshTable } from "./table_refresh.js";
import { toast } from "./toast.js";

const data = pageData();
const collection = data.collection;
let record = data.record;
const noun = nouns(collection.label || collection.name);
const resultPanel = document.querySelector("[data-result-panel]");
const fieldsList = document.querySelector("[data-record-fields]");
const title = document.querySelector("[data-record-title]");
const links = manyToOneLinks(collection, data.targets);
const recordPath = `/collections/${segment(collection.name)}/records/${segment(record.id)}`;
let editing = null;

function renderRecord() {
  title.textContent = recordLabel(collection, record);
  clear(fieldsList);
  for (const field of collection.fields) {
    const value = record.values[field.name];
    let shown = formatValue(field, value, record.values);
    const link = links.get(field.name);
    if (link && value !== null && value !== undefined) {
      shown = referenceCell(link, record.values, record.references, shown);
      if (shown instanceof HTMLElement) shown.dataset.relation = link.rel.name;
    } else if (field.type === "json" && value !== null) {
      shown = h("span", { class: "value-json" }, JSON.stringify(value, null, 2));
    }
    const help = field.description ? h("span", { class: "field-help muted small" }, field.description) : null;
    fieldsList.append(h("dt", {}, fieldLabel(field), help), h("dd", { dataset: { field: field.name } }, shown));
  }
  editing?.decorate(fieldsList);
}

async function reloadRecord() {
  tabs.get(ACTIVITY)?.reload?.();
  try {
    const before = record.values;
    record = await api.get(recordPath);
    renderRecord();
    // What the action changed stands out (see table_refresh.js for lists).
    for (const value of fieldsList.querySelectorAll("dd[data-field]")) {
      const name = value.dataset.field;
      const changed = JSON.stringify(before[name]) !== JSON.stringify(record.values[name]);
      value.classList.toggle("is-changed", changed);
      value.previousElementSibling?.classList.toggle("is-changed", changed);
    }
  } catch (error) {
    toast(`The record could not be reloaded: ${error.message}`, { kind: "error" });
  }
}

// -- related data ----------------------------------------------------------------------------

const tabs = new Map();
const related = document.querySelector("[data-related]");
const oneToMany = collection.relationships.filter((rel) => rel.kind === "one_to_many" && data.targets[rel.target]);
// The Activity tab's key (and URL hash), unless a relationship already has that name.
const ACTIVITY = oneToMany.some((rel) => rel.name === "activity") ? "record-activity" : "activity";

function relatedSchema(rel) {
  // The target's schema is fetched once, when its tab first opens.
  return api.get(`/collections/${segment(rel.target)}`);
}

async function openTab(name, { focus = false, remember = true } = {}) {
  for (const [key, tab] of tabs) {
    const on = key === name;
    tab.button.setAttribute("aria-selected", String(on));
    tab.button.tabIndex = on ? 0 : -1;
    tab.panel.hidden = !on;
  }
  const tab = tabs.get(name);
  if (focus) tab.button.focus();
  if (remember) window.history.replaceState(null, "", `#${encodeURIComponent(name)}`);
  if (name === ACTIVITY) {
    if (!tab.reload) tab.reload = activityTab(tab.panel, recordPath);
  } else if (!tab.table) await buildTab(tab);
}

async function buildTab(tab) {
  const { rel, panel } = tab;
  panel.replaceChildren(h("div", { class: "table-state", dataset: { state: "loading" } }, h("div", { class: "spinner", role: "progressbar", "aria-label": "Loading" })));
  let target;
  try {
    target = await relatedSchema(rel);
  } catch (error) {
    panel.replaceChildren(h("div", { class: "table-state table-state-error", role: "alert" }, error.message));
    return;
  }
  const targetNoun = nouns(target.name);
  const actionsAnchor = h("div", { class: "page-actions" });
  const tableRoot = h("div");
  const tabPanel = h("section", { class: "card result-panel", hidden: true, "aria-label": "Action result" });
  panel.replaceChildren(tabPanel, tableRoot);
  const table = new RecordsTable(tableRoot, {
    collection: target,
    targets: { ...data.targets, [target.name]: { primary_key: target.primary_key } },
    pageSize: 10,
    storageKey: `${collection.name}.${rel.name}`,
    noun: humanize(rel.name).toLowerCase(),
    toolbar: [actionsAnchor],
    fetchPage: (params, signal) => api.get(`${recordPath}/relationships/${segment(rel.name)}`, params, { signal }),
    onLoad: (t) => { tab.count.textContent = t.error ? "" : ` ${t.count.toLocaleString()}`; },
  });
  tab.table = table;
  const context = new ActionContext({
    collection: target.name,
    noun: targetNoun,
    parent: { collection: collection.name, id: record.id, association: rel.name },
    resultPanel: tabPanel,
    selection: () => ({
      attributes: table.selectionAttributes(),
      count: table.selectedCount(),
      ids: table.selection.all ? null : [...table.selection.ids],
    }),
    reload: async () => {
      await refreshTable(table);
      await reloadRecord();
    },
    refresh: (names) => refreshRelationships(names),
  });
  new ActionsMenu(actionsAnchor, context);
  await table.load();
}

async function refreshRelationships(names) {
  for (const name of names) {
    const tab = tabs.get(name);
    if (tab?.table) await refreshTable(tab.table);
    else if (tab) tab.stale = true;
  }
}

function buildTabs() {
  const list = h("div", { class: "tabs", role: "tablist", "aria-label": "Related records and activity" });
  const panels = h("div");
  for (const rel of [...oneToMany, { name: ACTIVITY }]) {
    const id = `tab-${rel.name}`;
    const count = h("span", { class: "muted", dataset: { tabCount: "" } });
    const label = rel.target ? humanize(rel.name) : "Activity";
    const button = h("button", { type: "button", class: "tab", role: "tab", id, "aria-controls": `${id}-panel`,
      "aria-selected": "false", tabIndex: -1, dataset: { tab: rel.name } }, label, count);
    const panel = h("div", { id: `${id}-panel`, role: "tabpanel", "aria-labelledby": id, hidden: true, dataset: { tabPanel: rel.name } });
    button.addEventListener("click", () => openTab(rel.name));
    tabs.set(rel.name, { rel, button, panel, count, table: null });
    list.append(button);
    panels.append(panel);
  }
  list.addEventListener("keydown", (event) => {
    const names = [...tabs.keys()];
    const index = names.indexOf(document.activeElement?.dataset?.tab);
    const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: names.length - 1 };
    if (index >= 0 && event.key in moves) {
      event.preventDefault();
      openTab(names[(moves[event.key] + names.length) % names.length], { focus: true });
    }
  });
  related.append(h("h2", { class: "visually-hidden" }, "Related records and activity"), list, panels);
  const wanted = decodeURIComponent(window.location.hash.slice(1));
  openTab(tabs.has(wanted) ? wanted : [...tabs.keys()][0], { remember: false });
}

// -- the record's own actions ---------------------------------------------------------------

const context = new ActionContext({
  collection: collection.name,
  noun,
  parent: null,
  resultPanel,
  selection: () => ({ attributes: { ids: [record.id], all_records: false }, count: 1, ids: [record.id] }),
  reload: reloadRecord,
  refresh: (names) => refreshRelationships(names),
  afterDelete: () => window.location.assign(pageUrl(`/collections/${segment(collection.name)}`)),
});
new ActionsMenu(document.querySelector("[data-actions]"), context);
renderRecord();
buildTabs();
// An action run in another tab: the record and the open tab's rows as they are now.
onChange((change) => {
  if (change.type !== "records") return;
  reloadRecord();
  for (const tab of tabs.values()) {
    if (tab.table && !tab.panel.hidden) refreshTable(tab.table);
  }
});
editing = new RecordEditing(document.querySelector("[data-actions]"), context, data.record_actions);
editing.decorate(fieldsList);
