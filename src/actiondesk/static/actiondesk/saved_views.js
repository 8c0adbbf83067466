// Saved views on a collection page: open the view named in the URL (?view=id), save the list
// as it is now as a view (personal, or shared with chosen roles), update or delete the open
// view when the caller may. The sidebar lists the views (views_nav.js).
import { ApiError, pageUrl, request, segment } from "./api.js";
import { append, clear, h, humanize, uid } from "./dom.js";
import { toast } from "./toast.js";

export class SavedViews {
  /** anchor: where the buttons go; title: where the open view's name shows. */
  constructor(anchor, title, { collection, roles, table }) {
    this.collection = collection;
    this.roles = roles || [];
    this.table = table;
    this.title = title;
    this.view = null;
    this.anchor = h("div", { class: "saved-views", dataset: { savedViews: "" } });
    anchor.append(this.anchor);
  }

  get path() {
    return `/collections/${segment(this.collection)}/views`;
  }

  /** Open the view of the URL, if any, else the list as the URL says. */
  async start() {
    const id = new URLSearchParams(window.location.search).get("view");
    if (id) {
      try {
        this.view = await request("GET", `${this.path}/${segment(id)}`);
      } catch (error) {
        toast(error.message, { kind: "error", title: "The view could not be opened" });
      }
    }
    this.render();
    if (this.view) return this.table.applyView(this.view);
    return this.table.load();
  }

  render() {
    clear(this.anchor);
    clear(this.title);
    this.title.hidden = !this.view;
    if (this.view) {
      append(this.title, ["View: ", h("strong", { dataset: { viewName: "" } }, this.view.name),
        this.view.shared_roles.length ? ` · shared with ${this.view.shared_roles.join(", ")}` : null,
        this.view.in_code ? " · from the code" : null]);
    }
    const save = h("button", { type: "button", class: "button", dataset: { saveView: "" } }, "Save view");
    save.addEventListener("click", () => this.openDialog(save));
    this.anchor.append(save);
    if (this.view?.editable) {
      const del = h("button", { type: "button", class: "button button-danger", dataset: { deleteView: "" } }, "Delete view");
      del.addEventListener("click", () => this.remove(del));
      this.anchor.append(del);
    }
  }

  /** The list on screen, as the body of a view. */
  body(name, sharedRoles) {
    const { filter, search, sort, pageSize } = this.table.state;
    return { name, filter: filter || null, search: search || null, sort: sort || null,
      columns: [...this.table.columns], page_size: pageSize, shared_roles: sharedRoles };
  }

  openDialog(opener) {
    const editing = this.view?.editable ? this.view : null;
    const nameId = uid("view-name");
    const name = h("input", { id: nameId, class: "input", name: "name", maxlength: 100, required: true, autocomplete: "off", value: editing?.name || "" });
    const boxes = this.roles.map((role) => h("label", { class: "checkbox-row" },
      h("input", { type: "checkbox", name: "shared_roles", value: role, checked: Boolean(editing?.shared_roles.includes(role)) }), role));
    const error = h("p", { class: "field-error", role: "alert", dataset: { viewError: "" }, hidden: true });
    const close = () => dialog.close();
    const buttons = [h("button", { type: "button", class: "button", onclick: close }, "Cancel")];
    if (editing) buttons.push(h("button", { type: "submit", class: "button", value: "new", dataset: { saveAsNew: "" } }, "Save as a new view"));
    buttons.push(h("button", { type: "submit", class: "button button-primary", value: editing ? "update" : "new", dataset: { saveViewSubmit: "" } }, editing ? `Save changes to “${editing.name}”` : "Save view"));
    const form = h("form", { class: "dialog-form", method: "dialog", novalidate: true },
      h("div", { class: "dialog-header" }, h("h2", { class: "dialog-title" }, "Save this list as a view"),
        h("p", { class: "dialog-summary" }, "Its filter, search, sort, columns and page size.")),
      h("div", { class: "dialog-body" },
        h("div", { class: "field" }, h("label", { class: "field-label", for: nameId }, "Name"), name),
        boxes.length ? h("fieldset", { class: "choice-grid" }, h("legend", { class: "field-label" }, "Share with roles (none: only you)"), boxes) : null,
        error),
      h("div", { class: "dialog-footer" }, buttons));
    const dialog = h("dialog", { class: "dialog", "aria-label": "Save view", dataset: { viewDialog: "" } }, form);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const shared = boxes.map((b) => b.querySelector("input")).filter((b) => b.checked).map((b) => b.value);
      const update = event.submitter?.value === "update";
      try {
        const saved = update
          ? await request("PUT", `${this.path}/${segment(editing.id)}`, { json: this.body(name.value.trim(), shared) })
          : await request("POST", this.path, { json: this.body(name.value.trim(), shared) });
        close();
        window.location.assign(pageUrl(`/collections/${segment(this.collection)}?view=${encodeURIComponent(saved.id)}`));
      } catch (failure) {
        const fields = failure instanceof ApiError ? failure.fields : {};
        error.textContent = Object.entries(fields).map(([k, v]) => `${humanize(k)}: ${v}`).join("; ") || failure.message;
        error.hidden = false;
      }
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      opener.focus();
    });
    document.body.append(dialog);
    dialog.showModal();
    name.focus();
  }

  async remove(button) {
    if (!window.confirm(`Delete the view “${this.view.name}”?`)) return;
    button.disabled = true;
    try {
      await request("DELETE", `${this.path}/${segment(this.view.id)}`);
      window.location.assign(pageUrl(`/collections/${segment(this.collection)}`));
    } catch (error) {
      button.disabled = false;
      toast(error.message, { kind: "error", title: "The view was not deleted" });
    }
  }
}
