// The audit of refused requests (admins): failed sign-ins, bad tokens, CSRF failures, reads and
// settings refused; the latest first. Refused action executions are runs (see the Runs page).
import { api } from "./api.js";
import { h, humanize, pageData } from "./dom.js";
import { ListPage } from "./listing.js";
import { statusPill, timeElement } from "./parts.js";

const data = pageData();
const count = document.querySelector("[data-count]");

const list = new ListPage({
  root: document.querySelector("[data-list]"),
  filters: [{ name: "kind", label: "Kind", type: "select", any: "Any kind", options: data.kinds.map((k) => [k, humanize(k)]) }],
  columns: [
    { label: "When", cell: (e) => timeElement(e.at) },
    { label: "Kind", cell: (e) => statusPill(e.kind) },
    { label: "Who", cell: (e) => e.caller_email || h("span", { class: "cell-null" }, "nobody signed in") },
    { label: "Request", cell: (e) => h("code", {}, `${e.method || ""} ${e.path || ""}`.trim()) },
    { label: "Address", cell: (e) => e.address || "—" },
    { label: "Status", className: "cell-number", cell: (e) => String(e.status_code) },
    { label: "Reason", className: "cell-wrap", cell: (e) => e.reason },
  ],
  noun: { singular: "refused request", plural: "refused requests" },
  rowKey: (e) => e.id,
  emptyText: (filtered) => (filtered ? ["No refused request of this kind", null] : ["No refused request", "Sign-ins, tokens and requests the server refuses show here."]),
  fetch: async (state, page, signal) => {
    const answer = await api.get("/audit", { kind: state.kind || null, limit: data.limit }, { signal });
    return { items: answer.events, count: answer.events.length, page_size: data.limit };
  },
  onLoad: (l) => {
    if (l.error) count.textContent = "";
    else count.textContent = l.count >= data.limit ? `The latest ${data.limit}` : `${l.count.toLocaleString()} refused request${l.count === 1 ? "" : "s"}`;
  },
});
list.load();
