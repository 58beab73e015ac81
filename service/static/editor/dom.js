// Small DOM helpers of the segment editor: elements with attributes and children, and
// labelled controls whose id follows from their label (so a re-render can give the focus
// back to "the same" control, and tests can find a control by what it is).

const prefix = "ed";

/** Ids of this editor's controls start with `ed-` (one editor on a page at a time). */
export function idFor(label) {
  return `${prefix}-${String(label).toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "")}`;
}

/**
 * h("button", {type: "button", "aria-label": "Remove", onclick: f}, "×")
 * Keys: `class`, `text`, `on<event>` (listener), `dataset` (object), boolean properties
 * (`disabled`, `checked`, `required`, `readOnly`, `hidden`) and `value` set as properties;
 * everything else is an attribute (null/undefined/false leave it out).
 */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") element.className = value;
    else if (key === "text") element.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2), value);
    } else if (key === "dataset") Object.assign(element.dataset, value);
    else if (["disabled", "checked", "required", "readOnly", "hidden", "value", "selected"]
      .includes(key)) element[key] = value;
    else element.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** A <select> labelled `label` (aria-label and id from it); options are [value, text]. */
export function select(label, options, value, onchange, attrs = {}) {
  const known = options.some(([v]) => v === value);
  const all = known || value === undefined || value === null
    ? options : [...options, [value, value === "" ? "(none chosen)" : `${value} (not offered here)`]];
  return h("select", {id: idFor(label), "aria-label": label, onchange, ...attrs},
    all.map(([v, text]) => h("option", {value: v, selected: v === value}, text)));
}

/** An <input> labelled `label`. */
export function input(label, attrs = {}) {
  return h("input", {id: idFor(label), "aria-label": label, ...attrs});
}

/** A <button type="button"> whose accessible name is `label`, showing `text`. */
export function button(label, text, onclick, attrs = {}) {
  return h("button", {type: "button", id: idFor(label), "aria-label": label, onclick,
                      ...attrs}, text);
}

