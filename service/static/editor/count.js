// The live count beside the builder: the number of contacts (`<output aria-label="Live
// count" data-count data-state>`), the reach per channel (`[data-reach=CHANNEL]` with
// `data-value`), a note, and the time zone the segment is evaluated in (UTC first, the
// default, as `segql count`).

import {h, idFor, select} from "./dom.js";

const CHANNELS = ["email", "sms", "push"];

function zones() {
  let all = [];
  try {
    all = Intl.supportedValuesOf("timeZone");
  } catch (_) {
    all = [];
  }
  return ["UTC", ...all.filter((zone) => zone !== "UTC")];
}

/** The count panel; `onzone(name)` when another time zone is chosen. */
export function countPanel({zone, onzone}) {
  const count = h("output", {id: idFor("Live count"), class: "ed-count-number",
                             "aria-label": "Live count", dataset: {state: "idle"}}, "—");
  const reach = h("ul", {class: "ed-reach", "aria-label": "Reach per channel"},
    CHANNELS.map((channel) => h("li", {dataset: {channel}},
      h("span", {class: "ed-channel"}, channel), " ",
      h("span", {class: "ed-reach-number", dataset: {reach: channel}}, "—"))));
  const note = h("p", {class: "ed-count-note"});
  const picker = select("Time zone of the count", zones().map((z) => [z, z]), zone,
    (event) => onzone(event.target.value));
  const element = h("section", {class: "ed-count", "aria-labelledby": idFor("Count title")},
    h("h3", {id: idFor("Count title")}, "Contacts now"),
    h("p", {class: "ed-count-line"}, count, " contacts"), reach, note,
    h("p", {class: "ed-field"}, h("label", {for: picker.id}, "Time zone"), picker));

  return {
    element,
    /** "waiting" (a change not yet checked) or "busy" (the count asked for). */
    pending(state) {
      count.dataset.state = state;
      if (state === "busy") element.setAttribute("aria-busy", "true");
    },
    /** A count answer ({count, reach}) or null, with a note. */
    show(result, message) {
      element.removeAttribute("aria-busy");
      count.textContent = result ? result.count.toLocaleString("en") : "—";
      if (result) count.dataset.count = String(result.count);
      else delete count.dataset.count;
      count.dataset.state = result ? "done" : "none";
      for (const channel of CHANNELS) {
        const cell = reach.querySelector(`[data-reach="${channel}"]`);
        const value = result && result.reach ? result.reach[channel] : undefined;
        cell.textContent = value === undefined ? "—" : value.toLocaleString("en");
        if (value === undefined) delete cell.dataset.value;
        else cell.dataset.value = String(value);
      }
      note.textContent = message || "";
    },
  };
}
