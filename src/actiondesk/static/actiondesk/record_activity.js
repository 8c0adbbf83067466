// The Activity tab of a record page: the runs, edits and approval requests that touched the
// record, newest first, read page by page from the record's activity API (the server decides
// what the caller may see and how each run includes the record).
import { api, pageUrl, segment } from "./api.js";
import { h } from "./dom.js";
import { emptyState, errorState, loadingState, personLabel, statusPill, timeElement } from "./parts.js";

const HOW = {
  ids: "Selected",
  frozen: "Frozen with the request",
  filter: "Select-all: meets its filter now",
};

function entryLink(entry) {
  if (entry.kind === "approval_request" && entry.approval) {
    return h("a", { href: pageUrl(`/approvals/${segment(entry.approval.id)}`), dataset: { activityLink: "approval" } }, "Approval request");
  }
  return h("a", { href: pageUrl(`/runs/${segment(entry.run_id)}`), dataset: { activityLink: "run" } }, "Run");
}

function row(entry) {
  const approval = entry.approval;
  const status = entry.kind === "approval_request" && approval ? approval.status : entry.status;
  const count = entry.record_count && entry.record_count > 1 ? ` · ${entry.record_count.toLocaleString()} records` : "";
  return h("li", { class: "activity-entry", dataset: { runId: entry.run_id, kind: entry.kind, matched: entry.matched } },
    h("div", { class: "activity-main" },
      h("span", { class: "activity-action" }, entry.action.name),
      statusPill(status),
      h("span", { class: "activity-how muted" }, `${HOW[entry.matched] || entry.matched}${count}`)),
    h("div", { class: "activity-meta muted" },
      timeElement(entry.started_at), " · ", personLabel(entry.caller),
      entry.caller.approved_by?.length ? ` · approved by ${entry.caller.approved_by.map((p) => p.email).join(", ")}` : "",
      " · ", entryLink(entry)),
    entry.message && !["succeeded", "approval_requested"].includes(entry.status) ? h("p", { class: "activity-message" }, entry.message) : null);
}

/** Fill `panel` with the activity of the record at `recordPath`; returns a reload function. */
export function activityTab(panel, recordPath) {
  const list = h("ol", { class: "activity-list", dataset: { activityList: "" } });
  const more = h("button", { type: "button", class: "button", hidden: true, dataset: { activityMore: "" } }, "Show older");
  let next = null;

  async function load(reset) {
    if (reset) {
      next = null;
      panel.replaceChildren(loadingState("Loading the activity"));
    }
    more.disabled = true;
    try {
      const page = await api.get(`${recordPath}/activity`, { before: next, limit: 20 });
      if (reset) list.replaceChildren();
      list.append(...page.entries.map(row));
      next = page.next;
      more.hidden = !next;
      if (reset) {
        panel.replaceChildren(list.children.length || next ? list
          : emptyState("No activity yet", "Runs and approval requests on this record show here."), more);
      }
    } catch (error) {
      panel.replaceChildren(errorState(error.message, () => load(true)));
    } finally {
      more.disabled = false;
    }
  }

  more.addEventListener("click", () => load(false));
  load(true);
  return () => load(true);
}
