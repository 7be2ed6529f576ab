// Talking to the local server. Every failure becomes an ApiError carrying the server's
// "error" and "hint" (and its "code" and "params", which the page words in its own language),
// so screens can always show what went wrong and what to do. Every answer also tells
// connection.js whether the server was reached and whether the page's login still holds.
import { reached } from "./connection.js";
import { t } from "./i18n.js";

export class ApiError extends Error {
  constructor(status, message, hint, code = null, params = null, fields = null) {
    super(message);
    this.status = status;
    this.hint = hint || "";
    this.code = code || null;
    this.params = params || {};
    this.fields = fields || null; // {name: message} when the server named fields
    this.name = "ApiError";
  }
}

// The ApiError of a JSON error body (null when the body is not one).
export function fromBody(status, body) {
  if (!body || typeof body.error !== "string") return null;
  const code = typeof body.code === "string" ? body.code : null;
  return new ApiError(status, body.error, body.hint, code, body.params, body.fields);
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return fromBody(response.status, body) || new ApiError(response.status, t("err.http", { status: response.status }), t("hint.bug"));
}

export async function api(method, path, body, { signal } = {}) {
  const init = { method, credentials: "same-origin", signal, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    reached(false);
    throw new ApiError(0, t("err.network"), t("hint.network"));
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    reached(true, error.code);
    throw error;
  }
  reached(true);
  if (response.status === 204) return null;
  return response.json();
}

export const get = (path, opts) => api("GET", path, undefined, opts);
export const post = (path, body, opts) => api("POST", path, body === undefined ? {} : body, opts);
export const put = (path, body, opts) => api("PUT", path, body, opts);
export const del = (path, opts) => api("DELETE", path, undefined, opts);

// Upload raw bytes with progress (fetch() cannot report upload progress; XHR can).
export function upload(path, file, onProgress, headers = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.withCredentials = true;
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    };
    xhr.onerror = () => {
      reached(false);
      reject(new ApiError(0, t("err.network"), t("hint.network")));
    };
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300 && body) {
        resolve({ status: xhr.status, body });
      } else if (body && body.error) {
        reject(fromBody(xhr.status, body));
      } else {
        reject(new ApiError(xhr.status, t("err.http", { status: xhr.status }), t("hint.bug")));
      }
    };
    xhr.send(file);
  });
}

// POST a JSON body and save the file the server answers with (e.g. a backup archive).
export async function download(path, body, { signal } = {}) {
  let response;
  try {
    response = await fetch(path, { method: "POST", credentials: "same-origin", signal, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, t("err.network"), t("hint.network"));
  }
  if (!response.ok) throw await errorFrom(response);
  const name = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "")?.[1] || "download";
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return name;
}
