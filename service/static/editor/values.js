// Value editors, chosen by the operand description the catalog gives an operator or a
// window ({operand: none|value|list|range|date|duration, value_type, units, date_forms}):
// text, number, date (absolute, or relative to now/today with offsets), lists and
// durations. Each writes the JSON form's value nodes into `holder.value` / `holder.upper`.

import {button, h, input, select} from "./dom.js";

const cap = (text) => text.charAt(0).toUpperCase() + text.slice(1);

/** An operand description inferred from a value already there (an operator the catalog
 * does not know for this field, e.g. a type error in the text). */
export function inferOperand(holder) {
  const value = holder.value;
  if (!value) return {operand: "none"};
  const typeOf = (v) => ({string: "string", number: "number", relative_date: "date"})[v.type]
    || "string";
  const base = {units: ["min", "h", "d", "w", "mo", "y"], date_forms: ["absolute", "relative"]};
  if (value.type === "duration") return {...base, operand: "duration", value_type: null};
  if (value.type === "list") {
    return {...base, operand: "list", value_type: typeOf(value.items[0] || {type: "string"})};
  }
  if (holder.upper) return {...base, operand: "range", value_type: typeOf(value)};
  return {...base, operand: value.type === "relative_date" ? "date" : "value",
          value_type: typeOf(value)};
}

/**
 * The editor of `holder`'s operand, described by `desc`; `what` names it in labels
 * ("value of condition 2 in Segment 1"); `ctx` = {catalog, changed(structural, focus)}.
 */
export function operandEditor(desc, holder, what, ctx) {
  const kind = desc && desc.operand;
  const wrap = (...children) => h("span", {class: "ed-operand"}, ...children);
  switch (kind) {
    case "value":
    case "date":
      return wrap(scalar(desc, holder, "value", what, ctx));
    case "list":
      return wrap(list(desc, holder, what, ctx));
    case "range":
      return wrap(scalar(desc, holder, "value", what, ctx), h("span", {class: "ed-and"}, "and"),
                  scalar(desc, holder, "upper", `upper ${what}`, ctx));
    case "duration":
      return wrap(duration(desc, holder, "value", what, ctx));
    case "none":
    case undefined:
    case null:
      return null;
    default:
      return wrap(h("span", {class: "ed-note-inline"},
                    `(this operand, ${kind}, is edited in the text)`));
  }
}

function scalar(desc, holder, key, what, ctx) {
  if (desc.value_type === "date") return date(desc, holder, key, what, ctx);
  const value = holder[key] || {};
  if (desc.value_type === "number") {
    return number(cap(what), value.value, (n) => {
      holder[key] = {type: "number", value: n};
      ctx.changed(false);
    });
  }
  return input(cap(what), {
    type: "text", value: value.value === undefined ? "" : String(value.value),
    class: "ed-text-value",
    oninput: (event) => {
      holder[key] = {type: "string", value: event.target.value};
      ctx.changed(false);
    },
  });
}

function number(label, value, set, attrs = {}) {
  return input(label, {
    type: "number", step: "any", class: "ed-number", value: value === undefined ? "" : value,
    ...attrs,
    oninput: (event) => {
      const text = event.target.value.trim();
      const n = Number(text);
      const ok = text !== "" && Number.isFinite(n) && (!attrs.step || Number.isInteger(n));
      event.target.setAttribute("aria-invalid", ok ? "false" : "true");
      if (ok) set(n);
    },
  });
}

function date(desc, holder, key, what, ctx) {
  const value = holder[key] || {type: "relative_date", base: "today", offsets: []};
  const relative = value.type === "relative_date";
  const forms = desc.date_forms && desc.date_forms.length ? desc.date_forms
    : ["absolute", "relative"];
  const words = {absolute: "date", relative: "relative to now or today"};
  const form = select(`Date form of ${what}`, forms.map((f) => [f, words[f] || f]),
    relative ? "relative" : "absolute", (event) => {
      holder[key] = event.target.value === "relative"
        ? {type: "relative_date", base: "today", offsets: []}
        : {type: "string", value: new Date().toISOString().slice(0, 10)};
      ctx.changed(true, `Date form of ${what}`);
    });
  if (!relative) {
    const patterns = ctx.catalog.dates.absolute;
    const valid = (text) => [patterns.date, patterns.instant].some((p) => new RegExp(p).test(text));
    return h("span", {class: "ed-date"}, form, input(cap(what), {
      type: "text", class: "ed-date-value", value: value.value || "", placeholder: "YYYY-MM-DD",
      oninput: (event) => {
        const text = event.target.value.trim();
        event.target.setAttribute("aria-invalid", valid(text) ? "false" : "true");
        holder[key] = {type: "string", value: text};
        ctx.changed(false);
      },
    }));
  }
  const relativeForms = ctx.catalog.dates.relative;
  const base = select(cap(what), relativeForms.bases.map((b) => [b, b]), value.base, (event) => {
    value.base = event.target.value;
    ctx.changed(false);
  });
  const offsets = value.offsets.map((offset, k) => h("span", {class: "ed-offset"},
    number(`Offset ${k + 1} of ${what}`, offset.amount, (n) => {
      offset.amount = n;
      ctx.changed(false);
    }, {step: "1"}),
    select(`Unit of offset ${k + 1} of ${what}`, relativeForms.units.map((u) => [u, u]),
      offset.unit, (event) => {
        offset.unit = event.target.value;
        ctx.changed(false);
      }),
    button(`Remove offset ${k + 1} of ${what}`, "×", () => {
      value.offsets.splice(k, 1);
      ctx.changed(true, `Add an offset to ${what}`);
    }, {class: "ed-small"})));
  const add = button(`Add an offset to ${what}`, "± offset", () => {
    value.offsets.push({amount: -1, unit: "d"});
    ctx.changed(true, `Offset ${value.offsets.length} of ${what}`);
  }, {class: "ed-small"});
  return h("span", {class: "ed-date"}, form, base, offsets, add);
}

function duration(desc, holder, key, what, ctx) {
  if (!holder[key] || holder[key].type !== "duration") {
    holder[key] = {type: "duration", amount: 30, unit: "d"};
  }
  const value = holder[key];
  const units = desc.units && desc.units.length ? desc.units : [value.unit];
  return h("span", {class: "ed-duration"},
    number(cap(what), value.amount, (n) => {
      value.amount = n;
      ctx.changed(false);
    }, {step: "1", min: "0"}),
    select(`Unit of ${what}`, units.map((u) => [u, u]), value.unit, (event) => {
      value.unit = event.target.value;
      ctx.changed(false);
    }));
}

function list(desc, holder, what, ctx) {
  if (!holder.value || holder.value.type !== "list") holder.value = {type: "list", items: []};
  const items = holder.value.items;
  const type = desc.value_type === "number" ? "number" : "string";
  const rows = items.map((item, k) => {
    const label = `Value ${k + 1} of ${what}`;
    const editor = type === "number"
      ? number(label, item.value, (n) => {
        items[k] = {type: "number", value: n};
        ctx.changed(false);
      })
      : input(label, {type: "text", value: String(item.value), class: "ed-text-value",
                      oninput: (event) => {
                        items[k] = {type: "string", value: event.target.value};
                        ctx.changed(false);
                      }});
    return h("span", {class: "ed-list-item"}, editor,
      button(`Remove value ${k + 1} of ${what}`, "×", () => {
        items.splice(k, 1);
        ctx.changed(true, `Add a value to ${what}`);
      }, {class: "ed-small", disabled: items.length < 2}));
  });
  const add = button(`Add a value to ${what}`, "+ value", () => {
    items.push(type === "number" ? {type: "number", value: 0} : {type: "string", value: ""});
    ctx.changed(true, `Value ${items.length} of ${what}`);
  }, {class: "ed-small"});
  return h("span", {class: "ed-list"}, rows, add);
}
