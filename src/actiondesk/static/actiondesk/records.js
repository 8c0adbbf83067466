// Records as people see them: ids in their text form, links to records, values as text.
import { pageUrl, segment } from "./api.js";
import { displayValue } from "./display.js";

/** One primary-key value in the id text form (see data/record_ids.py). */
export function encodeIdPart(value) {
  return String(value).replace(/[%|/]/g, (c) => ({ "%": "%25", "|": "%7C", "/": "%2F" })[c]);
}

export function recordUrl(collection, id) {
  return pageUrl(`/collections/${segment(collection)}/records/${segment(id)}`);
}

/** For each many-to-one relationship whose target the caller may read: the field that shows
 *  it and how to build the link from a record's values. */
export function manyToOneLinks(collection, targets) {
  const links = new Map();
  for (const rel of collection.relationships) {
    if (rel.kind !== "many_to_one" || !targets[rel.target]) continue;
    const key = targets[rel.target].primary_key;
    if (key.length !== rel.target_fields.length) continue;
    const fields = key.map((name) => rel.fields[rel.target_fields.indexOf(name)]);
    if (fields.some((f) => f === undefined)) continue;
    const id = (values) => {
      const parts = fields.map((f) => values[f]);
      if (parts.some((v) => v === null || v === undefined)) return null;
      return parts.map(encodeIdPart).join("|");
    };
    links.set(rel.fields[0], {
      rel,
      id,
      href(values) {
        const target = id(values);
        return target === null ? null : recordUrl(rel.target, target);
      },
      /** The referenced record's label from a list answer's `references`, if there. */
      label(values, references) {
        const target = id(values);
        return target === null ? null : references?.[rel.target]?.[target] ?? null;
      },
    });
  }
  return links;
}

/** A value as a person reads it (text or a node; never HTML); `values` are the record's. */
export function formatValue(field, value, values = {}) {
  return displayValue(field, value, values);
}

/** The text a record is known by: the server's label (see data/display.py); for an answer
 *  without one, a name-like field, else its id. */
export function recordLabel(collection, record) {
  if (typeof record.label === "string" && record.label) return record.label;
  const values = record.values || {};
  for (const name of ["name", "title", "label", "reference", "email", "username"]) {
    if (typeof values[name] === "string" && values[name]) return values[name];
  }
  const first = values.firstname ?? values.first_name;
  const last = values.lastname ?? values.last_name;
  if (first || last) return [first, last].filter(Boolean).join(" ");
  return `#${record.id}`;
}
