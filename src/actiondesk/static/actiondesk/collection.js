// The collection page: the records table (state kept in the URL, so a link or a redirect can
// open a filtered list) and the actions menu for the selection.
import { ActionContext, ActionsMenu } from "./actions.js";
import { api, segment } from "./api.js";
import { nouns, pageData } from "./dom.js";
import { onChange } from "./sync.js";
import { newButton } from "./record_edit.js";
import { ExportMenu } from "./export_menu.js";
import { SavedViews } from "./saved_views.js";
import { RecordsTable } from "./table.js";
import { refreshTable } from "./table_refresh.js";

const data = pageData();
const collection = data.collection;
const noun = nouns(collection.label || collection.name);
const count = document.querySelector("[data-count]");

function fromUrl() {
  const params = new URLSearchParams(window.location.search);
  let filter = null;
  try {
    filter = params.get("filter") ? JSON.parse(params.get("filter")) : null;
  } catch {
    filter = null;
  }
  return {
    filter,
    search: params.get("search") || "",
    sort: params.get("sort") || "",
    page: Math.max(1, Number(params.get("page")) || 1),
    pageSize: Number(params.get("page_size")) || null,
  };
}

function toUrl(state) {
  const params = new URLSearchParams();
  if (state.filter) params.set("filter", JSON.stringify(state.filter));
  if (state.search) params.set("search", state.search);
  if (state.sort) params.set("sort", state.sort);
  if (state.page > 1) params.set("page", String(state.page));
  if (state.pageSize !== data.page_size) params.set("page_size", String(state.pageSize));
  const view = new URLSearchParams(window.location.search).get("view");
  if (view) params.set("view", view);
  const query = params.toString();
  window.history.replaceState(null, "", window.location.pathname + (query ? `?${query}` : ""));
}

const actionsAnchor = document.querySelector("[data-actions]");
const table = new RecordsTable(document.querySelector("[data-records]"), {
  collection,
  targets: data.targets,
  pageSize: data.page_size,
  initial: fromUrl(),
  noun: noun.plural,
  fetchPage: (params, signal) => api.get(`/collections/${segment(collection.name)}/records`, params, { signal }),
  onStateChange: toUrl,
  onLoad: (t) => {
    if (t.error) count.textContent = "";
    else count.textContent = `${t.count.toLocaleString()} ${t.count === 1 ? noun.singular : noun.plural}`;
  },
});

const context = new ActionContext({
  collection: collection.name,
  noun,
  parent: null,
  resultPanel: document.querySelector("[data-result-panel]"),
  selection: () => ({
    attributes: table.selectionAttributes(),
    count: table.selectedCount(),
    ids: table.selection.all ? null : [...table.selection.ids],
  }),
  reload: () => refreshTable(table),
});
new ActionsMenu(actionsAnchor, context);
newButton(actionsAnchor, context, data.record_actions);
const tools = document.querySelector("[data-list-tools]");
if (data.can_export) new ExportMenu(tools, { collection: collection.name, table });
new SavedViews(tools, document.querySelector("[data-view-title]"), { collection: collection.name, roles: data.roles, table }).start();
// An action run in another tab may have changed any collection (a new related row, a status).
onChange((change) => {
  if (change.type === "records") refreshTable(table);
});
