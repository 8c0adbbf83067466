// Toasts: short messages in a live region at the bottom right; errors (and sticky notices)
// stay until closed.
import { h } from "./dom.js";

const TIMEOUT_MS = 6000;

/** Show a toast. kind: success | error | warning | info; link: {href, text, newTab}; sticky stays. */
export function toast(message, { kind = "success", title, link, sticky = false } = {}) {
  const region = document.querySelector("[data-toasts]");
  if (!region) return null;
  const close = h("button", { type: "button", class: "icon-button", "aria-label": "Dismiss" }, "×");
  const item = h("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status", dataset: { kind } },
    h("div", { class: "toast-body" },
      title ? h("p", { class: "toast-title" }, title) : null,
      h("p", { class: "toast-message" }, message),
      link ? h("a", { href: link.href, target: link.newTab ? "_blank" : null, rel: link.newTab ? "noopener noreferrer" : null }, link.text) : null),
    close);
  close.addEventListener("click", () => item.remove());
  region.append(item);
  if (kind !== "error" && !sticky) setTimeout(() => item.remove(), TIMEOUT_MS);
  return item;
}
