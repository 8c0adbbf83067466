// Settings › Users: who may sign in, with which role; create, change the role, deactivate, end
// a user's sessions.
// Any change to a user ends their sessions (the server does it), so it applies at once.
import { api, request, segment } from "./api.js";
import { clear, h, pageData } from "./dom.js";
import { toast } from "./toast.js";
import {
  clearErrors, emptyState, errorState, field, formError, loadingState, select, showFieldErrors, statusPill,
} from "./parts.js";

const data = pageData();
const root = document.querySelector("[data-settings]");
let roles = [];

const panel = h("section", { class: "card card-section", hidden: true, "aria-labelledby": "new-user-title", dataset: { newUser: "" } });
const listRoot = h("div", { dataset: { users: "" } });
clear(root).append(panel, listRoot);

// Enabled once the roles are known: a form opened before that would offer no role to choose.
const openButton = h("button", { type: "button", class: "button button-primary", disabled: true, dataset: { newUserButton: "" }, "aria-expanded": "false", "aria-controls": "new-user" }, "New user");
openButton.addEventListener("click", () => toggleForm(panel.hidden));
document.querySelector("[data-page-actions]").append(openButton);

function toggleForm(open) {
  panel.hidden = !open;
  openButton.setAttribute("aria-expanded", String(open));
  if (open) {
    buildForm();
    panel.querySelector("input")?.focus();
  } else openButton.focus();
}

function buildForm() {
  const input = (name, type = "text", extra = {}) => h("input", { class: "input", name, type, ...extra });
  const fields = [
    field({ name: "email", label: "Email", control: input("email", "email", { autocomplete: "off", required: true }), required: true }),
    field({ name: "first_name", label: "First name", control: input("first_name") }),
    field({ name: "last_name", label: "Last name", control: input("last_name") }),
    field({ name: "team", label: "Team", control: input("team") }),
    field({ name: "role", label: "Role", control: select([["", "Choose a role"], ...roles.map((r) => [r.name, r.name])], "", { name: "role", required: true }), required: true }),
    field({ name: "password", label: "Password", control: input("password", "password", { autocomplete: "new-password" }),
      description: "Leave it empty for an account that signs in with tokens only." }),
  ];
  const errors = formError();
  const submit = h("button", { type: "submit", class: "button button-primary" }, "Create user");
  const cancel = h("button", { type: "button", class: "button", onclick: () => toggleForm(false) }, "Cancel");
  const form = h("form", { class: "settings-form", id: "new-user", novalidate: true },
    errors, h("div", { class: "form-grid" }, fields.map((f) => f.wrapper)), h("div", { class: "form-buttons" }, cancel, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form).entries());
    if (!values.password) delete values.password;
    clearErrors(form, errors);
    submit.disabled = true;
    try {
      const user = await api.post("/settings/users", values);
      toast(`${user.email} may now sign in as ${user.role}.`, { kind: "success", title: "User created" });
      toggleForm(false);
      await load();
    } catch (error) {
      showFieldErrors(form, error, errors);
    } finally {
      submit.disabled = false;
    }
  });
  clear(panel).append(h("h2", { class: "card-section-title", id: "new-user-title" }, "New user"), form);
}

async function change(user, body, done) {
  try {
    const changed = await request("PATCH", `/settings/users/${segment(user.email)}`, { json: body });
    toast(done(changed), { kind: "success" });
    return changed;
  } catch (error) {
    toast(error.message, { kind: "error", title: `${user.email} was not changed` });
    return null;
  }
}

function row(user) {
  const me = user.email === data.me;
  const role = select(roles.map((r) => [r.name, r.name]), user.role, { "aria-label": `Role of ${user.email}`, dataset: { userRole: user.email } });
  if (!roles.some((r) => r.name === user.role)) role.prepend(h("option", { value: user.role, selected: true }, `${user.role} (missing)`));
  // Saved on demand, not on change: arrow keys on a select change it step by step.
  const save = h("button", { type: "button", class: "button button-small button-primary", hidden: true, dataset: { saveRole: user.email } }, "Save role");
  role.addEventListener("change", () => { save.hidden = role.value === user.role; });
  save.addEventListener("click", async () => {
    save.disabled = true;
    const changed = await change(user, { role: role.value }, (u) => `${u.email} is now ${u.role}; their sessions ended.`);
    save.disabled = false;
    if (changed) {
      Object.assign(user, changed);
      save.hidden = true;
      role.focus();
    }
  });
  const toggle = h("button", { type: "button", class: `button button-small ${user.active ? "button-danger" : ""}`, disabled: me,
    title: me ? "You cannot deactivate yourself" : null, dataset: { toggleActive: user.email } }, user.active ? "Deactivate" : "Activate");
  toggle.addEventListener("click", async () => {
    toggle.disabled = true;
    const changed = await change(user, { active: !user.active }, (u) => (u.active ? `${u.email} may sign in again.` : `${u.email} is deactivated; their sessions ended.`));
    if (changed) await load();
    else toggle.disabled = false;
  });
  // Your own: "Sign out everywhere" in the user menu, which also takes you to the sign-in page.
  const endSessions = h("button", { type: "button", class: "button button-small", disabled: me || !user.active,
    title: me ? "Use Sign out everywhere in your user menu" : "Sign this user out on every device, API tokens included",
    dataset: { endSessions: user.email } }, "End sessions");
  endSessions.addEventListener("click", async () => {
    endSessions.disabled = true;
    try {
      await request("POST", `/settings/users/${segment(user.email)}/sessions/revoke`);
      toast(`${user.email} is signed out everywhere.`, { kind: "success" });
    } catch (error) {
      toast(error.message, { kind: "error", title: `${user.email} was not signed out` });
    } finally {
      endSessions.disabled = false;
    }
  });
  const name = `${user.first_name} ${user.last_name}`.trim();
  return h("tr", { dataset: { id: user.email } },
    h("td", {}, user.email, me ? h("span", { class: "cell-note" }, "you") : null),
    h("td", {}, name || h("span", { class: "cell-null" }, "—")),
    h("td", {}, user.team || h("span", { class: "cell-null" }, "—")),
    h("td", { class: "cell-role" }, role, " ", save),
    h("td", {}, statusPill(user.active ? "active" : "deactivated")),
    h("td", { class: "cell-actions" }, toggle, " ", endSessions));
}

async function load() {
  if (!listRoot.querySelector("table")) clear(listRoot).append(loadingState("Loading users"));
  let users;
  try {
    const [found, known] = await Promise.all([api.get("/settings/users"), api.get("/settings/roles")]);
    users = found.users;
    roles = known.roles;
    openButton.disabled = false;
  } catch (error) {
    clear(listRoot).append(errorState(`The users could not be loaded: ${error.message}`, load));
    return;
  }
  if (!users.length) {
    clear(listRoot).append(emptyState("No users yet", "Create the first one with New user."));
    return;
  }
  const head = h("tr", {}, ["Email", "Name", "Team", "Role", "Status", "Actions"].map((t) => h("th", { scope: "col" }, t)));
  clear(listRoot).append(h("div", { class: "table-wrap" }, h("table", { class: "table table-settings" },
    h("caption", { class: "visually-hidden" }, "Users"), h("thead", {}, head), h("tbody", {}, users.map(row)))));
}

load();
