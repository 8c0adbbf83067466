// One input widget per form field type. A widget is {element, control, get(), set(value),
// update(field)}; `get` gives the value as the API takes it (null when empty) or throws a
// FieldProblem with a message for the person filling the form.
import { api, segment } from "./api.js";
import { h, humanize } from "./dom.js";
import { limitProblem, withLimit } from "./limits.js";
import { recordLabel } from "./records.js";

export class FieldProblem extends Error {}

const SEARCH_DELAY_MS = 250;
const REFERENCE_PAGE = 8;

function empty(value) {
  return value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length);
}

/** "2024-05-01T10:30:00+00:00" -> the local "2024-05-01T10:30" a datetime-local input shows. */
function toLocalInput(value) {
  if (empty(value)) return "";
  const date = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`);
  if (Number.isNaN(date.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function fromLocalInput(text) {
  if (!text) return null;
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) throw new FieldProblem("is not a valid date and time");
  return date.toISOString();
}

function textInput(field, id, type = "text", extra = {}) {
  const c = field.constraints || {};
  return h("input", {
    id, name: field.name, type, class: "input", placeholder: field.placeholder,
    minlength: c.min_length, min: c.min, max: c.max, ...extra,
  });
}

/** A text widget whose limit is shown (limits.js): over it, `get` says by how much. */
function limitedText(control, max) {
  const element = withLimit(control, max);
  const get = () => {
    const problem = limitProblem(control);
    if (problem) throw new FieldProblem(problem);
    return control.value || null;
  };
  const set = (v) => {
    control.value = v ?? "";
    element.updateLimit?.();
  };
  return { element, control, get, set };
}

function simple(control, get, set) {
  return { element: control, control, get, set };
}

const DECIMAL = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

const BUILDERS = {
  string: (field, id) => limitedText(textInput(field, id), field.constraints?.max_length),
  text: (field, id) => limitedText(h("textarea", { id, name: field.name, class: "textarea", placeholder: field.placeholder, rows: 4 }),
    field.constraints?.max_length),
  number: (field, id) => {
    const input = textInput(field, id, "number", { step: "any" });
    return simple(input, () => {
      if (input.value === "") {
        if (input.validity.badInput) throw new FieldProblem("must be a number");
        return null;
      }
      return Number(input.value);
    }, (v) => { input.value = v ?? ""; });
  },
  decimal: (field, id) => {
    const input = textInput(field, id, "text", { inputmode: "decimal", min: null, max: null, autocomplete: "off" });
    return simple(input, () => {
      const text = input.value.trim().replace(",", ".");
      if (!text) return null;
      if (!DECIMAL.test(text)) throw new FieldProblem("must be a number such as 12.50");
      return text;
    }, (v) => { input.value = v ?? ""; });
  },
  boolean: (field, id) => {
    const box = h("input", { id, name: field.name, type: "checkbox" });
    return { element: box, control: box, get: () => box.checked, set: (v) => { box.checked = Boolean(v); }, inline: true };
  },
  date: (field, id) => BUILDERS.datetime(field, id),
  datetime: (field, id) => {
    const input = textInput(field, id, "datetime-local", { min: null, max: null });
    return simple(input, () => fromLocalInput(input.value), (v) => { input.value = toLocalInput(v); });
  },
  date_only: (field, id) => {
    const input = textInput(field, id, "date");
    return simple(input, () => input.value || null, (v) => { input.value = empty(v) ? "" : String(v).slice(0, 10); });
  },
  time: (field, id) => {
    const input = textInput(field, id, "time", { step: 1 });
    return simple(input, () => input.value || null, (v) => { input.value = v ?? ""; });
  },
  enum: (field, id) => {
    const select = h("select", { id, name: field.name, class: "select" });
    const fill = (f, current) => {
      select.replaceChildren(h("option", { value: "" }, f.required ? "Choose…" : "—"),
        ...(f.enum_values || []).map((v) => h("option", { value: v }, v)));
      select.value = current ?? "";
    };
    fill(field, null);
    return { element: select, control: select, get: () => select.value || null, set: (v) => { select.value = v ?? ""; },
      update: (f) => fill(f, select.value) };
  },
  enum_list: (field, id) => {
    const set = h("fieldset", { id, class: "choice-list", "aria-label": field.label });
    let current = [];
    const fill = (f) => {
      set.replaceChildren(...(f.enum_values || []).map((v) => {
        const box = h("input", { type: "checkbox", value: v, checked: current.includes(v), name: field.name });
        box.addEventListener("change", () => {
          current = [...set.querySelectorAll("input:checked")].map((b) => b.value);
        });
        return h("label", { class: "checkbox-row" }, box, v);
      }));
    };
    fill(field);
    return { element: set, control: set, focusTarget: () => set.querySelector("input"),
      get: () => (current.length ? [...current] : null),
      set: (v) => { current = Array.isArray(v) ? [...v] : []; for (const b of set.querySelectorAll("input")) b.checked = current.includes(b.value); },
      update: (f) => fill(f) };
  },
  string_list: (field, id) => listInput(field, id, "text", (t) => t),
  number_list: (field, id) => listInput(field, id, "number", (t) => {
    const n = Number(t);
    if (!Number.isFinite(n)) throw new FieldProblem("holds an item that is not a number");
    return n;
  }),
  json: (field, id) => {
    const area = h("textarea", { id, name: field.name, class: "textarea json-editor", rows: 6, spellcheck: "false",
      placeholder: field.placeholder || '{"key": "value"}' });
    const problem = h("p", { class: "field-error", role: "status", hidden: true });
    const check = () => {
      try {
        if (area.value.trim()) JSON.parse(area.value);
        problem.hidden = true;
        area.removeAttribute("aria-invalid");
      } catch (error) {
        problem.textContent = `Not valid JSON yet: ${error.message}`;
        problem.hidden = false;
        area.setAttribute("aria-invalid", "true");
      }
    };
    area.addEventListener("input", check);
    return { element: h("div", {}, area, problem), control: area,
      get: () => {
        if (!area.value.trim()) return null;
        try {
          return JSON.parse(area.value);
        } catch (error) {
          throw new FieldProblem(`is not valid JSON: ${error.message}`);
        }
      },
      set: (v) => { area.value = empty(v) ? "" : JSON.stringify(v, null, 2); check(); } };
  },
  file: (field, id) => fileInput(field, id, false),
  file_list: (field, id) => fileInput(field, id, true),
  reference: (field, id) => referencePicker(field, id),
};

function listInput(field, id, type, convert) {
  const rows = h("div", { class: "list-input" });
  const addButton = h("button", { type: "button", class: "button button-small" }, "+ Add");
  const group = h("div", { id, role: "group", "aria-label": field.label }, rows, addButton);
  let count = 0;
  const add = (value = "", focus = false) => {
    count += 1;
    const input = h("input", { type, class: "input", value: value ?? "", step: type === "number" ? "any" : null,
      "aria-label": `${field.label}, item ${count}` });
    const remove = h("button", { type: "button", class: "icon-button", "aria-label": `Remove item ${count}` }, "×");
    const row = h("div", { class: "list-input-row" }, input, remove);
    remove.addEventListener("click", () => {
      row.remove();
      addButton.focus();
      group.dispatchEvent(new Event("change", { bubbles: true }));
    });
    rows.append(row);
    if (focus) input.focus();
  };
  addButton.addEventListener("click", () => add("", true));
  return { element: group, control: group, focusTarget: () => rows.querySelector("input") || addButton,
    get: () => {
      const items = [...rows.querySelectorAll("input")].map((i) => i.value.trim()).filter((t) => t !== "");
      return items.length ? items.map(convert) : null;
    },
    set: (values) => {
      rows.replaceChildren();
      for (const v of Array.isArray(values) ? values : []) add(v);
      if (!rows.children.length) add();
    } };
}

function readFile(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => {
      // "data:<mime>;base64,..." with the file name, as Forest sends files.
      const url = String(reader.result);
      const comma = url.indexOf(",");
      const head = url.slice(0, comma).replace(/;base64$/, "");
      resolve(`${head || "data:application/octet-stream"};name=${encodeURIComponent(file.name)};base64,${url.slice(comma + 1)}`);
    };
    reader.onerror = () => reject(new FieldProblem(`could not read ${file.name}`));
    reader.readAsDataURL(file);
  });
}

function fileInput(field, id, multiple) {
  const input = h("input", { id, name: field.name, type: "file", class: "input", multiple });
  const limit = field.max_file_bytes;
  const note = h("p", { class: "field-description" }, limit ? `At most ${formatBytes(limit)} per file.` : null);
  return { element: h("div", {}, input, note), control: input, async: true,
    get: async () => {
      const files = [...(input.files || [])];
      if (!files.length) return null;
      const large = files.find((f) => limit && f.size > limit);
      if (large) throw new FieldProblem(`${large.name} is ${formatBytes(large.size)}; the limit is ${formatBytes(limit)}`);
      const encoded = await Promise.all(files.map(readFile));
      return multiple ? encoded : encoded[0];
    },
    // A browser cannot preset a file input; defaults stay on the server.
    set: () => {} };
}

export function formatBytes(n) {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** A combobox searching the referenced collection; its value is the chosen record's id. */
function referencePicker(field, id) {
  const listId = `${id}-options`;
  const input = h("input", { id, type: "text", class: "input", role: "combobox", autocomplete: "off",
    "aria-autocomplete": "list", "aria-expanded": "false", "aria-controls": listId,
    placeholder: field.placeholder || `Search ${humanize(field.reference)}` });
  const list = h("ul", { id: listId, class: "reference-options", role: "listbox", hidden: true, "aria-label": `${humanize(field.reference)} found` });
  const chosenNote = h("p", { class: "reference-chosen", "aria-live": "polite" });
  let value = null;
  let options = [];
  let active = -1;
  let timer = null;
  let asked = 0;

  const choose = (record) => {
    value = record ? record.id : null;
    input.value = record ? recordLabel({}, record) : "";
    chosenNote.textContent = record ? `Chosen: ${recordLabel({}, record)} (#${record.id})` : "";
    close();
    input.dispatchEvent(new Event("change", { bubbles: true }));
  };
  const close = () => {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  };
  const highlight = (index) => {
    active = index;
    [...list.children].forEach((li, i) => li.setAttribute("aria-selected", String(i === index)));
    if (index >= 0 && list.children[index]) {
      input.setAttribute("aria-activedescendant", list.children[index].id);
      list.children[index].scrollIntoView({ block: "nearest" });
    }
  };
  const search = async () => {
    const ask = ++asked;
    const text = input.value.trim();
    let page;
    try {
      page = await api.get(`/collections/${segment(field.reference)}/records`, { search: text || null, page_size: REFERENCE_PAGE });
    } catch (error) {
      if (ask === asked) list.replaceChildren(h("li", { class: "reference-option", role: "option", "aria-disabled": "true" }, error.message));
      return;
    }
    if (ask !== asked) return;
    options = page.records;
    list.replaceChildren(...(options.length ? options.map((record, i) => {
      const li = h("li", { id: `${id}-option-${i}`, class: "reference-option", role: "option", "aria-selected": "false", dataset: { id: record.id } },
        recordLabel({}, record), h("span", { class: "muted small" }, `  #${record.id}`));
      li.addEventListener("mousedown", (event) => {
        event.preventDefault();
        choose(record);
      });
      return li;
    }) : [h("li", { class: "reference-option", role: "option", "aria-disabled": "true" }, "No match")]));
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    highlight(options.length ? 0 : -1);
  };
  input.addEventListener("input", (event) => {
    event.stopPropagation();
    value = null;
    chosenNote.textContent = "";
    clearTimeout(timer);
    timer = setTimeout(search, SEARCH_DELAY_MS);
  });
  input.addEventListener("change", (event) => {
    // Only a choice is a change of the field (typing is a search).
    if (event.isTrusted) event.stopPropagation();
  });
  input.addEventListener("blur", () => setTimeout(close, 100));
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (list.hidden) {
        search();
        return;
      }
      const step = event.key === "ArrowDown" ? 1 : -1;
      highlight(Math.max(0, Math.min(options.length - 1, active + step)));
    } else if (event.key === "Enter" && !list.hidden) {
      event.preventDefault();
      if (active >= 0 && options[active]) choose(options[active]);
    } else if (event.key === "Escape" && !list.hidden) {
      event.preventDefault();
      event.stopPropagation();
      close();
    }
  });
  return {
    element: h("div", { class: "reference-picker" }, input, list, chosenNote), control: input,
    get: () => {
      if (!value && input.value.trim()) throw new FieldProblem("pick a record from the list");
      return value;
    },
    set: async (id) => {
      if (empty(id)) {
        value = null;
        input.value = "";
        chosenNote.textContent = "";
        return;
      }
      value = String(id);
      input.value = `#${value}`;
      chosenNote.textContent = `Chosen: ${humanize(field.reference)} #${value}`;
      try {
        const record = await api.get(`/collections/${segment(field.reference)}/records/${segment(value)}`);
        if (value === record.id) {
          input.value = recordLabel({}, record);
          chosenNote.textContent = `Chosen: ${recordLabel({}, record)} (#${value})`;
        }
      } catch {
        // The id stays shown; the server says if it is wrong.
      }
    },
  };
}

/** The widget of a form field (a text input for a type this version does not know). */
export function widgetFor(field, id) {
  return (BUILDERS[field.type] || BUILDERS.string)(field, id);
}
