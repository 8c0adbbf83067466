// The notifications menu in the header of every page: the unread count as a badge, the latest
// notifications when opened (approval requests waiting for me, decisions on my requests), and
// marking them read (one when followed, or all).
import { api, pageUrl } from "./api.js";
import { h } from "./dom.js";
import { emptyState, errorState, loadingState, timeElement } from "./parts.js";

const REFRESH_MS = 60_000;
const menu = document.querySelector("[data-notifications]");

function setCount(unread) {
  const badge = menu.querySelector("[data-notifications-count]");
  badge.textContent = String(unread);
  badge.hidden = !unread;
  menu.querySelector("summary").setAttribute("aria-label", `Notifications: ${unread} unread`);
}

async function refreshCount() {
  try {
    setCount((await api.get("/notifications/unread")).unread);
  } catch {
    // The count is a hint; the page works without it.
  }
}

async function follow(event, note) {
  event.preventDefault();
  const { href } = event.currentTarget;
  try {
    if (!note.read_at) setCount((await api.post("/notifications/read", { ids: [note.id] })).unread);
  } finally {
    window.location.assign(href);
  }
}

function item(note) {
  const link = h("a", { href: pageUrl(note.link || "/approvals"), class: "notification-link" },
    h("span", { class: "notification-title" }, note.title),
    note.body && note.body !== note.title ? h("span", { class: "notification-body" }, note.body.split("\n").slice(1).join(" ")) : null,
    timeElement(note.created_at));
  link.addEventListener("click", (event) => follow(event, note));
  return h("li", { class: note.read_at ? "notification" : "notification notification-unread",
    dataset: { notification: note.id, kind: note.kind, unread: note.read_at ? "false" : "true" } }, link);
}

async function showList() {
  const body = menu.querySelector("[data-notifications-list]");
  body.replaceChildren(loadingState("Loading the notifications"));
  try {
    const page = await api.get("/notifications", { page_size: 15 });
    setCount(page.unread);
    body.replaceChildren(page.notifications.length
      ? h("ul", { class: "notification-list" }, page.notifications.map(item))
      : emptyState("Nothing new", "Approval requests and decisions on yours show here."));
  } catch (error) {
    body.replaceChildren(errorState(error.message, showList));
  }
}

if (menu) {
  menu.addEventListener("toggle", () => { if (menu.open) showList(); });
  menu.querySelector("[data-notifications-read-all]").addEventListener("click", async () => {
    setCount((await api.post("/notifications/read", { all: true })).unread);
    if (menu.open) showList();
  });
  document.addEventListener("click", (event) => {
    if (menu.open && !menu.contains(event.target)) menu.open = false;
  });
  menu.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && menu.open) {
      menu.open = false;
      menu.querySelector("summary").focus();
    }
  });
  refreshCount();
  setInterval(() => { if (!document.hidden) refreshCount(); }, REFRESH_MS);
}
