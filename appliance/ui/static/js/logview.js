// A terminal-like log view that stays smooth at millions of lines.
//
// The text lives in the chunks it arrived in (never in the DOM); per line only its position
// (chunk, offset) and one byte of ANSI style state are kept, in typed arrays, so a million lines
// cost a few MB beyond the text and no per-line string exists until the line is shown.
// The DOM holds only the rows in sight: a spacer gives the scroll area the height of all
// lines (scaled down past MAX_PX, which browsers cannot lay out), and a pool of fixed-height
// row elements is moved to the visible window and refilled on scroll. Rendering is batched
// into one animation frame however fast text arrives.
import { applySgrAt, renderInto, strip } from "./ansi.js";

export const ERROR_RE = /fatal:|FAILED!|ERROR|failed=[1-9]|unreachable=[1-9]/;
const MAX_PX = 8_000_000;
const OVERSCAN = 10;

export class LogView {
  constructor(container, { rowHeight = 18, onFollowChange = () => {} } = {}) {
    this.rowHeight = rowHeight;
    this.onFollowChange = onFollowChange;
    this.resetText();
    this.follow = true;
    this.highlight = -1;
    this.errorScan = { upTo: 0, found: [] };
    this.frame = 0;

    this.viewport = document.createElement("div");
    this.viewport.className = "logview";
    this.viewport.tabIndex = 0;
    this.spacer = document.createElement("div");
    this.spacer.className = "log-spacer";
    this.rowsEl = document.createElement("div");
    this.rowsEl.className = "log-rows";
    this.spacer.append(this.rowsEl);
    this.viewport.append(this.spacer);
    container.append(this.viewport);
    this.pool = [];
    this.viewport.addEventListener("scroll", () => this.onScroll(), { passive: true });
    this.resizeObserver = new ResizeObserver(() => this.schedule());
    this.resizeObserver.observe(this.viewport);
  }

  resetText() {
    this.chunks = []; // strings, each ending just after its last complete line's newline
    this.count = 0; // complete lines
    this.lineChunk = new Uint32Array(1024);
    this.lineStart = new Uint32Array(1024);
    this.states = new Uint8Array(1024); // style in effect at each line's start
    this.state = 0; // style after the last complete line
    this.partial = "";
  }

  get lineCount() {
    return this.count + (this.partial ? 1 : 0);
  }

  lineAt(i) {
    let line = this.partial;
    if (i < this.count) {
      const c = this.lineChunk[i];
      const chunk = this.chunks[c];
      const next = i + 1 < this.count && this.lineChunk[i + 1] === c;
      line = chunk.slice(this.lineStart[i], next ? this.lineStart[i + 1] - 1 : chunk.length - 1);
    }
    if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
    const cr = line.lastIndexOf("\r");
    return cr >= 0 ? line.slice(cr + 1) : line; // a progress line shows its last state
  }

  stateAt(i) {
    return i < this.count ? this.states[i] : this.state;
  }

  reset() {
    this.resetText();
    this.highlight = -1;
    this.errorScan = { upTo: 0, found: [] };
    this.schedule();
  }

  grow(need) {
    let size = this.states.length;
    while (size < need) size *= 2;
    for (const name of ["lineChunk", "lineStart", "states"]) {
      const grown = new this[name].constructor(size);
      grown.set(this[name]);
      this[name] = grown;
    }
  }

  // One pass of indexOf over the text: the line starts, and the SGR codes at each ESC.
  append(text) {
    if (!text) return;
    let chunk = this.partial ? this.partial + text : text;
    const lastNl = chunk.lastIndexOf("\n");
    if (lastNl < 0) {
      this.partial = chunk;
      this.schedule();
      return;
    }
    this.partial = chunk.slice(lastNl + 1);
    chunk = chunk.slice(0, lastNl + 1);
    const c = this.chunks.length;
    this.chunks.push(chunk);
    let n = this.count;
    let state = this.state;
    let pos = 0;
    let esc = chunk.indexOf("\x1b");
    for (;;) {
      const nl = chunk.indexOf("\n", pos);
      if (nl < 0) break;
      if (n >= this.states.length) this.grow(n + 1);
      this.lineChunk[n] = c;
      this.lineStart[n] = pos;
      this.states[n] = state;
      while (esc >= 0 && esc < nl) {
        state = applySgrAt(chunk, esc, state);
        esc = chunk.indexOf("\x1b", esc + 1);
      }
      n++;
      pos = nl + 1;
    }
    this.count = n;
    this.state = state;
    this.schedule();
  }

  // The stream ended: a last line without its newline becomes a line.
  finish() {
    if (this.partial) this.append("\n");
  }

  setFollow(on) {
    if (this.follow === on) return;
    this.follow = on;
    this.onFollowChange(on);
    if (on) this.schedule();
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  geometry() {
    const n = this.lineCount;
    const total = n * this.rowHeight;
    const height = Math.min(total, MAX_PX);
    const viewH = this.viewport.clientHeight;
    return { n, total, height, viewH, maxScroll: Math.max(0, height - viewH) };
  }

  // First line at the top of the viewport (fractional), for a scroll position.
  lineAtScroll(scrollTop, g) {
    if (g.total <= MAX_PX) return scrollTop / this.rowHeight;
    const frac = g.maxScroll > 0 ? scrollTop / g.maxScroll : 0;
    return frac * Math.max(0, g.n - g.viewH / this.rowHeight);
  }

  scrollForLine(line, g) {
    if (g.total <= MAX_PX) return line * this.rowHeight;
    const span = Math.max(1, g.n - g.viewH / this.rowHeight);
    return (line / span) * g.maxScroll;
  }

  render() {
    const g = this.geometry();
    this.spacer.style.height = `${g.height}px`;
    if (this.follow) {
      this.autoScroll = true;
      this.viewport.scrollTop = g.maxScroll;
    }
    const scrollTop = this.viewport.scrollTop;
    const exact = this.lineAtScroll(scrollTop, g);
    const first = Math.max(0, Math.floor(exact) - OVERSCAN);
    const count = Math.ceil(g.viewH / this.rowHeight) + 2 * OVERSCAN + 1;
    const last = Math.min(g.n, first + count);
    const top = scrollTop - (exact - first) * this.rowHeight;
    this.rowsEl.style.transform = `translateY(${Math.max(0, top)}px)`;
    while (this.pool.length < last - first) {
      const row = document.createElement("div");
      row.className = "log-row";
      this.rowsEl.append(row);
      this.pool.push(row);
    }
    for (let i = 0; i < this.pool.length; i++) {
      const row = this.pool[i];
      const idx = first + i;
      if (idx >= last) {
        if (row.dataset.line !== "") {
          row.replaceChildren();
          row.dataset.line = "";
          row.hidden = true;
        }
        continue;
      }
      const line = this.lineAt(idx);
      const key = `${idx + 1}`;
      const isHit = idx === this.highlight;
      if (row.dataset.line === key && row._text === line && row._hit === isHit) continue;
      row.hidden = false;
      row.dataset.line = key;
      row._text = line;
      row._hit = isHit;
      const plain = strip(line);
      row.className = "log-row" + (isHit ? " log-hit" : "") + (ERROR_RE.test(plain) ? " log-err" : "");
      const num = document.createElement("span");
      num.className = "ln";
      num.textContent = key;
      row.replaceChildren(num);
      renderInto(row, line, this.stateAt(idx));
    }
  }

  onScroll() {
    if (this.autoScroll) {
      this.autoScroll = false;
    } else {
      const g = this.geometry();
      const atBottom = this.viewport.scrollTop >= g.maxScroll - this.rowHeight;
      if (this.follow && !atBottom) this.setFollow(false);
    }
    this.schedule();
  }

  scrollToLine(idx, { highlight = true } = {}) {
    if (idx < 0 || idx >= this.lineCount) return;
    this.setFollow(false);
    if (highlight) this.highlight = idx;
    const g = this.geometry();
    this.spacer.style.height = `${g.height}px`;
    // centre the line: work in lines, since past MAX_PX a scroll pixel is not a content pixel
    const topLine = Math.max(0, idx - g.viewH / this.rowHeight / 2 + 0.5);
    const target = this.scrollForLine(topLine, g);
    this.viewport.scrollTop = Math.max(0, Math.min(g.maxScroll, target));
    this.schedule();
  }

  // Next (dir 1) or previous (dir -1) line containing `query` (case-insensitive), wrapping.
  find(query, dir = 1) {
    const n = this.lineCount;
    if (!query || !n) return -1;
    const needle = query.toLowerCase();
    const start = this.highlight >= 0 ? this.highlight : dir > 0 ? -1 : n;
    for (let k = 1; k <= n; k++) {
      const idx = (((start + dir * k) % n) + n) % n;
      if (strip(this.lineAt(idx)).toLowerCase().includes(needle)) return idx;
    }
    return -1;
  }

  // Lines that look like errors, scanned incrementally as the log grows.
  errors() {
    const scan = this.errorScan;
    for (; scan.upTo < this.count; scan.upTo++) {
      if (ERROR_RE.test(strip(this.lineAt(scan.upTo)))) scan.found.push(scan.upTo);
    }
    return scan.found;
  }

  destroy() {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.resizeObserver.disconnect();
    this.viewport.remove();
  }
}
