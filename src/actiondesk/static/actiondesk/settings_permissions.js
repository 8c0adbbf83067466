// Settings › Permissions: the matrix of roles × actions. Each cell says what the role may do
// with the action (hidden, trigger, trigger with approval and its condition, approve); a cell
// opens the dialog that edits it. No rule means hidden (deny by default).
import { api } from "./api.js";
import { clear, h, humanize, pageData } from "./dom.js";
import { describe } from "./filters.js";
import { PolicyDialog } from "./policy_dialog.js";
import { toast } from "./toast.js";
import { emptyState, errorState, loadingState } from "./parts.js";

const data = pageData();
const root = document.querySelector("[data-settings]");
let roles = [];
const policies = new Map();

const keyOf = (role, collection, slug) => `${role}|${collection || ""}|${slug}`;

function cellContent(policy) {
  if (!policy) return [h("span", { class: "rule rule-hidden" }, "Hidden"), h("span", { class: "cell-note" }, "no rule")];
  const label = { hidden: "Hidden", trigger: "Trigger", approval: "With approval" }[policy.rule] || policy.rule;
  const parts = [h("span", { class: `rule rule-${policy.rule}`, dataset: { rule: policy.rule } }, label)];
  if (policy.rule === "approval" && policy.condition) {
    parts.push(h("span", { class: "cell-note", dataset: { ruleCondition: "" } },
      `if ${policy.condition_on === "values" ? "form" : "record"}: ${describe(policy.condition)}`));
  }
  if (policy.can_approve) {
    const many = policy.approvals_required > 1 ? ` (${policy.approvals_required} needed)` : "";
    parts.push(h("span", { class: "tag tag-approve", dataset: { approves: "" } }, `approves${many}`));
  }
  return parts;
}

function describeCell(role, action, policy) {
  const what = !policy ? "hidden (no rule)" : policy.rule === "approval" ? "trigger with approval" : policy.rule;
  return `${action.name}${action.collection ? ` on ${humanize(action.collection).toLowerCase()}` : ""}, role ${role}: ${what}${policy?.can_approve ? ", approves" : ""}. Edit`;
}

function cell(role, action) {
  const key = keyOf(role.name, action.collection, action.slug);
  const policy = policies.get(key);
  const button = h("button", { type: "button", class: "matrix-cell", "aria-label": describeCell(role.name, action, policy), dataset: { cell: key } },
    cellContent(policy));
  button.addEventListener("click", async () => {
    const dialog = new PolicyDialog({
      role: role.name, action, fields: action.collection ? data.collections[action.collection] || [] : [],
      policy: policies.get(key) || null, maxApprovals: data.max_approvals,
    });
    const outcome = await dialog.open();
    if (outcome === undefined) {
      document.querySelector(`[data-cell="${CSS.escape(key)}"]`)?.focus();
      return;
    }
    if (outcome === null) policies.delete(key);
    else policies.set(key, outcome);
    toast(outcome === null ? `Role ${role.name} has no rule for ${action.name} any more: hidden.` : `Saved: role ${role.name}, ${action.name}.`, { kind: "success" });
    render();
    document.querySelector(`[data-cell="${CSS.escape(key)}"]`)?.focus();
  });
  return h("td", { class: "matrix-td" }, button);
}

/** Actions some role triggers with approval, though no role may approve them: they cannot run. */
function unapprovable(action) {
  const forAction = roles.map((r) => policies.get(keyOf(r.name, action.collection, action.slug))).filter(Boolean);
  return forAction.some((p) => p.rule === "approval") && !forAction.some((p) => p.can_approve);
}

function render() {
  if (!roles.length) {
    clear(root).append(emptyState("No roles yet", "Create roles in Settings › Roles first."));
    return;
  }
  if (!data.actions.length) {
    clear(root).append(emptyState("No actions declared", "Declare actions with @desk.action(...) to give roles permissions on them."));
    return;
  }
  const head = h("tr", {}, h("th", { scope: "col" }, "Action"),
    roles.map((r) => h("th", { scope: "col", dataset: { role: r.name } }, r.name, r.is_admin ? h("span", { class: "cell-note" }, "admin") : null)));
  const groups = new Map();
  for (const action of data.actions) {
    const name = action.collection || "";
    if (!groups.has(name)) groups.set(name, []);
    groups.get(name).push(action);
  }
  const body = [];
  for (const [collection, actions] of groups) {
    body.push(h("tr", { class: "matrix-group" }, h("th", { scope: "colgroup", colspan: roles.length + 1 }, collection ? humanize(collection) : "Global actions")));
    for (const action of actions) {
      const warning = unapprovable(action) ? h("span", { class: "cell-note cell-warning", dataset: { noApprover: "" } }, "No role may approve it: its approval requests are refused.") : null;
      body.push(h("tr", { dataset: { action: `${collection}|${action.slug}` } },
        h("th", { scope: "row", class: "matrix-action" }, action.name, h("span", { class: "cell-note" }, action.slug), warning),
        roles.map((r) => cell(r, action))));
    }
  }
  clear(root).append(
    h("p", { class: "muted small" }, "Choose a cell to change what a role may do with an action. Without a rule, an action is hidden from the role."),
    h("div", { class: "table-wrap" }, h("table", { class: "table matrix" },
      h("caption", { class: "visually-hidden" }, "Permissions: roles by actions"), h("thead", {}, head), h("tbody", {}, body))));
}

async function load() {
  clear(root).append(loadingState("Loading permissions"));
  try {
    const [found, known] = await Promise.all([api.get("/settings/roles"), api.get("/settings/policies")]);
    roles = found.roles;
    policies.clear();
    for (const p of known.policies) policies.set(keyOf(p.role, p.collection, p.action), p);
  } catch (error) {
    clear(root).append(errorState(`The permissions could not be loaded: ${error.message}`, load));
    return;
  }
  render();
}

load();
