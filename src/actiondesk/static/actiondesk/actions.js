// The actions menu of a collection, a record or a related-data tab: the actions this user may
// see, each enabled or disabled with the reason for the current selection; running one opens
// its dialog, posts the Forest JSON:API document and shows the result.
import { api, send, segment } from "./api.js";
import { dismissable, h, nouns } from "./dom.js";
import { ActionDialog } from "./form.js";
import { RecordDialog, handleRecordResult } from "./record_edit.js";
import { handleResult } from "./results.js";
import { announce } from "./sync.js";

// Up to this many ids go in the list's query string; larger selections are posted.
const MAX_LISTED_IDS = 1000;

function idempotencyKey() {
  if (window.crypto?.randomUUID) return window.crypto.randomUUID();
  const bytes = window.crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The context actions run in.
 * options: collection (name, or null for the desk's global actions), selection() ->
 *   {attributes, count, ids (null for select-all)}, parent ({collection, id, association})
 *   or null, noun, resultPanel, reload(), refresh(relationships).
 */
export class ActionContext {
  constructor(options) {
    Object.assign(this, options);
  }

  path(action, suffix = "") {
    const route = action.collection
      ? `/collections/${segment(action.collection)}/actions/${segment(action.slug)}`
      : `/actions/${segment(action.slug)}`;
    return route + suffix;
  }

  document(action, extra) {
    const attributes = { collection_name: action.collection, ids: [], smart_action_id: `${action.collection || "global"}-${action.slug}` };
    if (action.scope !== "global") {
      Object.assign(attributes, this.selection().attributes);
      if (this.parent) {
        Object.assign(attributes, {
          parent_collection_name: this.parent.collection,
          parent_collection_id: this.parent.id,
          parent_association_name: this.parent.association,
        });
      }
    }
    return { data: { type: "custom-action-requests", attributes: { ...attributes, ...extra } } };
  }

  /** The current selection as a Forest JSON:API document, without an action or values. */
  selectionDocument() {
    const attributes = { collection_name: this.collection, ids: [], ...this.selection().attributes };
    if (this.parent) {
      Object.assign(attributes, {
        parent_collection_name: this.parent.collection,
        parent_collection_id: this.parent.id,
        parent_association_name: this.parent.association,
      });
    }
    return { data: { type: "custom-action-requests", attributes } };
  }

  describeSelection(action) {
    if (action.scope === "global") return "Runs once, on no record in particular.";
    const { count, ids } = this.selection();
    const noun = count === 1 ? this.noun.singular : this.noun.plural;
    const where = this.parent ? ` of ${nouns(this.parent.collection).singular} ${this.parent.id}` : "";
    if (ids === null) return `On all ${count.toLocaleString()} matching ${noun}${where}.`;
    if (count === 1) return `On ${noun} ${ids[0]}${where}.`;
    return `On ${count.toLocaleString()} selected ${noun}${where}.`;
  }

  async run(action, opener = null, options = {}) {
    // The built-in record actions (edit, create, delete) add what a record form needs.
    const handle = action.builtin ? handleRecordResult : handleResult;
    const execute = async (values) => {
      const response = await send("POST", this.path(action), {
        json: this.document(action, { values }),
        headers: { "Idempotency-Key": idempotencyKey() },
      });
      const outcome = await handle(response, action, this);
      // Other tabs reload what they show (a 422 changed nothing; an approval request only the
      // approvals).
      if (response.status === 202) announce({ type: "approval" });
      else if (response.status !== 422) announce({ type: "records", collection: action.collection });
      return outcome;
    };
    const Dialog = action.builtin ? RecordDialog : ActionDialog;
    await new Dialog(action, this, execute, opener, options).open();
  }
}

/** The approval tag of a menu item: none when the rule cannot apply to this selection, the
 *  condition when it depends on what the form will hold ("approval if amount is greater than
 *  1,000"), else "approval". */
export function approvalTag(action) {
  if (action.rule !== "approval" || action.approval_applies === false) return null;
  const when = action.approval_applies === null && action.approval_condition
    ? action.approval_condition.replace(/^only when /, "if ") : null;
  return h("span", { class: "tag", dataset: { approvalTag: "" }, title: action.approval_condition ? `Needs approval ${action.approval_condition}` : "Needs a reviewer's approval" },
    when ? `approval ${when}` : "approval");
}

/** The menu: a button that lists the actions when opened (fresh state every time). */
export class ActionsMenu {
  constructor(anchor, context, { label = "Actions" } = {}) {
    this.anchor = anchor;
    this.context = context;
    this.button = h("button", { type: "button", class: "button button-primary", "aria-haspopup": "menu", "aria-expanded": "false", dataset: { actionsButton: "" } }, label, " ▾");
    this.button.addEventListener("click", () => (this.popover ? this.close() : this.open()));
    this.button.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown" && !this.popover) {
        event.preventDefault();
        this.open();
      }
    });
    this.wrap = h("div", { class: "popover-anchor" }, this.button);
    anchor.append(this.wrap);
  }

  close() {
    this.popover?.remove();
    this.popover = null;
    this.stop?.();
    this.button.setAttribute("aria-expanded", "false");
  }

  async list() {
    const { collection, parent } = this.context;
    if (!collection) return (await api.get("/actions")).actions;
    const { ids } = this.context.selection();
    const path = `/collections/${segment(collection)}/actions`;
    if (ids !== null && ids.length <= MAX_LISTED_IDS && !parent) {
      return (await api.get(path, { ids })).actions;
    }
    // Select-all, a large selection or a related tab: the server checks the same selection
    // the action would run on (filter, exclusions, parent record).
    return (await api.post(path, this.context.selectionDocument())).actions;
  }

  async open() {
    const menu = h("ul", { class: "menu", role: "menu", "aria-label": "Actions" },
      h("li", { class: "menu-heading", role: "none" }, "Loading actions…"));
    this.popover = h("div", { class: "popover popover-end", dataset: { actionsMenu: "" } }, menu);
    this.wrap.append(this.popover);
    this.button.setAttribute("aria-expanded", "true");
    this.stop = dismissable(this.popover, this.wrap, () => this.close());
    let actions;
    try {
      actions = await this.list();
    } catch (error) {
      menu.replaceChildren(h("li", { class: "menu-heading", role: "none" }, `Actions could not be loaded: ${error.message}`));
      return;
    }
    if (!this.popover) return;
    const onRecords = actions.filter((a) => a.scope !== "global");
    const global = actions.filter((a) => a.scope === "global");
    const items = [];
    if (!actions.length) items.push(h("li", { class: "menu-heading", role: "none" }, "No action available to you here."));
    for (const action of onRecords) items.push(this.item(action));
    if (global.length) {
      if (onRecords.length) items.push(h("li", { class: "menu-heading", role: "none" }, "Global"));
      for (const action of global) items.push(this.item(action));
    }
    menu.replaceChildren(...items);
    menu.addEventListener("keydown", (event) => this.navigate(event, menu));
    menu.querySelector("[role=menuitem]")?.focus();
  }

  item(action) {
    const enabled = action.enabled !== false;
    const note = enabled ? action.description : action.disabled_reason;
    const button = h("button", {
      type: "button", class: "menu-item", role: "menuitem", "aria-disabled": enabled ? null : "true",
      dataset: { action: action.slug, enabled: String(enabled) }, title: note || null,
    }, h("span", {}, action.name, approvalTag(action)),
    note ? h("span", { class: "menu-note", dataset: { reason: enabled ? null : "" } }, note) : null);
    button.addEventListener("click", () => {
      if (!enabled) return;
      this.close();
      this.context.run(action, this.button);
    });
    return h("li", { role: "none" }, button);
  }

  navigate(event, menu) {
    const items = [...menu.querySelectorAll("[role=menuitem]")];
    const index = items.indexOf(document.activeElement);
    const moves = { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: items.length - 1 };
    if (event.key in moves) {
      event.preventDefault();
      items[(moves[event.key] + items.length) % items.length]?.focus();
    } else if (event.key === "Tab") {
      this.close();
    }
  }
}
