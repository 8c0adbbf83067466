// The dialog that edits one cell of the permission matrix: what one role may do with one
// action. Rule (hidden / trigger / trigger with approval, optionally only when a condition on
// the selected records or the form values holds) and approving (how many approvals, self-
// approval). The server checks everything again; its 4xx errors go next to their field.
import { request } from "./api.js";
import { h, humanize, uid } from "./dom.js";
import { ConditionEditor } from "./condition_editor.js";
import { clearErrors, field, formError, showFieldErrors } from "./parts.js";

const RULES = [
  ["hidden", "Hidden", "The role does not see the action."],
  ["trigger", "Trigger", "The role runs it at once."],
  ["approval", "Trigger with approval", "The role's requests wait for a reviewer's approval."],
];

function radios(name, legend, choices, value, onChange) {
  const legendId = uid(name);
  const group = h("fieldset", { class: "choice-list", "aria-labelledby": legendId, dataset: { control: "" } },
    h("legend", { class: "field-label", id: legendId }, legend),
    choices.map(([v, label, note, disabled]) => {
      const input = h("input", { type: "radio", name, value: v, checked: v === value, disabled: Boolean(disabled) });
      input.addEventListener("change", () => onChange(v));
      return h("label", { class: "choice" }, input, h("span", {}, h("span", { class: "choice-label" }, label),
        note ? h("span", { class: "choice-note" }, note) : null));
    }));
  const error = h("p", { class: "field-error", id: `${legendId}-error`, hidden: true });
  return h("div", { class: "field", dataset: { field: name, label: legend } }, group, error);
}

/**
 * open(): resolves with the saved policy, `null` when it was removed, or undefined when the
 * dialog was closed without a change. action: {slug, name, collection, form_fields};
 * fields: the action's collection fields; policy: the current one or null.
 */
export class PolicyDialog {
  constructor({ role, action, fields, policy, maxApprovals }) {
    Object.assign(this, { role, action, fields, policy, maxApprovals });
    const p = policy || { rule: "hidden", condition: null, condition_on: "records", can_approve: false, approvals_required: 1, self_approval: false };
    this.state = { rule: p.rule, conditionOn: p.condition ? p.condition_on : "always" };
    this.outcome = undefined;
    this.build(p);
  }

  conditionFields(on) {
    return on === "values" ? this.action.form_fields : this.fields;
  }

  build(p) {
    const titleId = uid("policy-title");
    const global = !this.action.collection || this.action.scope === "global";
    const noForm = !this.action.form_fields.length;
    this.errors = formError();
    this.ruleField = radios("rule", "Rule", RULES, p.rule, (rule) => {
      this.state.rule = rule;
      this.sync();
    });
    this.whenField = radios("condition_on", "Approval needed", [
      ["always", "Always", null],
      ["records", "Only when a selected record matches a condition", global ? "A global action has no records." : null, global],
      ["values", "Only when the form values match a condition", noForm ? "The action has no form field to test." : null, noForm],
    ], this.state.conditionOn, (on) => {
      const before = this.state.conditionOn;
      this.state.conditionOn = on;
      // The records' fields and the form's are different things: a condition does not carry over.
      if (on !== "always" && before !== on) this.editor.set(null, this.conditionFields(on));
      this.sync();
    });
    this.editor = new ConditionEditor({ fields: this.conditionFields(p.condition ? p.condition_on : "records"), condition: p.condition,
      emptyText: "No condition yet: add one, or approval is always needed." });
    const conditionId = uid("condition");
    this.conditionField = h("div", { class: "field", dataset: { field: "condition", label: "Condition" } },
      h("span", { class: "field-label", id: conditionId }, "Condition"), this.editor.element,
      h("p", { class: "field-error", id: `${conditionId}-error`, hidden: true }));
    this.editor.element.setAttribute("aria-labelledby", conditionId);
    this.editor.element.setAttribute("role", "group");
    this.canApprove = h("input", { type: "checkbox", name: "can_approve", checked: p.can_approve });
    this.canApprove.addEventListener("change", () => this.sync());
    this.required = h("input", { class: "input input-narrow", type: "number", name: "approvals_required", min: 1, max: this.maxApprovals, step: 1, value: String(p.approvals_required) });
    this.selfApproval = h("input", { type: "checkbox", name: "self_approval", checked: p.self_approval });
    this.approveOptions = h("div", { class: "nested-fields" },
      field({ name: "approvals_required", label: "Approvals a request needs", control: this.required,
        description: "From distinct people; the largest number among the approving roles applies." }).wrapper,
      field({ name: "self_approval", label: "A requester of this role may approve their own request", control: this.selfApproval }).wrapper);
    this.save = h("button", { type: "button", class: "button button-primary", dataset: { savePolicy: "" } }, "Save");
    this.save.addEventListener("click", () => this.submit());
    const cancel = h("button", { type: "button", class: "button", dataset: { cancel: "" } }, "Cancel");
    cancel.addEventListener("click", () => this.dialog.close());
    this.remove = this.policy ? h("button", { type: "button", class: "button button-ghost button-danger footer-start", dataset: { removePolicy: "" } }, "Remove the rule") : null;
    this.remove?.addEventListener("click", () => this.submit(true));
    this.body = h("div", { class: "dialog-body" }, this.errors, this.ruleField,
      h("div", { class: "nested-fields", dataset: { approvalOptions: "" } }, this.whenField, this.conditionField),
      h("div", { class: "field-group" }, field({ name: "can_approve", label: "May approve requests for this action", control: this.canApprove }).wrapper, this.approveOptions));
    const where = this.action.collection ? humanize(this.action.collection) : "Global action";
    this.dialog = h("dialog", { class: "dialog", "aria-labelledby": titleId, dataset: { policyDialog: `${this.role}|${this.action.collection || ""}|${this.action.slug}` } },
      h("div", { class: "dialog-form" },
        h("header", { class: "dialog-header" }, h("h2", { class: "dialog-title", id: titleId }, `${this.action.name} · role ${this.role}`),
          h("p", { class: "dialog-summary" }, `${where} · ${this.policy ? "Edit the rule" : "No rule yet: hidden by default"}`)),
        this.body,
        h("footer", { class: "dialog-footer" }, this.remove, cancel, this.save)));
    this.dialog.addEventListener("close", () => {
      this.dialog.remove();
      this.resolve?.(this.outcome);
    });
    this.sync();
  }

  sync() {
    const approval = this.state.rule === "approval";
    this.body.querySelector("[data-approval-options]").hidden = !approval;
    this.conditionField.hidden = !approval || this.state.conditionOn === "always";
    this.approveOptions.hidden = !this.canApprove.checked;
  }

  open() {
    document.body.append(this.dialog);
    this.dialog.showModal();
    this.body.querySelector("input:checked")?.focus();
    return new Promise((resolve) => { this.resolve = resolve; });
  }

  policyBody() {
    const approval = this.state.rule === "approval";
    const conditional = approval && this.state.conditionOn !== "always";
    const required = this.required.value.trim();
    return {
      role: this.role,
      collection: this.action.collection,
      action: this.action.slug,
      rule: this.state.rule,
      condition: conditional ? this.editor.value() : null,
      condition_on: conditional ? this.state.conditionOn : "records",
      can_approve: this.canApprove.checked,
      approvals_required: this.canApprove.checked && /^\d+$/.test(required) ? Number(required) : (this.canApprove.checked ? required : 1),
      self_approval: this.canApprove.checked && this.selfApproval.checked,
    };
  }

  async submit(removing = false) {
    clearErrors(this.body, this.errors);
    const body = this.policyBody();
    if (!removing && body.rule === "approval" && this.state.conditionOn !== "always" && !body.condition) {
      showFieldErrors(this.body, { fields: { condition: "is empty: add one, or choose Always" } }, this.errors);
      return;
    }
    for (const b of [this.save, this.remove]) if (b) b.disabled = true;
    try {
      if (removing) {
        await request("DELETE", "/settings/policies", { params: { role: this.role, collection: this.action.collection, action: this.action.slug } });
        this.outcome = null;
      } else {
        this.outcome = await request("PUT", "/settings/policies", { json: body });
      }
      this.dialog.close();
    } catch (error) {
      showFieldErrors(this.body, error, this.errors);
    } finally {
      for (const b of [this.save, this.remove]) if (b) b.disabled = false;
    }
  }
}
