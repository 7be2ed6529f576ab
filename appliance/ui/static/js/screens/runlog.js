// The run screen's terminal log: toolbar (follow, search, first error, status) and the view,
// fed by a LogSource (a window of the log, fetched as the user scrolls, searches or follows).
import { h } from "../dom.js";
import { connectionState } from "../connection.js";
import { locale, t } from "../i18n.js";
import { LogSource } from "../logsource.js";
import { LogView } from "../logview.js";
import { errorBox } from "../ui.js";

export class RunLog {
  constructor(id, { streamLog, onEnd }) {
    this.id = id;
    this.streamLog = streamLog;
    this.onEnd = onEnd;
    this.ended = false;
    this.found = "";
    this.source = null;
    this.errorSlot = h("div", { class: "slot", id: "log-error" });
    this.status = h("span", { class: "muted", id: "log-status" });
    const wrap = h("div", { class: "log-wrap" });
    this.followBtn = h("button", { type: "button", id: "follow", "aria-pressed": "true" }, t("log.follow"));
    this.search = h("input", { type: "search", id: "log-search", placeholder: t("log.search") });
    const prevBtn = h("button", { type: "button", id: "search-prev", title: t("log.prev") }, "↑");
    const nextBtn = h("button", { type: "button", id: "search-next", title: t("log.next") }, "↓");
    const errorBtn = h("button", { type: "button", id: "first-error" }, t("log.firstError"));
    const toolbar = h("div", { class: "log-toolbar" }, this.followBtn, this.search, prevBtn, nextBtn, errorBtn, this.status);
    this.elements = [toolbar, this.errorSlot, wrap];
    this.view = new LogView(wrap, {
      onFollowChange: (on) => this.followBtn.setAttribute("aria-pressed", on ? "true" : "false"),
    });
    this.followBtn.addEventListener("click", () => this.source?.follows(!this.view.follow));
    prevBtn.addEventListener("click", () => this.find(-1));
    nextBtn.addEventListener("click", () => this.find(1));
    this.search.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        this.find(e.shiftKey ? -1 : 1);
      }
    });
    this.search.addEventListener("input", () => {
      this.view.highlight = -1;
      this.found = "";
    });
    errorBtn.addEventListener("click", () => this.firstError());
  }

  // (Re)start from the tail, live; `signal` ends this stream and every request of it.
  start(signal, retry) {
    this.view.reset();
    this.view.setFollow(true);
    this.ended = false;
    this.found = "";
    this.errorSlot.replaceChildren();
    this.retry = retry;
    let pending = 0;
    this.source = new LogSource(this.id, this.view, {
      streamLog: this.streamLog,
      signal,
      // the line count follows the text within 100 ms, not only on the 500 ms tick
      onChange: () => {
        if (!pending) {
          pending = setTimeout(() => {
            pending = 0;
            this.update();
          }, 100);
        }
      },
      onEnd: (state) => {
        this.ended = true;
        this.update();
        this.onEnd(state);
      },
      onError: (err) => {
        if (!signal.aborted) this.showError(err);
      },
    });
    this.update(); // "0 lines · live" at once, not after the first tick
    this.source.start().catch((err) => this.source.quiet(err));
  }

  showError(err) {
    this.errorSlot.replaceChildren(
      h("div", {}, errorBox(err), h("button", { type: "button", onclick: this.retry }, t("common.retry"))),
    );
  }

  async find(dir) {
    if (!this.source || !this.search.value) return;
    try {
      const line = await this.source.find(this.search.value, dir);
      if (line === null) return; // a newer action answers instead
      this.found = line < 0 ? t("log.notFound") : t("log.atLine", { line: this.number(line) });
    } catch (err) {
      this.source.quiet(err);
    }
    this.update();
  }

  async firstError() {
    if (!this.source) return;
    try {
      // a small log answers at once, without a request; a big one asks the server's index
      const answer = this.source.firstErrorHere() || (await this.source.firstError());
      if (answer === null) return; // a newer action answers instead
      const { line, count, complete, counted } = answer;
      if (line < 0) this.found = t("log.noErrors");
      else {
        const key = complete ? "log.errorAt" : "log.errorAtSoFar";
        this.found = t(key, { line: this.number(line), count: count.toLocaleString(locale()) });
      }
      counted?.then((total) => {
        if (total === null) return;
        this.found = t("log.errorAt", { line: this.number(line), count: total.toLocaleString(locale()) });
        this.update();
      }, (err) => this.source.quiet(err));
    } catch (err) {
      this.source.quiet(err);
    }
    this.update();
  }

  // A line number as shown: "~" marks an estimate (the server's index is being built).
  number(line) {
    const n = (line + 1).toLocaleString(locale());
    return this.view.exact && this.view.win.exact ? n : `~${n}`;
  }

  update() {
    const n = this.view.lineCount.toLocaleString(locale());
    const lines = t("log.lines", { n: this.view.exact ? n : `~${n}` });
    const live = connectionState() === "ok" ? t("log.live") : t("run.connectionLost");
    this.status.textContent = [lines, this.ended ? t("log.ended") : live, this.found].filter(Boolean).join(" · ");
  }

  destroy() {
    this.view.destroy();
  }
}
