// The segment's text, with its problems underlined where they are: a textarea over a
// backdrop that repeats the text with a <mark data-problem> around each problem's span
// (line/column from the service, 1-based, end exclusive, in code points). The marks carry
// the message (title, aria-label); the list below the text says message and hint, and the
// textarea is described by it (aria-describedby, aria-invalid).

import {h, idFor} from "./dom.js";
import {offsetOf} from "./tree.js";

export function textPane({label, oninput}) {
  const listId = idFor(`${label} problems`);
  const noteId = idFor(`${label} note`);
  const backdrop = h("div", {class: "ed-backdrop", "aria-hidden": "true"});
  const textarea = h("textarea", {
    id: idFor(label), class: "ed-textarea", "aria-label": label, spellcheck: "false",
    autocapitalize: "off", autocomplete: "off", rows: "6",
    "aria-describedby": `${listId} ${noteId}`,
    oninput: () => {
      sync();
      oninput(textarea.value);
    },
    onscroll: () => {
      backdrop.scrollTop = textarea.scrollTop;
      backdrop.scrollLeft = textarea.scrollLeft;
    },
  });
  const problemsList = h("ul", {id: listId, class: "ed-problems", "aria-live": "polite"});
  const note = h("p", {id: noteId, class: "ed-note", role: "status"});
  const element = h("div", {class: "ed-textpane"},
    h("label", {class: "ed-label", for: textarea.id}, label),
    h("div", {class: "ed-code"}, backdrop, textarea), note, problemsList);
  let problems = [];

  function fit() {
    textarea.style.height = "auto";
    textarea.style.height = `${Math.max(textarea.scrollHeight + 2, 96)}px`;
  }

  function sync() {
    const text = textarea.value;
    const spans = problems
      .filter((p) => p.line !== null && p.line !== undefined)
      .map((p) => {
        const start = offsetOf(text, p.line, p.column || 1);
        let end = offsetOf(text, p.end_line || p.line, p.end_column || (p.column || 1) + 1);
        if (end <= start) end = start + 1;
        return {start, end, problem: p};
      })
      .sort((a, b) => a.start - b.start);
    const parts = [];
    let at = 0;
    for (const span of spans) {
      if (span.start < at) continue; // overlaps the one before: its list entry still says it
      parts.push(text.slice(at, span.start));
      let covered = text.slice(span.start, Math.min(span.end, text.length));
      let tail = "";
      if (covered.endsWith("\n")) {
        tail = "\n";
        covered = covered.slice(0, -1);
      }
      const message = span.problem.message;
      // past the end of the text (a segment that ends too early): one visible cell
      parts.push(h("mark", {
        class: "ed-problem", title: message, "aria-label": message,
        dataset: {problem: span.problem.code || "", line: span.problem.line,
                  column: span.problem.column, endLine: span.problem.end_line,
                  endColumn: span.problem.end_column},
      }, covered || " "), tail);
      at = span.start + covered.length + tail.length;
    }
    parts.push(text.slice(at), "\n");
    backdrop.replaceChildren(...parts);
    fit();
  }

  return {
    element,
    textarea,
    get value() {
      return textarea.value;
    },
    setText(text) {
      if (textarea.value !== text) textarea.value = text;
      sync();
    },
    /** Positioned problems [{code, message, hint, line, column, end_line, end_column}]. */
    showProblems(found) {
      problems = found || [];
      textarea.setAttribute("aria-invalid", problems.length ? "true" : "false");
      problemsList.replaceChildren(...problems.map((p) => h("li", {class: "ed-problem-item"},
        p.line ? h("span", {class: "ed-where-at"}, `Line ${p.line}, column ${p.column}: `) : null,
        h("span", {class: "ed-message"}, p.message),
        p.hint ? h("span", {class: "ed-hint"}, ` (${p.hint})`) : null)));
      sync();
    },
    setNote(content) {
      note.replaceChildren(...(content ? [content].flat() : []));
    },
    fit,
  };
}
