// Input limits said out loud: instead of a maxlength that silently cuts a pasted text, a field
// with a limit shows "n / max" under it and, once over, how many characters are too many (in a
// polite live region, so assistive technology hears it too). The text is kept whole, so the
// person chooses what to cut; the form refuses it (and the server would) until it fits.
import { h } from "./dom.js";

/** The counted length: what the server counts (code points), not UTF-16 units. */
export function lengthOf(text) {
  return [...(text || "")].length;
}

/** The problem with `control`'s text, or null ("is at most 200 characters (50 too many)"). */
export function limitProblem(control) {
  const max = Number(control.dataset.maxLength);
  const over = lengthOf(control.value) - max;
  return max && over > 0 ? `is at most ${max.toLocaleString()} characters (${over.toLocaleString()} too many)` : null;
}

/**
 * Give `control` (input or textarea) a visible limit of `max` characters: returns the element
 * to place in the page (the control and its counter), or the control alone without a limit.
 */
export function withLimit(control, max) {
  if (!max) return control;
  control.removeAttribute("maxlength");
  control.dataset.maxLength = String(max);
  const counter = h("span", { class: "limit-count", "aria-hidden": "true", dataset: { limitCount: "" } });
  const message = h("span", { class: "limit-message", dataset: { limitMessage: "" } });
  const status = h("p", { class: "field-limit", "aria-live": "polite", dataset: { limit: "" } }, message, counter);
  const update = () => {
    const length = lengthOf(control.value);
    const over = length - max;
    counter.textContent = `${length.toLocaleString()} / ${max.toLocaleString()}`;
    message.textContent = over > 0 ? `${over.toLocaleString()} character${over === 1 ? "" : "s"} too many (at most ${max.toLocaleString()}). ` : "";
    status.classList.toggle("is-over", over > 0);
    if (over > 0) control.setAttribute("aria-invalid", "true");
    else if (control.dataset.limitInvalid) control.removeAttribute("aria-invalid");
    control.dataset.limitInvalid = over > 0 ? "true" : "";
  };
  control.addEventListener("input", update);
  // A value set by code (a form's computed value) is counted too.
  control.addEventListener("change", update);
  queueMicrotask(update);
  const wrap = h("div", { class: "limited" }, control, status);
  wrap.updateLimit = update;
  return wrap;
}
