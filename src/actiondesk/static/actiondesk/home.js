// The home page: the desk's global actions (those of no collection), when there are any.
import { ActionContext, ActionsMenu } from "./actions.js";

const context = new ActionContext({
  collection: null,
  noun: { singular: "record", plural: "records" },
  parent: null,
  resultPanel: document.querySelector("[data-result-panel]"),
  selection: () => ({ attributes: { ids: [] }, count: 0, ids: [] }),
});
new ActionsMenu(document.querySelector("[data-actions]"), context, { label: "Global actions" });
