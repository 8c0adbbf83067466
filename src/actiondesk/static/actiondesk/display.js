// Values as people read them, following the collection's display declarations (each field's
// label, format, currency and enum labels; see data/display.py). Times are shown in the
// reader's time zone with the zone named, the exact ISO instant on hover. Text only: values
// become text nodes or attributes, never HTML.
import { h } from "./dom.js";

const CURRENCY = /^[A-Z]{3}$/;
const SAFE_URL = /^https?:\/\//i;

/** The label of a field: the declared or humanised one the server sends. */
export function fieldLabel(field) {
  return field.label || field.name;
}

function decimalsOf(field, value) {
  if (Number.isInteger(field.decimals)) return field.decimals;
  // A decimal arrives as text ("10429.38"): keep the digits it has.
  const text = String(value);
  const dot = text.indexOf(".");
  return dot < 0 ? 0 : Math.min(10, text.length - dot - 1);
}

export function formatNumber(field, value) {
  const number = Number(value);
  if (!Number.isFinite(number)) return String(value);
  const digits = decimalsOf(field, value);
  return number.toLocaleString(undefined, { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** "10429.38" with currency EUR -> "10,429.38 EUR" (the code after, as the app's messages). */
export function formatMoney(field, value, values = {}) {
  const currency = field.currency || values[field.currency_field];
  const shown = formatNumber({ ...field, decimals: Number.isInteger(field.decimals) ? field.decimals : 2 }, value);
  return typeof currency === "string" && CURRENCY.test(currency) ? `${shown} ${currency}` : shown;
}

/** An instant from the API: an ISO text; one without an offset (a naive database column) is
 *  taken as UTC. */
export function parseInstant(value) {
  const text = String(value);
  const naive = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text);
  const date = new Date(naive ? `${text.replace(" ", "T")}Z` : text);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** "Nov 3, 2025, 04:59:57 UTC" in the reader's zone and language. */
export function formatInstant(date) {
  return date.toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" });
}

const UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400],
  ["hour", 3600], ["minute", 60], ["second", 1]];

/** "3 days ago", "in 2 hours". */
export function formatRelative(date, now = Date.now()) {
  const seconds = Math.round((date.getTime() - now) / 1000);
  const [unit, size] = UNITS.find(([, s]) => Math.abs(seconds) >= s) || ["second", 1];
  return new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }).format(Math.round(seconds / size), unit);
}

/** A <time> element: the instant as the reader reads it, the ISO instant on hover. */
export function instantNode(value, { relative = false } = {}) {
  const date = parseInstant(value);
  if (!date) return String(value);
  const iso = date.toISOString();
  const full = formatInstant(date);
  return h("time", { datetime: iso, title: relative ? `${full} (${iso})` : iso }, relative ? formatRelative(date) : full);
}

function dateNode(value) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(value));
  if (!match) return String(value);
  // A date has no time zone: it is shown as the same day everywhere.
  const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
  return h("time", { datetime: String(value), title: String(value) },
    date.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric", timeZone: "UTC" }));
}

function linkNode(href, text, external) {
  return h("a", { href, rel: external ? "noopener noreferrer" : null, target: external ? "_blank" : null }, text);
}

/** An image of this desk's own origin (the Content-Security-Policy allows no other); an image
 *  elsewhere is a link to it. */
function imageNode(value) {
  const text = String(value);
  let url;
  try {
    url = new URL(text, window.location.href);
  } catch {
    return text;
  }
  if (url.origin === window.location.origin) return h("img", { src: url.href, alt: "", class: "value-image", loading: "lazy" });
  return SAFE_URL.test(text) ? linkNode(text, text, true) : text;
}

/**
 * A value as a person reads it. `values` are the record's other values (for a currency
 * field). Returns text or a node.
 */
export function displayValue(field, value, values = {}) {
  if (value === null || value === undefined || value === "") return h("span", { class: "cell-null" }, "—");
  const format = field?.format || "text";
  if (field?.enum_labels && Object.hasOwn(field.enum_labels, value)) return field.enum_labels[value];
  if (field?.type === "boolean" || format === "boolean") return value ? "Yes" : "No";
  if (typeof value === "object") return JSON.stringify(value);
  switch (format) {
    case "number":
      return formatNumber(field, value);
    case "money":
      return formatMoney(field, value, values);
    case "percent": {
      const number = Number(value);
      const digits = Number.isInteger(field.decimals) ? field.decimals : 0;
      return Number.isFinite(number) ? number.toLocaleString(undefined, { style: "percent", minimumFractionDigits: digits, maximumFractionDigits: digits }) : String(value);
    }
    case "date":
      return field.type === "datetime" ? dateNode(String(value).slice(0, 10)) : dateNode(value);
    case "datetime":
      return field.type === "date" ? dateNode(value) : instantNode(value);
    case "relative":
      return instantNode(value, { relative: true });
    case "email":
      return linkNode(`mailto:${value}`, String(value), false);
    case "url":
      return SAFE_URL.test(String(value)) ? linkNode(String(value), String(value), true) : String(value);
    case "image_url":
      return imageNode(value);
    default:
      return String(value);
  }
}

/** Whether a field's values line up to the right (numbers). */
export function isNumeric(field) {
  return ["number", "money", "percent"].includes(field?.format);
}
