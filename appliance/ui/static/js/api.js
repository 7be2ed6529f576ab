// Talking to the local server. Every failure becomes an ApiError carrying the server's
// "error" and "hint", so screens can always show what went wrong and what to do.
import { t } from "./i18n.js";

export class ApiError extends Error {
  constructor(status, message, hint, fields) {
    super(message);
    this.status = status;
    this.hint = hint || "";
    this.fields = fields || null; // {name: message} when the server named fields
    this.name = "ApiError";
  }
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (body && typeof body.error === "string") {
    return new ApiError(response.status, body.error, body.hint, body.fields);
  }
  return new ApiError(response.status, t("err.http", { status: response.status }), t("hint.bug"));
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
    throw new ApiError(0, t("err.network"), t("hint.network"));
  }
  if (!response.ok) throw await errorFrom(response);
  if (response.status === 204) return null;
  return response.json();
}

export const get = (path, opts) => api("GET", path, undefined, opts);
export const post = (path, body, opts) => api("POST", path, body === undefined ? {} : body, opts);
export const put = (path, body, opts) => api("PUT", path, body, opts);
export const del = (path, opts) => api("DELETE", path, undefined, opts);

// Upload raw bytes with progress (fetch() cannot report upload progress; XHR can).
export function upload(path, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.withCredentials = true;
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    };
    xhr.onerror = () => reject(new ApiError(0, t("err.network"), t("hint.network")));
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
        reject(new ApiError(xhr.status, body.error, body.hint));
      } else {
        reject(new ApiError(xhr.status, t("err.http", { status: xhr.status }), t("hint.bug")));
      }
    };
    xhr.send(file);
  });
}
