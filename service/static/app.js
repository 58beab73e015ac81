// The page's shell: the account and token (kept for this tab in sessionStorage), and a
// hash router that mounts one view at a time into <main id="view">:
//   #/            the segment list          (list.js)
//   #/new         a new segment             (editor.js)
//   #/edit/<name> a saved segment           (editor.js)
//   #/explain     one contact explained     (explain.js; #/explain?segment=<name>)
// Every view is mount(container, ctx) -> {destroy()}; ctx.api is api.js's client.
import {createApi} from "./api.js";
import {aborted, describe, h} from "./dom.js";
import {mountEditor} from "./editor.js";
import {mountExplain} from "./explain.js";
import {mountList} from "./list.js";

const TOKEN_KEY = "segql.token";
const ACCOUNT_KEY = "segql.account";

const view = document.getElementById("view");
const notice = document.getElementById("notice");
const form = document.getElementById("session");
let current = null;
let firstRoute = true;
let needsToken = false;  // the service's answer (GET /ui-config) before the first route

function initialAccount() {
  const asked = new URLSearchParams(location.search).get("account");
  return (asked ?? sessionStorage.getItem(ACCOUNT_KEY) ?? "").trim();
}

function session() {
  return {account: form.account.value.trim(), token: form.token.value.trim()};
}

function notify(message) {
  notice.textContent = message || "";
}

function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = raw.split("?");
  return {path, params: new URLSearchParams(query)};
}

function heading(text) {
  return h("h2", {tabindex: "-1", class: "view-title"}, text);
}

function needAccount(container) {
  container.append(heading("Which account?"),
    h("p", {}, "Type the account whose segments to work with in the Account field above " +
               "(or open this page as /?account=NAME), then press Use."));
  form.account.focus();
  return {destroy() {}, focused: true};
}

function mountEdit(container, ctx, name) {
  const controller = new AbortController();
  let editor = null;
  const title = heading(name === null ? "New segment" : `Edit segment ${name}`);
  const body = h("div", {class: "editor-host"});
  const status = h("p", {role: "status", class: "loading"});
  container.append(title, status, body);
  const start = (segment) => {
    status.remove();
    editor = mountEditor(body, {
      api: ctx.api, segment,
      onSaved: (saved) => { notify(`Saved segment ${saved}.`); navigate("#/"); },
      onCancel: () => navigate("#/"),
    });
  };
  if (name === null) {
    start(null);
  } else {
    status.textContent = `Loading ${name}…`;
    ctx.api.get(`segments/${encodeURIComponent(name)}`, {signal: controller.signal})
      .then((saved) => start({name: saved.name, description: saved.description ?? "",
                              expression: saved.text, version: saved.version ?? null}))
      .catch((error) => {
        if (aborted(error)) return;
        status.setAttribute("role", "alert");
        status.className = "error";
        status.textContent = describe(error);
      });
  }
  return {destroy() { controller.abort(); if (editor) editor.destroy(); }};
}

function needToken(container) {
  container.append(heading("API token needed"),
    h("p", {}, "This service answers only requests with an API token. Type yours in the " +
               "API token field above and press Use (an operator makes one with " +
               "`segql token create --account ACCOUNT --scope write`, or `--scope read` " +
               "to look without changing anything)."));
  form.token.focus();
  return {destroy() {}, focused: true};
}

function notFound(container) {
  container.append(heading("Not found"),
                   h("p", {}, "There is no such page. ", h("a", {href: "#/"}, "Segments")));
  return {destroy() {}};
}

function route() {
  if (current) {
    try { current.destroy(); } catch (error) { console.warn("view not destroyed", error); }
  }
  current = null;
  view.replaceChildren();
  const {path, params} = parseHash();
  const {account, token} = session();
  const ctx = {api: createApi({account, token}), account, notify, navigate, params};
  const known = path === "/" || path === "/new" || path === "/explain" ||
                path.startsWith("/edit/");
  for (const link of document.querySelectorAll("nav a[data-route]")) {
    const here = {list: "/", new: "/new", explain: "/explain"}[link.dataset.route] === path;
    if (here) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (!known) current = notFound(view);
  else if (!account) current = needAccount(view);
  else if (needsToken && !token) current = needToken(view);
  else if (path === "/") current = mountList(view, ctx);
  else if (path === "/new") current = mountEdit(view, ctx, null);
  else if (path === "/explain") current = mountExplain(view, ctx);
  else current = mountEdit(view, ctx, decodeURIComponent(path.slice("/edit/".length)));
  const title = view.querySelector(".view-title");
  if (!firstRoute && title && !current.focused) title.focus();
  firstRoute = false;
}

form.account.value = initialAccount();
form.token.value = sessionStorage.getItem(TOKEN_KEY) ?? "";
form.addEventListener("submit", (event) => {
  event.preventDefault();
  const {account, token} = session();
  const changed = account !== (sessionStorage.getItem(ACCOUNT_KEY) ?? "");
  sessionStorage.setItem(ACCOUNT_KEY, account);
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  const url = new URL(location.href);
  if (account) url.searchParams.set("account", account);
  else url.searchParams.delete("account");
  history.replaceState(null, "", url);
  notify(changed && account ? `Account ${account}.` : "");
  route();
});
window.addEventListener("hashchange", route);
fetch("/ui-config", {headers: {Accept: "application/json"}})
  .then((response) => (response.ok ? response.json() : {auth: true}))
  .catch(() => ({auth: true}))
  .then((config) => { needsToken = Boolean(config.auth); route(); });
