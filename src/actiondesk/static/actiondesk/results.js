// What an action answered, shown to the person who ran it: toasts, the HTML panel, downloads,
// redirects, webhooks, refreshed data and approval notices (Forest's result shapes).
import { errorOf, pageUrl, segment, send } from "./api.js";
import { clear, h } from "./dom.js";
import { refreshBadge } from "./shell.js";
import { toast } from "./toast.js";

const DROPPED = "script, style, iframe, object, embed, link, meta, base, form, template";

/** The server sanitises HTML results (nh3); this strips the same things once more before the
 *  HTML enters the page, so a result can never run code even if that changed. */
function sanitized(html) {
  const template = document.createElement("template");
  template.innerHTML = html;
  for (const node of template.content.querySelectorAll(DROPPED)) node.remove();
  for (const node of template.content.querySelectorAll("*")) {
    for (const attribute of [...node.attributes]) {
      const name = attribute.name.toLowerCase();
      const value = attribute.value.trim().toLowerCase();
      if (name.startsWith("on") || name === "style" || name === "srcdoc"
        || (["href", "src", "xlink:href", "action", "formaction"].includes(name) && !/^(https?:|mailto:|\/|#)/.test(value))) {
        node.removeAttribute(attribute.name);
      }
    }
    if (node.tagName === "A") {
      node.setAttribute("rel", "noopener noreferrer");
      node.setAttribute("target", "_blank");
    }
  }
  return template.content;
}

/** Show an action's HTML in the page's result panel (the only place HTML results go). */
export function showHtml(panel, title, html, kind = "success") {
  if (!panel) return;
  const close = h("button", { type: "button", class: "icon-button", "aria-label": "Close the result" }, "×");
  close.addEventListener("click", () => { panel.hidden = true; });
  const content = h("div", { class: "result-html", dataset: { resultHtml: "" } });
  content.append(sanitized(html));
  clear(panel).append(
    h("div", { class: "result-panel-head" }, h("h2", { class: "result-panel-title" }, title), close),
    content);
  panel.dataset.kind = kind;
  panel.hidden = false;
  panel.scrollIntoView({ block: "nearest" });
}

/** The file name of a Content-Disposition header (RFC 6266 filename* first). */
export function filenameOf(disposition, fallback = "download") {
  const star = /filename\*\s*=\s*([^']*)'[^']*'([^;]+)/i.exec(disposition || "");
  if (star) {
    try {
      return decodeURIComponent(star[2].trim());
    } catch {
      // A malformed filename* falls back to filename=.
    }
  }
  const plain = /filename\s*=\s*"((?:[^"\\]|\\.)*)"|filename\s*=\s*([^;]+)/i.exec(disposition || "");
  if (plain) return (plain[1] ?? plain[2]).replace(/\\(.)/g, "$1").trim();
  return fallback;
}

async function download(response) {
  const name = filenameOf(response.headers.get("Content-Disposition"));
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return name;
}

function redirect(to) {
  if (to.startsWith("/") && !to.startsWith("//")) {
    window.location.assign(pageUrl(to));
    return;
  }
  if (!/^https?:\/\//i.test(to)) {
    toast("The action asked to open an address that is not allowed.", { kind: "error" });
    return;
  }
  const opened = window.open(to, "_blank", "noopener,noreferrer");
  // A popup blocker may refuse a tab opened after the request: offer the link instead.
  toast("The action opened a page in a new tab.", {
    kind: "info", link: opened ? null : { href: to, text: "Open it", newTab: true },
  });
}

/** Call a webhook result from the browser; what happened, as POST /api/runs/{id}/webhook takes it. */
async function webhook({ url, method = "POST", headers = {}, body }) {
  if (!/^https?:\/\//i.test(url || "")) {
    toast("The webhook address is not an http(s) URL.", { kind: "error" });
    return { delivered: false, error: "not an http(s) URL" };
  }
  const init = { method, headers, credentials: "omit", mode: "cors" };
  if (!["GET", "HEAD"].includes(method.toUpperCase()) && body !== undefined && body !== null) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  try {
    const answer = await fetch(url, init);
    if (answer.ok) {
      toast("The webhook was called.", { kind: "success" });
      return { delivered: true, status: answer.status };
    }
    toast(`The webhook answered ${answer.status}.`, { kind: "error" });
    return { delivered: false, status: answer.status, error: `answered HTTP ${answer.status}` };
  } catch (error) {
    toast("The webhook could not be reached.", { kind: "error" });
    // The browser says no more than "Failed to fetch" (network error, CORS or CSP refusal).
    return { delivered: false, error: `could not be reached (${error.message || "network error"})`.slice(0, 500) };
  }
}

/** Tell the run whether its webhook arrived, so the audit does not show an undelivered one as
 *  a plain success. A 409 means it was already told (an idempotent replay). */
async function reportWebhook(runId, outcome) {
  if (!runId) return;
  try {
    const response = await send("POST", `/runs/${segment(runId)}/webhook`, { json: outcome });
    if (!response.ok && response.status !== 409) throw await errorOf(response);
  } catch (error) {
    toast(`The run could not record whether its webhook was delivered: ${error.message}`, { kind: "warning" });
  }
}

/**
 * Handle an execute response. Returns {done: true} when the dialog may close, or
 * {done: false, fields, message} for a 422 (shown next to the fields).
 * context: {resultPanel, reload(), refresh(relationships)}.
 */
export async function handleResult(response, action, context) {
  const status = response.status;
  if (status === 422) {
    const error = await errorOf(response);
    return { done: false, fields: error.fields, message: error.message };
  }
  if (!response.ok) {
    const error = await errorOf(response);
    toast(error.message, { kind: "error", title: `${action.name} failed` });
    if (error.payload.html) showHtml(context.resultPanel, action.name, error.payload.html, "error");
    // A refusal often means the page was stale (someone else changed the records): show them
    // as they are now, so the list stops claiming what made the action look possible.
    if (status !== 401) await context.reload?.();
    // A form stays open so its values can be fixed; nothing else to fix in a confirmation.
    return { done: !action.has_form, message: error.message };
  }
  if (status === 204) {
    toast(`${action.name} ran successfully.`, { kind: "success" });
    await context.reload?.();
    return { done: true };
  }
  const disposition = response.headers.get("Content-Disposition") || "";
  if (/^\s*attachment/i.test(disposition)) {
    const name = await download(response);
    toast(`${name} downloaded.`, { kind: "success" });
    return { done: true };
  }
  const body = await response.json().catch(() => ({}));
  if (status === 202 && body.approval) {
    const request = body.approval;
    toast(`${action.name} waits for approval: nothing runs until a reviewer approves it.`, {
      kind: "warning", title: "Approval requested", sticky: true,
      link: { href: pageUrl(`/approvals/${segment(String(request.id))}`), text: "See the request" },
    });
    refreshBadge();
    return { done: true };
  }
  if (status === 202 && body.run) {
    // A background run (issue 8): queued, its page shows the progress.
    toast(`${action.name} runs in the background.`, {
      kind: "info", title: "Run queued", sticky: true,
      link: { href: pageUrl(`/runs/${segment(String(body.run.id))}`), text: "Follow its progress" },
    });
    return { done: true };
  }
  if (body.webhook) await reportWebhook(response.headers.get("X-Actiondesk-Run-Id"), await webhook(body.webhook));
  if (body.html) showHtml(context.resultPanel, action.name, body.html);
  if (body.success) toast(body.success, { kind: "success" });
  else if (!body.html && !body.webhook && !body.redirectTo) toast(`${action.name} ran successfully.`, { kind: "success" });
  if (body.redirectTo) {
    redirect(body.redirectTo);
    if (body.redirectTo.startsWith("/")) return { done: true };
  }
  await context.reload?.();
  if (body.refresh?.relationships?.length) await context.refresh?.(body.refresh.relationships);
  return { done: true };
}
