// The built-in record actions in the browser: Edit (the dialog, and inline on the record
// page), New on the collection page, Delete with a confirmation naming how many records.
// They run like every action (same dialog, widgets, field errors, approval notice); this
// module adds what a record form needs: the values the edit was made from, and the answer to
// a conflict (409: the record changed meanwhile), which offers to reload.
import { api, errorOf, pageUrl, segment, send } from "./api.js";
import { h, humanize, uid } from "./dom.js";
import { ActionDialog } from "./form.js";
import { handleResult } from "./results.js";
import { toast } from "./toast.js";
import { FieldProblem, widgetFor } from "./widgets.js";

const ORIGINAL = "_original";

function newKey() {
  const bytes = window.crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** An execute answer of a built-in action: a conflict stays in the form; a new record links to itself. */
export async function handleRecordResult(response, action, context) {
  if (response.status === 409 && action.builtin === "edit") {
    const error = await errorOf(response);
    return { done: false, conflict: true, fields: error.fields, message: error.message };
  }
  if (response.ok && response.status === 200 && action.builtin === "create") {
    const body = await response.json().catch(() => ({}));
    const id = body.record?.id;
    toast(body.success || `${action.name} done.`, {
      kind: "success",
      link: id ? { href: pageUrl(`/collections/${segment(action.collection)}/records/${segment(id)}`), text: "Open it" } : null,
    });
    await context.reload?.();
    return { done: true };
  }
  if (response.ok && response.status === 200) {
    // The run keeps what changed (before and after) or what was deleted: link to it.
    const body = await response.json().catch(() => ({}));
    const runId = response.headers.get("X-Actiondesk-Run-Id");
    toast(body.success || `${action.name} done.`, {
      kind: "success",
      link: runId ? { href: pageUrl(`/runs/${segment(runId)}`), text: "See the change" } : null,
    });
    if (action.builtin === "delete" && context.afterDelete) context.afterDelete();
    else await context.reload?.();
    return { done: true };
  }
  return handleResult(response, action, context);
}

/** The action dialog of a built-in action: edits carry the values they were made from. */
export class RecordDialog extends ActionDialog {
  constructor(action, context, execute, opener = null, { focus = null } = {}) {
    super(action, context, async (values) => {
      const outcome = await execute(values);
      this.conflicted = Boolean(outcome.conflict);
      return outcome;
    }, opener);
    this.focusName = focus;
    this.original = {};
  }

  async open() {
    if (this.action.builtin === "delete") {
      const { count } = this.context.selection();
      const noun = count === 1 ? this.context.noun.singular : this.context.noun.plural;
      this.action = { ...this.action, description: `Delete ${count.toLocaleString()} ${noun}? This cannot be undone; records that others refer to are not deleted.` };
    }
    await super.open();
  }

  render(fields) {
    this.original = Object.fromEntries(fields.filter((f) => f.name !== ORIGINAL).map((f) => [f.name, f.value]));
    super.render(fields.filter((f) => f.name !== ORIGINAL));
    const wanted = this.focusName && this.fields.get(this.focusName);
    if (wanted) (wanted.widget.focusTarget?.() || wanted.widget.control).focus();
  }

  async values() {
    const collected = await super.values();
    if (this.action.builtin === "edit") collected.values[ORIGINAL] = this.original;
    return collected;
  }

  showFieldErrors(fields, message) {
    super.showFieldErrors(fields, message);
    if (!this.conflicted) return;
    this.showError(message);
    const reload = h("button", { type: "button", class: "button", dataset: { reloadRecord: "" } }, "Reload the record");
    reload.addEventListener("click", () => this.reloadForm());
    this.formError.append(" ", reload);
  }

  async reloadForm() {
    this.conflicted = false;
    const form = await api.post(this.context.path(this.action, "/form"), this.context.document(this.action, {}));
    this.fields.clear();
    this.render(form.fields);
    this.showError("");
    await this.context.reload?.();
  }
}

/** The record page's Edit and Delete buttons, and the pencil of each field the caller may
 * edit; `recordActions` comes with the page ({actions: {edit, delete, ...}, editable}). */
export class RecordEditing {
  constructor(anchor, context, recordActions = {}) {
    this.anchor = anchor;
    this.context = context;
    this.actions = new Map(Object.entries(recordActions.actions || {}));
    this.editable = new Set(recordActions.editable || []);
    const buttons = [];
    const edit = this.actions.get("edit");
    if (edit) buttons.push(this.button(edit, "Edit", "editRecord"));
    const remove = this.actions.get("delete");
    if (remove) buttons.push(this.button(remove, "Delete", "deleteRecord", "button button-danger"));
    this.anchor.prepend(...buttons);
  }

  button(action, label, data, kind = "button") {
    const enabled = action.enabled !== false;
    const button = h("button", { type: "button", class: kind, dataset: { [data]: "" }, disabled: !enabled,
      title: enabled ? action.description : action.disabled_reason }, label,
      action.rule === "approval" ? h("span", { class: "tag" }, "approval") : null);
    button.addEventListener("click", () => this.context.run(action, button));
    return button;
  }

  /** A pencil next to each editable field's value; it edits that one field in place. */
  decorate(list) {
    const edit = this.actions.get("edit");
    if (!edit || edit.enabled === false) return;
    for (const dd of list.querySelectorAll("dd[data-field]")) {
      const name = dd.dataset.field;
      if (!this.editable.has(name)) continue;
      const pencil = h("button", { type: "button", class: "icon-button inline-edit", "aria-label": `Edit ${humanize(name)}`, dataset: { inlineEdit: name } }, "✎");
      pencil.addEventListener("click", () => this.inline(dd, name, edit));
      dd.append(" ", pencil);
    }
  }

  async inline(dd, name, action) {
    const form = await api.post(this.context.path(action, "/form"), this.context.document(action, {}));
    const field = form.fields.find((f) => f.name === name);
    if (!field) return;
    const original = Object.fromEntries(form.fields.filter((f) => f.name !== ORIGINAL).map((f) => [f.name, f.value]));
    const id = uid(`inline-${name}`);
    const widget = widgetFor(field, id);
    widget.set(field.value);
    const error = h("p", { class: "field-error", role: "alert", hidden: true, dataset: { inlineError: "" } });
    const save = h("button", { type: "submit", class: "button button-primary" }, "Save");
    const cancel = h("button", { type: "button", class: "button" }, "Cancel");
    const editor = h("form", { class: "inline-editor", novalidate: true, dataset: { inlineEditor: name } },
      h("label", { class: "visually-hidden", for: id }, field.label), widget.element, save, cancel, error);
    const shown = [...dd.childNodes];
    dd.replaceChildren(editor);
    (widget.focusTarget?.() || widget.control).focus();
    const restore = () => dd.replaceChildren(...shown);
    cancel.addEventListener("click", restore);
    editor.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.hidden = true;
      let value;
      try {
        value = await widget.get();
      } catch (problem) {
        if (!(problem instanceof FieldProblem)) throw problem;
        error.textContent = `${field.label} ${problem.message}`;
        error.hidden = false;
        return;
      }
      save.disabled = true;
      const response = await send("POST", this.context.path(action), {
        json: this.context.document(action, { values: { [name]: value, [ORIGINAL]: original } }),
        headers: { "Idempotency-Key": newKey() },
      });
      save.disabled = false;
      const outcome = await handleRecordResult(response, action, this.context);
      if (outcome.done) return;
      error.textContent = outcome.fields?.[name] ? `${field.label} ${outcome.fields[name]}` : outcome.message;
      error.hidden = false;
      if (outcome.conflict) {
        const reload = h("button", { type: "button", class: "button", dataset: { reloadRecord: "" } }, "Reload the record");
        reload.addEventListener("click", () => this.context.reload());
        error.append(" ", reload);
      }
    });
  }
}

/** The collection page's New button, when the caller may create records (from the page data). */
export function newButton(anchor, context, recordActions = {}) {
  const create = recordActions.actions?.create;
  if (!create) return;
  const button = h("button", { type: "button", class: "button", dataset: { newRecord: "" } }, "New",
    create.rule === "approval" ? h("span", { class: "tag" }, "approval") : null);
  button.addEventListener("click", () => context.run(create, button));
  anchor.prepend(button);
}
