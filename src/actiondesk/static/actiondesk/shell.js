// Every signed-in page: the sidebar on narrow screens, the user menu, signing out (here or
// everywhere), the approvals badge.
import { send } from "./api.js";
import { onChange } from "./sync.js";

function sidebar() {
  const toggle = document.querySelector("[data-sidebar-toggle]");
  const nav = document.querySelector("[data-sidebar]");
  const backdrop = document.querySelector("[data-sidebar-backdrop]");
  if (!toggle || !nav) return;
  const set = (open) => {
    nav.classList.toggle("is-open", open);
    toggle.setAttribute("aria-expanded", String(open));
    if (backdrop) backdrop.hidden = !open;
    if (open) nav.querySelector("a")?.focus();
  };
  toggle.addEventListener("click", () => set(!nav.classList.contains("is-open")));
  backdrop?.addEventListener("click", () => set(false));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && nav.classList.contains("is-open")) {
      set(false);
      toggle.focus();
    }
  });
}

function signOutButton(selector, params) {
  const button = document.querySelector(selector);
  button?.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await send("POST", "/logout", { params });
    } finally {
      window.location.assign(button.dataset.login);
    }
  });
}

function userMenu() {
  const menu = document.querySelector("[data-user-menu]");
  if (!menu) return;
  document.addEventListener("click", (event) => {
    if (menu.open && !menu.contains(event.target)) menu.open = false;
  });
  menu.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && menu.open) {
      menu.open = false;
      menu.querySelector("summary").focus();
    }
  });
}

/** The number of approval requests waiting for this user's review (refreshable by pages). */
export async function refreshBadge() {
  const link = document.querySelector("[data-approvals-badge]");
  const count = link?.querySelector("[data-badge-count]");
  if (!link || !count) return;
  try {
    const response = await send("GET", "/approvals/badge");
    if (!response.ok) return;
    const { to_review: waiting } = await response.json();
    count.textContent = String(waiting);
    count.hidden = !waiting;
    link.setAttribute("aria-label", `${waiting} approval request${waiting === 1 ? "" : "s"} to review`);
  } catch {
    // The badge is a hint; the page works without it.
  }
}

sidebar();
userMenu();
signOutButton("[data-logout]");
signOutButton("[data-logout-everywhere]", { everywhere: "true" });
refreshBadge();
onChange((change) => {
  if (change.type === "approval") refreshBadge();
});
