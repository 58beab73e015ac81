// The visual builder: the seed's segments ("Segment 1", "Segment 2", … joined by and/or),
// each requiring all or any of its conditions, sub-segments nested to any depth, and
// condition rows (contact field, event, visit, saved segment) whose fields, operators and
// value editors come from the catalog. It renders the JSON form and changes it in place;
// `ctx.changed(structural, focusLabel)` tells the editor (a structural change re-renders,
// giving the focus to the control labelled `focusLabel`, else back to the same control).
//
// Every control's label says what it is and where: "Field of condition 2 in Segment 1",
// "Operator of condition 1 in Sub-segment 3 of Segment 1", "Property of condition 1 in
// where of condition 2 in Segment 1", "Add a condition to Segment 1", "Add segment".

import {button, h, idFor, select} from "./dom.js";
import {
  defaultOperand,
  isGroup,
  modeOf,
  newCondition,
  newFieldCondition,
  operatorOf,
  operatorsOf,
  propertiesOf,
  sameOperand,
  segmentsOf,
  setOperand,
  typeFor,
} from "./tree.js";
import {inferOperand, operandEditor} from "./values.js";

const KINDS = [["field", "Contact field"], ["event", "Event"], ["visit", "Visit"],
               ["in_segment", "Saved segment"]];
const MODES = [["all", "all of these conditions"], ["any", "any of these conditions"]];

/** The builder for `ctx.root` (get/set of the JSON form's root; null: no conditions). */
export function renderBuilder(ctx) {
  ctx.names = new Map();
  const root = ctx.root.get();
  const view = segmentsOf(root);
  const joined = root && (root.type === "and" || root.type === "or");
  const out = h("div", {class: "ed-tree"});
  view.items.forEach((item, i) => {
    const name = `Segment ${i + 1}`;
    if (i > 0) {
      out.append(h("div", {class: "ed-join"}, select(
        `Join between Segment ${i} and Segment ${i + 1}`,
        [["and", "and"], ["or", "or"]], view.join, (event) => {
          root.type = event.target.value;
          ctx.changed(true);
        })));
    }
    const slot = joined ? {
      get: () => root.items[i],
      set: (node) => { root.items[i] = node; },
      remove: () => {
        root.items.splice(i, 1);
        if (root.items.length === 1) ctx.root.set(root.items[0]);
      },
    } : {get: ctx.root.get, set: ctx.root.set, remove: () => ctx.root.set(null)};
    out.append(container(ctx, slot, name, name, {kind: "contact"},
                         joined ? `/items/${i}` : ""));
  });
  if (!view.items.length) {
    out.append(h("p", {class: "ed-empty"}, "No conditions yet: add a segment."));
  }
  out.append(h("div", {class: "ed-actions-row"}, button("Add segment", "+ Segment", () => {
    const fresh = {type: "all", items: [newCondition("field", ctx.catalog, ctx.savedNames)]};
    const now = ctx.root.get();
    if (!now) ctx.root.set(fresh);
    else if (now.type === "and" || now.type === "or") now.items.push(fresh);
    else ctx.root.set({type: "and", items: [now, fresh]});
    const count = segmentsOf(ctx.root.get()).items.length;
    ctx.changed(true, `Data type of condition 1 in Segment ${count}`);
  })));
  return out;
}

/** A group of conditions: a segment, a sub-segment or the `where` of an activity. A node
 * that is not a group is shown as a group of one (made a real `all` group when changed). */
function container(ctx, slot, name, title, scope, pointer) {
  const node = slot.get();
  const negated = node.type === "not" && isGroup(node.expr);
  const group = isGroup(node) ? node : (negated ? node.expr : null);
  const items = group ? group.items : [node];
  const groupPointer = negated ? `${pointer}/expr` : pointer;
  const ensureGroup = () => {
    if (group) return group;
    const made = {type: "all", items: [node]};
    slot.set(made);
    return made;
  };
  const fields = scope.kind === "where" ? scope.fields : ctx.catalog.fields;
  ctx.names.set(pointer, name);
  const header = h("legend", {class: "ed-legend"}, title);
  const controls = h("div", {class: "ed-group-head"},
    h("span", {class: "ed-requires"}, "requires"),
    select(`${name} requires`, MODES, group ? modeOf(group) : "all", (event) => {
      const made = ensureGroup();
      made.type = typeFor(event.target.value, made);
      ctx.changed(true, `${name} requires`);
    }),
    notBox(`Negate ${name}`, negated, () => {
      const made = ensureGroup();
      slot.set(negated ? made : {type: "not", expr: made});
      ctx.changed(true, `Negate ${name}`);
    }, "negate"),
    button(`Remove ${name}`, "Remove", () => {
      slot.remove();
      ctx.changed(true, [`Remove ${name}`, ...parentAdds(name), "Add segment"]);
    }, {class: "ed-remove"}));
  const list = h("div", {class: "ed-items"});
  items.forEach((item, j) => {
    const itemSlot = group ? {
      get: () => group.items[j],
      set: (value) => { group.items[j] = value; },
      remove: () => {
        group.items.splice(j, 1);
        if (!group.items.length) slot.remove();
      },
    } : slot;
    const itemPointer = group ? `${groupPointer}/items/${j}` : pointer;
    const sub = isGroup(item) || (item.type === "not" && isGroup(item.expr));
    if (sub) {
      const subName = `Sub-segment ${j + 1} of ${name}`;
      list.append(container(ctx, itemSlot, subName, `Sub-segment ${j + 1}`, scope, itemPointer));
    } else {
      list.append(condition(ctx, itemSlot, `condition ${j + 1} in ${name}`, scope, itemPointer));
    }
  });
  const add = (made, focus) => {
    if (!made) return;
    const target = ensureGroup();
    target.items.push(made);
    ctx.changed(true, focus(target.items.length));
  };
  const scopeWord = scope.kind === "where" ? "Property" : "Data type";
  const footer = h("div", {class: "ed-actions-row"},
    button(`Add a condition to ${name}`, "+ Condition", () => add(
      scope.kind === "where" ? newFieldCondition(ctx.catalog, fields, true)
        : newCondition("field", ctx.catalog, ctx.savedNames),
      (n) => `${scopeWord} of condition ${n} in ${name}`), {disabled: !fields.length}),
    button(`Add a sub-segment to ${name}`, "+ Sub-segment", () => add(
      {type: "any", items: [scope.kind === "where" ? newFieldCondition(ctx.catalog, fields, true)
        : newCondition("field", ctx.catalog, ctx.savedNames)]},
      (n) => `${scopeWord} of condition 1 in Sub-segment ${n} of ${name}`),
    {disabled: !fields.length}));
  return h("fieldset", {class: `ed-group ed-${scope.kind === "where" ? "where" : "segment"}`,
                        dataset: {pointer}},
    header, controls, list, footer);
}

/** After a removal, the focus goes to the next one (which takes the removed one's label),
 * else to the "Add a condition" button of the nearest group still there. */
function parentAdds(name) {
  const found = [];
  let rest = name;
  for (;;) {
    const match = rest.match(/^(?:condition \d+ in|Sub-segment \d+ of|where of) (.+)$/);
    if (!match) break;
    rest = match[1];
    found.push(`Add a condition to ${rest}`);
  }
  return found;
}

function notBox(label, checked, onchange, text = "not") {
  return h("label", {class: "ed-not"},
    h("input", {type: "checkbox", id: idFor(label), "aria-label": label, checked, onchange}),
    h("span", {"aria-hidden": "true"}, text));
}

/** One condition row (a field, property, event, visit or saved-segment condition). */
function condition(ctx, slot, name, scope, pointer) {
  const outer = slot.get();
  const negated = outer.type === "not";
  const node = negated ? outer.expr : outer;
  const nodePointer = negated ? `${pointer}/expr` : pointer;
  ctx.names.set(pointer, name);
  ctx.names.set(nodePointer, name);
  const cap = name.charAt(0).toUpperCase() + name.slice(1);
  const replace = (made) => slot.set(negated ? {type: "not", expr: made} : made);
  const parts = [notBox(`Negate ${name}`, negated, () => {
    slot.set(negated ? node : {type: "not", expr: node});
    ctx.changed(true, `Negate ${name}`);
  })];
  if (scope.kind === "contact") {
    const kind = node.type === "event" || node.type === "visit" || node.type === "in_segment"
      ? node.type : "field";
    parts.push(select(`Data type of ${name}`, KINDS, kind, (event) => {
      replace(newCondition(event.target.value, ctx.catalog, ctx.savedNames));
      ctx.changed(true, `Data type of ${name}`);
    }));
  }
  let where = null;
  if (node.type === "field") {
    parts.push(...fieldControls(ctx, node, name, scope));
  } else if (node.type === "event" || node.type === "visit") {
    parts.push(...activityControls(ctx, node, name));
    where = whereOf(ctx, node, name, nodePointer);
  } else if (node.type === "in_segment") {
    parts.push(select(`Saved segment of ${name}`, ctx.savedNames.map((s) => [s, s]), node.name,
      (event) => {
        node.name = event.target.value;
        ctx.changed(false);
      }));
  }
  parts.push(button(`Remove ${name}`, "×", () => {
    slot.remove();
    ctx.changed(true, [`Remove ${name}`, ...parentAdds(name), "Add segment"]);
  }, {class: "ed-remove ed-small"}));
  return h("div", {class: "ed-row", role: "group", "aria-label": cap, dataset: {pointer}},
    h("div", {class: "ed-row-controls"}, parts), where);
}

function fieldControls(ctx, node, name, scope) {
  const fields = scope.kind === "where" ? scope.fields : ctx.catalog.fields;
  const typeOf = (field) => (fields.find((f) => f.name === field) || {}).type;
  const type = typeOf(node.field);
  const desc = operatorOf(ctx.catalog, type, node.op);
  const where = scope.kind === "where";
  const word = where ? "Property" : "Field";
  const field = select(`${word} of ${name}`, fields.map((f) => [f.name, f.name]), node.field,
    (event) => {
      const newType = typeOf(event.target.value);
      node.field = event.target.value;
      if (newType !== type || !desc) {
        const first = operatorsOf(ctx.catalog, newType, where)[0];
        if (first) {
          node.op = first.op;
          setOperand(node, defaultOperand(first));
        }
      }
      ctx.changed(true, `${word} of ${name}`);
    });
  const ops = operatorsOf(ctx.catalog, type, where).map((o) => [o.op, o.name]);
  if (!ops.some(([value]) => value === node.op)) {
    const known = Object.values(ctx.catalog.types).flatMap((t) => t.operators)
      .find((o) => o.op === node.op);
    ops.push([node.op, `${known ? known.name : node.op} (not for ${type || "this field"})`]);
  }
  const op = select(`Operator of ${name}`, ops, node.op, (event) => {
      const next = operatorOf(ctx.catalog, type, event.target.value);
      node.op = event.target.value;
      if (!sameOperand(desc, next)) setOperand(node, defaultOperand(next));
      ctx.changed(true, `Operator of ${name}`);
    });
  return [field, op, operandEditor(desc || inferOperand(node), node, `value of ${name}`, ctx)];
}

function activityControls(ctx, node, name) {
  const parts = [];
  const activity = ctx.catalog.activity;
  if (node.type === "event") {
    parts.push(select(`Event of ${name}`, ctx.catalog.events.map((e) => [e.name, e.name]),
      node.name, (event) => {
        node.name = event.target.value;
        ctx.changed(true, `Event of ${name}`);
      }));
  }
  const [yes, no] = activity.occurrence;
  parts.push(select(`Occurrence of ${name}`, [[yes, yes.replace("_", " ")],
    [no, no.replace("_", " ")]], node.occurred === false ? no : yes, (event) => {
    node.occurred = event.target.value === yes;
    if (!node.occurred) delete node.count;
    ctx.changed(true, `Occurrence of ${name}`);
  }));
  if (node.occurred !== false) {
    parts.push(select(`Count of ${name}`, [["", "any number of times"],
      ...activity.counts.map((c) => [c.name, c.name.replace("_", " ")])],
    node.count ? node.count.op : "", (event) => {
      if (event.target.value) {
        node.count = {type: "count", op: event.target.value, n: node.count ? node.count.n : 1};
      } else delete node.count;
      ctx.changed(true, `Count of ${name}`);
    }));
    if (node.count) {
      const limits = activity.counts.find((c) => c.name === node.count.op) || {};
      parts.push(h("span", {class: "ed-nowrap"}, h("input", {type: "number",
        id: idFor(`Times of ${name}`),
        "aria-label": `Times of ${name}`, class: "ed-number", step: "1",
        min: limits.min, max: limits.max, value: node.count.n,
        oninput: (event) => {
          const n = Number(event.target.value);
          const ok = event.target.value !== "" && Number.isInteger(n) && n >= 0;
          event.target.setAttribute("aria-invalid", ok ? "false" : "true");
          if (ok) {
            node.count.n = n;
            ctx.changed(false);
          }
        }}), " times"));
    }
  }
  parts.push(select(`Window of ${name}`, [["", "at any time"],
    ...activity.windows.map((w) => [w.name, w.name])],
  node.window ? node.window.kind : "", (event) => {
    const kind = event.target.value;
    if (!kind) delete node.window;
    else {
      const desc = activity.windows.find((w) => w.name === kind);
      const old = node.window && activity.windows.find((w) => w.name === node.window.kind);
      const window = {type: "window", kind};
      if (node.window && sameOperand(desc, old)) {
        window.value = node.window.value;
        if (node.window.upper) window.upper = node.window.upper;
      } else Object.assign(window, defaultOperand(desc));
      node.window = window;
    }
    ctx.changed(true, `Window of ${name}`);
  }));
  if (node.window) {
    const desc = activity.windows.find((w) => w.name === node.window.kind);
    parts.push(operandEditor(desc || inferOperand(node.window), node.window,
                             `period of ${name}`, ctx));
  }
  return parts;
}

function whereOf(ctx, node, name, pointer) {
  const props = propertiesOf(ctx.catalog, node);
  const whereName = `where of ${name}`;
  if (!node.where) {
    return h("div", {class: "ed-actions-row ed-where-add"},
      button(`Add a where condition to ${name}`, "+ where", () => {
        node.where = newFieldCondition(ctx.catalog, props, true);
        ctx.changed(true, `Property of condition 1 in ${whereName}`);
      }, {disabled: !props.length,
          title: props.length ? null : "the catalog knows no properties of it"}));
  }
  const slot = {get: () => node.where, set: (made) => { node.where = made; },
                remove: () => { delete node.where; }};
  const title = node.type === "visit" ? "Where (on the same visit)" : "Where (in the same event)";
  return container(ctx, slot, whereName, title, {kind: "where", fields: props},
                   `${pointer}/where`);
}
