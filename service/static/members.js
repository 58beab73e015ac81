// A saved segment's current members, a page at a time: contact ids (the members endpoint,
// sorted by id, numbered pages), or one channel's addresses (the pages endpoint, by
// cursor over one snapshot: a contact with two addresses has two rows, one without an
// address has none).
import {aborted, describe, h, number} from "./dom.js";

export const PAGE_SIZE = 20;

export function mountMembers(container, {api, name}) {
  let controller = new AbortController();
  let page = 1;              // ids: page number
  let cursors = [null];      // a channel: the cursor of each page seen so far
  const id = `members-${Math.random().toString(36).slice(2, 9)}`;
  const channel = h("select", {id: `${id}-channel`},
    h("option", {value: ""}, "none (contact ids)"),
    h("option", {value: "email"}, "email"), h("option", {value: "sms"}, "SMS"),
    h("option", {value: "push"}, "push"));
  const position = h("p", {class: "position", role: "status", "aria-live": "polite"});
  const failure = h("p", {class: "error", role: "alert"});
  const rows = h("tbody");
  const addressHead = h("th", {scope: "col"}, "Address");
  const table = h("table", {class: "members"},
    h("caption", {}, `Members of ${name}`),
    h("thead", {}, h("tr", {}, h("th", {scope: "col"}, "Contact id"), addressHead)), rows);
  const previous = h("button", {type: "button", "aria-label": `Previous page of ${name}`},
                     "Previous");
  const next = h("button", {type: "button", "aria-label": `Next page of ${name}`}, "Next");
  const panel = h("section", {class: "members-panel", "aria-label": `Members of ${name}`},
    h("div", {class: "toolbar"},
      h("label", {for: `${id}-channel`}, "Addresses"), channel, previous, next),
    position, failure, table);
  container.append(panel);

  async function load() {
    controller.abort();
    controller = new AbortController();
    const {signal} = controller;
    const chosen = channel.value;
    failure.textContent = "";
    previous.disabled = next.disabled = true;
    addressHead.hidden = !chosen;
    try {
      if (!chosen) {
        const found = await api.get(`segments/${encodeURIComponent(name)}/members` +
                                    `?page=${page}&size=${PAGE_SIZE}`, {signal});
        show(found.members.map((m) => [m.contact_id, null]));
        const first = (page - 1) * PAGE_SIZE + 1;
        position.textContent = found.total === 0 ? "No members."
          : `Contacts ${number(first)} to ${number(first + found.members.length - 1)} ` +
            `of ${number(found.total)}.`;
        previous.disabled = page === 1;
        next.disabled = page * PAGE_SIZE >= found.total;
      } else {
        const index = cursors.length - 1;
        const found = await api.post("pages", {saved: name, channel: chosen, size: PAGE_SIZE,
                                               cursor: cursors[index]}, {signal});
        show(found.rows.map((r) => [r.contact_id, r.address ?? ""]));
        position.textContent = `Page ${index + 1}: ${found.rows.length} ${chosen} ` +
          `address${found.rows.length === 1 ? "" : "es"}; ` +
          `${number(found.contacts)} contacts in the segment.`;
        previous.disabled = index === 0;
        next.disabled = !found.cursor;
        next.cursor = found.cursor;
      }
    } catch (error) {
      if (aborted(error)) return;
      position.textContent = "";
      failure.textContent = describe(error);
    }
  }

  function show(items) {
    rows.replaceChildren(...items.map(([contact, address]) => h("tr", {},
      h("td", {class: "contact"}, contact),
      address === null ? null : h("td", {class: "address"}, address))));
  }

  channel.addEventListener("change", () => { page = 1; cursors = [null]; load(); });
  next.addEventListener("click", () => {
    if (channel.value) cursors.push(next.cursor);
    else page += 1;
    load();
  });
  previous.addEventListener("click", () => {
    if (channel.value) cursors.pop();
    else page = Math.max(1, page - 1);
    load();
  });
  load();
  return {destroy() { controller.abort(); panel.remove(); }};
}
