// One approval request: what was frozen (action, records, values, requester, why it needs
// approval), its timeline and result; approve or reject it with a message, or cancel it when
// it is mine. After a decision the page shows the request as the server now has it.
import { ApiError, api, apiUrl, pageUrl, segment } from "./api.js";
import { clear, h, humanize, nouns, pageData } from "./dom.js";
import { nameRecordLinks } from "./references.js";
import { limitProblem, withLimit } from "./limits.js";
import { showHtml } from "./results.js";
import { refreshBadge } from "./shell.js";
import { announce as tell, onChange } from "./sync.js";
import { toast } from "./toast.js";
import {
  definitionList, field, formError, personLabel, section, showFieldErrors, statusPill, timeElement, valueNode,
} from "./parts.js";

const data = pageData();
let approval = data.approval;
const root = document.querySelector("[data-approval]");
// The server keeps a decision message of at most this many characters.
const MESSAGE_MAX = 2000;
const EVENT_LABELS = {
  requested: "Requested", approved: "Approved", rejected: "Rejected", cancelled: "Cancelled",
  expired: "Expired", executed: "Executed", failed: "Failed",
};

function recordHref(id) {
  const collection = approval.action.collection;
  return data.readable ? pageUrl(`/collections/${segment(collection)}/records/${segment(id)}`) : null;
}

/** Why the request needs approval: [the rule, its condition], frozen with the request (the
 *  "requested" event's message: "<rule>; condition: <condition>"). */
function why() {
  const requested = (approval.timeline || []).find((e) => e.kind === "requested");
  const [rule, condition] = (requested?.message || "").split("; condition: ");
  return [rule || null, condition || null];
}

function summary() {
  const a = approval;
  const approvers = a.approvers.length ? ` — ${a.approvers.map((p) => p.email).join(", ")}` : "";
  const rows = [
    ["Action", `${a.action.name}${a.action.collection ? ` on ${humanize(a.action.collection).toLowerCase()}` : " (global)"}`, "action"],
    ["Requested by", personLabel(a.requester), "requester"],
    ["Requester's role", a.requester.role || "—", "role"],
    ["Requested", timeElement(a.created_at), "created"],
    ["Status", statusPill(a.status), "status"],
    ["Why approval", why()[0] || "—", "why"],
    ["Condition that held", why()[1] ? h("span", { class: "filter-chip" }, why()[1]) : undefined, "condition"],
    ["Approvals", `${a.approvals} of ${a.approvals_required}${approvers}`, "approvals"],
    [a.status === "pending" ? "Expires" : "Expired at", a.status === "pending" ? timeElement(a.expires_at) : undefined, "expires"],
    ["Decided", a.decided_at ? timeElement(a.decided_at) : undefined, "decided"],
    [a.decision === "cancelled" ? "Cancelled by" : "Decided by", a.reviewer ? personLabel(a.reviewer) : undefined, "reviewer"],
    [a.status === "failed" ? "Why it failed" : "Message", a.reason || undefined, "reason"],
    // The run is the requester's: they and admins may open it.
    ["Run", a.run_id && (data.is_admin || a.requester.id === data.me) ? h("a", { href: pageUrl(`/runs/${segment(a.run_id)}`), dataset: { runLink: a.run_id } }, `Run ${a.run_id.slice(0, 8)}`) : undefined, "run"],
  ];
  return section("Request", definitionList(rows));
}

function values() {
  const entries = Object.entries(approval.values || {});
  if (!entries.length) return section("Form values", h("p", { class: "muted" }, "The action has no form."));
  return section("Form values", definitionList(entries.map(([name, value]) => [humanize(name), valueNode(value), `value-${name}`])));
}

function selectionText() {
  const s = approval.selection || {};
  const count = approval.record_count;
  if (count === null) return "A global action: it runs on no record in particular.";
  const noun = nouns(approval.action.collection);
  const parts = [`${count.toLocaleString()} ${count === 1 ? noun.singular : noun.plural}, frozen when the request was made`];
  if (s.all_records) {
    parts.push(s.filter ? `selected as all matching the filter ${JSON.stringify(s.filter)}` : "selected as all records");
    if (s.search) parts.push(`searching “${s.search}”`);
    if (s.excluded_ids?.length) parts.push(`minus ${s.excluded_ids.length} deselected`);
  }
  const parent = approval.parent || s.parent;
  if (parent) parts.push(`in the ${humanize(parent.association).toLowerCase()} of ${humanize(parent.collection).toLowerCase()} ${parent.id}`);
  return `${parts.join(", ")}.`;
}

function records() {
  const body = h("div", {});
  const list = h("ul", { class: "id-list", dataset: { records: "" } });
  const more = h("button", { type: "button", class: "button button-small", dataset: { moreRecords: "" } }, "Show more");
  let page = approval.records?.page || 1;
  const add = (ids) => {
    for (const id of ids) {
      const href = recordHref(id);
      list.append(h("li", {}, href ? h("a", { href, dataset: { labelId: id } }, id) : id));
    }
    more.hidden = list.children.length >= (approval.records?.count || 0);
    nameRecordLinks(approval.action.collection, list);
  };
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      const next = await api.get(`/approvals/${segment(approval.id)}/records`, { page: page + 1, page_size: approval.records.page_size });
      page = next.page;
      add(next.ids);
    } catch (error) {
      toast(`More records could not be loaded: ${error.message}`, { kind: "error" });
    } finally {
      more.disabled = false;
    }
  });
  body.append(h("p", { dataset: { selection: "" } }, selectionText()));
  if (approval.record_count !== null) {
    body.append(list, more);
    add(approval.records?.ids || []);
  }
  return section("Records", body);
}

function timeline() {
  const items = (approval.timeline || []).map((e) => h("li", { class: `timeline-item timeline-${e.kind}`, dataset: { event: e.kind } },
    h("p", { class: "timeline-head" }, h("strong", {}, EVENT_LABELS[e.kind] || humanize(e.kind)),
      e.actor ? ` by ${e.actor.email}` : "", " · ", timeElement(e.at)),
    e.message && e.kind !== "requested" ? h("p", { class: "timeline-message" }, e.message) : null));
  return section("Timeline", h("ol", { class: "timeline" }, items));
}

function result() {
  const a = approval;
  if (a.status !== "executed" && !(a.status === "failed" && a.result)) return null;
  const body = h("div", { dataset: { result: "" } });
  const answer = a.result || {};
  if (answer.success) body.append(h("p", {}, answer.success));
  if (answer.error) body.append(h("p", { class: "field-error" }, answer.error));
  if (answer.redirectTo) {
    const internal = answer.redirectTo.startsWith("/") && !answer.redirectTo.startsWith("//");
    const href = internal ? pageUrl(answer.redirectTo) : /^https?:\/\//i.test(answer.redirectTo) ? answer.redirectTo : null;
    if (href) body.append(h("p", {}, h("a", { href, target: internal ? null : "_blank", rel: internal ? null : "noopener noreferrer" }, "Open the page the action pointed to")));
  }
  if (a.has_file) {
    body.append(h("p", {}, h("a", { class: "button", href: apiUrl(`/approvals/${segment(a.id)}/file`), download: a.result_filename || "download" },
      `Download ${a.result_filename || "the file"}`)));
  }
  const panel = h("section", { class: "card result-panel", hidden: true, "aria-label": "HTML result" });
  if (answer.html) body.append(panel);
  if (!body.childNodes.length) body.append(h("p", { class: "muted" }, "The action ran and answered nothing more."));
  const card = section("Result", body);
  if (answer.html) queueMicrotask(() => showHtml(panel, a.action.name, answer.html, a.status === "failed" ? "error" : "success"));
  return card;
}

// -- deciding ----------------------------------------------------------------------------

/** Post a decision; true when it was taken (or the request was decided meanwhile). Field
 *  errors go next to the fields of `area`, the rest in `errors`. */
async function decide(verb, message, area, errors, buttons) {
  for (const b of buttons) b.disabled = true;
  try {
    await api.post(`/approvals/${segment(approval.id)}/${verb}`, message ? { message } : {});
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) {
      toast(`This request is already ${error.detail?.status || "decided"}.`, { kind: "warning", title: "Not pending any more" });
      await reload();
      announce();
      return true;
    }
    showFieldErrors(area, error, errors);
    return false;
  } finally {
    for (const b of buttons) b.disabled = false;
  }
  const done = { approve: "Approved", reject: "Rejected", cancel: "Cancelled" }[verb];
  await reload();
  announce();
  followExecution();
  const status = approval.status;
  const how = {
    executed: "; the action ran", executing: "; the action runs in the background",
    failed: `; it failed: ${approval.reason}`, pending: "; it waits for another approval",
  }[status] || "";
  toast(`${done}${how}.`, { kind: status === "failed" ? "error" : "success", title: approval.action.name });
  refreshBadge();
  return true;
}

/** Rejecting is never one click: a dialog asks why (the requester reads it), then rejects. */
function rejectDialog(draft, opener) {
  const message = h("textarea", { class: "textarea", name: "message", rows: 4, required: true, value: draft });
  const { wrapper } = field({ name: "message", label: "Why you reject it (the requester reads this)", control: withLimit(message, MESSAGE_MAX), required: true });
  const errors = formError();
  const confirm = h("button", { type: "submit", class: "button button-danger", dataset: { confirmReject: "" } }, "Reject request");
  const cancel = h("button", { type: "button", class: "button", dataset: { cancel: "" } }, "Keep it pending");
  const form = h("form", { class: "dialog-form", novalidate: true },
    h("header", { class: "dialog-header" }, h("h2", { class: "dialog-title", id: "reject-title" }, "Reject this request?"),
      h("p", { class: "dialog-summary" }, `${approval.action.name}, requested by ${personLabel(approval.requester)}. Nothing will run.`)),
    h("div", { class: "dialog-body" }, errors, wrapper),
    h("footer", { class: "dialog-footer" }, cancel, confirm));
  const dialog = h("dialog", { class: "dialog", "aria-labelledby": "reject-title", dataset: { rejectDialog: "" } }, form);
  cancel.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (opener.isConnected) opener.focus();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = message.value.trim();
    const problem = text ? limitProblem(message) : "is required: say why, so the requester knows what to change";
    if (problem) {
      showFieldErrors(form, new ApiError(422, { error: "Check the message.", fields: { message: problem } }), errors);
      return;
    }
    if (await decide("reject", text, form, errors, [confirm, cancel])) dialog.close();
  });
  document.body.append(dialog);
  dialog.showModal();
  message.focus();
}

function decisionCard() {
  const a = approval;
  if (!a.can_decide && !a.can_cancel) return null;
  const message = h("textarea", { class: "textarea", name: "message", rows: 3 });
  const { wrapper } = field({ name: "message", label: a.can_decide ? "Message to the requester (optional)" : "Why you cancel it (optional)", control: withLimit(message, MESSAGE_MAX) });
  const errors = formError();
  const area = h("div", { class: "decision-form" }, errors, wrapper);
  const buttons = [];
  const button = (verb, label, kind) => {
    const b = h("button", { type: "button", class: `button ${kind}`, dataset: { decide: verb } }, label);
    b.addEventListener("click", () => {
      if (verb === "reject") {
        rejectDialog(message.value, b);
        return;
      }
      const problem = limitProblem(message);
      if (problem) showFieldErrors(area, new ApiError(422, { error: "Check the message.", fields: { message: problem } }), errors);
      else decide(verb, message.value.trim(), area, errors, buttons);
    });
    buttons.push(b);
    return b;
  };
  const actions = h("div", { class: "decision-buttons" });
  if (a.can_decide) actions.append(button("approve", "Approve", "button-primary"), button("reject", "Reject…", "button-danger"));
  if (a.can_cancel) actions.append(button("cancel", "Cancel request", "button-danger"));
  area.append(actions);
  const note = a.can_decide
    ? `Approving ${a.approvals + 1 >= a.approvals_required ? "runs the action now, exactly as requested" : `gives approval ${a.approvals + 1} of ${a.approvals_required}`}.`
    : "Nothing has run; cancelling withdraws the request.";
  return section(a.can_decide ? "Your decision" : "Your request", h("p", { class: "muted small" }, note), area);
}

function render() {
  document.querySelector("[data-title]").textContent = approval.action.name;
  clear(document.querySelector("[data-status]")).append(statusPill(approval.status));
  document.querySelector("[data-subtitle]").textContent = `Requested by ${personLabel(approval.requester)}`;
  clear(root).append(
    h("div", { class: "detail-main" }, decisionCard(), result(), summary(), values(), records()),
    h("div", { class: "detail-side" }, timeline()));
}

async function reload() {
  try {
    approval = await api.get(`/approvals/${segment(approval.id)}`);
  } catch (error) {
    toast(`The request could not be reloaded: ${error.message}`, { kind: "error" });
    return;
  }
  render();
}

/** An approved request whose action runs in the background stays "executing" until its run
 *  ends (issue 8): look again until it does. */
function followExecution(delay = 1500) {
  if (approval.status !== "executing") return;
  setTimeout(async () => {
    await reload();
    followExecution(Math.min(delay * 1.5, 6000));
  }, delay);
}

/** Tell the other tabs this request changed (and, once it ran, its records). */
function announce() {
  tell({ type: "approval", id: approval.id });
  if (["executed", "executing", "failed"].includes(approval.status)) tell({ type: "records", collection: approval.action.collection });
}

render();
followExecution();
// Decided in another tab (or window): this one shows it too, not a stale "pending".
onChange((change) => {
  if (change.type === "approval" && change.id === approval.id) reload().then(followExecution);
});
