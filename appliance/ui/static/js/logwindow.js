// A bounded window of a log: a run of whole lines as the raw bytes they are, plus where each
// line starts (Uint32Array) and the ANSI style in effect at its start (one byte each).
//
// The window knows the byte offset of its first byte and the number of its first line (exact,
// or an estimate while the server's line index is being built). Bytes appended at its end (the
// live tail) are scanned once for newlines; past MAX_BYTES the oldest lines are dropped, so the
// page's memory stays bounded whatever the size of the log. Text is decoded per line, only when
// a line is shown.
import { applySgrAt } from "./ansi.js";

export const MAX_BYTES = 8 * 1024 * 1024;
export const KEEP_BYTES = 4 * 1024 * 1024;
const NL = 10;
const ESC = 27;
const decoder = new TextDecoder("utf-8");

export class LogWindow {
  constructor() {
    this.load(new Uint8Array(0), 0, 0, true);
  }

  // Replace the contents: `bytes` start at byte `offset` of the log, on line number `line`.
  load(bytes, offset, line, exact) {
    this.bytes = new Uint8Array(Math.max(64 * 1024, bytes.length));
    this.len = 0;
    this.offset = offset;
    this.base = line;
    this.exact = exact;
    this.starts = new Uint32Array(1024);
    this.states = new Uint8Array(1024);
    this.count = 0; // complete lines
    this.scanned = 0; // bytes up to the end of the last complete line
    this.state = 0; // style after the last complete line (unknown before a window: plain)
    this.append(bytes);
  }

  get end() {
    return this.offset + this.len;
  }

  // Lines, counting an unfinished last line.
  get lineCount() {
    return this.count + (this.len > this.scanned ? 1 : 0);
  }

  has(line) {
    const k = line - this.base;
    return k >= 0 && k < this.lineCount;
  }

  append(bytes) {
    if (!bytes.length) return;
    if (this.len + bytes.length > this.bytes.length) {
      let size = this.bytes.length;
      while (size < this.len + bytes.length) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.bytes.subarray(0, this.len));
      this.bytes = grown;
    }
    this.bytes.set(bytes, this.len);
    this.len += bytes.length;
    this.scan();
  }

  scan() {
    const view = this.bytes.subarray(0, this.len);
    let pos = this.scanned;
    let state = this.state;
    for (;;) {
      const nl = view.indexOf(NL, pos);
      if (nl < 0) break;
      if (this.count >= this.starts.length) this.grow(this.count + 1);
      this.starts[this.count] = pos;
      this.states[this.count] = state;
      const esc = view.indexOf(ESC, pos);
      if (esc >= 0 && esc < nl) {
        const text = decoder.decode(view.subarray(pos, nl));
        for (let i = text.indexOf("\x1b"); i >= 0; i = text.indexOf("\x1b", i + 1)) {
          state = applySgrAt(text, i, state);
        }
      }
      this.count++;
      pos = nl + 1;
    }
    this.scanned = pos;
    this.state = state;
  }

  grow(need) {
    let size = this.starts.length;
    while (size < need) size *= 2;
    for (const name of ["starts", "states"]) {
      const grown = new this[name].constructor(size);
      grown.set(this[name]);
      this[name] = grown;
    }
  }

  // Keep the newest `keep` bytes (whole lines), once the window is past MAX_BYTES.
  trim(keep = KEEP_BYTES) {
    if (this.len <= MAX_BYTES) return;
    const from = this.len - keep;
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid] < from) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0 || lo >= this.count) return;
    const cut = this.starts[lo];
    this.bytes.copyWithin(0, cut, this.len);
    this.len -= cut;
    this.scanned -= cut;
    this.offset += cut;
    this.base += lo;
    for (let k = lo; k < this.count; k++) this.starts[k - lo] = this.starts[k] - cut;
    this.states.copyWithin(0, lo, this.count);
    this.count -= lo;
  }

  // Byte range [start, end) of local line k, without its newline.
  span(k) {
    if (k >= this.count) return [this.scanned, this.len];
    return [this.starts[k], k + 1 < this.count ? this.starts[k + 1] - 1 : this.scanned - 1];
  }

  // The text of global line `line` as a terminal shows it.
  text(line) {
    const [a, b] = this.span(line - this.base);
    let s = decoder.decode(this.bytes.subarray(a, b));
    if (s.charCodeAt(s.length - 1) === 13) s = s.slice(0, -1);
    const cr = s.lastIndexOf("\r");
    return cr >= 0 ? s.slice(cr + 1) : s; // a progress line shows its last state
  }

  stateAt(line) {
    const k = line - this.base;
    return k < this.count ? this.states[k] : this.state;
  }

  // Log byte offsets where global line `line` starts and where the next one starts.
  startOf(line) {
    return this.offset + this.span(line - this.base)[0];
  }

  endOf(line) {
    const k = line - this.base;
    return this.offset + (k + 1 < this.count ? this.starts[k + 1] : k < this.count ? this.scanned : this.len);
  }

  // Global line number of the line starting at log byte `offset` (-1 if not in the window).
  lineAtOffset(offset) {
    const rel = offset - this.offset;
    if (rel === this.scanned && this.len > this.scanned) return this.base + this.count;
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid] < rel) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.count && this.starts[lo] === rel ? this.base + lo : -1;
  }
}
