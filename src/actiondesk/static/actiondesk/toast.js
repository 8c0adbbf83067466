// Toasts: short messages in a live region at the bottom right. Success and info leave on their
// own (the timer waits while the pointer or the focus is on the toast); errors collapse into one
// stack that shows the newest and keeps the earlier ones folded, until dismissed; a sticky
// notice (it carries a link to follow) stays until closed. At most MAX_NOTICES toasts besides
// the error stack: the oldest goes first.
import { h } from "./dom.js";

const TIMEOUT_MS = 6000;
const MAX_NOTICES = 3;

function region() {
  return document.querySelector("[data-toasts]");
}

function body(message, title, link) {
  return h("div", { class: "toast-body" },
    title ? h("p", { class: "toast-title" }, title) : null,
    h("p", { class: "toast-message" }, message),
    link ? h("a", { href: link.href, target: link.newTab ? "_blank" : null, rel: link.newTab ? "noopener noreferrer" : null }, link.text) : null);
}

/** Remove `item` after `ms`, unless the pointer or the focus is on it (then once they leave). */
function leaveLater(item, ms) {
  let timer = null;
  const start = () => {
    clearTimeout(timer);
    timer = setTimeout(() => item.remove(), ms);
  };
  const hold = () => clearTimeout(timer);
  item.addEventListener("mouseenter", hold);
  item.addEventListener("focusin", hold);
  item.addEventListener("mouseleave", start);
  item.addEventListener("focusout", (event) => {
    if (!item.contains(event.relatedTarget)) start();
  });
  start();
}

/** The one error stack: the newest error on top, "N earlier errors" folded under it. */
function errorStack(place) {
  const existing = place.querySelector("[data-error-stack]");
  if (existing) return existing;
  const count = h("span", { dataset: { errorCount: "" } });
  const toggle = h("button", { type: "button", class: "link-button toast-more", "aria-expanded": "false", dataset: { moreErrors: "" } }, count);
  const earlier = h("ol", { class: "toast-earlier", hidden: true, dataset: { earlierErrors: "" } });
  toggle.addEventListener("click", () => {
    earlier.hidden = !earlier.hidden;
    toggle.setAttribute("aria-expanded", String(!earlier.hidden));
  });
  const close = h("button", { type: "button", class: "icon-button", "aria-label": "Dismiss all errors" }, "×");
  const latest = h("div", { class: "toast-latest", role: "alert", dataset: { latestError: "" } });
  const stack = h("div", { class: "toast toast-error toast-stack", dataset: { kind: "error", errorStack: "" } },
    h("div", { class: "toast-body" }, latest, h("div", { class: "toast-stack-more", hidden: true }, toggle, earlier)),
    close);
  close.addEventListener("click", () => stack.remove());
  place.prepend(stack);
  return stack;
}

function pushError(place, message, title, link) {
  const stack = errorStack(place);
  const latest = stack.querySelector("[data-latest-error]");
  const earlier = stack.querySelector("[data-earlier-errors]");
  const previous = latest.firstElementChild;
  if (previous) earlier.prepend(h("li", {}, previous));
  latest.replaceChildren(body(message, title, link));
  const n = earlier.children.length;
  stack.querySelector("[data-error-count]").textContent = `${n} earlier error${n === 1 ? "" : "s"}`;
  stack.querySelector(".toast-stack-more").hidden = n === 0;
  stack.dataset.count = String(n + 1);
  return stack;
}

/** Show a toast. kind: success | error | warning | info; link: {href, text, newTab}; sticky stays. */
export function toast(message, { kind = "success", title, link, sticky = false } = {}) {
  const place = region();
  if (!place) return null;
  if (kind === "error") return pushError(place, message, title, link);
  const close = h("button", { type: "button", class: "icon-button", "aria-label": "Dismiss" }, "×");
  const item = h("div", { class: `toast toast-${kind}`, role: "status", dataset: { kind } }, body(message, title, link), close);
  close.addEventListener("click", () => item.remove());
  place.append(item);
  const notices = [...place.querySelectorAll(".toast:not([data-error-stack])")];
  for (const old of notices.slice(0, Math.max(0, notices.length - MAX_NOTICES))) old.remove();
  if (!sticky) leaveLater(item, TIMEOUT_MS);
  return item;
}
