// The segment list: search by name, each saved segment's live count and reach per
// channel, Show (a page of members, members.js), Edit, Delete (the service refuses while
// other segments refer to it, and the page shows its reason).
import {aborted, debounce, describe, h, number} from "./dom.js";
import {mountMembers} from "./members.js";

const CHANNELS = [["email", "Email"], ["sms", "SMS"], ["push", "Push"]];
//: count requests in flight at once for the reach columns
const PARALLEL = 3;

export function mountList(container, {api, account, notify}) {
  let controller = new AbortController();
  const opened = new Map();  // name -> {row, panel}
  const search = h("input", {type: "search", id: "segment-search", autocomplete: "off",
                             spellcheck: "false", placeholder: "name contains…"});
  const status = h("p", {class: "list-status", role: "status", "aria-live": "polite"});
  const failure = h("p", {class: "error", role: "alert"});
  const body = h("tbody");
  const table = h("table", {class: "segments"},
    h("caption", {}, `Saved segments of account ${account}`),
    h("thead", {}, h("tr", {},
      h("th", {scope: "col"}, "Name"), h("th", {scope: "col"}, "Description"),
      h("th", {scope: "col", class: "num"}, "Contacts"),
      CHANNELS.map(([, label]) => h("th", {scope: "col", class: "num"}, label)),
      h("th", {scope: "col"}, h("span", {class: "visually-hidden"}, "Actions")))),
    body);
  const refresh = h("button", {type: "button", onclick: () => load()}, "Refresh counts");
  container.append(
    h("h2", {tabindex: "-1", class: "view-title"}, "Segments"),
    h("div", {class: "toolbar"},
      h("label", {for: "segment-search"}, "Search by name"), search,
      refresh, h("a", {href: "#/new", class: "button primary"}, "New segment")),
    status, failure, h("div", {class: "table-wrap"}, table));

  async function load() {
    controller.abort();
    controller = new AbortController();
    const {signal} = controller;
    const term = search.value.trim();
    failure.textContent = "";
    status.textContent = "Loading…";
    const path = "segments" + (term ? `?search=${encodeURIComponent(term)}` : "");
    let segments;
    try {
      segments = await api.get(path, {signal});
    } catch (error) {
      if (aborted(error)) return;
      status.textContent = "";
      failure.textContent = describe(error);
      return;
    }
    for (const {panel} of opened.values()) panel.destroy();
    opened.clear();
    body.replaceChildren(...segments.map(row));
    status.textContent = segments.length === 0
      ? (term ? `No segment's name contains “${term}”.` : "No saved segments yet.")
      : `${segments.length} segment${segments.length === 1 ? "" : "s"}` +
        (term ? ` whose name contains “${term}”` : "") + ".";
    reach(segments, signal);
  }

  function row(segment) {
    const name = segment.name;
    const countCell = h("td", {class: "num count", "data-label": "Contacts"},
      segment.error ? h("span", {class: "error"}, segment.error.message) : number(segment.count));
    const reachCells = CHANNELS.map(([channel, label]) =>
      h("td", {class: "num reach", "data-label": label, dataset: {channel}}, "…"));
    const show = h("button", {type: "button", "aria-expanded": "false",
                              "aria-label": `Show members of ${name}`}, "Show");
    const del = h("button", {type: "button", class: "danger",
                             "aria-label": `Delete ${name}`}, "Delete");
    const tr = h("tr", {dataset: {segment: name}},
      h("th", {scope: "row", class: "name"}, name),
      h("td", {class: "description", "data-label": "Description"}, segment.description || ""),
      countCell, reachCells,
      h("td", {class: "actions"}, h("div", {class: "actions"}, show,
        h("a", {href: `#/edit/${encodeURIComponent(name)}`, class: "button",
                "aria-label": `Edit ${name}`}, "Edit"),
        h("a", {href: `#/explain?segment=${encodeURIComponent(name)}`, class: "button",
                "aria-label": `Explain ${name} for a contact`}, "Explain"),
        del)));
    tr.countCell = countCell;
    tr.reachCells = reachCells;
    show.addEventListener("click", () => toggleMembers(tr, show, name));
    del.addEventListener("click", () => confirmDelete(tr, del, name));
    return tr;
  }

  function detailRow(tr, kind, label) {
    const existing = tr.parentNode && [...body.querySelectorAll(`tr.${kind}`)]
      .find((other) => other.owner === tr);
    if (existing) return existing;
    const cell = h("td", {colspan: String(4 + CHANNELS.length)});
    const detail = h("tr", {class: `detail ${kind}`}, cell);
    detail.owner = tr;
    detail.cell = cell;
    detail.setAttribute("aria-label", label);
    let after = tr;
    while (after.nextElementSibling && after.nextElementSibling.owner === tr) {
      after = after.nextElementSibling;
    }
    after.after(detail);
    return detail;
  }

  function toggleMembers(tr, button, name) {
    const open = opened.get(name);
    if (open) {
      open.panel.destroy();
      open.row.remove();
      opened.delete(name);
      button.setAttribute("aria-expanded", "false");
      button.textContent = "Show";
      return;
    }
    const detail = detailRow(tr, "members", `Members of ${name}`);
    const panel = mountMembers(detail.cell, {api, name});
    opened.set(name, {row: detail, panel});
    button.setAttribute("aria-expanded", "true");
    button.textContent = "Hide";
  }

  function confirmDelete(tr, button, name) {
    const detail = detailRow(tr, "deleting", `Delete ${name}`);
    detail.cell.replaceChildren();
    const reason = h("p", {class: "error", role: "alert"});
    const yes = h("button", {type: "button", class: "danger"}, "Delete for good");
    const keep = h("button", {type: "button"}, "Keep it");
    const close = () => { detail.remove(); button.focus(); };
    keep.addEventListener("click", close);
    detail.addEventListener("keydown", (event) => { if (event.key === "Escape") close(); });
    yes.addEventListener("click", async () => {
      yes.disabled = true;
      reason.textContent = "";
      try {
        await api.del(`segments/${encodeURIComponent(name)}`);
      } catch (error) {
        yes.disabled = false;
        reason.textContent = error.status === 409
          ? `Not deleted: ${error.detail}` : describe(error);
        return;
      }
      notify(`Deleted segment ${name}.`);
      search.focus();
      load();
    });
    detail.cell.append(h("div", {class: "confirm", role: "group",
                                 "aria-label": `Delete ${name}`},
      h("p", {}, `Delete the segment ${name}? This cannot be undone.`), yes, keep, reason));
    yes.focus();
  }

  async function reach(segments, signal) {
    const rows = new Map([...body.children].map((tr) => [tr.dataset.segment, tr]));
    const queue = segments.filter((s) => !s.error).map((s) => s.name);
    for (const segment of segments.filter((s) => s.error)) {
      for (const cell of rows.get(segment.name).reachCells) cell.textContent = "—";
    }
    const worker = async () => {
      while (queue.length && !signal.aborted) {
        const name = queue.shift();
        const tr = rows.get(name);
        try {
          const result = await api.post("count", {saved: name, channels: true}, {signal});
          tr.countCell.textContent = number(result.count);
          for (const cell of tr.reachCells) {
            cell.textContent = number((result.reach || {})[cell.dataset.channel]);
          }
        } catch (error) {
          if (aborted(error)) return;
          for (const cell of tr.reachCells) cell.textContent = "—";
          tr.countCell.replaceChildren(h("span", {class: "error"}, describe(error)));
        }
      }
    };
    await Promise.all(Array.from({length: PARALLEL}, worker));
  }

  const searchLater = debounce(load, 250);
  search.addEventListener("input", searchLater);
  search.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { searchLater.cancel(); load(); }
  });
  load();
  return {
    destroy() {
      searchLater.cancel();
      controller.abort();
      for (const {panel} of opened.values()) panel.destroy();
    },
  };
}
