// The segment editor (issue 17): name and description, the visual builder, the canonical
// text beside it (in sync both ways, problems underlined), and a live count with reach per
// channel. Contract with the page (app.js):
//
//   mountEditor(container, {api, segment, onSaved(name), onCancel()}) -> {destroy()}
//   segment: null for a new one, else {name, description, expression, version}
//
// The text is authoritative: typing parses it (POST /v1/check for its syntax, then
// /v1/parse → JSON form → builder) and
// checks it against the account (POST check → underlined problems); a builder change
// renders the JSON form into the text (POST /v1/check with the JSON form answers with its
// canonical text, or with its problems at JSON Pointers, shown on the builder's rows). Text the builder cannot show
// faithfully (comments) keeps the builder read-only, with a note. Counts are debounced
// (300 ms) and a newer request aborts the one before (AbortController).

import {renderBuilder} from "./editor/builder.js";
import {countPanel} from "./editor/count.js";
import {button, h, idFor, input} from "./editor/dom.js";
import {textPane} from "./editor/textpane.js";
import {unsupported} from "./editor/tree.js";

const DEBOUNCE_MS = 300;

function ensureStyles() {
  const href = new URL("./editor.css", import.meta.url).href;
  const links = [...document.querySelectorAll("link[rel=stylesheet]")];
  if (!links.some((link) => link.href === href)) {
    document.head.append(h("link", {rel: "stylesheet", href}));
  }
}

const isAbort = (error) => error && error.name === "AbortError";

export function mountEditor(container, {api, segment, onSaved, onCancel}) {
  ensureStyles();
  const state = {
    ast: null, catalog: null, savedNames: [], timezone: "UTC", locked: null,
    override: false, stale: false, destroyed: false, checked: null, astText: null,
  };
  const controllers = {};
  const timers = {};
  const fresh = (key) => {
    if (controllers[key]) controllers[key].abort();
    controllers[key] = new AbortController();
    return controllers[key].signal;
  };
  const cancel = (...keys) => keys.forEach((key) => {
    clearTimeout(timers[key]);
    timers[key] = null;
    if (controllers[key]) controllers[key].abort();
  });

  // --- the form ---------------------------------------------------------------------
  const title = segment ? `Edit segment ${segment.name}` : "New segment";
  const nameError = h("span", {id: idFor("Name error"), class: "ed-field-error", role: "alert"});
  const name = input("Name", {type: "text", required: true, value: segment ? segment.name : "",
                              readOnly: Boolean(segment), autocomplete: "off",
                              "aria-describedby": nameError.id, class: "ed-name"});
  const description = input("Description", {
    type: "text", value: (segment && segment.description) || "", class: "ed-description"});
  const saveError = h("p", {class: "ed-save-error", role: "alert"});
  const pane = textPane({label: "Segment text", oninput: onTextInput});
  const builderNote = h("div", {class: "ed-note", role: "status"});
  const builderProblems = h("ul", {class: "ed-problems ed-builder-problems",
                                   "aria-live": "polite"});
  const treeHost = h("fieldset", {class: "ed-tree-host", "aria-label": "Conditions"},
    h("p", {class: "ed-empty"}, "Loading the catalog…"));
  const counter = countPanel({zone: state.timezone, onzone: (zone) => {
    state.timezone = zone;
    checkText(pane.value);
  }});
  const form = h("form", {class: "ed", "aria-label": title, novalidate: true},
    h("div", {class: "ed-meta"},
      h("p", {class: "ed-field"}, h("label", {for: name.id}, "Name"), name, nameError),
      h("p", {class: "ed-field"}, h("label", {for: description.id}, "Description"),
        description)),
    h("div", {class: "ed-main"},
      h("section", {class: "ed-builder", "aria-labelledby": idFor("Builder title")},
        h("h3", {id: idFor("Builder title")}, "Conditions"), builderNote, treeHost,
        builderProblems),
      h("div", {class: "ed-side"},
        counter.element,
        h("section", {class: "ed-text"}, pane.element))),
    h("div", {class: "ed-footer"}, saveError,
      h("button", {type: "submit", class: "ed-save"}, "Save"),
      button("Cancel", "Cancel", () => onCancel && onCancel(), {class: "ed-cancel"})));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    save();
  });
  container.append(form);

  // --- the builder ------------------------------------------------------------------
  const ctx = {
    get catalog() { return state.catalog; },
    get savedNames() { return state.savedNames; },
    root: {get: () => state.ast, set: (node) => { state.ast = node; }},
    changed: onBuilderChange,
    names: new Map(),
  };

  let rendered = null;  // the JSON form the builder shows, as JSON text

  function renderTree(focusLabel, force = true) {
    if (!state.catalog) return;
    const shown = JSON.stringify([state.ast, state.locked, state.override]);
    if (!force && shown === rendered) {
      showNote();
      return;
    }
    rendered = shown;
    const active = document.activeElement;
    const activeId = active && treeHost.contains(active) ? active.id : null;
    treeHost.disabled = Boolean(state.locked) && !state.override;
    treeHost.replaceChildren(renderBuilder(ctx));
    // the first of the labels asked for that exists, else the control focused before
    const wanted = [focusLabel || []].flat().map((label) => document.getElementById(idFor(label)));
    const target = wanted.find(Boolean) || (activeId && document.getElementById(activeId));
    if (target) target.focus();
    showNote();
  }

  function showNote() {
    const parts = [];
    if (state.locked && !state.override) {
      parts.push(h("span", {}, `The builder is read-only: ${state.locked}. Edit the text, or `),
        button("Edit in the builder anyway (drops the comments)",
               "edit in the builder anyway (drops the comments)", () => {
          state.override = true;
          renderTree();
        }, {class: "ed-small"}));
    }
    if (state.stale) {
      parts.push(h("span", {}, "The text does not parse: the builder shows its last " +
                               "version that did, and changing it rewrites the text."));
    }
    builderNote.replaceChildren(...parts);
  }

  function onBuilderChange(structural, focusLabel) {
    cancel("parse");
    state.stale = false;
    if (structural) renderTree(focusLabel);
    clearTimeout(timers.render);
    timers.render = setTimeout(toText, structural ? 0 : DEBOUNCE_MS - 100);
  }

  async function toText() {
    timers.render = null;
    const signal = fresh("render");
    if (!state.ast) {
      pane.setText("");
      showBuilderProblems([]);
      checkText("");
      return;
    }
    try {
      // the language's check renders a valid JSON form (its canonical text) and answers an
      // invalid one with its problems at JSON Pointers, both as 200 (/v1/render: 422)
      const result = await api.post("/v1/check", {ast: state.ast}, {signal});
      if (!result.valid) {
        showBuilderProblems(result.diagnostics);
        return;
      }
      const text = result.text;
      state.astText = text;
      pane.setText(text);
      state.locked = null;
      state.override = false;
      showBuilderProblems([]);
      showNote();
      checkText(text);
    } catch (error) {
      if (isAbort(error)) return;
      showBuilderProblems(error.problems && error.problems.length ? error.problems
        : [{message: error.message}]);
    }
  }

  function showBuilderProblems(problems) {
    treeHost.querySelectorAll(".ed-invalid").forEach((el) => el.classList.remove("ed-invalid"));
    builderProblems.replaceChildren(...problems.map((problem) => {
      let pointer = (problem.pointer || "").replace(/^\/ast/, "");
      while (pointer && !ctx.names.has(pointer)) pointer = pointer.replace(/\/[^/]*$/, "");
      const where = ctx.names.get(pointer);
      let at = pointer;
      let row = null;
      for (;;) {
        // the innermost: a segment of one condition and its row share a pointer
        row = [...treeHost.querySelectorAll(`[data-pointer="${CSS.escape(at)}"]`)].pop();
        if (row || !at) break;
        at = at.replace(/\/[^/]*$/, "");
      }
      if (row) row.classList.add("ed-invalid");
      return h("li", {class: "ed-problem-item", dataset: {pointer}},
        where ? `${where.charAt(0).toUpperCase()}${where.slice(1)}: ` : "", problem.message,
        problem.hint ? ` (${problem.hint})` : "");
    }));
  }

  // --- the text ---------------------------------------------------------------------
  function onTextInput(text) {
    cancel("render", "parse");
    clearTimeout(timers.text);
    counter.pending("waiting");
    timers.text = setTimeout(() => fromText(text), DEBOUNCE_MS);
  }

  async function fromText(text) {
    timers.text = null;
    state.override = false;
    checkText(text);
    const signal = fresh("parse");
    if (!text.trim()) {
      state.ast = null;
      state.stale = false;
      state.locked = null;
      renderTree(undefined, false);
      return;
    }
    try {
      // syntax first (200 either way), so text that does not parse is no failed request
      const syntax = await api.post("/v1/check", {text}, {signal});
      if (!syntax.valid) {
        state.stale = true;
        showNote();
        showBuilderProblems([]);
        return;
      }
      const {ast} = await api.post("/v1/parse", {text}, {signal});
      state.ast = ast;
      state.astText = text;
      state.stale = false;
      state.locked = unsupported(ast, text);
      renderTree(undefined, false);
      markRows();
    } catch (error) {
      if (isAbort(error)) return;
      state.stale = true;
      showNote();
    }
  }

  async function checkText(text) {
    cancel("check", "count");
    if (!text.trim()) {
      pane.showProblems([]);
      counter.show(null, "No conditions yet.");
      return;
    }
    const signal = fresh("check");
    counter.pending("waiting");
    try {
      const result = await api.post("check", {text, timezone: state.timezone}, {signal});
      state.checked = {text, valid: result.valid};
      pane.showProblems(result.diagnostics);
      markRows();
      if (result.valid) {
        timers.count = setTimeout(() => countText(text), 0);
      } else {
        counter.show(null, "The segment has problems: see the text.");
      }
    } catch (error) {
      if (isAbort(error)) return;
      pane.showProblems(error.problems || []);
      counter.show(null, error.message);
    }
  }

  /** The account's problems on the builder's rows too: the same check of the JSON form
   * answers with JSON Pointers (only once the text's check found problems, and only while
   * the builder shows that very text). */
  async function markRows() {
    const text = pane.value;
    const checked = state.checked;
    if (!checked || checked.text !== text || state.astText !== text || !state.ast) return;
    if (checked.valid) {
      showBuilderProblems([]);
      return;
    }
    const signal = fresh("rows");
    try {
      const result = await api.post("check", {ast: state.ast, timezone: state.timezone},
                                    {signal});
      if (pane.value === text) showBuilderProblems(result.diagnostics || []);
    } catch (error) {
      if (!isAbort(error)) showBuilderProblems([]);
    }
  }

  async function countText(text) {
    const signal = fresh("count");
    counter.pending("busy");
    try {
      const result = await api.post("count", {text, timezone: state.timezone, channels: true},
                                    {signal});
      counter.show(result, `Counted in ${result.took_ms} ms.`);
    } catch (error) {
      if (isAbort(error)) return;
      counter.show(null, error.message);
    }
  }

  // --- save -------------------------------------------------------------------------
  async function save() {
    saveError.textContent = "";
    nameError.textContent = "";
    name.removeAttribute("aria-invalid");
    if (timers.render) {
      clearTimeout(timers.render);
      await toText();
    }
    const chosen = name.value.trim();
    if (!chosen) {
      nameError.textContent = "A segment needs a name.";
      name.setAttribute("aria-invalid", "true");
      name.focus();
      return;
    }
    if (!pane.value.trim()) {
      saveError.textContent = "The segment has no conditions yet.";
      return;
    }
    if (state.checked && state.checked.text === pane.value && !state.checked.valid) {
      saveError.textContent = "The segment has problems (underlined in the text): fix them first.";
      pane.textarea.focus();
      return;
    }
    const body = {text: pane.value, description: description.value.trim() || null};
    try {
      if (segment) await api.put(`segments/${encodeURIComponent(segment.name)}`, body);
      else await api.post("segments", {name: chosen, ...body});
      if (onSaved) onSaved(segment ? segment.name : chosen);
    } catch (error) {
      if (isAbort(error)) return;
      const message = error.detail ? `${error.title}: ${error.detail}` : error.message;
      saveError.textContent = message;
      if (error.status === 409 && !segment) {
        nameError.textContent = error.detail || message;
        name.setAttribute("aria-invalid", "true");
      }
      if (error.problems && error.problems.some((p) => p.line)) pane.showProblems(error.problems);
    }
  }

  // --- start ------------------------------------------------------------------------
  pane.setText(segment ? segment.expression || segment.text || "" : "");
  Promise.all([
    api.get("catalog"),
    api.get("segments?counts=false").catch(() => []),
  ]).then(([catalog, saved]) => {
    if (state.destroyed) return;
    state.catalog = catalog;
    const own = segment ? segment.name.toLowerCase() : null;
    state.savedNames = saved.map((s) => s.name).filter((n) => n.toLowerCase() !== own);
    fromText(pane.value);  // renders the builder once, from the text
  }).catch((error) => {
    if (state.destroyed) return;
    treeHost.replaceChildren(h("p", {class: "ed-empty", role: "alert"},
      `The builder needs the account's catalog: ${error.message}. The text still works.`));
    fromText(pane.value);
  });

  return {
    destroy() {
      state.destroyed = true;
      for (const key of Object.keys(timers)) clearTimeout(timers[key]);
      for (const key of Object.keys(controllers)) controllers[key].abort();
      form.remove();
    },
  };
}
