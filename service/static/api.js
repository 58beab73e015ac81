// The page's one way to the service: same-origin fetch, JSON in and out, every failure an
// ApiProblem (RFC 9457 problem details, docs/api.md). Every view gets its `api` from here.
//
//   const api = createApi({account: "demo", token: "segql_..."});   // token may be ""
//   await api.post("count", {text: "age > 30", channels: true});    // /v1/accounts/demo/count
//   await api.get("segments?search=war", {signal});
//   await api.post("/v1/parse", {text});                             // "/..." = absolute path
//
// A relative path is under the account's root, /v1/accounts/<account>/; a path starting
// with "/" is used as it is (the language endpoints: /v1/parse, /v1/render, /v1/format,
// /v1/check). A cancelled request (AbortController) rejects with the browser's own
// AbortError, untouched; anything else that fails rejects with an ApiProblem.

/** A failed request: the service's problem details, or the network's failure (status 0). */
export class ApiProblem extends Error {
  constructor({status = 0, title = "Request failed", detail = "", problems = [], type = "",
               body = null} = {}) {
    super(detail ? `${title}: ${detail}` : title);
    this.name = "ApiProblem";
    this.status = status;
    this.title = title;
    this.detail = detail;
    // positioned problems: [{code, message, hint, line, column, end_line, end_column,
    // pointer}] for a segment (the service's `diagnostics`), or [{pointer, message}] for a
    // request the service could not read (its `errors`); [] otherwise
    this.problems = problems;
    this.type = type;
    this.body = body;
  }
}

function isAbort(error) {
  return error && error.name === "AbortError";
}

async function problemOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch (_) {
    body = null;
  }
  if (body && typeof body === "object" && !Array.isArray(body)) {
    return new ApiProblem({
      status: response.status,
      title: body.title || response.statusText || "Request failed",
      detail: body.detail || "",
      problems: body.diagnostics || body.errors || [],
      type: body.type || "",
      body,
    });
  }
  return new ApiProblem({status: response.status,
                         title: response.statusText || `HTTP ${response.status}`});
}

/** The client of one account; `token` ("" or absent: none, e.g. `segql serve --no-auth`). */
export function createApi({account, token} = {}) {
  const root = `/v1/accounts/${encodeURIComponent(account || "")}/`;
  const url = (path) => (path.startsWith("/") ? path : root + path);

  async function request(method, path, body, {signal} = {}) {
    const headers = {Accept: "application/json, application/problem+json"};
    if (token) headers.Authorization = `Bearer ${token}`;
    const init = {method, headers, signal, credentials: "same-origin"};
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url(path), init);
    } catch (error) {
      if (isAbort(error)) throw error;
      throw new ApiProblem({title: "The service cannot be reached",
                            detail: "check that `segql serve` is running"});
    }
    if (!response.ok) {
      throw await problemOf(response);
    }
    if (response.status === 204) return null;
    try {
      return await response.json();
    } catch (error) {
      if (isAbort(error)) throw error;
      throw new ApiProblem({status: response.status, title: "The answer is not JSON"});
    }
  }

  return {
    account,
    get: (path, options) => request("GET", path, undefined, options),
    post: (path, body, options) => request("POST", path, body, options),
    put: (path, body, options) => request("PUT", path, body, options),
    del: (path, options) => request("DELETE", path, undefined, options),
  };
}
