// The Export button of a list: downloads the records of the list as it is now (filter, search,
// sort, columns) as CSV or JSON lines. A plain link, so the browser streams the file to disk
// and the session cookie authorises it; shown only when the role may export.
import { apiUrl, segment } from "./api.js";
import { dismissable, h } from "./dom.js";

const FORMATS = [
  { ext: "csv", label: "CSV", note: "Opens in a spreadsheet" },
  { ext: "jsonl", label: "JSON lines", note: "One record per line, for scripts" },
];

/** The export URL of `table`'s current list in `format` ("csv" or "jsonl"). */
export function exportUrl(collection, table, format) {
  const { filter, search, sort } = table.state;
  return apiUrl(`/collections/${segment(collection)}/records.${format}`, {
    filter: filter ? JSON.stringify(filter) : null,
    search: search || null,
    sort: sort || null,
    columns: table.columns.join(","),
  });
}

export class ExportMenu {
  constructor(anchor, { collection, table }) {
    this.collection = collection;
    this.table = table;
    this.button = h("button", { type: "button", class: "button", "aria-haspopup": "menu", "aria-expanded": "false", dataset: { exportButton: "" } }, "Export ▾");
    this.button.addEventListener("click", () => (this.popover ? this.close() : this.open()));
    this.wrap = h("div", { class: "popover-anchor" }, this.button);
    anchor.append(this.wrap);
  }

  close() {
    this.popover?.remove();
    this.popover = null;
    this.stop?.();
    this.button.setAttribute("aria-expanded", "false");
  }

  open() {
    const count = this.table.count;
    const what = count === null ? "the records of this list" : `${count.toLocaleString()} record${count === 1 ? "" : "s"}`;
    const items = FORMATS.map((f) => h("li", { role: "none" },
      h("a", { class: "menu-item", role: "menuitem", href: exportUrl(this.collection, this.table, f.ext), download: "", dataset: { exportFormat: f.ext }, onclick: () => this.close() },
        h("span", {}, f.label), h("span", { class: "menu-note" }, f.note))));
    this.popover = h("div", { class: "popover popover-end", dataset: { exportMenu: "" } },
      h("p", { class: "menu-heading" }, `Export ${what}`),
      h("ul", { class: "menu", role: "menu", "aria-label": "Export formats" }, items));
    this.wrap.append(this.popover);
    this.button.setAttribute("aria-expanded", "true");
    this.stop = dismissable(this.popover, this.wrap, () => this.close());
    this.popover.querySelector("a")?.focus();
  }
}
