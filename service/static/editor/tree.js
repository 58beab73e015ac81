// The builder's model is the segment's JSON form itself (grammar/ast.py, LANGUAGE.md §7):
// these helpers read and change it. Nothing here knows an operator: operators, operand
// kinds, units, count words and window kinds all come from the catalog endpoint
// (compiler/builder_catalog.py).

/** `all`/`any` groups and the infix `and`/`or` chains (all ≡ and, any ≡ or). */
export function isGroup(node) {
  return Boolean(node) && ["all", "any", "and", "or"].includes(node.type);
}

/** "all" or "any": what a group requires of its items. */
export function modeOf(group) {
  return group.type === "all" || group.type === "and" ? "all" : "any";
}

/** A group's type for `mode`, keeping how it was written (function form or infix). */
export function typeFor(mode, group) {
  const infix = group && (group.type === "and" || group.type === "or");
  if (infix) return mode === "all" ? "and" : "or";
  return mode;
}

/** The top level as the seed's panel shows it: segments joined by and/or. */
export function segmentsOf(root) {
  if (!root) return {join: "and", items: []};
  if (root.type === "and" || root.type === "or") return {join: root.type, items: root.items};
  return {join: "and", items: [root]};
}

/**
 * Why the builder cannot show a segment faithfully, or null. The builder shows every node
 * type of the JSON form; what it cannot keep is text that is no part of the AST (comments)
 * and a `not` directly around a `not`.
 */
export function unsupported(root, text) {
  if (hasComment(text || "")) return "the text has comments, which the builder cannot keep";
  const walk = (node) => {
    if (!node || typeof node !== "object") return null;
    if (node.type === "not") {
      if (node.expr && node.expr.type === "not") return "a `not` directly around a `not`";
      return walk(node.expr);
    }
    if (isGroup(node)) {
      for (const item of node.items) {
        const found = walk(item);
        if (found) return found;
      }
      return null;
    }
    if (node.type === "event" || node.type === "visit") return walk(node.where);
    if (["field", "in_segment"].includes(node.type)) return null;
    return `a node of type \`${node.type}\``;
  };
  return walk(root);
}

/** Whether segment text has a `# comment` (outside strings and backquoted names). */
export function hasComment(text) {
  let quote = null;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quote) {
      if (c === "\\" && quote === "\"") i += 1;
      else if (c === quote) quote = null;
    } else if (c === "\"" || c === "`") quote = c;
    else if (c === "#") return true;
  }
  return false;
}

/** The operators of a field type, as the catalog lists them; inside a `where` (`where` is
 * true) without those that apply to contact fields only (`fields_only`). */
export function operatorsOf(catalog, type, where = false) {
  const found = type && catalog.types[type];
  return found ? found.operators.filter((o) => !(where && o.fields_only)) : [];
}

/** The operator of a condition (by its JSON-form word `op`, or a text spelling). */
export function operatorOf(catalog, type, op) {
  return operatorsOf(catalog, type).find(
    (o) => o.op === op || o.name === op || (o.aliases || []).includes(op)) || null;
}

/** Whether two operand descriptions take the same value (so a value can be kept). */
export function sameOperand(a, b) {
  if (!a || !b) return false;
  return a.operand === b.operand && a.value_type === b.value_type
    && JSON.stringify(a.units || []) === JSON.stringify(b.units || []);
}

function scalar(valueType) {
  if (valueType === "number") return {type: "number", value: 0};
  if (valueType === "date") return {type: "relative_date", base: "today", offsets: []};
  return {type: "string", value: ""};
}

function unitOf(units) {
  return (units || []).includes("d") ? "d" : (units || ["d"])[0];
}

/** The value (and upper value) a fresh operand of this description starts with. */
export function defaultOperand(desc) {
  switch (desc && desc.operand) {
    case "value":
    case "date":
      return {value: scalar(desc.value_type)};
    case "list":
      return {value: {type: "list", items: [scalar(desc.value_type)]}};
    case "range":
      if (desc.value_type === "date") {
        return {value: {type: "relative_date", base: "today",
                        offsets: [{amount: -7, unit: unitOf(desc.units)}]},
                upper: scalar("date")};
      }
      return {value: scalar(desc.value_type), upper: scalar(desc.value_type)};
    case "duration":
      return {value: {type: "duration", amount: 30, unit: unitOf(desc.units)}};
    default:
      return {};
  }
}

/** Set a condition's (or a window's) operand to `values`, dropping the old one. */
export function setOperand(target, values) {
  delete target.value;
  delete target.upper;
  Object.assign(target, values);
}

/** A field condition on the first of `fields` ([{name, type}]) with its first operator. */
export function newFieldCondition(catalog, fields, where = false) {
  const field = fields[0];
  if (!field) return null;
  const op = operatorsOf(catalog, field.type, where)[0];
  return {type: "field", field: field.name, op: op.op, ...defaultOperand(op)};
}

/** A fresh condition of a kind: "field", "event", "visit" or "in_segment". */
export function newCondition(kind, catalog, savedNames) {
  if (kind === "event") {
    const event = catalog.events[0];
    return {type: "event", name: event ? event.name : "", occurred: true};
  }
  if (kind === "visit") return {type: "visit", occurred: true};
  if (kind === "in_segment") return {type: "in_segment", name: savedNames[0] || ""};
  return newFieldCondition(catalog, catalog.fields);
}

/** The properties a `where` of this activity is typed by ([{name, type}]). */
export function propertiesOf(catalog, activity) {
  if (activity.type === "visit") return catalog.visit_properties;
  const event = catalog.events.find((e) => e.name === activity.name);
  return event ? event.properties : [];
}

/** Convert a 1-based line and column (code points, as the service counts) to an index
 * into a JavaScript string (UTF-16). Past the end of a line or the text: clamped. */
export function offsetOf(text, line, column) {
  let index = 0;
  for (let l = 1; l < line; l += 1) {
    const next = text.indexOf("\n", index);
    if (next < 0) return text.length;
    index = next + 1;
  }
  for (let c = 1; c < column; c += 1) {
    if (index >= text.length || text[index] === "\n") return index;
    index += text.codePointAt(index) > 0xffff ? 2 : 1;
  }
  return index;
}
