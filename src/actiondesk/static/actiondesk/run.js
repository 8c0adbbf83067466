// One run: who ran what, on which records, with which values (secrets redacted by the server),
// its status, result and timings. A queued or running run is followed live: server-sent events
// from /api/runs/{id}/events when the server has them, else polling; a background run shows
// its progress and may be cancelled.
import { ApiError, api, apiUrl, pageUrl, segment } from "./api.js";
import { clear, h, humanize, nouns, pageData } from "./dom.js";
import { nameRecordLinks } from "./references.js";
import { showHtml } from "./results.js";
import { announce } from "./sync.js";
import { toast } from "./toast.js";
import {
  definitionList, formatDuration, personLabel, section, statusPill, timeElement, valueNode,
} from "./parts.js";

const data = pageData();
let run = data.run;
const UNFINISHED = new Set(["queued", "running"]);
const POLL_FIRST_MS = 1000;
const POLL_MAX_MS = 5000;
const MAX_STREAM_ERRORS = 3;
const root = document.querySelector("[data-run]");
const actionsAnchor = document.querySelector("[data-run-actions]");
let progressCard = null;

const runPath = () => `/runs/${segment(run.id)}`;
const unfinished = () => UNFINISHED.has(run.status);

/** "1 customer", "3 customers". */
function counted(n) {
  const noun = nouns(run.collection);
  return `${n.toLocaleString()} ${n === 1 ? noun.singular : noun.plural}`;
}

function recordLink(id) {
  return data.readable ? h("a", { href: pageUrl(`/collections/${segment(run.collection)}/records/${segment(id)}`), dataset: { labelId: id } }, id) : id;
}

// -- progress --------------------------------------------------------------------------------

function progressText(p) {
  const parts = [];
  if (p.total !== null && p.total !== undefined) {
    parts.push(`${p.done.toLocaleString()} of ${p.total.toLocaleString()} records`);
    if (p.percent !== null && p.percent !== undefined) parts.push(`${p.percent.toLocaleString(undefined, { maximumFractionDigits: 1 })}%`);
  } else parts.push(`${p.done.toLocaleString()} records done`);
  if (p.rate) parts.push(`${p.rate.toLocaleString(undefined, { maximumFractionDigits: 1 })} records/s`);
  if (unfinished() && p.eta_seconds !== null && p.eta_seconds !== undefined) {
    parts.push(`about ${p.eta_seconds < 60 ? `${Math.ceil(p.eta_seconds)} s` : formatDuration(p.eta_seconds * 1000)} left`);
  }
  return parts.join(" · ");
}

function progressSection() {
  const p = run.progress;
  if (!p || typeof p !== "object") return null;
  const bar = h("progress", { class: "progress", id: "run-progress", max: p.total || null, value: p.total ? Math.min(p.done, p.total) : null,
    "aria-valuetext": progressText(p), dataset: { progress: "" } });
  if (!p.total && !unfinished()) bar.max = 1;
  if (!p.total && !unfinished()) bar.value = 1;
  const label = h("label", { for: "run-progress", class: "visually-hidden" }, "Progress of the run");
  const text = h("p", { class: "progress-text", dataset: { progressText: "" } }, progressText(p));
  progressCard = section("Progress", label, bar, text);
  return progressCard;
}

// -- the run ---------------------------------------------------------------------------------

function summary() {
  const r = run;
  const approvedBy = r.caller?.approvedBy;
  const rows = [
    ["Action", `${r.action_name}${r.collection ? ` on ${humanize(r.collection).toLowerCase()}` : " (global)"}`, "action"],
    ["Scope", humanize(r.scope), "scope"],
    ["Run by", personLabel(r.caller), "caller"],
    ["Role", r.caller?.role || "—", "role"],
    ["Approved by", Array.isArray(approvedBy) && approvedBy.length ? approvedBy.map((p) => p.email).join(", ") : undefined, "approved-by"],
    ["Status", statusPill(r.status), "status"],
    ["Answered", r.status_code ? `HTTP ${r.status_code}${r.result_kind ? ` · ${humanize(r.result_kind)}` : ""}` : undefined, "answer"],
    ["Message", r.message || undefined, "message"],
    ["Started", timeElement(r.started_at), "started"],
    ["Finished", r.finished_at ? timeElement(r.finished_at) : undefined, "finished"],
    ["Duration", r.duration_ms !== null && r.duration_ms !== undefined ? formatDuration(r.duration_ms) : undefined, "duration"],
    ["Runner", r.runner ? `${r.runner}${r.attempts ? ` · attempt ${r.attempts}` : ""}` : undefined, "runner"],
    ["Idempotency key", r.idempotency_key || undefined, "idempotency-key"],
  ];
  return section("Run", definitionList(rows));
}

function selection() {
  const s = run.selection || {};
  const body = h("div", { dataset: { selection: "" } });
  if (!run.collection) body.append(h("p", {}, "A global action: no record in particular."));
  else if (s.all_records) {
    const count = s.count ?? run.record_count;
    const all = count === null || count === undefined ? nouns(run.collection).plural : counted(count);
    body.append(h("p", {}, s.filter || s.search ? `All ${all} matching the list's filter` : `All ${all}`,
      s.excluded_ids?.length ? `, minus ${s.excluded_ids.length} deselected` : "", "."));
    body.append(definitionList([
      ["Filter", s.filter ? h("span", { class: "value-json" }, JSON.stringify(s.filter, null, 2)) : undefined, "filter"],
      ["Search", s.search || undefined, "search"],
      ["Deselected", s.excluded_ids?.length ? h("ul", { class: "id-list" }, s.excluded_ids.map((id) => h("li", {}, recordLink(id)))) : undefined, "excluded"],
    ]));
  } else if (Array.isArray(s.ids)) {
    body.append(h("p", {}, `${counted(s.ids.length)}:`),
      h("ul", { class: "id-list", dataset: { records: "" } }, s.ids.map((id) => h("li", {}, recordLink(id)))));
  } else if (run.record_count !== null && run.record_count !== undefined) {
    body.append(h("p", {}, `${counted(run.record_count)}.`));
  }
  if (s.parent) {
    body.append(h("p", { class: "muted" }, `In the ${humanize(s.parent.association).toLowerCase()} of ${humanize(s.parent.collection).toLowerCase()} `,
      h("a", { href: pageUrl(`/collections/${segment(s.parent.collection)}/records/${segment(s.parent.id)}`) }, s.parent.id), "."));
  }
  if (s.approval?.id) {
    body.append(h("p", {}, "Run on approval: ", h("a", { href: pageUrl(`/approvals/${segment(s.approval.id)}`), dataset: { approvalLink: s.approval.id } }, "the request"), "."));
  }
  if (run.collection && data.readable) nameRecordLinks(run.collection, body);
  return section("Records", body);
}

function values() {
  const entries = Object.entries(run.values || {});
  const body = entries.length
    ? definitionList(entries.map(([name, value]) => [humanize(name), valueNode(value), `value-${name}`]))
    : h("p", { class: "muted" }, "No form values.");
  return section("Form values", body);
}

/** What the caller's browser reported about the webhook (POST /api/runs/{id}/webhook). */
function webhookOutcome(outcome) {
  if (!outcome) {
    return h("p", { class: "muted", dataset: { webhookOutcome: "unreported" } },
      "The browser did not report whether the webhook was delivered.");
  }
  const when = [" (reported ", timeElement(outcome.reported_at), ")"];
  if (outcome.delivered) {
    return h("p", { dataset: { webhookOutcome: "delivered" } },
      h("span", { class: "status status-success" }, "Webhook delivered"),
      outcome.status ? ` · HTTP ${outcome.status}` : "", ...when);
  }
  return h("p", { dataset: { webhookOutcome: "undelivered" } },
    h("span", { class: "status status-danger" }, "Webhook not delivered"),
    outcome.error ? `: ${outcome.error}` : outcome.status ? `: HTTP ${outcome.status}` : "", ...when);
}

function result() {
  if (unfinished()) return null;
  const answer = run.result && typeof run.result === "object" ? run.result : {};
  const body = h("div", { dataset: { result: "" } });
  if (answer.success) body.append(h("p", {}, answer.success));
  if (answer.error) body.append(h("p", { class: "field-error" }, answer.error));
  if (answer.redirectTo) body.append(h("p", {}, "Pointed to ", h("code", {}, answer.redirectTo)));
  if (answer.webhook) {
    body.append(h("p", {}, "Asked the browser to call ", h("code", {}, `${answer.webhook.method || "POST"} ${answer.webhook.url}`)),
      webhookOutcome(run.webhook));
  }
  if (answer.refresh?.relationships?.length) body.append(h("p", { class: "muted" }, `Refreshed: ${answer.refresh.relationships.map(humanize).join(", ")}`));
  if (run.result_kind === "file" && !run.has_file) body.append(h("p", {}, `Returned the file ${run.message || ""} to the caller (not kept).`));
  if (run.has_file) {
    body.append(h("p", {}, h("a", { class: "button", href: apiUrl(`${runPath()}/file`), download: run.result_filename || "download", dataset: { runFile: "" } },
      `Download ${run.result_filename || "the file"}`)));
  }
  const panel = h("section", { class: "card result-panel", hidden: true, "aria-label": "HTML result" });
  if (answer.html) body.append(panel);
  if (!body.childNodes.length) return null;
  queueMicrotask(() => { if (answer.html) showHtml(panel, run.action_name, answer.html, run.status === "succeeded" ? "success" : "error"); });
  return section("Result", body);
}

// -- cancel ----------------------------------------------------------------------------------

function cancelButton() {
  clear(actionsAnchor);
  // Only background runs can be cancelled, and only while queued or running.
  if (!unfinished() || !run.background) return;
  if (run.cancel_requested) {
    actionsAnchor.append(h("span", { class: "muted", dataset: { cancelRequested: "" } }, "Cancel requested…"));
    return;
  }
  const button = h("button", { type: "button", class: "button button-danger", dataset: { cancelRun: "" } }, "Cancel run");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      update(await api.post(`${runPath()}/cancel`, {}));
      toast("The run will stop after its current batch.", { kind: "info", title: "Cancel requested" });
    } catch (error) {
      button.disabled = false;
      if (error instanceof ApiError && error.status === 409) {
        toast(`The run is already ${error.detail?.status || "finished"}.`, { kind: "warning" });
        await refresh();
      } else if (error instanceof ApiError && [404, 405].includes(error.status)) {
        toast("This server cannot cancel runs.", { kind: "error" });
      } else toast(error.message, { kind: "error", title: "The run could not be cancelled" });
    }
  });
  actionsAnchor.append(button);
}

// -- rendering and following -------------------------------------------------------------------

function render() {
  document.querySelector("[data-title]").textContent = run.action_name;
  clear(document.querySelector("[data-status]")).append(statusPill(run.status));
  document.querySelector("[data-subtitle]").textContent = `Run by ${personLabel(run.caller)}`;
  cancelButton();
  clear(root).append(h("div", { class: "detail-main" }, progressSection(), result(), summary(), selection(), values()));
}

/** Take a newer copy of the run: the progress in place while the status stays, else all. */
function update(next) {
  if (!next || next.id !== run.id) return;
  const same = next.status === run.status && next.cancel_requested === run.cancel_requested && Boolean(next.progress) === Boolean(run.progress);
  const ended = unfinished() && !UNFINISHED.has(next.status);
  run = next;
  // A background run that ended changed its records: open lists and records reload them.
  if (ended) announce({ type: "records", collection: run.collection });
  if (same && progressCard && run.progress) {
    const bar = progressCard.querySelector("progress");
    const p = run.progress;
    if (p.total) {
      bar.max = p.total;
      bar.value = Math.min(p.done, p.total);
    }
    bar.setAttribute("aria-valuetext", progressText(p));
    progressCard.querySelector("[data-progress-text]").textContent = progressText(p);
    return;
  }
  render();
}

async function refresh() {
  try {
    update(await api.get(runPath()));
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 0) toast(`The run could not be reloaded: ${error.message}`, { kind: "error" });
  }
}

function poll(delay = POLL_FIRST_MS) {
  if (!unfinished()) return;
  setTimeout(async () => {
    await refresh();
    poll(Math.min(delay * 1.5, POLL_MAX_MS));
  }, delay);
}

function follow() {
  if (!unfinished()) return;
  if (!window.EventSource) {
    poll();
    return;
  }
  const stream = new EventSource(apiUrl(`${runPath()}/events`));
  let errors = 0;
  const take = (event) => {
    errors = 0;
    try {
      update(JSON.parse(event.data));
    } catch {
      // A malformed event: the next one (or the poll) brings the run.
    }
  };
  stream.addEventListener("run", take);
  stream.addEventListener("end", (event) => {
    take(event);
    stream.close();
    if (unfinished()) poll();
  });
  stream.addEventListener("error", () => {
    errors += 1;
    // No stream on this server (404), or it keeps failing: poll instead.
    if (stream.readyState === EventSource.CLOSED || errors >= MAX_STREAM_ERRORS) {
      stream.close();
      poll();
    }
  });
}

render();
follow();
