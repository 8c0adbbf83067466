// The runs audit: every execution (and refusal) of an action, newest first, filtered by action,
// collection, caller, status and dates. Admins see everybody's runs, others their own.
import { api, pageUrl, segment } from "./api.js";
import { h, humanize, pageData } from "./dom.js";
import { ListPage, dayStart } from "./listing.js";
import { formatDuration, personLabel, statusPill, timeElement } from "./parts.js";

const data = pageData();
const collections = [...new Set(data.actions.map((a) => a.collection).filter(Boolean))].sort();
const count = document.querySelector("[data-count]");

const filters = [
  { name: "action", label: "Action", type: "select", any: "Any action",
    options: [...new Map(data.actions.map((a) => [a.slug, a.name])).entries()] },
  { name: "collection", label: "Collection", type: "select", any: "Any collection",
    options: collections.map((c) => [c, humanize(c)]) },
  data.is_admin ? { name: "caller", label: "Caller", type: "text", placeholder: "email or id" } : null,
  { name: "status", label: "Status", type: "select", any: "Any status", options: data.statuses.map((s) => [s, humanize(s)]) },
  { name: "since", label: "From", type: "date" },
  { name: "until", label: "To", type: "date" },
].filter(Boolean);

const link = (run, content) => h("a", { href: pageUrl(`/runs/${segment(run.id)}`), dataset: { runLink: run.id } }, content);

function records(run) {
  if (run.progress && run.progress.total) return `${run.progress.done.toLocaleString()} / ${run.progress.total.toLocaleString()}`;
  return run.record_count === null || run.record_count === undefined ? "—" : run.record_count.toLocaleString();
}

/** A run whose webhook the browser could not deliver is not a plain success. */
function webhookNote(run) {
  if (run.webhook?.delivered !== false) return null;
  return h("span", { class: "cell-note", dataset: { webhookUndelivered: "" } }, "Webhook not delivered");
}

const list = new ListPage({
  root: document.querySelector("[data-list]"),
  filters,
  columns: [
    { label: "Started", cell: (r) => link(r, timeElement(r.started_at)) },
    { label: "Action", cell: (r) => h("span", {}, r.action_name, r.collection ? h("span", { class: "cell-note" }, humanize(r.collection)) : null) },
    { label: "Caller", cell: (r) => personLabel(r.caller) },
    { label: "Records", className: "cell-number", cell: records },
    { label: "Status", cell: (r) => h("span", {}, statusPill(r.status), webhookNote(r)) },
    { label: "Duration", className: "cell-number", cell: (r) => formatDuration(r.duration_ms) },
  ],
  noun: { singular: "run", plural: "runs" },
  rowKey: (r) => r.id,
  emptyText: (filtered) => (filtered
    ? ["No run matches", "Change or clear the filters to see more."]
    : ["No runs yet", data.is_admin ? "Every action run shows here." : "The actions you run show here."]),
  fetch: async (state, page, signal) => {
    const answer = await api.get("/runs", {
      action: state.action || null, collection: state.collection || null, caller: state.caller || null,
      status: state.status || null, since: dayStart(state.since), until: dayStart(state.until, 1), page,
    }, { signal });
    return { items: answer.runs, count: answer.count, page_size: answer.page_size };
  },
  onLoad: (l) => {
    count.textContent = l.error ? "" : `${l.count.toLocaleString()} run${l.count === 1 ? "" : "s"}${data.is_admin ? "" : " of yours"}`;
  },
});
list.load();
