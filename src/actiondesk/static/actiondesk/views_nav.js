// The saved views in the sidebar, each under its collection (fetched once per page; a failure
// leaves the sidebar as it was).
import { api, base } from "./api.js";
import { h } from "./dom.js";

async function showViews() {
  const sidebar = document.querySelector("[data-sidebar]");
  if (!sidebar) return;
  let views;
  try {
    views = (await api.get("/views")).views;
  } catch {
    return;
  }
  const here = new URLSearchParams(window.location.search).get("view");
  const byCollection = new Map();
  for (const view of views) {
    if (!byCollection.has(view.collection)) byCollection.set(view.collection, []);
    byCollection.get(view.collection).push(view);
  }
  for (const [collection, list] of byCollection) {
    const href = `${base}/collections/${encodeURIComponent(collection)}`;
    const link = [...sidebar.querySelectorAll("a")].find((a) => a.getAttribute("href") === href);
    if (!link) continue;
    const items = list.map((view) => h("li", {},
      h("a", { href: `${href}?view=${encodeURIComponent(view.id)}`, "aria-current": view.id === here ? "page" : null, dataset: { viewLink: view.id } }, view.name)));
    link.parentElement.append(h("ul", { class: "sidebar-sublist", dataset: { sidebarViews: collection } }, items));
    if (here && list.some((v) => v.id === here)) link.removeAttribute("aria-current");
  }
}

showViews();
