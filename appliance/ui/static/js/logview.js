// A terminal-like log view that stays smooth, and small, at any log size.
//
// The scroll area has the height of every line of the log (`total`, known from the server,
// estimated while its line index is built), but the text of only a bounded window of lines is
// held (`LogWindow`: raw bytes, line starts, one byte of ANSI style per line). When the rows in
// sight are outside the window, `onNeed(first, last)` asks the owner to load them; until then
// those rows stay empty. The DOM holds only the rows in sight: a spacer gives the height
// (scaled down past MAX_PX, which browsers cannot lay out), and a pool of fixed-height rows is
// moved to the visible part and refilled on scroll, batched into one animation frame.
import { renderInto, strip } from "./ansi.js";
import { LogWindow } from "./logwindow.js";

export const ERROR_RE = /fatal:|FAILED!|ERROR|failed=[1-9]|unreachable=[1-9]/;
const MAX_PX = 8_000_000;
const OVERSCAN = 10;

export class LogView {
  constructor(container, { rowHeight = 18, onFollowChange = () => {}, onNeed = () => {} } = {}) {
    this.rowHeight = rowHeight;
    this.onFollowChange = onFollowChange;
    this.onNeed = onNeed;
    this.win = new LogWindow();
    this.total = 0; // lines of the log, an unfinished last one included
    this.exact = true; // false while `total` and line numbers are estimates
    this.follow = true;
    this.highlight = -1;
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

  get lineCount() {
    return this.total;
  }

  reset() {
    this.win = new LogWindow();
    this.total = 0;
    this.exact = true;
    this.highlight = -1;
    this.schedule();
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
    const n = this.total;
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
    let missing = false;
    for (let i = 0; i < this.pool.length; i++) {
      const row = this.pool[i];
      const idx = first + i;
      const shown = idx < last && this.win.has(idx);
      if (idx < last && !shown) missing = true;
      if (!shown) {
        if (row.dataset.line !== "") {
          row.replaceChildren();
          row.dataset.line = "";
          row._text = undefined;
          row.hidden = idx >= last;
        }
        continue;
      }
      const line = this.win.text(idx);
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
      num.textContent = this.exact && this.win.exact ? key : `~${key}`;
      row.replaceChildren(num);
      renderInto(row, line, this.win.stateAt(idx));
    }
    if (missing) this.onNeed(Math.max(0, Math.floor(exact)), Math.min(g.n, first + count));
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
    if (idx < 0 || idx >= this.total) return;
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

  destroy() {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.resizeObserver.disconnect();
    this.viewport.remove();
  }
}
