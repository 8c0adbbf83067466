// Settings › Roles: what each role may read (every collection, or a list), and whether it
// administers the desk. What a role may do with each action is in Settings › Permissions.
import { ApiError, api, request, segment } from "./api.js";
import { clear, h, humanize, pageData, uid } from "./dom.js";
import { withLimit } from "./limits.js";
import { toast } from "./toast.js";
import { clearErrors, emptyState, errorState, field, formError, loadingState, showFieldErrors } from "./parts.js";

const data = pageData();
const root = document.querySelector("[data-settings]");
const panel = h("section", { class: "card card-section", hidden: true, "aria-labelledby": "role-form-title", dataset: { roleForm: "" } });
const listRoot = h("div", { dataset: { roles: "" } });
clear(root).append(panel, listRoot);

const newButton = h("button", { type: "button", class: "button button-primary", dataset: { newRoleButton: "" }, "aria-controls": "role-form" }, "New role");
newButton.addEventListener("click", () => openForm(null));
document.querySelector("[data-page-actions]").append(newButton);

function closeForm() {
  panel.hidden = true;
  newButton.focus();
}

/** The role form: a new role, or `role` to edit (its name cannot change). */
function openForm(role) {
  const name = h("input", { class: "input", name: "name", value: role?.name || "", readonly: Boolean(role), autocomplete: "off" });
  const description = h("textarea", { class: "textarea", name: "description", rows: 2, value: role?.description || "" });
  const isAdmin = h("input", { type: "checkbox", name: "is_admin", checked: Boolean(role?.is_admin) });
  const readAll = h("input", { type: "checkbox", name: "read_all", checked: Boolean(role?.read_all) });
  const canExport = h("input", { type: "checkbox", name: "can_export", checked: Boolean(role?.can_export) });
  const legendId = uid("readable");
  const boxes = data.collections.map((c) => h("label", { class: "checkbox-row" },
    h("input", { type: "checkbox", name: "readable", value: c, checked: Boolean(role?.readable?.includes(c)) }), humanize(c)));
  const readable = h("div", { class: "field", dataset: { field: "readable", label: "Collections" } },
    h("fieldset", { class: "choice-grid", "aria-labelledby": legendId, dataset: { control: "" } },
      h("legend", { id: legendId, class: "field-label" }, "Collections it may read"), boxes),
    h("p", { class: "field-error", id: `${legendId}-error`, hidden: true }));
  const syncReadable = () => {
    for (const box of readable.querySelectorAll("input")) box.disabled = readAll.checked;
  };
  readAll.addEventListener("change", syncReadable);
  syncReadable();
  const errors = formError();
  const submit = h("button", { type: "submit", class: "button button-primary" }, role ? "Save role" : "Create role");
  const form = h("form", { class: "settings-form", id: "role-form", novalidate: true },
    errors,
    h("div", { class: "form-grid" },
      field({ name: "name", label: "Name", control: name, required: true, description: role ? "A role's name cannot change." : null }).wrapper,
      field({ name: "description", label: "Description", control: withLimit(description, 2000) }).wrapper),
    field({ name: "is_admin", label: "Administers the desk (settings, users, everybody's runs)", control: isAdmin }).wrapper,
    field({ name: "read_all", label: "Reads every collection", control: readAll }).wrapper,
    readable,
    field({ name: "can_export", label: "Exports the lists it reads (CSV, JSON lines)", control: canExport }).wrapper,
    h("div", { class: "form-buttons" }, h("button", { type: "button", class: "button", onclick: closeForm }, "Cancel"), submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form, errors);
    const chosen = name.value.trim();
    if (!chosen || chosen.includes("/")) {
      showFieldErrors(form, new ApiError(400, { error: "invalid role", fields: { name: chosen ? "must not hold '/'" : "is required" } }), errors);
      return;
    }
    const body = {
      description: description.value.trim() || null,
      is_admin: isAdmin.checked,
      read_all: readAll.checked,
      readable: readAll.checked ? [] : [...readable.querySelectorAll("input:checked")].map((b) => b.value),
      can_export: canExport.checked,
    };
    submit.disabled = true;
    try {
      await request("PUT", `/settings/roles/${segment(chosen)}`, { json: body });
      toast(role ? `Role ${chosen} saved.` : `Role ${chosen} created. Give it actions in Permissions.`, { kind: "success" });
      panel.hidden = true;
      await load();
    } catch (error) {
      showFieldErrors(form, error, errors);
    } finally {
      submit.disabled = false;
    }
  });
  clear(panel).append(h("h2", { class: "card-section-title", id: "role-form-title" }, role ? `Role ${role.name}` : "New role"), form);
  panel.hidden = false;
  (role ? description : name).focus();
}

const CONFIRM_MS = 5000;

async function remove(role, button) {
  // Deleting a role deletes its permissions too: a second click confirms.
  if (!button.dataset.confirming) {
    button.dataset.confirming = "true";
    button.textContent = "Confirm delete";
    button.setAttribute("aria-label", `Confirm: delete role ${role.name} and its permissions`);
    setTimeout(() => {
      delete button.dataset.confirming;
      button.textContent = "Delete";
      button.removeAttribute("aria-label");
    }, CONFIRM_MS);
    return;
  }
  button.disabled = true;
  try {
    await request("DELETE", `/settings/roles/${segment(role.name)}`);
    toast(`Role ${role.name} and its permissions were deleted.`, { kind: "success" });
    await load();
  } catch (error) {
    button.disabled = false;
    toast(error.message, { kind: "error", title: `Role ${role.name} was not deleted` });
  }
}

function row(role) {
  const edit = h("button", { type: "button", class: "button button-small", dataset: { editRole: role.name } }, "Edit");
  edit.addEventListener("click", () => openForm(role));
  const del = h("button", { type: "button", class: "button button-small button-danger", dataset: { deleteRole: role.name } }, "Delete");
  del.addEventListener("click", () => remove(role, del));
  const reads = role.read_all ? "Every collection" : role.readable.length ? role.readable.map(humanize).join(", ") : h("span", { class: "cell-null" }, "Nothing");
  return h("tr", { dataset: { id: role.name } },
    h("td", {}, h("strong", {}, role.name), role.description ? h("span", { class: "cell-note" }, role.description) : null),
    h("td", {}, role.is_admin ? "Yes" : "No"),
    h("td", { class: "cell-wrap" }, reads),
    h("td", { class: "cell-actions" }, edit, " ", del));
}

async function load() {
  if (!listRoot.querySelector("table")) clear(listRoot).append(loadingState("Loading roles"));
  let roles;
  try {
    roles = (await api.get("/settings/roles")).roles;
  } catch (error) {
    clear(listRoot).append(errorState(`The roles could not be loaded: ${error.message}`, load));
    return;
  }
  if (!roles.length) {
    clear(listRoot).append(emptyState("No roles yet", "Create one with New role, then give it actions in Permissions."));
    return;
  }
  const head = h("tr", {}, ["Role", "Admin", "Reads", "Actions"].map((t) => h("th", { scope: "col" }, t)));
  clear(listRoot).append(h("div", { class: "table-wrap" }, h("table", { class: "table table-settings" },
    h("caption", { class: "visually-hidden" }, "Roles"), h("thead", {}, head), h("tbody", {}, roles.map(row)))));
}

load();
