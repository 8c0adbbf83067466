// A many-to-one value shown as the record it refers to: its label (from the `references` of
// the API's answer, fetched once per page, not per row) linked to its page.
import { api, segment } from "./api.js";
import { h, humanize } from "./dom.js";

/** The link to the referenced record, named by its label; `fallback` (the raw value) when
 *  the answer has no label for it (a record that no longer exists). */
export function referenceCell(link, values, references, fallback) {
  const href = link.href(values);
  if (!href) return fallback;
  const label = link.label(values, references);
  const id = link.id(values);
  return h("a", { href, title: `Open ${humanize(link.rel.name).toLowerCase()} #${id}`, dataset: { reference: link.rel.target, referenceId: id } },
    label ?? `#${id}`);
}

const LABELS_AT_ONCE = 200;

/** Name the record links of `collection` in `root` that show an id (`data-label-id`; those
 *  `only` keeps, when given): one request per 200 ids for their labels, then each link reads
 *  "Label" with "#id" beside it. An id without a label (a record since deleted) keeps its id.
 *  Failing quietly: the ids stay readable. */
export async function nameRecordLinks(collection, root, only = null) {
  const links = [...root.querySelectorAll("a[data-label-id]:not([data-labelled])")].filter((a) => !only || only(a));
  for (let start = 0; start < links.length; start += LABELS_AT_ONCE) {
    const chunk = links.slice(start, start + LABELS_AT_ONCE);
    let answer;
    try {
      answer = await api.get(`/collections/${segment(collection)}/labels`, { ids: [...new Set(chunk.map((a) => a.dataset.labelId))] });
    } catch {
      return;
    }
    for (const link of chunk) {
      link.dataset.labelled = "";
      const label = answer.labels[link.dataset.labelId];
      if (label === undefined || label === `#${link.dataset.labelId}`) continue;
      link.replaceChildren(label);
      link.after(h("span", { class: "muted small" }, ` #${link.dataset.labelId}`));
    }
  }
}
