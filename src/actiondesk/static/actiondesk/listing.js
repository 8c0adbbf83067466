// A paginated list of API objects (approval requests, runs) with a filter bar. The filters and
// the page live in the URL, so a filtered list can be bookmarked, shared and reloaded.
import { ApiError } from "./api.js";
import { clear, h, uid } from "./dom.js";
import { emptyState, errorState, loadingState, pageControls, select } from "./parts.js";

const TEXT_DELAY_MS = 400;

/** Local midnight of a "YYYY-MM-DD" date as an ISO instant (days later with `plusDays`). */
export function dayStart(text, plusDays = 0) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text || "")) return null;
  const [year, month, day] = text.split("-").map(Number);
  const date = new Date(year, month - 1, day + plusDays);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/**
 * options:
 *   root: where the filter bar, the table and the pagination go;
 *   filters: [{name, label, type: "select" | "text" | "date", options?: [[value, label]]}];
 *   columns: [{label, cell(item) -> node or text, className?}];
 *   fetch(state, page, signal) -> {items, count, page_size};
 *   noun: {singular, plural}; rowKey(item) -> the data-id of its row;
 *   emptyText(filtered) -> [title, text]; onLoad(list); toolbar: extra nodes after the filters.
 */
export class ListPage {
  constructor(options) {
    Object.assign(this, { emptyText: (filtered) => [filtered ? `No ${options.noun.plural} match` : `No ${options.noun.plural} yet`, null] }, options);
    this.state = this.fromUrl();
    this.items = [];
    this.count = 0;
    this.pageSize = 50;
    this.controller = null;
    this.filterBar = h("form", { class: "filter-bar", role: "search", "aria-label": `Filter ${options.noun.plural}`, dataset: { filters: "" } });
    this.filterBar.addEventListener("submit", (event) => {
      event.preventDefault();
      this.readFilters();
    });
    this.wrap = h("div", { class: "table-wrap" });
    this.pagination = h("nav", { class: "pagination", "aria-label": "Pages" });
    clear(this.root).append(this.filterBar, this.wrap, this.pagination);
    this.renderFilters();
  }

  fromUrl() {
    const params = new URLSearchParams(window.location.search);
    const state = { page: Math.max(1, Number(params.get("page")) || 1) };
    for (const filter of this.filters) state[filter.name] = params.get(filter.name) || "";
    return state;
  }

  toUrl() {
    const params = new URLSearchParams(window.location.search);
    for (const filter of this.filters) {
      if (this.state[filter.name]) params.set(filter.name, this.state[filter.name]);
      else params.delete(filter.name);
    }
    if (this.state.page > 1) params.set("page", String(this.state.page));
    else params.delete("page");
    const query = params.toString();
    window.history.replaceState(null, "", window.location.pathname + (query ? `?${query}` : ""));
  }

  /** Whether any filter is set. */
  get filtered() {
    return this.filters.some((f) => this.state[f.name]);
  }

  renderFilters() {
    this.controls = new Map();
    const fields = this.filters.map((filter) => {
      const id = uid(`filter-${filter.name}`);
      let control;
      if (filter.type === "select") {
        control = select([["", filter.any || "Any"], ...filter.options], this.state[filter.name], { id, name: filter.name });
        control.addEventListener("change", () => this.readFilters());
      } else {
        control = h("input", { id, name: filter.name, class: "input", type: filter.type === "date" ? "date" : "search",
          value: this.state[filter.name], placeholder: filter.placeholder || null, autocomplete: "off" });
        if (filter.type === "date") control.addEventListener("change", () => this.readFilters());
        else {
          let timer = null;
          control.addEventListener("input", () => {
            clearTimeout(timer);
            timer = setTimeout(() => this.readFilters(), TEXT_DELAY_MS);
          });
        }
      }
      this.controls.set(filter.name, control);
      return h("div", { class: "filter-field", dataset: { filter: filter.name } }, h("label", { for: id }, filter.label), control);
    });
    this.clearButton = h("button", { type: "button", class: "link-button", dataset: { clearFilters: "" }, hidden: !this.filtered }, "Clear filters");
    this.clearButton.addEventListener("click", () => {
      for (const control of this.controls.values()) control.value = "";
      this.readFilters();
    });
    this.barEnd = h("div", { class: "filter-bar-end" }, this.clearButton, this.toolbar || []);
    this.syncClear();
    clear(this.filterBar).append(...fields, this.barEnd,
      h("button", { type: "submit", class: "visually-hidden", tabindex: "-1" }, "Apply filters"));
  }

  /** "Clear filters" only when a filter is set (its cell takes no room otherwise). */
  syncClear() {
    this.clearButton.hidden = !this.filtered;
    this.barEnd.hidden = !this.filtered && !this.toolbar?.length;
  }

  readFilters() {
    let changed = false;
    for (const [name, control] of this.controls) {
      const value = control.value.trim();
      if (value !== this.state[name]) {
        this.state[name] = value;
        changed = true;
      }
    }
    this.syncClear();
    if (!changed) return null;
    this.state.page = 1;
    return this.load();
  }

  setPage(page) {
    this.state.page = page;
    return this.load();
  }

  async load() {
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.toUrl();
    this.root.setAttribute("aria-busy", "true");
    if (!this.wrap.querySelector("table")) clear(this.wrap).append(loadingState(`Loading ${this.noun.plural}`));
    else if (!this.wrap.querySelector(".table-loading")) this.wrap.append(h("div", { class: "table-loading", dataset: { state: "loading" } }, h("div", { class: "spinner" })));
    try {
      const answer = await this.fetch(this.state, this.state.page, controller.signal);
      if (controller.signal.aborted) return;
      this.items = answer.items;
      this.count = answer.count;
      this.pageSize = answer.page_size;
      this.error = null;
      if (!this.items.length && this.count && this.state.page > 1) {
        this.state.page = Math.max(1, Math.ceil(this.count / this.pageSize));
        this.controller = null;
        await this.load();
        return;
      }
    } catch (error) {
      if (error.name === "AbortError") return;
      this.error = error instanceof ApiError ? error : new ApiError(0, { error: String(error) });
    } finally {
      if (this.controller === controller) this.controller = null;
    }
    this.root.removeAttribute("aria-busy");
    this.render();
    this.onLoad?.(this);
  }

  render() {
    clear(this.pagination);
    if (this.error) {
      clear(this.wrap).append(errorState(`The ${this.noun.plural} could not be loaded: ${this.error.message}`, () => this.load()));
      return;
    }
    if (!this.items.length) {
      const [title, text] = this.emptyText(this.filtered);
      clear(this.wrap).append(emptyState(title, text));
      return;
    }
    const head = h("tr", {}, this.columns.map((c) => h("th", { scope: "col", class: c.className || null }, c.label)));
    const rows = this.items.map((item) => h("tr", { dataset: { id: this.rowKey(item) } },
      this.columns.map((c) => h("td", { class: c.className || null }, c.cell(item)))));
    clear(this.wrap).append(h("table", { class: "table" },
      h("caption", { class: "visually-hidden" }, this.caption || this.noun.plural), h("thead", {}, head), h("tbody", {}, rows)));
    this.renderPagination();
  }

  renderPagination() {
    this.pagination.append(...pageControls({
      page: this.state.page, pageSize: this.pageSize, count: this.count, setPage: (page) => this.setPage(page),
    }));
  }
}
