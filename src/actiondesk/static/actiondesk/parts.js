// Building blocks of the approvals, runs and settings pages: times, durations, status pills,
// definition lists, labelled form fields with the server's errors next to them, the
// loading / empty / error states, and the pagination bar (also the records table's). Every value becomes text (see dom.js), never HTML.
import { formatInstant, parseInstant } from "./display.js";
import { h, humanize, uid } from "./dom.js";

const STATUS_KINDS = {
  pending: "warning", queued: "warning", running: "warning", executing: "warning",
  executed: "success", succeeded: "success",
  failed: "danger", error: "danger", rejected: "danger", refused: "danger",
  cancelled: "muted", expired: "muted",
  // Not run: frozen for a reviewer (the approved request runs as a run of its own).
  approval_requested: "info",
  active: "success", deactivated: "muted",
  forbidden: "danger", unauthenticated: "warning", rate_limited: "warning",
};

/** "2026-02-03T10:30:00+00:00" -> "Feb 3, 2026, 10:30:00 AM UTC" in the reader's zone (named)
 *  and language. */
export function formatTime(iso) {
  if (!iso) return "";
  const date = parseInstant(iso);
  return date ? formatInstant(date) : String(iso);
}

/** A <time> element (the exact instant in its title), or a dash. */
export function timeElement(iso) {
  if (!iso) return h("span", { class: "cell-null" }, "—");
  return h("time", { datetime: iso, title: iso }, formatTime(iso));
}

export function formatDuration(ms) {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds - minutes * 60)} s`;
}

/** A status as a coloured pill; the colour is a hint, the word says it. */
export function statusPill(status) {
  const kind = STATUS_KINDS[status] || "muted";
  return h("span", { class: `status status-${kind}`, dataset: { status } }, humanize(status || "unknown"));
}

/** "Ada Lovelace (ada@example.com)", or the email alone. */
export function personLabel(person) {
  if (!person) return "—";
  const first = person.firstName ?? person.first_name ?? "";
  const last = person.lastName ?? person.last_name ?? "";
  const name = `${first} ${last}`.trim();
  const email = person.email || person.id || "";
  return name && email ? `${name} (${email})` : name || email || "—";
}

/** A value as a person reads it: text, numbers, yes/no, JSON for anything structured. */
export function valueNode(value) {
  if (value === null || value === undefined || value === "") return h("span", { class: "cell-null" }, "—");
  if (typeof value === "boolean") return value ? "Yes" : "No";
  if (typeof value === "object") return h("span", { class: "value-json" }, JSON.stringify(value, null, 2));
  return String(value);
}

/** A <dl> of [label, value node, key] rows (rows with an undefined value are left out). */
export function definitionList(rows, className = "detail-list") {
  const list = h("dl", { class: className });
  for (const [label, value, key] of rows) {
    if (value === undefined) continue;
    list.append(h("dt", {}, label), h("dd", { dataset: { detail: key || label.toLowerCase() } }, value));
  }
  return list;
}

/** A card with a heading, for a section of a detail or settings page. */
export function section(title, ...children) {
  const id = uid("section");
  return h("section", { class: "card card-section", "aria-labelledby": id },
    h("h2", { class: "card-section-title", id }, title), children);
}

export function loadingState(label = "Loading") {
  return h("div", { class: "table-state", dataset: { state: "loading" } },
    h("div", { class: "spinner", role: "progressbar", "aria-label": label }));
}

export function emptyState(title, text) {
  return h("div", { class: "table-state", dataset: { state: "empty" } },
    h("p", { class: "empty-title" }, title), text ? h("p", {}, text) : null);
}

export function errorState(message, retry) {
  return h("div", { class: "table-state table-state-error", role: "alert", dataset: { state: "error" } },
    h("p", {}, message),
    retry ? h("button", { type: "button", class: "button", onclick: retry }, "Try again") : null);
}

/**
 * A labelled field: {wrapper, control, error}. `control` is an input, select or textarea (its
 * id is set here, so the label is tied to it); `name` is the key the server's errors use.
 */
export function field({ name, label, control, description, required = false }) {
  // A control with a shown limit (limits.js) comes wrapped with its counter.
  const input = control.classList.contains("limited") ? control.firstElementChild : control;
  const id = input.id || uid(`field-${name}`);
  input.id = id;
  const error = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
  const help = description ? h("p", { class: "field-description", id: `${id}-description` }, description) : null;
  if (help) input.setAttribute("aria-describedby", help.id);
  if (required) input.setAttribute("aria-required", "true");
  const isCheck = input.type === "checkbox";
  const labelNode = isCheck
    ? h("label", { class: "checkbox-row", for: id }, control, h("span", {}, label))
    : h("label", { for: id }, label, required ? h("span", { class: "required-mark", "aria-hidden": "true" }, "*") : null);
  const wrapper = h("div", { class: "field", dataset: { field: name, label } },
    labelNode, isCheck ? null : control, help, error);
  return { wrapper, control: input, error };
}

/** Clear the errors shown by showFieldErrors. */
export function clearErrors(root, formError) {
  for (const wrapper of root.querySelectorAll(".field.has-error")) setFieldError(wrapper, null);
  if (formError) {
    formError.textContent = "";
    formError.hidden = true;
  }
}

function setFieldError(wrapper, message) {
  const error = wrapper.querySelector(":scope > .field-error");
  const control = wrapper.querySelector(":scope > input, :scope > select, :scope > textarea, :scope > label > input, :scope > [data-control], :scope > .limited > :first-child");
  error.textContent = message ? `${wrapper.dataset.label} ${message}` : "";
  error.hidden = !message;
  wrapper.classList.toggle("has-error", Boolean(message));
  if (!control) return;
  const described = (control.getAttribute("aria-describedby") || "").split(" ").filter((x) => x && x !== error.id);
  if (message) {
    control.setAttribute("aria-invalid", "true");
    described.push(error.id);
  } else control.removeAttribute("aria-invalid");
  if (described.length) control.setAttribute("aria-describedby", described.join(" "));
  else control.removeAttribute("aria-describedby");
}

/**
 * Show an API error: each message of `error.fields` next to the field it names (in `root`),
 * the rest (and the summary) in `formError`. Focuses the first field in error. Returns whether
 * a field took a message.
 */
export function showFieldErrors(root, error, formError) {
  clearErrors(root, formError);
  const fields = error.fields || {};
  const elsewhere = [];
  let first = null;
  for (const [name, text] of Object.entries(fields)) {
    const wrapper = [...root.querySelectorAll(".field[data-field]")].find((w) => w.dataset.field === name);
    if (wrapper && !wrapper.closest("[hidden]")) {
      setFieldError(wrapper, text);
      first = first || wrapper;
    } else elsewhere.push(`${humanize(name)} ${text}`);
  }
  if (formError) {
    formError.textContent = elsewhere.length ? elsewhere.join("; ") : first ? "Check the highlighted fields." : error.message;
    formError.hidden = false;
  }
  first?.querySelector("input, select, textarea")?.focus();
  return Boolean(first);
}

export function formError() {
  return h("p", { class: "form-error", role: "alert", hidden: true, dataset: { formError: "" } });
}

/** A <select> of [value, label] options. */
export function select(options, value, props = {}) {
  return h("select", { class: "select", ...props },
    options.map(([v, label]) => h("option", { value: v, selected: String(v) === String(value ?? "") }, label)));
}

/**
 * A pagination bar's contents: "1–25 of 1,234", then `extra` (e.g. a page-size select) and
 * Previous / "Page 1 of 50" / Next, which call `setPage` with the page to show.
 */
export function pageControls({ page, pageSize, count, setPage, extra = null }) {
  const pages = Math.max(1, Math.ceil(count / pageSize));
  const first = (page - 1) * pageSize + 1;
  const last = Math.min(count, page * pageSize);
  const previous = h("button", { type: "button", class: "button button-small", disabled: page <= 1, dataset: { page: "previous" } }, "Previous");
  previous.addEventListener("click", () => setPage(page - 1));
  const next = h("button", { type: "button", class: "button button-small", disabled: page >= pages, dataset: { page: "next" } }, "Next");
  next.addEventListener("click", () => setPage(page + 1));
  return [
    h("span", { dataset: { range: "" } }, `${first.toLocaleString()}–${last.toLocaleString()} of ${count.toLocaleString()}`),
    h("div", { class: "pagination-controls" }, extra, previous, h("span", {}, `Page ${page} of ${pages.toLocaleString()}`), next),
  ];
}
