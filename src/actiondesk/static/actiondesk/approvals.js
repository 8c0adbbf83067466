// The approvals page: three boxes (my requests, those I may review, the decided history), the
// history's filters and its CSV export. Each request links to its page.
import { api, apiUrl, pageUrl, segment } from "./api.js";
import { clear, h, humanize, pageData } from "./dom.js";
import { ListPage, dayStart } from "./listing.js";
import { personLabel, statusPill, timeElement } from "./parts.js";
import { onChange } from "./sync.js";

const data = pageData();
const LABELS = { requested: "My requests", to_review: "To review", history: "History" };
const EMPTY = {
  requested: ["No requests yet", "When an action you run needs approval, its request shows here."],
  to_review: [data.can_review ? "Nothing to review" : "You review no action",
    data.can_review ? "Requests you may approve will show here." : "Your role may not approve any action."],
  history: ["No decided request yet", "Approved, rejected, cancelled and expired requests show here."],
};

const params = new URLSearchParams(window.location.search);
const box = data.boxes.includes(params.get("box")) ? params.get("box") : data.default_box;
const count = document.querySelector("[data-count]");
const exportAnchor = document.querySelector("[data-export]");

function renderBoxes() {
  const nav = document.querySelector("[data-boxes]");
  clear(nav).append(...data.boxes.map((name) => h("a", {
    class: "tab", href: pageUrl(`/approvals?box=${name}`), "aria-current": name === box ? "page" : null, dataset: { box: name },
  }, LABELS[name])));
}

const HISTORY_FILTERS = [
  { name: "action", label: "Action", type: "select", any: "Any action",
    options: data.actions.map((a) => [a.slug, a.collection ? `${a.name} (${humanize(a.collection)})` : a.name]) },
  { name: "status", label: "Status", type: "select", any: "Any status",
    options: data.statuses.filter((s) => s !== "pending").map((s) => [s, humanize(s)]) },
  { name: "requester", label: "Requester", type: "text", placeholder: "email" },
  { name: "reviewer", label: "Reviewer", type: "text", placeholder: "email" },
  { name: "since", label: "From", type: "date" },
  { name: "until", label: "To", type: "date" },
];

/** The history's filters in the API's terms (dates are whole local days, "To" included). */
function historyParams(state) {
  return {
    action: state.action || null, status: state.status || null,
    requester: state.requester || null, reviewer: state.reviewer || null,
    since: dayStart(state.since), until: dayStart(state.until, 1),
  };
}

const exportLink = h("a", { class: "button", dataset: { exportCsv: "" }, download: "approvals.csv" }, "Export CSV");

function updateExport(state) {
  exportLink.href = apiUrl("/approvals/export.csv", historyParams(state));
}

const link = (approval, content) => h("a", { href: pageUrl(`/approvals/${segment(approval.id)}`), dataset: { approvalLink: approval.id } }, content);

// The status comes right after the first (sticky) column: on a phone both are on screen.
const columns = [
  { label: "Requested", cell: (a) => link(a, timeElement(a.created_at)) },
  { label: "Status", cell: (a) => statusPill(a.status) },
  { label: "Action", cell: (a) => h("span", {}, a.action.name, a.action.collection ? h("span", { class: "cell-note" }, humanize(a.action.collection)) : null) },
  { label: "Records", className: "cell-number", cell: (a) => (a.record_count === null ? "—" : a.record_count.toLocaleString()) },
  { label: "Requester", cell: (a) => personLabel(a.requester) },
  { label: "Approvals", className: "cell-number", cell: (a) => `${a.approvals} / ${a.approvals_required}` },
];
if (box === "history") {
  columns.push(
    { label: "Reviewer", cell: (a) => h("span", { dataset: { reviewer: "" } }, personLabel(a.reviewer)) },
    { label: "Decided", cell: (a) => timeElement(a.decided_at) },
  );
}

renderBoxes();
if (box === "history") exportAnchor.append(exportLink);

const list = new ListPage({
  root: document.querySelector("[data-list]"),
  filters: box === "history" ? HISTORY_FILTERS : [],
  columns,
  noun: { singular: "request", plural: "requests" },
  caption: LABELS[box],
  rowKey: (a) => a.id,
  emptyText: (filtered) => (filtered ? ["No request matches", "Change or clear the filters to see more."] : EMPTY[box]),
  fetch: async (state, page, signal) => {
    const filters = box === "history" ? historyParams(state) : {};
    if (box === "history") updateExport(state);
    const answer = await api.get("/approvals", { box, page, ...filters }, { signal });
    return { items: answer.approvals, count: answer.count, page_size: answer.page_size };
  },
  onLoad: (l) => {
    count.textContent = l.error ? "" : `${l.count.toLocaleString()} request${l.count === 1 ? "" : "s"} · ${LABELS[box]}`;
  },
});
if (!list.filters.length) list.filterBar.hidden = true;
list.load();
onChange((change) => {
  if (change.type === "approval") list.load();
});
