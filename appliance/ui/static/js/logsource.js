// Feeds a LogView from the server without ever holding the whole log (see docs/api.md, "The
// log window"): the tail first (GET .../log/lines?tail=1), then the live stream from where the
// tail ended (streams.js, raw bytes), other windows of lines as the user scrolls, the server's
// search and its "first error", and the line index built in the background (GET .../log/index,
// each call a bounded piece of work) until line numbers are exact.
//
// Line numbering: `endLines` counts the complete lines before `streamEnd` (the byte the live
// stream reached). It starts from the server's number for the tail (an estimate while the
// index is incomplete) and grows with every newline streamed; once the index is complete it is
// corrected to the exact count, and so are the window's numbers.
import { strip } from "./ansi.js";
import { ApiError, get } from "./api.js";
import { ERROR_RE } from "./logview.js";

const TAIL_LINES = 2000;
const WINDOW_LINES = 4000; // lines loaded around a scroll position, a search hit or an error
const NL = 10;
const LOCAL_BYTES = 1024 * 1024; // a whole log this small is searched for errors in the page

function newlines(bytes) {
  let n = 0;
  for (let i = bytes.indexOf(NL); i >= 0; i = bytes.indexOf(NL, i + 1)) n++;
  return n;
}

async function failure(response) {
  try {
    const body = await response.json();
    return new ApiError(response.status, body.error, body.hint);
  } catch {
    return new ApiError(response.status, `HTTP ${response.status}`, "");
  }
}

export class LogSource {
  constructor(runId, view, { streamLog, signal, onChange = () => {}, onEnd = () => {}, onError = () => {} }) {
    this.base = `/api/runs/${runId}/log`;
    this.runId = runId;
    this.view = view;
    this.streamLog = streamLog;
    this.signal = signal;
    this.onChange = onChange;
    this.onEnd = onEnd;
    this.onError = onError;
    this.streamEnd = 0;
    this.endLines = 0;
    this.endPartial = false;
    this.streamed = 0; // newlines received by the stream
    this.pending = null; // stream bytes held while the tail is reloaded
    this.loading = false;
    this.index = null; // the last answer of GET .../log/index
    this.action = 0; // the latest search / first error / follow: older answers are dropped
    this.paused = null; // a Promise while a search or "first error" runs: the index waits
    view.onNeed = (first, last) => this.need(first, last);
  }

  async lines(query) {
    const response = await fetch(`${this.base}/lines?${query}`, {
      credentials: "same-origin",
      cache: "no-store",
      signal: this.signal,
    });
    if (!response.ok) throw await failure(response);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const header = (name) => Number(response.headers.get(name));
    return {
      bytes,
      offset: header("X-Log-Offset"),
      line: header("X-Log-Line"),
      exact: response.headers.get("X-Log-Exact") === "1",
    };
  }

  async readIndex(query = "") {
    this.index = await get(`${this.base}/index${query ? `?${query}` : ""}`, { signal: this.signal });
    return this.index;
  }

  get total() {
    return this.endLines + (this.endPartial ? 1 : 0);
  }

  refresh() {
    this.view.total = Math.max(this.total, this.view.win.base + this.view.win.lineCount);
    this.view.schedule();
    this.onChange();
  }

  // The tail, then the live stream from its end; the index is finished in the background.
  async start() {
    const tail = await this.lines(`tail=1&count=${TAIL_LINES}`);
    const win = this.view.win;
    win.load(tail.bytes, tail.offset, tail.line, tail.exact);
    this.view.exact = tail.exact;
    this.streamEnd = win.end;
    this.endLines = tail.line + win.count;
    this.endPartial = win.lineCount > win.count;
    this.refresh();
    this.follow();
    if (!tail.exact) this.finishIndex().catch((err) => this.quiet(err));
  }

  follow() {
    this.streamLog(this.runId, {
      offset: this.streamEnd,
      signal: this.signal,
      onBytes: (bytes) => this.received(bytes),
      onEnd: (state) => this.onEnd(state),
      onError: (err) => this.onError(err),
    }).catch(() => {}); // shown by onError
  }

  received(bytes) {
    const win = this.view.win;
    const atEnd = win.end === this.streamEnd;
    const n = newlines(bytes);
    this.streamEnd += bytes.length;
    this.streamed += n;
    this.endLines += n;
    this.endPartial = bytes[bytes.length - 1] !== NL;
    if (this.pending) this.pending.push(bytes);
    else if (atEnd) {
      win.append(bytes);
      win.trim();
    }
    this.refresh();
  }

  // Rows in sight are outside the window: load the lines around them (one request at a time).
  async need(first, last) {
    if (this.loading || this.signal.aborted) return;
    this.loading = true;
    try {
      if (last + WINDOW_LINES / 2 >= this.endLines) await this.toEnd();
      else {
        const from = Math.max(0, first - WINDOW_LINES / 4);
        const got = await this.lines(`line=${from}&count=${WINDOW_LINES}`);
        // an estimated place is numbered as asked: that keeps the scroll position honest
        if (got.bytes.length) this.view.win.load(got.bytes, got.offset, got.exact ? got.line : from, got.exact);
        else await this.toEnd(); // an estimate past the end: the end it is
      }
    } catch (err) {
      this.quiet(err);
    } finally {
      this.loading = false;
      this.refresh();
    }
  }

  // Load the lines that end where the stream is, numbered from the stream's count.
  async toEnd() {
    const win = this.view.win;
    if (win.end === this.streamEnd) return;
    const end = this.streamEnd;
    const lines = this.endLines;
    this.pending = [];
    try {
      const got = await this.lines(`end=${end}&count=${WINDOW_LINES}`);
      win.load(got.bytes, got.offset, 0, this.view.exact);
      win.base = lines - win.count;
      for (const bytes of this.pending) win.append(bytes);
      win.trim();
    } finally {
      this.pending = null;
    }
  }

  async follows(on) {
    this.action++;
    this.view.setFollow(on);
    if (on && !this.loading) {
      this.loading = true;
      try {
        await this.toEnd();
      } catch (err) {
        this.quiet(err);
      } finally {
        this.loading = false;
        this.refresh();
      }
    }
  }

  // Load the lines around the line starting at byte `offset`, highlight it; its line number,
  // or null when a newer action came first.
  async jumpTo(offset, action) {
    const half = WINDOW_LINES / 2;
    const got = await this.lines(`offset=${offset}&before=${half}&count=${half}`);
    if (action !== this.action) return null;
    this.view.win.load(got.bytes, got.offset, got.line, got.exact);
    const line = this.view.win.lineAtOffset(offset);
    this.refresh();
    this.view.scrollToLine(line);
    return line;
  }

  // Run `work` with the background index build paused: the user's request goes first.
  async first(work) {
    let resume;
    const paused = new Promise((resolve) => (resume = resolve));
    this.paused = paused;
    try {
      return await work();
    } finally {
      resume();
      if (this.paused === paused) this.paused = null;
    }
  }

  find(query, dir) {
    return this.first(() => this.search(query, dir));
  }

  // The next (dir 1) or previous (dir -1) line containing `query`, wrapping once; -1 if none,
  // null when a newer action came first.
  async search(query, dir) {
    const action = ++this.action;
    const view = this.view;
    const h = view.highlight;
    const from = dir > 0 ? 0 : this.streamEnd;
    let offset = h >= 0 && view.win.has(h) ? (dir > 0 ? view.win.endOf(h) : view.win.startOf(h)) : from;
    let wrapped = false;
    for (;;) {
      const q = `q=${encodeURIComponent(query)}&offset=${offset}&dir=${dir > 0 ? "next" : "prev"}`;
      const answer = await get(`${this.base}/search?${q}`, { signal: this.signal });
      if (action !== this.action) return null;
      if (answer.found) return this.jumpTo(answer.found.offset, action);
      if (answer.more) offset = answer.next;
      else if (wrapped) return -1;
      else {
        wrapped = true;
        offset = from;
      }
    }
  }

  // The first error without a request, when the window holds the whole (small) log; else null.
  firstErrorHere() {
    this.action++;
    const win = this.view.win;
    if (win.offset !== 0 || win.end !== this.streamEnd || win.len > LOCAL_BYTES) return null;
    let line = -1;
    let count = 0;
    for (let i = win.base; i < win.base + win.lineCount; i++) {
      if (!ERROR_RE.test(strip(win.text(i)))) continue;
      if (line < 0) line = i;
      count++;
    }
    if (line >= 0) this.view.scrollToLine(line);
    return { line, count, complete: true };
  }

  // The first error line: {line, count, complete, counted}; while the count is still partial,
  // `counted` is a Promise of the final count (null if a newer action came first).
  firstError() {
    return this.first(() => this.findFirstError());
  }

  async findFirstError() {
    const action = ++this.action;
    let index = await this.readIndex("errors=1");
    while (!index.first_error && !index.errors_complete && !this.signal.aborted) {
      index = await this.readIndex("errors=1");
    }
    if (action !== this.action) return null;
    if (!index.first_error) return { line: -1, count: 0, complete: true };
    const line = await this.jumpTo(index.first_error.offset, action);
    if (line === null) return null;
    const complete = index.errors_complete;
    return { line, count: index.errors, complete, counted: complete ? null : this.countErrors(action) };
  }

  async countErrors(action) {
    let index = this.index;
    while (!index.errors_complete && action === this.action && !this.signal.aborted) {
      index = await this.readIndex("errors=1");
    }
    return action === this.action ? index.errors : null;
  }

  // Build the rest of the index, then make every line number exact.
  async finishIndex() {
    let at;
    let streamed;
    for (;;) {
      while (this.paused) await this.paused;
      if (this.signal.aborted) return;
      streamed = this.streamed;
      const index = await this.readIndex(`at=${this.streamEnd}`);
      if (index.complete && index.at.exact) {
        at = index.at;
        break;
      }
      this.onChange();
    }
    this.endLines = at.line + (this.streamed - streamed);
    const win = this.view.win;
    const before = win.base;
    if (win.end === this.streamEnd) win.base = this.endLines - win.count;
    else {
      const offset = win.offset;
      const line = (await this.readIndex(`at=${offset}`)).at.line;
      if (win.offset === offset) win.base = line; // unless another window came meanwhile
    }
    win.exact = true;
    this.view.exact = true;
    if (this.view.highlight >= 0) this.view.highlight += win.base - before;
    this.refresh();
  }

  quiet(err) {
    if (err?.name === "AbortError" || this.signal.aborted) return;
    this.onError(err);
  }
}
