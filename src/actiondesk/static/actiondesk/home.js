// The home page: approval requests waiting for the caller, their recent runs, the background
// runs in progress, how many records each collection holds, and the global actions.
import { ActionContext, ActionsMenu } from "./actions.js";
import { api, pageUrl, segment } from "./api.js";
import { clear, h, pageData } from "./dom.js";
import { errorState, personLabel, statusPill, timeElement } from "./parts.js";
import { nameRecordLinks } from "./references.js";

const data = pageData();
const SHOWN = 5;
const PROGRESS_EVERY_MS = 3000;

function listIn(name) {
  return document.querySelector(`[data-home="${name}"] [data-home-list]`);
}

function runLink(run) {
  return h("a", { href: pageUrl(`/runs/${segment(run.id)}`), dataset: { runLink: run.id } }, run.action_name);
}

const readable = new Set(data.readable || []);

function records(count) {
  if (count === null || count === undefined) return null;
  return `${count.toLocaleString()} record${count === 1 ? "" : "s"}`;
}

/** The one record an item is about, linked and later named; else how many records. */
function subject(collection, selection, count) {
  const ids = selection?.all_records ? null : selection?.ids;
  if (collection && readable.has(collection) && Array.isArray(ids) && ids.length === 1) {
    const id = String(ids[0]);
    return h("a", { href: pageUrl(`/collections/${segment(collection)}/records/${segment(id)}`), dataset: { labelId: id, labelCollection: collection } }, `#${id}`);
  }
  return records(count) || "";
}

/** Name the records the lists link to: one request per collection. */
function nameSubjects(root) {
  const links = [...root.querySelectorAll("a[data-label-collection]")];
  for (const collection of new Set(links.map((a) => a.dataset.labelCollection))) {
    nameRecordLinks(collection, root, (a) => a.dataset.labelCollection === collection);
  }
}

function approvalItem(approval) {
  return h("li", { class: "home-item", dataset: { approval: approval.id } },
    h("a", { href: pageUrl(`/approvals/${segment(approval.id)}`) }, approval.action.name),
    h("span", { class: "muted small" }, " ", subject(approval.action.collection, approval.selection, approval.record_count),
      ` · ${personLabel(approval.requester)} · `, timeElement(approval.created_at)));
}

function runItem(run) {
  return h("li", { class: "home-item", dataset: { run: run.id } }, runLink(run), " ", statusPill(run.status),
    h("span", { class: "muted small" }, " ", subject(run.collection, run.selection, run.record_count), " · ", timeElement(run.started_at)));
}

function progressItem(run) {
  const progress = run.progress || {};
  const percent = typeof progress.percent === "number" ? Math.round(progress.percent) : null;
  const bar = h("progress", { max: "100", value: percent === null ? null : String(percent), "aria-label": `Progress of ${run.action_name}` });
  const done = progress.total ? `${progress.done.toLocaleString()} / ${progress.total.toLocaleString()}` : `${(progress.done || 0).toLocaleString()} done`;
  return h("li", { class: "home-item", dataset: { run: run.id } }, runLink(run), " ", statusPill(run.status),
    h("div", { class: "home-progress" }, bar, h("span", { class: "muted small", dataset: { progress: "" } }, percent === null ? done : `${percent}% · ${done}`)));
}

async function fill(name, load, item, empty) {
  const root = listIn(name);
  try {
    const items = await load();
    clear(root).append(items.length ? h("ul", { class: "home-list" }, items.map(item)) : h("p", { class: "muted", dataset: { state: "empty" } }, empty));
    nameSubjects(root);
    return items;
  } catch (error) {
    clear(root).append(errorState(`Could not load: ${error.message}`, () => fill(name, load, item, empty)));
    return [];
  }
}

async function background() {
  const [running, queued] = await Promise.all(["running", "queued"].map((status) =>
    api.get("/runs", { status, page_size: SHOWN })));
  return [...running.runs, ...queued.runs].filter((run) => run.background);
}

async function followBackground() {
  const runs = await fill("background", background, progressItem, "Nothing is running");
  if (runs.length) setTimeout(followBackground, PROGRESS_EVERY_MS);
}

async function counts() {
  const cards = document.querySelector("[data-home-collections]");
  if (!cards) return;
  try {
    const answer = await api.get("/collections", { counts: "true" });
    for (const collection of answer.collections) {
      const card = [...cards.querySelectorAll("[data-collection]")].find((c) => c.dataset.collection === collection.name);
      const shown = card?.querySelector("[data-count]");
      if (!shown) continue;
      const n = collection.count.toLocaleString();
      shown.textContent = `${collection.count_estimated ? "about " : ""}${n} record${collection.count === 1 ? "" : "s"}`;
      if (collection.count_estimated) shown.title = "Estimated from the database's statistics";
    }
  } catch {
    // The cards still link to every collection; only the counts are missing.
  }
}

fill("approvals", async () => (await api.get("/approvals", { box: "to_review", page_size: SHOWN })).approvals,
  approvalItem, "No request waits for you");
fill("runs", async () => (await api.get("/runs", { caller: data.caller_id, page_size: SHOWN })).runs,
  runItem, "You have not run any action yet");
followBackground();
counts();

if (data.has_global_actions) {
  const context = new ActionContext({
    collection: null,
    noun: { singular: "record", plural: "records" },
    parent: null,
    resultPanel: document.querySelector("[data-result-panel]"),
    selection: () => ({ attributes: { ids: [] }, count: 0, ids: [] }),
  });
  new ActionsMenu(document.querySelector("[data-actions]"), context, { label: "Global actions" });
}
