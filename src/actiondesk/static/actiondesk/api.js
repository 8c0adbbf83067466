// The JSON API, called as any client would: the session cookie, and the CSRF token (rendered
// into the page by the server) on every unsafe request. Every URL starts from the mount prefix.

const body = document.body;
/** The mount prefix of the desk ("" when served at the root). */
export const base = body.dataset.base || "";
const csrf = body.dataset.csrf || "";
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

export class ApiError extends Error {
  constructor(status, payload) {
    super(payload.error || `The server answered ${status}.`);
    this.status = status;
    this.fields = payload.fields || {};
    this.detail = payload.detail ?? null;
    this.payload = payload;
  }
}

/** The URL of a page of this desk ("/collections/x" -> "/prefix/collections/x"). */
export function pageUrl(path) {
  return base + path;
}

/** The URL of an API route with query parameters (arrays repeat the name). */
export function apiUrl(path, params) {
  const url = new URL(base + "/api" + path, window.location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(name, item);
  }
  return url.pathname + url.search;
}

/** A path segment: record ids are encoded once more, as any segment. */
export const segment = encodeURIComponent;

function goSignIn() {
  const here = window.location.pathname + window.location.search;
  window.location.assign(`${base}/login?next=${encodeURIComponent(here)}`);
}

/** Send a request and give the Response (for files, 202 and 204); 401 goes to the sign-in page. */
export async function send(method, path, { params, json, headers = {}, signal } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin", signal };
  if (!SAFE.has(method)) init.headers["X-CSRF-Token"] = csrf;
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(apiUrl(path, params), init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, { error: "The server cannot be reached. Check your connection and try again." });
  }
  if (response.status === 401) {
    goSignIn();
    throw new ApiError(401, { error: "Your session ended; sign in again." });
  }
  return response;
}

/** The error a failed response carries ({error, detail, fields}). */
export async function errorOf(response) {
  const payload = await response.json().catch(() => ({}));
  return new ApiError(response.status, payload);
}

/** Send and parse JSON; throws ApiError on a 4xx/5xx; null for 204. */
export async function request(method, path, options = {}) {
  const response = await send(method, path, options);
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return null;
  return response.json();
}

export const api = {
  get: (path, params, options = {}) => request("GET", path, { ...options, params }),
  post: (path, json, options = {}) => request("POST", path, { ...options, json }),
};
