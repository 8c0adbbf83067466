// A many-to-one value shown as the record it refers to: its label (from the `references` of
// the API's answer, fetched once per page, not per row) linked to its page.
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
