// Settings › Actions: for everyone, whether an action is switched on, and a condition the
// selected records must meet for it to run (ANDed with the one declared in code).
import { api, request } from "./api.js";
import { clear, h, humanize, pageData, uid } from "./dom.js";
import { ConditionEditor } from "./condition_editor.js";
import { describe } from "./filters.js";
import { toast } from "./toast.js";
import { clearErrors, emptyState, errorState, field, formError, loadingState, section, showFieldErrors } from "./parts.js";

const data = pageData();
const root = document.querySelector("[data-settings]");
const settings = new Map();
const keyOf = (collection, slug) => `${collection || ""}|${slug}`;

function codeCondition(action) {
  if (!action.code_condition) return null;
  const text = action.code_condition === "function" ? "a test written in Python" : describe(action.code_condition);
  return h("p", { class: "field-description", dataset: { codeCondition: "" } }, `In code: enabled only when ${text}.`);
}

function row(action) {
  const key = keyOf(action.collection, action.slug);
  const stored = settings.get(key) || null;
  const errors = formError();
  const visible = h("input", { type: "checkbox", name: "visible", checked: stored ? stored.visible : true });
  const fields = action.collection ? data.collections[action.collection] || [] : [];
  const editor = action.scope !== "global"
    ? new ConditionEditor({ fields, condition: stored?.enabled_if || null, emptyText: "No extra condition." })
    : null;
  const conditionId = uid("enabled-if");
  const condition = editor
    ? h("div", { class: "field", dataset: { field: "enabled_if", label: "Condition" } },
      h("span", { class: "field-label", id: conditionId }, "Enabled only when the selected records match"),
      editor.element, codeCondition(action), h("p", { class: "field-error", id: `${conditionId}-error`, hidden: true }))
    : h("p", { class: "muted small", dataset: { field: "enabled_if" } }, "A global action runs on no record: it takes no condition.");
  editor?.element.setAttribute("aria-labelledby", conditionId);
  editor?.element.setAttribute("role", "group");
  const save = h("button", { type: "button", class: "button button-primary button-small", dataset: { saveSetting: key } }, "Save");
  const reset = stored ? h("button", { type: "button", class: "button button-small", dataset: { resetSetting: key } }, "Reset to defaults") : null;
  const element = h("div", { class: "setting-row", dataset: { setting: key } },
    errors,
    h("div", { class: "setting-head" }, h("h3", { class: "setting-title" }, action.name),
      h("span", { class: "cell-note" }, `${action.slug} · ${action.scope}`),
      h("span", { class: "cell-note", dataset: { settingState: "" } }, stored ? "changed by an admin" : "defaults: on, no extra condition")),
    h("div", { class: "setting-fields" },
      field({ name: "visible", label: "Switched on (listed and runnable for the roles allowed to)", control: visible }).wrapper,
      condition),
    h("div", { class: "form-buttons" }, reset, save));
  save.addEventListener("click", async () => {
    clearErrors(element, errors);
    save.disabled = true;
    try {
      const saved = await request("PUT", "/settings/actions", { json: {
        collection: action.collection, action: action.slug, visible: visible.checked, enabled_if: editor ? editor.value() : null,
      } });
      settings.set(key, saved);
      toast(`${action.name}: ${saved.visible ? "switched on" : "switched off for everyone"}${saved.enabled_if ? ", with its condition" : ""}.`, { kind: "success", title: "Action settings saved" });
      const again = row(action);
      element.replaceWith(again);
      again.querySelector("[data-save-setting]").focus();
    } catch (error) {
      showFieldErrors(element, error, errors);
    } finally {
      save.disabled = false;
    }
  });
  reset?.addEventListener("click", async () => {
    reset.disabled = true;
    try {
      await request("DELETE", "/settings/actions", { params: { collection: action.collection, action: action.slug } });
      settings.delete(key);
      toast(`${action.name} is back to its defaults.`, { kind: "success" });
      const again = row(action);
      element.replaceWith(again);
      again.querySelector("[data-save-setting]").focus();
    } catch (error) {
      reset.disabled = false;
      toast(error.message, { kind: "error" });
    }
  });
  return element;
}

function render() {
  if (!data.actions.length) {
    clear(root).append(emptyState("No actions declared", "Declare actions with @desk.action(...) to set them up here."));
    return;
  }
  const groups = new Map();
  for (const action of data.actions) {
    const name = action.collection || "";
    if (!groups.has(name)) groups.set(name, []);
    groups.get(name).push(action);
  }
  clear(root).append(...[...groups].map(([collection, actions]) =>
    section(collection ? humanize(collection) : "Global actions", actions.map(row))));
}

async function load() {
  clear(root).append(loadingState("Loading action settings"));
  try {
    for (const s of (await api.get("/settings/actions")).actions) settings.set(keyOf(s.collection, s.action), s);
  } catch (error) {
    clear(root).append(errorState(`The action settings could not be loaded: ${error.message}`, load));
    return;
  }
  render();
}

load();
