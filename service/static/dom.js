// Small DOM helpers shared by the page's views (no framework).

/** An element: h("button", {type: "button", onclick: f}, "Show"). Attributes whose name
 * starts with "on" become listeners; `dataset`/`aria-*`/others are set as attributes;
 * children are strings, nodes, or arrays of them (null/false skipped). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "value" || key === "checked" || key === "disabled") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** `fn` called once `ms` after the last call. */
export function debounce(fn, ms) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}

/** 1234567 → "1,234,567". */
export function number(value) {
  return typeof value === "number" ? value.toLocaleString("en-US") : "—";
}

/** A failure in words for the page: the problem's title and detail, and the first
 * positioned problem's message and hint (a segment that does not check). */
export function describe(error) {
  if (!error) return "";
  if (error.name !== "ApiProblem") return "Something went wrong in the page; reload it.";
  if (error.status === 401) {
    return `${error.title}: ${error.detail} — type an API token above ` +
           "(`segql token create --account A --scope read`).";
  }
  const first = (error.problems || [])[0];
  const parts = [error.title];
  if (error.detail && (!first || error.detail !== first.message)) parts.push(error.detail);
  if (first && first.message) parts.push(first.message + (first.hint ? ` (${first.hint})` : ""));
  return parts.join(": ");
}

/** True for a cancelled request (nothing to show). */
export function aborted(error) {
  return Boolean(error) && error.name === "AbortError";
}
