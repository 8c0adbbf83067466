// Building DOM safely: every value becomes text (textContent or an attribute), never HTML.

/** An element: h("a", {href, class: "x", onclick: fn}, "text", child, [more]). */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") element.className = value;
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2), value);
    } else if (key === "value" || key === "checked" || key === "selected" || key === "indeterminate") {
      element[key] = value;
    } else element.setAttribute(key, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

/** Add children: strings and numbers as text, null/false skipped, arrays flattened. */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

export function clear(element) {
  element.replaceChildren();
  return element;
}

/** "emitted_transactions" -> "Emitted transactions" (as the server's humanize). */
export function humanize(name) {
  const text = String(name).replaceAll("_", " ").trim();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The JSON a page template put in <script type="application/json" id="...">. */
export function pageData(id = "page-data") {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : {};
}

let counter = 0;
/** A unique id for tying labels and descriptions to inputs. */
export function uid(prefix = "ad") {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** Close a popover on Escape or on a click outside; returns a function that stops listening. */
export function dismissable(popover, anchor, close) {
  const onKey = (event) => {
    if (event.key === "Escape") {
      close();
      anchor.querySelector("button")?.focus();
    }
  };
  const onClick = (event) => {
    if (!popover.contains(event.target) && !anchor.contains(event.target)) close();
  };
  document.addEventListener("keydown", onKey);
  document.addEventListener("mousedown", onClick);
  return () => {
    document.removeEventListener("keydown", onKey);
    document.removeEventListener("mousedown", onClick);
  };
}

/** {singular, plural} words for a collection name: "companies" -> company / companies. */
export function nouns(name) {
  const plural = humanize(name).toLowerCase();
  let singular = plural;
  if (/ies$/.test(plural)) singular = plural.replace(/ies$/, "y");
  else if (/(ss|us)$/.test(plural)) singular = plural;
  else if (/s$/.test(plural)) singular = plural.slice(0, -1);
  return { singular, plural };
}
