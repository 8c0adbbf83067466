// The action dialog: loads the form from the server, shows a widget per field, sends each
// change to the form's change endpoint, and submits. Errors from a 422 go next to their field.
import { ApiError, api } from "./api.js";
import { append, h, humanize, uid } from "./dom.js";
import { FieldProblem, widgetFor } from "./widgets.js";

const CHANGE_DELAY_MS = 150;
const GROUPED = new Set(["enum_list", "string_list", "number_list"]);

/** Whether running it asks a reviewer first, said before the person fills the form. */
function approvalNote(action) {
  if (action.rule !== "approval" || action.approval_applies === false) return null;
  const when = action.approval_applies === null && action.approval_condition ? ` ${action.approval_condition}` : "";
  return h("p", { class: "dialog-summary dialog-approval", dataset: { approvalNote: "" } },
    `Needs a reviewer's approval${when}: nothing runs until it is approved.`);
}

/**
 * new ActionDialog(action, context, execute, opener).open(); execute(values) ->
 * {done: bool, fields?, message?}; the focus returns to `opener` when the dialog closes.
 * context: {describeSelection(), document(extra)}.
 */
export class ActionDialog {
  constructor(action, context, execute, opener = null) {
    this.action = action;
    this.opener = opener;
    this.context = context;
    this.execute = execute;
    this.fields = new Map();
    this.changeSeq = 0;
    const titleId = uid("dialog-title");
    this.formError = h("p", { class: "form-error", role: "alert", hidden: true, dataset: { formError: "" } });
    this.body = h("div", { class: "dialog-body" });
    this.submit = h("button", { type: "submit", class: "button button-primary", dataset: { submit: "" } }, action.submit_label || action.name);
    const cancel = h("button", { type: "button", class: "button", dataset: { cancel: "" } }, "Cancel");
    cancel.addEventListener("click", () => this.close());
    this.form = h("form", { class: "dialog-form", novalidate: true },
      h("header", { class: "dialog-header" },
        h("h2", { id: titleId, class: "dialog-title" }, action.name),
        h("p", { class: "dialog-summary", dataset: { summary: "" } }, context.describeSelection(action)),
        approvalNote(action)),
      this.body,
      h("footer", { class: "dialog-footer" }, cancel, this.submit));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.form.addEventListener("change", (event) => this.changed(event));
    this.dialog = h("dialog", { class: "dialog", "aria-labelledby": titleId, dataset: { actionDialog: action.slug } }, this.form);
    this.dialog.addEventListener("close", () => {
      this.dialog.remove();
      // Back where the person was (the menu item that opened the dialog is gone).
      if (this.opener?.isConnected) this.opener.focus();
    });
  }

  async open() {
    document.body.append(this.dialog);
    this.dialog.showModal();
    if (!this.action.has_form) {
      append(this.body, [this.action.description ? h("p", { class: "field-description" }, this.action.description) : null, this.formError]);
      this.submit.focus();
      return;
    }
    this.body.append(h("div", { class: "table-state", dataset: { state: "loading" } },
      h("div", { class: "spinner", role: "progressbar", "aria-label": "Loading the form" })));
    this.submit.disabled = true;
    let form;
    try {
      form = await api.post(this.context.path(this.action, "/form"), this.context.document(this.action, {}));
    } catch (error) {
      this.body.replaceChildren(this.formError);
      this.showError(error.message);
      return;
    }
    this.render(form.fields);
    this.submit.disabled = false;
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  render(fields) {
    this.body.replaceChildren();
    append(this.body, [this.action.description ? h("p", { class: "field-description" }, this.action.description) : null, this.formError]);
    for (const field of fields) {
      const id = uid(`field-${field.name}`);
      const widget = widgetFor(field, id);
      // Groups of inputs (lists, multi-select) are named by aria-labelledby, not <label for>.
      const grouped = GROUPED.has(field.type);
      const labelText = h("span", { dataset: { labelText: "" } }, field.label);
      const label = widget.inline
        ? h("label", { class: "checkbox-row", for: id }, widget.element, labelText)
        : h(grouped ? "span" : "label", { class: "field-label", for: grouped ? null : id, id: `${id}-label` }, labelText);
      // The marker stays outside the label, so the input's name is the label alone; assistive
      // technology hears aria-required on the control instead.
      const marker = h("span", { class: "required-mark", "aria-hidden": "true" }, "*");
      const head = h("div", { class: "field-head" }, label, marker);
      const description = h("p", { class: "field-description", id: `${id}-description` });
      const error = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
      const wrapper = h("div", { class: "field", dataset: { field: field.name, type: field.type } },
        head, widget.inline ? null : widget.element, description, error);
      if (grouped) widget.control.setAttribute("aria-labelledby", `${id}-label`);
      const entry = { field, widget, wrapper, labelText, marker, description, error, id };
      this.fields.set(field.name, entry);
      this.apply(entry, field, true);
      this.body.append(wrapper);
    }
    const first = [...this.fields.values()].find((e) => e.field.visible && !e.field.read_only);
    (first?.widget.focusTarget?.() || first?.widget.control || this.submit).focus();
  }

  /** Show a field's computed properties (on load, and after each change). */
  apply(entry, field, initial) {
    const { widget, wrapper, marker, description } = entry;
    entry.field = field;
    wrapper.hidden = !field.visible;
    entry.labelText.textContent = field.label;
    marker.hidden = !field.required;
    description.textContent = field.description || "";
    description.hidden = !field.description;
    const control = widget.control;
    const describedBy = [field.description ? description.id : null, entry.error.hidden ? null : entry.error.id].filter(Boolean);
    if (describedBy.length) control.setAttribute("aria-describedby", describedBy.join(" "));
    else control.removeAttribute("aria-describedby");
    if (field.required) control.setAttribute("aria-required", "true");
    else control.removeAttribute("aria-required");
    const readOnly = field.read_only;
    for (const input of control.matches("input, select, textarea") ? [control] : control.querySelectorAll("input, select, textarea, button")) {
      if (input.tagName === "INPUT" && !["checkbox", "file", "radio"].includes(input.type) || input.tagName === "TEXTAREA") input.readOnly = readOnly;
      else input.disabled = readOnly;
    }
    widget.update?.(field);
    if (initial || readOnly) widget.set(field.value);
  }

  /** Current values of the visible, editable fields; problems found in the browser. */
  async values() {
    const values = {};
    const problems = {};
    for (const [name, entry] of this.fields) {
      if (!entry.field.visible || entry.field.read_only) continue;
      try {
        const value = await entry.widget.get();
        if (entry.field.required && (value === null || value === "" || (Array.isArray(value) && !value.length))) {
          problems[name] = "is required";
        }
        values[name] = value;
      } catch (error) {
        if (!(error instanceof FieldProblem)) throw error;
        problems[name] = error.message;
      }
    }
    return { values, problems };
  }

  async changed(event) {
    const wrapper = event.target.closest("[data-field]");
    if (!wrapper || !this.action.has_form) return;
    const name = wrapper.dataset.field;
    this.setError(name, null);
    const seq = ++this.changeSeq;
    await new Promise((resolve) => setTimeout(resolve, CHANGE_DELAY_MS));
    if (seq !== this.changeSeq) return;
    let values;
    try {
      ({ values } = await this.values());
    } catch {
      return;
    }
    for (const [key, entry] of this.fields) {
      if (entry.field.type.startsWith("file")) delete values[key];
    }
    let form;
    try {
      form = await api.post(this.context.path(this.action, "/form"), this.context.document(this.action, { values, changed_field: name }));
    } catch (error) {
      if (seq === this.changeSeq) this.showError(error.message);
      return;
    }
    if (seq !== this.changeSeq) return;
    const focused = document.activeElement;
    for (const field of form.fields) {
      const entry = this.fields.get(field.name);
      if (!entry) continue;
      this.apply(entry, field, false);
      const sent = JSON.stringify(values[field.name] ?? null);
      if (!field.read_only && !entry.wrapper.contains(focused) && JSON.stringify(field.value ?? null) !== sent && field.name in values) {
        entry.widget.set(field.value);
      }
    }
  }

  setError(name, message) {
    const entry = this.fields.get(name);
    if (!entry) return false;
    entry.error.textContent = message ? `${entry.field.label} ${message}` : "";
    entry.error.hidden = !message;
    entry.wrapper.classList.toggle("has-error", Boolean(message));
    if (message) entry.widget.control.setAttribute("aria-invalid", "true");
    else entry.widget.control.removeAttribute("aria-invalid");
    this.apply(entry, entry.field, false);
    return true;
  }

  showError(message) {
    this.formError.textContent = message;
    this.formError.hidden = !message;
  }

  showFieldErrors(fields, message) {
    let first = null;
    const elsewhere = [];
    for (const [name, text] of Object.entries(fields || {})) {
      if (this.setError(name, text)) first = first || name;
      else elsewhere.push(`${humanize(name)} ${text}`);
    }
    this.showError(elsewhere.length ? elsewhere.join("; ") : first ? "Check the highlighted fields." : message);
    if (first) {
      const entry = this.fields.get(first);
      (entry.widget.focusTarget?.() || entry.widget.control).focus();
    }
  }

  async send() {
    this.showError("");
    for (const name of this.fields.keys()) this.setError(name, null);
    let collected;
    try {
      collected = await this.values();
    } catch (error) {
      this.showError(error.message);
      return;
    }
    if (Object.keys(collected.problems).length) {
      this.showFieldErrors(collected.problems);
      return;
    }
    this.submit.disabled = true;
    this.submit.setAttribute("aria-busy", "true");
    try {
      const outcome = await this.execute(collected.values);
      if (outcome.done) {
        this.close();
        return;
      }
      if (outcome.fields) this.showFieldErrors(outcome.fields, outcome.message);
      else this.showError(outcome.message || "");
    } catch (error) {
      this.showError(error instanceof ApiError ? error.message : String(error));
    } finally {
      this.submit.disabled = false;
      this.submit.removeAttribute("aria-busy");
    }
  }
}
