// Explain: why one contact is or is not in a segment (a saved one or typed text): the
// condition tree with true/false per node, and n for event and visit conditions, from
// the service's explain endpoint (Elasticsearch, beside the reference evaluator).
import {aborted, describe, h} from "./dom.js";

const GROUP = {all: "all of", any: "any of", and: "and", or: "or", not: "not"};

export function mountExplain(container, {api, account, params}) {
  let controller = new AbortController();
  const contact = h("input", {id: "explain-contact", name: "contact", required: true,
                              autocomplete: "off", spellcheck: "false",
                              value: params.get("contact") || ""});
  const saved = h("select", {id: "explain-saved", name: "saved"},
                  h("option", {value: ""}, "— type the segment below —"));
  const text = h("textarea", {id: "explain-text", name: "text", rows: "4",
                              spellcheck: "false",
                              placeholder: 'e.g. all(city starts_with "War", event MailOpen occurred)'});
  const failure = h("p", {class: "error", role: "alert"});
  const result = h("section", {class: "explanation", "aria-live": "polite",
                               "aria-label": "Explanation"});
  const form = h("form", {class: "explain-form", "aria-label": "Explain a contact"},
    h("p", {}, h("label", {for: "explain-contact"}, "Contact id"), contact),
    h("p", {}, h("label", {for: "explain-saved"}, "Saved segment"), saved),
    h("p", {}, h("label", {for: "explain-text"}, "or segment text"), text),
    h("p", {}, h("button", {type: "submit", class: "primary"}, "Explain")),
    failure);
  container.append(h("h2", {tabindex: "-1", class: "view-title"}, "Explain"),
    h("p", {class: "help"}, `Why one contact of account ${account} is or is not in a ` +
      "segment: every condition marked true or false, with n for events and visits."),
    form, result);
  const wanted = params.get("segment") || "";
  saved.addEventListener("change", () => { text.disabled = Boolean(saved.value); });

  api.get("segments?counts=false", {signal: controller.signal}).then((segments) => {
    for (const segment of segments) {
      saved.append(h("option", {value: segment.name}, segment.name));
    }
    if (wanted && segments.some((s) => s.name === wanted)) {
      saved.value = wanted;
      text.disabled = true;
    }
  }).catch((error) => { if (!aborted(error)) failure.textContent = describe(error); });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    controller.abort();
    controller = new AbortController();
    failure.textContent = "";
    result.replaceChildren();
    const segment = saved.value ? {saved: saved.value} : {text: text.value};
    if (!saved.value && !text.value.trim()) {
      failure.textContent = "Choose a saved segment or type one.";
      return;
    }
    try {
      const tree = await api.post("explain", {contact_id: contact.value.trim(), ...segment},
                                  {signal: controller.signal});
      const who = contact.value.trim();
      result.append(
        h("p", {class: tree.result ? "verdict-line yes" : "verdict-line no"},
          `Contact ${who} is ${tree.result ? "" : "not "}in the segment.`),
        h("ul", {class: "tree", "aria-label": "Condition tree"}, node(tree)));
    } catch (error) {
      if (!aborted(error)) failure.textContent = describe(error);
    }
  });
  return {destroy() { controller.abort(); }};
}

function node(item) {
  const grouped = item.children.length > 0 && item.kind !== "in_segment";
  const label = grouped ? GROUP[item.kind] || item.kind : item.text;
  const parts = [
    h("span", {class: `verdict ${item.result ? "yes" : "no"}`}, item.result ? "true" : "false"),
    " ",
    h("code", {class: "condition", title: item.text}, label),
  ];
  if (item.count !== undefined && item.count !== null) {
    parts.push(" ", h("span", {class: "n"}, `n = ${item.count}`),
               item.rule ? h("span", {class: "rule"}, ` (holds when ${item.rule})`) : null);
  }
  if (item.evaluator) {
    parts.push(" ", h("strong", {class: "bug"},
      `the reference evaluator says ${item.evaluator.result}` +
      (item.evaluator.count !== null && item.evaluator.count !== undefined
        ? `, n = ${item.evaluator.count}` : "") + ": please report this"));
  }
  const children = item.children.length
    ? h("ul", {}, item.children.map(node)) : null;
  return h("li", {class: `node ${item.kind}`}, h("span", {class: "line"}, parts), children);
}
