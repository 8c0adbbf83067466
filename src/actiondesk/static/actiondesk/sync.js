// Other open tabs of this desk hear what changed here: after an action (records), a decision or
// a new approval request (approvals). Each page listens for what it shows and reloads it, so a
// tab left open does not keep showing a stale status. One channel per mount prefix.
import { base } from "./api.js";

const channel = "BroadcastChannel" in window ? new BroadcastChannel(`actiondesk:${base || "/"}`) : null;

/** Tell the other tabs: {type: "records", collection} or {type: "approval", id}. */
export function announce(change) {
  channel?.postMessage({ ...change, at: Date.now() });
}

/** Call `handler(change)` for each change another tab announces. */
export function onChange(handler) {
  channel?.addEventListener("message", (event) => handler(event.data || {}));
}
