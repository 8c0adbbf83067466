// The filter builder: conditions (field, operator, value) in and/or groups, producing the
// filter language of the API ({field, operator, value} / {aggregator, conditions}).
import { h, humanize, uid } from "./dom.js";

const TEMPORAL = ["date", "datetime", "time"];
const ORDERED = [...TEMPORAL, "integer", "number", "decimal"];
const TEXTUAL = ["string", "text", "enum"];
const NOT_COMPARABLE = ["json", "binary", "unknown"];
const MAX_DEPTH = 3;

// Operators in the order a person looks for them, with the types they fit (as data/filters.py).
export const OPERATORS = [
  ["equal", "is", (t) => !NOT_COMPARABLE.includes(t)],
  ["not_equal", "is not", (t) => !NOT_COMPARABLE.includes(t)],
  ["contains", "contains", (t) => TEXTUAL.includes(t)],
  ["not_contains", "does not contain", (t) => TEXTUAL.includes(t)],
  ["starts_with", "starts with", (t) => TEXTUAL.includes(t)],
  ["ends_with", "ends with", (t) => TEXTUAL.includes(t)],
  ["greater_than", "greater than", (t) => ORDERED.includes(t)],
  ["less_than", "less than", (t) => ORDERED.includes(t)],
  ["greater_than_or_equal", "at least", (t) => ORDERED.includes(t)],
  ["less_than_or_equal", "at most", (t) => ORDERED.includes(t)],
  ["before", "before", (t) => TEMPORAL.includes(t)],
  ["after", "after", (t) => TEMPORAL.includes(t)],
  ["in", "is one of", (t) => !NOT_COMPARABLE.includes(t)],
  ["not_in", "is not one of", (t) => !NOT_COMPARABLE.includes(t)],
  ["is_null", "is empty", () => true],
  ["is_not_null", "is not empty", () => true],
];
const LABELS = Object.fromEntries(OPERATORS.map(([op, label]) => [op, label]));
const NO_VALUE = new Set(["is_null", "is_not_null", "blank", "present"]);
const LIST_VALUE = new Set(["in", "not_in"]);

export function operatorsFor(type) {
  return OPERATORS.filter(([, , fits]) => fits(type));
}

/** Any filter as a group (a bare condition becomes a one-condition "and" group). */
export function asGroup(filter) {
  if (!filter) return { aggregator: "and", conditions: [] };
  if (filter.conditions) return { aggregator: filter.aggregator || "and", conditions: filter.conditions.map((c) => (c.conditions ? asGroup(c) : { ...c })) };
  return { aggregator: "and", conditions: [{ ...filter }] };
}

/** null for an empty filter; groups without conditions are dropped. */
export function normalize(filter) {
  if (!filter) return null;
  if (!filter.conditions) return filter.field ? filter : null;
  const conditions = filter.conditions.map(normalize).filter(Boolean);
  if (!conditions.length) return null;
  return { aggregator: filter.aggregator, conditions };
}

export function countConditions(filter) {
  if (!filter) return 0;
  if (!filter.conditions) return 1;
  return filter.conditions.reduce((n, c) => n + countConditions(c), 0);
}

/** A short sentence: "status is live and amount greater than 10". */
export function describe(filter) {
  if (!filter) return "";
  if (filter.conditions) {
    const parts = filter.conditions.map((c) => (c.conditions ? `(${describe(c)})` : describe(c)));
    return parts.join(` ${filter.aggregator} `);
  }
  const op = LABELS[filter.operator] || filter.operator;
  if (NO_VALUE.has(filter.operator)) return `${humanize(filter.field)} ${op}`;
  const value = Array.isArray(filter.value) ? filter.value.join(", ") : String(filter.value);
  return `${humanize(filter.field)} ${op} ${value}`;
}

function valueOf(field, operator, text) {
  if (NO_VALUE.has(operator)) return undefined;
  const convert = (raw) => {
    const item = raw.trim();
    if (field.type === "integer" || field.type === "number") return item === "" ? item : Number(item);
    if (field.type === "boolean") return item === "true";
    return item;
  };
  if (LIST_VALUE.has(operator)) return String(text).split(",").map(convert).filter((v) => v !== "");
  return convert(String(text));
}

// What the server parses (data/values.py), so a value it would refuse is caught at the field.
const WHOLE = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TIME = /^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$/;
const DATETIME = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;
const UUID = /^(urn:uuid:)?\{?[0-9a-f]{8}-?([0-9a-f]{4}-?){3}[0-9a-f]{12}\}?$/i;
const EXPECTED = {
  integer: [(v) => WHOLE.test(v), "a whole number, e.g. 42"],
  number: [(v) => v !== "" && Number.isFinite(Number(v)), "a number, e.g. 3.5"],
  decimal: [(v) => DECIMAL.test(v), "a decimal number, e.g. 1250.50"],
  date: [(v) => DATE.test(v) && !Number.isNaN(Date.parse(v)), "a date, e.g. 2026-01-31"],
  time: [(v) => TIME.test(v), "a time, e.g. 09:30"],
  datetime: [(v) => DATETIME.test(v), "a date and time, e.g. 2026-01-31T09:30"],
  uuid: [(v) => UUID.test(v), "a UUID"],
};

/** Why the text typed for a condition's value would be refused by the server, or null.
 *  `unparsable` is a number/date input's own verdict (its value is "" when it cannot parse). */
export function problemOf(field, operator, text, unparsable = false) {
  if (NO_VALUE.has(operator)) return null;
  const items = LIST_VALUE.has(operator)
    ? String(text).split(",").map((v) => v.trim()).filter((v) => v !== "")
    : [String(text).trim()];
  if (LIST_VALUE.has(operator) && !items.length) return "Enter at least one value, separated by commas.";
  const [fits, expected] = EXPECTED[field.type] || [null, null];
  if (fits && (unparsable || !items.every(fits))) {
    const bad = items.find((v) => v !== "" && !fits(v));
    return `${bad === undefined ? "Enter" : `“${bad}” is not valid: enter`} ${expected}.`;
  }
  if (field.type === "enum" && field.enum_values && LIST_VALUE.has(operator)) {
    const unknown = items.find((v) => !field.enum_values.includes(v));
    if (unknown !== undefined) return `“${unknown}” is not one of ${field.enum_values.join(", ")}.`;
  }
  return null;
}

function inputFor(field, operator, value, label) {
  const text = value === undefined || value === null ? "" : Array.isArray(value) ? value.join(", ") : String(value);
  const common = { class: "input", "aria-label": label, value: text };
  if (NO_VALUE.has(operator)) return null;
  if (LIST_VALUE.has(operator)) return h("input", { ...common, type: "text", placeholder: "a, b, c" });
  if (field.type === "boolean") {
    return h("select", { class: "select", "aria-label": label },
      h("option", { value: "true", selected: text === "true" }, "Yes"),
      h("option", { value: "false", selected: text === "false" }, "No"));
  }
  if (field.type === "enum" && field.enum_values && ["equal", "not_equal"].includes(operator)) {
    return h("select", { class: "select", "aria-label": label },
      field.enum_values.map((v) => h("option", { value: v, selected: v === text }, field.enum_labels?.[v] ?? v)));
  }
  const types = { integer: "number", number: "number", date: "date", time: "time", datetime: "datetime-local" };
  const type = types[field.type] || "text";
  const shown = field.type === "datetime" ? text.slice(0, 16) : text;
  return h("input", { ...common, type, value: shown, step: field.type === "number" ? "any" : null,
    inputmode: field.type === "decimal" ? "decimal" : null });
}

/**
 * A filter editor over a collection's fields. `onApply(filter|null)` is called on Apply.
 * It edits a copy; nothing changes until Apply.
 */
export class FilterBuilder {
  constructor(fields, filter, onApply, onCancel) {
    this.fields = fields.filter((f) => operatorsFor(f.type).length);
    this.byName = Object.fromEntries(this.fields.map((f) => [f.name, f]));
    this.root = asGroup(filter);
    if (!this.root.conditions.length) this.root.conditions.push(this.blankCondition());
    this.onApply = onApply;
    this.onCancel = onCancel;
    // Conditions whose value the server would refuse, with why; shown at the value.
    this.problems = new Map();
    this.inputs = new Map();
    this.element = h("form", { class: "filter-builder", "aria-label": "Filter builder", novalidate: true });
    this.element.addEventListener("submit", (event) => {
      event.preventDefault();
      this.problems = this.check();
      if (!this.problems.size) {
        this.onApply(normalize(this.root));
        return;
      }
      this.render();
      this.element.querySelector("[aria-invalid=true]")?.focus();
    });
    this.render();
  }

  /** Every condition whose value does not fit its field's type. */
  check() {
    const problems = new Map();
    for (const [condition, input] of this.inputs) {
      const field = this.byName[condition.field];
      const problem = field && problemOf(field, condition.operator, input.value, input.validity?.badInput);
      if (problem) problems.set(condition, problem);
    }
    return problems;
  }

  blankCondition() {
    const field = this.fields[0];
    return { field: field?.name, operator: operatorsFor(field?.type)[0]?.[0] || "equal", value: "" };
  }

  render() {
    const focused = document.activeElement?.dataset?.focusKey;
    this.inputs = new Map();
    this.element.replaceChildren(
      this.group(this.root, 1, null, "g"),
      h("div", { class: "filter-footer" },
        h("button", { type: "button", class: "button button-ghost", onclick: () => this.onApply(null) }, "Clear filter"),
        h("button", { type: "button", class: "button", onclick: () => this.onCancel() }, "Cancel"),
        h("button", { type: "submit", class: "button button-primary" }, "Apply")));
    if (focused) {
      const again = [...this.element.querySelectorAll("[data-focus-key]")].find((e) => e.dataset.focusKey === focused);
      again?.focus();
    }
  }

  group(group, depth, parent, path) {
    const aggregator = h("select", { class: "select", "aria-label": "Match", dataset: { focusKey: `${path}:aggregator` } },
      h("option", { value: "and", selected: group.aggregator === "and" }, "all of (and)"),
      h("option", { value: "or", selected: group.aggregator === "or" }, "any of (or)"));
    aggregator.addEventListener("change", () => { group.aggregator = aggregator.value; });
    const head = h("div", { class: "filter-group-head" },
      h("span", {}, "Match"), aggregator,
      parent ? h("button", { type: "button", class: "button button-ghost button-small", onclick: () => {
        parent.conditions.splice(parent.conditions.indexOf(group), 1);
        this.render();
      } }, "Remove group") : null);
    const rows = group.conditions.map((c, i) => (c.conditions ? this.group(c, depth + 1, group, `${path}.${i}`) : this.condition(c, group, `${path}.${i}`)));
    const add = h("div", { class: "filter-row" },
      h("button", { type: "button", class: "button button-small", dataset: { focusKey: `${path}:add` }, onclick: () => {
        group.conditions.push(this.blankCondition());
        this.render();
      } }, "+ Condition"),
      depth < MAX_DEPTH ? h("button", { type: "button", class: "button button-small", onclick: () => {
        group.conditions.push({ aggregator: group.aggregator === "and" ? "or" : "and", conditions: [this.blankCondition()] });
        this.render();
      } }, "+ Group") : null);
    return h("fieldset", { class: "filter-group" }, h("legend", { class: "visually-hidden" }, "Conditions"), head, rows, add);
  }

  condition(condition, group, path) {
    const position = group.conditions.indexOf(condition) + 1;
    const field = this.byName[condition.field] || this.fields[0];
    const fieldSelect = h("select", { class: "select", "aria-label": `Field of condition ${position}`, dataset: { role: "field", focusKey: `${path}:field` } },
      this.fields.map((f) => h("option", { value: f.name, selected: f.name === field.name }, f.label || humanize(f.name))));
    const operators = operatorsFor(field.type);
    if (!operators.some(([op]) => op === condition.operator)) condition.operator = operators[0][0];
    const operatorSelect = h("select", { class: "select", "aria-label": `Operator of condition ${position}`, dataset: { role: "operator", focusKey: `${path}:operator` } },
      operators.map(([op, label]) => h("option", { value: op, selected: op === condition.operator }, label)));
    const value = inputFor(field, condition.operator, condition.value, `Value of condition ${position}`);
    let message = null;
    if (value) {
      value.dataset.role = "value";
      value.dataset.focusKey = `${path}:value`;
      this.inputs.set(condition, value);
      const problem = this.problems.get(condition);
      if (problem) {
        message = h("p", { class: "field-error", id: uid("filter-error"), dataset: { filterError: String(position) } }, problem);
        value.setAttribute("aria-invalid", "true");
        value.setAttribute("aria-describedby", message.id);
      }
      if (value.tagName === "SELECT" && (condition.value === "" || condition.value === undefined)) condition.value = valueOf(field, condition.operator, value.value);
      const update = () => {
        condition.value = valueOf(field, condition.operator, value.value);
        if (!this.problems.delete(condition)) return;
        value.removeAttribute("aria-invalid");
        value.removeAttribute("aria-describedby");
        message?.remove();
      };
      value.addEventListener("input", update);
      value.addEventListener("change", update);
    } else {
      delete condition.value;
    }
    fieldSelect.addEventListener("change", () => {
      const next = this.byName[fieldSelect.value];
      condition.field = next.name;
      condition.operator = operatorsFor(next.type)[0][0];
      condition.value = "";
      this.render();
    });
    operatorSelect.addEventListener("change", () => {
      condition.operator = operatorSelect.value;
      condition.value = NO_VALUE.has(condition.operator) ? undefined : condition.value;
      this.render();
    });
    return [h("div", { class: "filter-row", dataset: { condition: String(position) } },
      fieldSelect, operatorSelect, value,
      h("button", { type: "button", class: "icon-button", "aria-label": `Remove condition ${position}`, onclick: () => {
        group.conditions.splice(group.conditions.indexOf(condition), 1);
        this.render();
      } }, "×")), message];
  }
}
