// A condition (a filter) edited in place: its summary, and the filter builder of filters.js
// opened under it on "Edit condition". Used for approval conditions and enabled_if.
import { clear, h } from "./dom.js";
import { FilterBuilder, describe, normalize } from "./filters.js";

/** A group of one condition is that condition (what a person reads, and what is stored). */
function simplest(filter) {
  if (filter?.conditions?.length === 1) return simplest(filter.conditions[0]);
  return filter;
}

export class ConditionEditor {
  /**
   * fields: the fields a condition may test ({name, type, enum_values}); condition: a filter
   * or null; onChange(filter|null) after each apply. `element` goes in the page.
   */
  constructor({ fields, condition = null, onChange, emptyText = "No condition." }) {
    this.fields = fields;
    this.condition = condition;
    this.onChange = onChange;
    this.emptyText = emptyText;
    this.builder = null;
    this.element = h("div", { class: "condition-editor", dataset: { control: "", conditionEditor: "" } });
    this.render();
  }

  /** The condition, taking what is in an open builder as applied. */
  value() {
    if (this.builder) return simplest(normalize(this.builder.root));
    return this.condition;
  }

  set(condition, fields = this.fields) {
    this.condition = condition;
    this.fields = fields;
    this.builder = null;
    this.render();
  }

  render() {
    clear(this.element);
    if (this.builder) {
      this.element.append(this.builder.element);
      return;
    }
    const summary = this.condition
      ? h("span", { class: "filter-chip", dataset: { conditionSummary: "" } }, describe(this.condition))
      : h("span", { class: "muted", dataset: { conditionSummary: "" } }, this.emptyText);
    const edit = h("button", { type: "button", class: "button button-small", dataset: { editCondition: "" },
      disabled: !this.fields.length, title: this.fields.length ? null : "Nothing to test" }, this.condition ? "Edit condition" : "Add a condition");
    edit.addEventListener("click", () => this.open());
    const remove = this.condition ? h("button", { type: "button", class: "link-button", dataset: { removeCondition: "" } }, "Remove") : null;
    remove?.addEventListener("click", () => this.apply(null));
    this.element.append(h("div", { class: "condition-summary" }, summary, edit, remove));
  }

  open() {
    this.builder = new FilterBuilder(this.fields, this.condition, (filter) => this.apply(filter), () => {
      this.builder = null;
      this.render();
      this.element.querySelector("[data-edit-condition]")?.focus();
    });
    this.render();
    this.builder.element.querySelector("select, input")?.focus();
  }

  apply(filter) {
    this.condition = simplest(filter);
    this.builder = null;
    this.render();
    this.onChange?.(this.condition);
    this.element.querySelector("[data-edit-condition]")?.focus();
  }
}
