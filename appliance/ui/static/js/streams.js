// Live run streams read with fetch() + ReadableStream; no dependencies.
//
// streamLog(runId, {offset, onText, onEnd, onError, signal})
//   GET /api/runs/<id>/log?offset=N. onText(text, offset) gets decoded text and the byte offset
//   reached (raw bytes received, not characters). A dropped connection resumes from that offset
//   with the same TextDecoder, so a character split by the drop still decodes once and whole.
//   onBytes(bytes, offset), when given, gets the raw bytes instead (no decoding at all).
//   Resolves with the run's final state (also given to onEnd) once the run ended and every byte
//   arrived.
// streamEvents(runId, {after, onEvent, onEnd, onError, signal})
//   GET /api/runs/<id>/events?after=SEQ (NDJSON). onEvent(ev) per event; a dropped connection
//   resumes after the last whole event received. Resolves with the final
//   {"eof": true, "state", "count"} line (also given to onEnd; count is of the last response).
//
// Both retry dropped connections and 503 (too many streams) with backoff. Other HTTP errors are
// final: onError(err) is called and the Promise rejects with err (err.status, err.hint set).
// Aborting `signal` ends quietly: the Promise resolves with null. Each attempt tells
// connection.js whether the server was reached (a run page shows "connection lost" meanwhile).
import { reached } from "./connection.js";

const BACKOFF_START_MS = 250;
const BACKOFF_MAX_MS = 5000;

class StreamError extends Error {
  constructor(message, status, hint, code = null, params = null) {
    super(message);
    this.name = "StreamError";
    this.status = status;
    this.hint = hint;
    this.code = code;
    this.params = params || {};
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

async function httpError(response) {
  let error = `HTTP ${response.status}`;
  let hint = "";
  let code = null;
  let params = null;
  try {
    const body = await response.json();
    error = body.error || error;
    hint = body.hint || "";
    code = typeof body.code === "string" ? body.code : null;
    params = body.params || null;
  } catch {
    // not JSON: keep the status line
  }
  reached(true, code);
  return new StreamError(error, response.status, hint, code, params);
}

// Runs `attempt` until it reports the end; retries network drops and 503s with backoff.
// `attempt(signal)` returns {done: true, value} at the end, or {done: false, progressed}.
async function withRetries(attempt, signal, onError) {
  let backoff = BACKOFF_START_MS;
  for (;;) {
    if (signal?.aborted) return null;
    let outcome;
    try {
      outcome = await attempt();
    } catch (err) {
      if (signal?.aborted) return null;
      if (err instanceof StreamError && err.status !== 503) {
        onError?.(err);
        throw err;
      }
      outcome = { done: false, progressed: false };
    }
    if (outcome.done) return outcome.value;
    backoff = outcome.progressed ? BACKOFF_START_MS : Math.min(backoff * 2, BACKOFF_MAX_MS);
    await sleep(backoff, signal);
  }
}

async function open(url, signal) {
  let response;
  try {
    response = await fetch(url, { signal, credentials: "same-origin", cache: "no-store" });
  } catch (err) {
    if (err?.name !== "AbortError") reached(false);
    throw err;
  }
  if (!response.ok) throw await httpError(response);
  reached(true);
  return response.body.getReader();
}

async function runState(runId, signal) {
  try {
    const response = await fetch(`/api/runs/${runId}`, { signal, credentials: "same-origin" });
    if (!response.ok) return null;
    return (await response.json()).state ?? null;
  } catch {
    return null;
  }
}

export async function streamLog(runId, { offset = 0, onText, onBytes, onEnd, onError, signal } = {}) {
  // One decoder across reconnections; ignoreBOM keeps a leading BOM as the bytes it is.
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  let received = offset;
  const attempt = async () => {
    const start = received;
    const reader = await open(`/api/runs/${runId}/log?offset=${received}`, signal);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        received += value.byteLength;
        if (onBytes) {
          onBytes(value, received);
          continue;
        }
        const text = decoder.decode(value, { stream: true });
        if (text) onText?.(text, received);
      }
    } catch (err) {
      if (err?.name === "AbortError") throw err;
      return { done: false, progressed: received > start };
    }
    return { done: true };
  };
  const ended = await withRetries(attempt, signal, onError);
  if (ended === null) return null;
  const tail = onBytes ? "" : decoder.decode();
  if (tail) onText?.(tail, received);
  const state = await runState(runId, signal);
  onEnd?.(state);
  return state;
}

export async function streamEvents(runId, { after = 0, onEvent, onEnd, onError, signal } = {}) {
  let last = after;
  let eof = null;
  const attempt = async () => {
    const start = last;
    const decoder = new TextDecoder("utf-8");
    let pending = "";
    const reader = await open(`/api/runs/${runId}/events?after=${last}`, signal);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        pending += decoder.decode(value, { stream: true });
        let newline;
        while ((newline = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          if (!line) continue;
          const item = JSON.parse(line);
          if (item.eof) {
            eof = item;
          } else {
            last = item.seq;
            onEvent?.(item);
          }
        }
      }
    } catch (err) {
      if (err?.name === "AbortError") throw err;
      return { done: false, progressed: last > start };
    }
    // A response that ended without its eof line was cut short: resume after the last event.
    return eof ? { done: true, value: eof } : { done: false, progressed: last > start };
  };
  const result = await withRetries(attempt, signal, onError);
  if (result === null) return null;
  onEnd?.(result);
  return result;
}
