// Records as people see them: ids in their text form, links to records, values as text.
import { pageUrl, segment } from "./api.js";
import { h } from "./dom.js";

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
    links.set(rel.fields[0], {
      rel,
      href(values) {
        const parts = fields.map((f) => values[f]);
        if (parts.some((v) => v === null || v === undefined)) return null;
        return recordUrl(rel.target, parts.map(encodeIdPart).join("|"));
      },
    });
  }
  return links;
}

/** A value as a person reads it (text only; never HTML). */
export function formatValue(field, value) {
  if (value === null || value === undefined) return h("span", { class: "cell-null" }, "—");
  if (field?.type === "boolean") return value ? "Yes" : "No";
  if (field?.type === "json") return JSON.stringify(value);
  if (field?.type === "datetime" && typeof value === "string") return value.replace("T", " ");
  return String(value);
}

/** The text a record is known by: a name-like field, else its id. */
export function recordLabel(collection, record) {
  const values = record.values || {};
  for (const name of ["name", "title", "label", "reference", "email", "username"]) {
    if (typeof values[name] === "string" && values[name]) return values[name];
  }
  const first = values.firstname ?? values.first_name;
  const last = values.lastname ?? values.last_name;
  if (first || last) return [first, last].filter(Boolean).join(" ");
  return `#${record.id}`;
}
