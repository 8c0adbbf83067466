// A table of records: pagination, sorting, search, the filter builder, column choice (kept in
// localStorage) and row selection, including "select all N matching" with exclusions.
import { ApiError } from "./api.js";
import { clear, dismissable, h, humanize } from "./dom.js";
import { FilterBuilder, countConditions, describe } from "./filters.js";
import { pageControls } from "./parts.js";
import { fieldLabel, isNumeric } from "./display.js";
import { formatValue, manyToOneLinks, recordLabel, recordUrl } from "./records.js";
import { referenceCell } from "./references.js";
import { markRows } from "./table_refresh.js";

const HIDDEN_BY_DEFAULT = new Set(["json", "binary", "text"]);
const DEFAULT_COLUMNS = 8;
const PAGE_SIZES = [10, 25, 50, 100];
const SEARCH_DELAY_MS = 300;

/**
 * A records table in `root`.
 * options: collection (schema), targets, fetchPage(params, signal) -> page JSON,
 *   storageKey, pageSize, initial ({filter, search, sort, page}), onStateChange(state),
 *   onSelectionChange(table), toolbar (extra elements), noun (for messages).
 */
export class RecordsTable {
  constructor(root, options) {
    this.root = root;
    this.options = options;
    this.collection = options.collection;
    this.fields = this.collection.fields;
    this.byName = Object.fromEntries(this.fields.map((f) => [f.name, f]));
    this.links = manyToOneLinks(this.collection, options.targets || {});
    const initial = options.initial || {};
    this.state = {
      filter: initial.filter || null,
      search: initial.search || "",
      sort: initial.sort || "",
      page: initial.page || 1,
      pageSize: initial.pageSize || options.pageSize || 25,
    };
    this.columns = this.loadColumns();
    this.records = [];
    this.count = null;
    this.selection = { all: false, ids: new Set(), excluded: new Set() };
    this.loading = null;
    this.build();
  }

  // -- columns ---------------------------------------------------------------------------

  get storageKey() {
    return `actiondesk:columns:${this.options.storageKey || this.collection.name}`;
  }

  loadColumns() {
    const known = new Set(this.fields.map((f) => f.name));
    try {
      const saved = JSON.parse(window.localStorage.getItem(this.storageKey) || "null");
      if (Array.isArray(saved)) {
        const kept = saved.filter((n) => known.has(n));
        if (kept.length) return kept;
      }
    } catch {
      // Unreadable storage: fall back to the defaults.
    }
    return this.fields.filter((f) => !HIDDEN_BY_DEFAULT.has(f.type)).slice(0, DEFAULT_COLUMNS).map((f) => f.name);
  }

  saveColumns() {
    try {
      window.localStorage.setItem(this.storageKey, JSON.stringify(this.columns));
    } catch {
      // Private mode or full storage: the choice lasts for this page only.
    }
  }

  // -- layout ------------------------------------------------------------------------------

  build() {
    const noun = this.options.noun || humanize(this.collection.name).toLowerCase();
    this.searchInput = h("input", { type: "search", class: "input input-search", placeholder: `Search ${noun}`,
      "aria-label": `Search ${noun}`, value: this.state.search, dataset: { search: "" } });
    let timer = null;
    this.searchInput.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.setSearch(this.searchInput.value), SEARCH_DELAY_MS);
    });
    this.searchInput.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        clearTimeout(timer);
        this.setSearch(this.searchInput.value);
      }
    });
    this.filterAnchor = h("div", { class: "popover-anchor" });
    this.columnsAnchor = h("div", { class: "popover-anchor" });
    this.filterSummary = h("div", { class: "toolbar", dataset: { filterSummary: "" } });
    this.selectionBar = h("div", { class: "selection-bar", dataset: { selectionBar: "" }, hidden: true });
    this.refusal = h("div", { class: "notice", role: "alert", dataset: { listRefusal: "" }, hidden: true });
    this.tableWrap = h("div", { class: "table-wrap" });
    this.pagination = h("nav", { class: "pagination", "aria-label": "Pages" });
    clear(this.root).append(
      h("div", { class: "toolbar" }, this.searchInput, this.filterAnchor, this.columnsAnchor,
        h("div", { class: "toolbar-end" }, this.options.toolbar || [])),
      this.filterSummary, this.refusal, this.selectionBar, this.tableWrap, this.pagination);
    this.renderFilterButton();
    this.renderColumnsButton();
    this.renderFilterSummary();
  }

  renderFilterButton() {
    const n = countConditions(this.state.filter);
    const button = h("button", { type: "button", class: "button", "aria-haspopup": "dialog", "aria-expanded": "false", dataset: { filterButton: "" } },
      n ? `Filter (${n})` : "Filter");
    button.addEventListener("click", () => this.toggleFilter(button));
    clear(this.filterAnchor).append(button);
  }

  toggleFilter(button) {
    if (this.closePopover) {
      this.closePopover();
      return;
    }
    const close = () => {
      popover.remove();
      stop();
      button.setAttribute("aria-expanded", "false");
      this.closePopover = null;
    };
    const builder = new FilterBuilder(this.fields, this.state.filter, (filter) => {
      close();
      this.setFilter(filter);
      button.focus();
    }, () => {
      close();
      button.focus();
    });
    const popover = h("div", { class: "popover", role: "dialog", "aria-label": "Filter" }, builder.element);
    this.filterAnchor.append(popover);
    const stop = dismissable(popover, this.filterAnchor, close);
    this.closePopover = close;
    button.setAttribute("aria-expanded", "true");
    popover.querySelector("select, input")?.focus();
  }

  renderColumnsButton() {
    const button = h("button", { type: "button", class: "button", "aria-haspopup": "true", "aria-expanded": "false", dataset: { columnsButton: "" } }, "Columns");
    button.addEventListener("click", () => {
      const open = this.columnsAnchor.querySelector(".popover");
      if (open) {
        open.remove();
        button.setAttribute("aria-expanded", "false");
        return;
      }
      const boxes = this.fields.map((f) => {
        const box = h("input", { type: "checkbox", checked: this.columns.includes(f.name), value: f.name });
        box.addEventListener("change", () => {
          const chosen = this.fields.map((x) => x.name).filter((name) =>
            name === f.name ? box.checked : this.columns.includes(name));
          if (!chosen.length) {
            box.checked = true;
            return;
          }
          this.columns = chosen;
          this.saveColumns();
          this.renderTable();
        });
        return h("li", {}, h("label", {}, box, fieldLabel(f)));
      });
      const popover = h("div", { class: "popover", role: "group", "aria-label": "Columns shown" },
        h("ul", { class: "column-list" }, boxes));
      this.columnsAnchor.append(popover);
      button.setAttribute("aria-expanded", "true");
      const stop = dismissable(popover, this.columnsAnchor, () => {
        popover.remove();
        stop();
        button.setAttribute("aria-expanded", "false");
      });
      popover.querySelector("input")?.focus();
    });
    clear(this.columnsAnchor).append(button);
  }

  renderFilterSummary() {
    const filter = this.state.filter;
    this.filterSummary.hidden = !filter;
    clear(this.filterSummary);
    if (!filter) return;
    this.filterSummary.append(
      h("span", { class: "filter-chip", dataset: { filterChip: "" } }, "Filtered: ", describe(filter)),
      h("button", { type: "button", class: "link-button", onclick: () => this.setFilter(null) }, "Clear filter"));
  }

  // -- state ---------------------------------------------------------------------------------

  params() {
    return {
      filter: this.state.filter ? JSON.stringify(this.state.filter) : null,
      search: this.state.search || null,
      sort: this.state.sort || null,
      page: this.state.page,
      page_size: this.state.pageSize,
    };
  }

  changed({ resetSelection = true } = {}) {
    if (resetSelection) this.clearSelection(false);
    // The person changed the list: what the last action did is no longer marked.
    this.marks = null;
    this.pinned = [];
    this.options.onStateChange?.(this.state);
    return this.load();
  }

  setFilter(filter) {
    this.state.filter = filter;
    this.state.page = 1;
    this.renderFilterButton();
    this.renderFilterSummary();
    return this.changed();
  }

  setSearch(text) {
    if (text.trim() === this.state.search) return null;
    this.state.search = text.trim();
    this.state.page = 1;
    return this.changed();
  }

  setSort(name) {
    const current = this.state.sort;
    this.state.sort = current === name ? `-${name}` : current === `-${name}` ? "" : name;
    this.state.page = 1;
    return this.changed({ resetSelection: false });
  }

  setPage(page) {
    this.state.page = page;
    return this.changed({ resetSelection: false });
  }

  // -- loading -------------------------------------------------------------------------------

  async load() {
    this.loading?.abort();
    const controller = new AbortController();
    this.loading = controller;
    this.showLoading();
    try {
      const page = await this.options.fetchPage(this.params(), controller.signal);
      if (controller.signal.aborted) return;
      this.records = page.records;
      this.references = page.references || {};
      this.count = page.count;
      this.state.pageSize = page.page_size;
      if (!page.records.length && page.count && this.state.page > 1) {
        // The page is past the end (records went away): show the last one.
        this.state.page = Math.max(1, Math.ceil(page.count / page.page_size));
        this.loading = null;
        await this.load();
        return;
      }
      this.error = null;
      this.shown = { ...this.state };
      this.showRefusal(null);
    } catch (error) {
      if (error.name === "AbortError") return;
      const failure = error instanceof ApiError ? error : new ApiError(0, { error: String(error) });
      // A 400 is the request's fault (a filter value, a search, a sort): asking again cannot
      // help, so the list on screen stays, with its filter, and the message says why.
      if (failure.status === 400 && this.shown && !this.error) this.restoreShown(failure);
      else this.error = failure;
    } finally {
      if (this.loading === controller) this.loading = null;
    }
    this.renderTable();
    this.renderPagination();
    this.renderSelection();
    this.options.onLoad?.(this);
  }

  /** Go back to the state of the list on screen, saying why the new one was refused. */
  restoreShown(failure) {
    this.state = { ...this.shown };
    this.searchInput.value = this.state.search;
    this.renderFilterButton();
    this.renderFilterSummary();
    this.options.onStateChange?.(this.state);
    this.showRefusal(`The list was not changed: ${failure.message}`);
  }

  showRefusal(message) {
    clear(this.refusal);
    this.refusal.hidden = !message;
    if (!message) return;
    this.refusal.append(h("span", {}, message), " ",
      h("button", { type: "button", class: "link-button", onclick: () => this.showRefusal(null) }, "Dismiss"));
  }

  /** Show a saved view: its filter, search, sort, page size and columns (not stored as the
   * user's own column choice); then load its first page. */
  applyView(view) {
    const known = new Set(this.fields.map((f) => f.name));
    Object.assign(this.state, { filter: view.filter || null, search: view.search || "", sort: view.sort || "", page: 1 });
    if (view.page_size) this.state.pageSize = view.page_size;
    const columns = (view.columns || []).filter((n) => known.has(n));
    this.columns = columns.length ? columns : this.loadColumns();
    this.searchInput.value = this.state.search;
    this.renderFilterButton();
    this.renderFilterSummary();
    return this.changed();
  }

  /** Back to the unfiltered first page (for a list whose own state the server refuses). */
  reset() {
    Object.assign(this.state, { filter: null, search: "", sort: "", page: 1 });
    this.searchInput.value = "";
    this.renderFilterButton();
    this.renderFilterSummary();
    return this.changed();
  }

  showLoading() {
    this.root.setAttribute("aria-busy", "true");
    if (!this.tableWrap.querySelector("table")) {
      clear(this.tableWrap).append(h("div", { class: "table-state", dataset: { state: "loading" } },
        h("div", { class: "spinner", role: "progressbar", "aria-label": "Loading records" })));
      return;
    }
    if (!this.tableWrap.querySelector(".table-loading")) {
      this.tableWrap.append(h("div", { class: "table-loading", dataset: { state: "loading" } }, h("div", { class: "spinner" })));
    }
  }

  // -- rendering -----------------------------------------------------------------------------

  renderTable() {
    this.root.removeAttribute("aria-busy");
    const noun = this.options.noun || humanize(this.collection.name).toLowerCase();
    if (this.error) {
      // Retrying a 400 gets the same answer; leaving the filter, search and sort may not.
      const next = this.error.status === 400
        ? h("button", { type: "button", class: "button", onclick: () => this.reset() }, "Clear the filter, search and sort")
        : h("button", { type: "button", class: "button", onclick: () => this.load() }, "Try again");
      clear(this.tableWrap).append(h("div", { class: "table-state table-state-error", role: "alert", dataset: { state: "error" } },
        h("p", {}, `The ${noun} could not be loaded: ${this.error.message}`), next));
      return;
    }
    if (!this.records.length) {
      const filtered = this.state.filter || this.state.search;
      clear(this.tableWrap).append(h("div", { class: "table-state", dataset: { state: "empty" } },
        h("p", { class: "empty-title" }, filtered ? `No ${noun} match` : `No ${noun} yet`),
        filtered ? h("p", {}, "Change the search or the filter to see more.") : null));
      return;
    }
    const columns = this.columns.map((name) => this.byName[name]).filter(Boolean);
    const pageIds = this.records.map((r) => r.id);
    const selectedOnPage = pageIds.filter((id) => this.isSelected(id)).length;
    const headBox = h("input", { type: "checkbox", "aria-label": "Select every record on this page",
      checked: selectedOnPage === pageIds.length, indeterminate: selectedOnPage > 0 && selectedOnPage < pageIds.length, dataset: { selectPage: "" } });
    headBox.addEventListener("change", () => this.selectPage(headBox.checked));
    const head = h("tr", {}, h("th", { class: "cell-check", scope: "col" }, headBox),
      columns.map((f) => {
        const direction = this.state.sort === f.name ? "asc" : this.state.sort === `-${f.name}` ? "desc" : null;
        const sort = h("button", { type: "button", class: "sort-button", dataset: { sortField: f.name, direction: direction || "" } }, fieldLabel(f));
        sort.addEventListener("click", () => this.setSort(f.name));
        return h("th", { scope: "col", class: isNumeric(f) ? "cell-number" : null, title: f.description || null,
          "aria-sort": direction === "asc" ? "ascending" : direction === "desc" ? "descending" : null }, sort);
      }));
    const rows = this.records.map((record) => this.row(record, columns));
    const body = h("tbody", {}, rows);
    markRows(this, body, columns);
    clear(this.tableWrap).append(h("table", { class: "table" },
      h("caption", { class: "visually-hidden" }, humanize(this.collection.name)),
      h("thead", {}, head), body));
  }

  row(record, columns) {
    const selected = this.isSelected(record.id);
    const box = h("input", { type: "checkbox", checked: selected, "aria-label": `Select ${recordLabel(this.collection, record)}`, dataset: { selectRow: record.id } });
    box.addEventListener("change", () => this.toggle(record.id, box.checked));
    const cells = columns.map((field, index) => {
      const value = record.values[field.name];
      let content = formatValue(field, value, record.values);
      const link = this.links.get(field.name);
      if (index === 0) {
        content = h("a", { href: recordUrl(this.collection.name, record.id), dataset: { recordLink: record.id } }, content);
      } else if (link && value !== null && value !== undefined) {
        content = referenceCell(link, record.values, this.references, content);
      }
      const hover = typeof value === "string" && !field.enum_labels && !["datetime", "date", "relative"].includes(field.format) ? value : null;
      return h("td", { class: isNumeric(field) ? "cell-number" : null, title: link ? null : hover, dataset: { column: field.name } }, content);
    });
    return h("tr", { class: selected ? "is-selected" : null, dataset: { id: record.id } }, h("td", { class: "cell-check" }, box), cells);
  }

  renderPagination() {
    clear(this.pagination);
    if (this.error || !this.count) return;
    const { page, pageSize } = this.state;
    const size = h("select", { class: "select", "aria-label": "Records per page" },
      PAGE_SIZES.map((n) => h("option", { value: String(n), selected: n === pageSize }, `${n} per page`)));
    size.addEventListener("change", () => {
      this.state.pageSize = Number(size.value);
      this.state.page = 1;
      this.changed({ resetSelection: false });
    });
    this.pagination.append(...pageControls({
      page, pageSize, count: this.count, setPage: (n) => this.setPage(n), extra: size,
    }));
  }

  // -- selection -----------------------------------------------------------------------------

  isSelected(id) {
    return this.selection.all ? !this.selection.excluded.has(id) : this.selection.ids.has(id);
  }

  toggle(id, on) {
    const s = this.selection;
    if (s.all) {
      if (on) s.excluded.delete(id);
      else s.excluded.add(id);
      if (s.excluded.size >= this.count) this.clearSelection(false);
    } else if (on) s.ids.add(id);
    else s.ids.delete(id);
    this.selectionChanged();
  }

  selectPage(on) {
    for (const record of this.records) {
      if (this.isSelected(record.id) !== on) this.toggle(record.id, on);
    }
    this.selectionChanged();
  }

  selectAllMatching() {
    this.selection = { all: true, ids: new Set(), excluded: new Set() };
    this.selectionChanged();
  }

  clearSelection(notify = true) {
    this.selection = { all: false, ids: new Set(), excluded: new Set() };
    if (notify) this.selectionChanged();
  }

  /** How many records the selection holds. */
  selectedCount() {
    if (this.selection.all) return Math.max(0, (this.count || 0) - this.selection.excluded.size);
    return this.selection.ids.size;
  }

  /** The selection in the action request's terms (Forest's JSON:API attributes). */
  selectionAttributes() {
    if (this.selection.all) {
      return {
        ids: [],
        all_records: true,
        all_records_subset_query: { filters: this.state.filter ? JSON.stringify(this.state.filter) : null, search: this.state.search || null },
        all_records_ids_excluded: [...this.selection.excluded],
      };
    }
    return { ids: [...this.selection.ids], all_records: false };
  }

  selectionChanged() {
    for (const row of this.tableWrap.querySelectorAll("tbody tr")) {
      const on = this.isSelected(row.dataset.id);
      row.classList.toggle("is-selected", on);
      const box = row.querySelector("input[type=checkbox]");
      if (box) box.checked = on;
    }
    const head = this.tableWrap.querySelector("[data-select-page]");
    if (head) {
      const onPage = this.records.filter((r) => this.isSelected(r.id)).length;
      head.checked = onPage > 0 && onPage === this.records.length;
      head.indeterminate = onPage > 0 && onPage < this.records.length;
    }
    this.renderSelection();
    this.options.onSelectionChange?.(this);
  }

  renderSelection() {
    const bar = this.selectionBar;
    const n = this.selectedCount();
    clear(bar);
    bar.hidden = n === 0;
    if (!n) return;
    const noun = this.options.noun || humanize(this.collection.name).toLowerCase();
    const clearButton = h("button", { type: "button", class: "link-button", onclick: () => this.clearSelection() }, "Clear selection");
    if (this.selection.all) {
      const excluded = this.selection.excluded.size;
      bar.append(h("span", { dataset: { selectionText: "" } },
        `All ${n.toLocaleString()} matching ${noun} are selected`,
        excluded ? ` (${excluded.toLocaleString()} deselected)` : ""), clearButton);
      return;
    }
    const pageAll = this.records.length > 0 && this.records.every((r) => this.selection.ids.has(r.id));
    bar.append(h("span", { dataset: { selectionText: "" } }, `${n.toLocaleString()} selected`));
    if (pageAll && this.count > this.records.length) {
      bar.append(h("button", { type: "button", class: "link-button", dataset: { selectAll: "" }, onclick: () => this.selectAllMatching() },
        `Select all ${this.count.toLocaleString()} matching ${noun}`));
    }
    bar.append(clearButton);
  }
}
