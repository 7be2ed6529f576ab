// One run: state and facts, error with hint, cancel / resume / rollback / report / raw log,
// steps with elapsed time, host x step progress from the event stream (with each host's task
// of the running step), and the live terminal log. While the server cannot be reached a run
// that has not ended shows "connection lost", not its last known state.
import { get, post } from "../api.js";
import { connectionState, onConnection } from "../connection.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { checksView } from "./checks.js";
import { RESUMABLE } from "../states.js";
import { relatedRuns } from "./history.js";
import { RunLog } from "./runlog.js";
import {
  TERMINAL,
  busy,
  elapsed,
  errorBox,
  fmtDuration,
  fmtTime,
  showError,
  siteName,
  stateBadge,
  stepName,
} from "../ui.js";

const RESULT_KEYS = ["ok", "changed", "failed", "unreachable", "skipped"];
// shown in a cell: a finished step's recap also says what Ansible rescued and ignored
const SHOWN_KEYS = [...RESULT_KEYS, "rescued", "ignored"];

// What an Ansible event says about its host's task: one of RESULT_KEYS, "start", or null.
export function eventResult(ev) {
  const name = ev.event || "";
  if (name === "runner_on_failed" || ev.status === "failed") return "failed";
  if (name === "runner_on_unreachable" || ev.status === "unreachable") return "unreachable";
  if (name === "runner_on_skipped" || ev.status === "skipped") return "skipped";
  if (name === "runner_on_ok" || ev.status === "ok" || ev.status === "changed") {
    return ev.changed || ev.status === "changed" ? "changed" : "ok";
  }
  if (name === "runner_on_start") return "start";
  return null;
}

class HostGrid {
  constructor() {
    this.cells = new Map(); // "host\tstep" -> counts
    this.hosts = [];
    this.el = h("div", { class: "host-grid-wrap" });
  }

  // The step of an event: its idx in the run, as in the run's "steps" (the stream sends it).
  stepIdx(ev) {
    return ev.step === null || ev.step === undefined ? null : ev.step;
  }

  add(ev) {
    const step = this.stepIdx(ev);
    const result = eventResult(ev);
    if (!result || !ev.host || step === null) return false;
    if (!this.hosts.includes(ev.host)) this.hosts.push(ev.host);
    const key = `${ev.host}\t${step}`;
    let c = this.cells.get(key);
    if (!c) {
      c = { ok: 0, changed: 0, failed: 0, unreachable: 0, skipped: 0, task: "" };
      this.cells.set(key, c);
    }
    if (result === "start") c.task = ev.task || "";
    else {
      c[result] += 1;
      if (result === "changed") c.ok += 1; // as Ansible's recap counts: changed tasks are ok too
    }
    return true;
  }

  render(run) {
    const steps = run.steps || [];
    if (!this.hosts.length) {
      for (const host of Object.keys(run.hosts || {})) this.hosts.push(host);
    }
    if (!this.hosts.length || !steps.length) {
      this.el.replaceChildren(h("p", { class: "muted" }, t("run.noHostsYet")));
      return;
    }
    const head = h("tr", {}, h("th", {}, t("run.host")), steps.map((s) => h("th", { title: stepName(s) }, stepName(s))));
    const rows = this.hosts.map((host) =>
      h(
        "tr",
        { dataset: { host } },
        h("th", {}, host),
        steps.map((s) => {
          // a finished step shows Ansible's own recap of its last attempt; else its events
          const recap = run.step_hosts && run.step_hosts[s.idx] && run.step_hosts[s.idx][host];
          const c = recap ? { ...recap, task: "" } : this.cells.get(`${host}\t${s.idx}`);
          const now = s.state === "running" && c && c.task ? c.task : "";
          let cls = "cell-pending";
          let text = "";
          if (c) {
            if (c.failed || c.unreachable) cls = "cell-failed";
            else if (s.state === "running") cls = "cell-running";
            else if (c.changed) cls = "cell-changed";
            else if (c.ok) cls = "cell-ok";
            else if (c.skipped) cls = "cell-skipped";
            else cls = s.state === "running" ? "cell-running" : "cell-pending";
            text = SHOWN_KEYS.filter((k) => c[k]).map((k) => `${t(`result.${k}`)} ${c[k]}`).join(" · ");
          } else if (s.state === "running") cls = "cell-running";
          else if (s.state === "skipped") cls = "cell-skipped";
          const task = now ? h("div", { class: "current-task" }, t("run.currentTask", { task: now })) : null;
          return h("td", { class: `cell ${cls}`, title: c && c.task ? c.task : "" }, text || (now ? "" : "·"), task);
        }),
      ),
    );
    this.el.replaceChildren(h("table", { class: "grid host-grid", id: "host-grid" }, h("thead", {}, head), h("tbody", {}, rows)));
  }
}

function stepsTable(run) {
  return h(
    "table",
    { class: "grid", id: "steps-table" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["#", t("plan.step"), t("plan.kind"), t("common.component"), t("plan.from"), t("plan.to"), t("common.state"), t("run.elapsed"), "rc"].map((x) =>
          h("th", {}, x),
        ),
      ),
    ),
    h(
      "tbody",
      {},
      (run.steps || []).map((s) =>
        h(
          "tr",
          { class: `step step-${s.state}`, dataset: { idx: String(s.idx) } },
          h("td", {}, String(s.idx)),
          h("td", {}, stepName(s)),
          h("td", {}, t(`kind.${s.kind}`)),
          h("td", {}, s.component || "—"),
          h("td", {}, s.from_version || "—"),
          h("td", {}, s.to_version || "—"),
          h("td", {}, stateBadge(s.state)),
          h(
            "td",
            { class: "elapsed", dataset: s.state === "running" ? { start: s.started_at } : {} },
            fmtDuration(elapsed(s.started_at, s.finished_at)),
          ),
          h("td", {}, s.rc === null || s.rc === undefined ? "—" : String(s.rc)),
        ),
      ),
    ),
  );
}

// The run's facts (header, error with hint).
function renderHead(run, id, head, errSlot) {
  head.replaceChildren(
    h("h2", {}, t("run.title", { id }), " ", shownState(run)),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, t("common.site")),
      h("dd", {}, siteName(run.site)),
      h("dt", {}, t("common.bundle")),
      h("dd", {}, [typeof run.bundle === "object" && run.bundle ? run.bundle.name : run.bundle, run.version].filter(Boolean).join(" ")),
      h("dt", {}, t("common.action")),
      h("dd", {}, t(`action.${run.action}`)),
      h("dt", {}, t("run.trigger")),
      h("dd", {}, run.trigger ? t(`trigger.${run.trigger}`) : "—"),
      ...related(run),
      h("dt", {}, t("run.started")),
      h("dd", {}, fmtTime(run.started_at || run.created_at)),
      h("dt", {}, t("run.finished")),
      h("dd", {}, fmtTime(run.finished_at)),
      h("dt", {}, t("run.duration")),
      h("dd", { class: "elapsed", id: "run-duration", dataset: TERMINAL.has(run.state) ? {} : { start: run.started_at || "" } }, fmtDuration(elapsed(run.started_at, run.finished_at))),
    ),
  );
  if (run.error) errSlot.replaceChildren(errorBox(runError(run)));
  else errSlot.replaceChildren();
}

// An ended run's error in the window's words: what happened where (from its state and steps),
// the appliance's own record of it (Ansible's words: data, as sent), and what to do here.
function runError(run) {
  if (!RESUMABLE.includes(run.state)) return { message: run.error, hint: run.hint };
  const headline = `runError.${run.state}`;
  const step = (run.steps || []).find((s) => s.state === run.state || (run.state === "failed" && s.state === "failed"));
  const message = step ? t(headline, { step: `${step.idx} (${stepName(step)})` }) : t(`${headline}Run`);
  return { message, detail: run.error, detailLabel: t("runError.detail"), hint: windowHint(run) || run.hint };
}

function related(run) {
  const links = relatedRuns(run);
  if (!links.length) return [];
  return [h("dt", {}, t("run.related")), h("dd", { id: "related-runs" }, links.flatMap((a, i) => (i ? [" · ", a] : [a])))];
}

// The run's state, or "connection lost" while a run that has not ended cannot be followed.
function shownState(run) {
  if (TERMINAL.has(run.state) || connectionState() === "ok") return stateBadge(run.state);
  return h("span", { class: "badge state-lost", dataset: { connection: connectionState() } }, t("run.connectionLost"));
}

// What to do about an ended run, in this window's terms: the buttons it offers now (the
// server's hint names the commands, for the command line).
function windowHint(run) {
  if (!RESUMABLE.includes(run.state)) return "";
  const allowed = new Set(run.actions || []);
  const parts = run.state === "failed" ? [t("runHint.failed")] : [];
  if (allowed.has("resume")) parts.push(t("runHint.resume", { button: t("run.resume") }));
  if (allowed.has("rollback")) parts.push(t("runHint.rollback", { button: t("run.rollback") }));
  if (!allowed.has("resume") && !allowed.has("rollback")) parts.push(t("runHint.newRun"));
  return parts.join(" ");
}

// The buttons of the actions the server says the run allows now (GET /api/runs/<id>
// "actions"; a refused one has its reason in "refused" and no button).
function actionButtons(run, id, actionSlot, { refresh, restart }) {
  const allowed = new Set(run.actions || []);
  const buttons = [];
  if (allowed.has("cancel")) {
    const b = h("button", { type: "button", class: "danger", id: "cancel-run" }, t("run.cancel"));
    b.addEventListener("click", () => {
      if (!confirm(t("run.cancelConfirm"))) return;
      busy(b, actionSlot, async () => {
        await post(`/api/runs/${id}/cancel`);
        await refresh();
      });
    });
    buttons.push(b);
  }
  if (allowed.has("resume")) {
    const b = h("button", { type: "button", class: "primary", id: "resume-run" }, t("run.resume"));
    b.addEventListener("click", () =>
      busy(b, actionSlot, async () => {
        const answer = await post(`/api/runs/${id}/resume`);
        if (answer && answer.id && Number(answer.id) !== id) location.hash = `#/runs/${answer.id}`;
        else {
          await refresh();
          restart();
        }
      }),
    );
    buttons.push(b);
  }
  if (allowed.has("rollback")) {
    const b = h("button", { type: "button", id: "rollback-run" }, t("run.rollback"));
    b.addEventListener("click", () => {
      if (!confirm(t("run.rollbackConfirm"))) return;
      busy(b, actionSlot, async () => {
        const bundle = typeof run.bundle === "object" && run.bundle ? run.bundle.name : run.bundle;
        const created = await post("/api/runs", { site: siteName(run.site), bundle, version: run.version, action: "rollback" });
        location.hash = `#/runs/${created.id}`;
      });
    });
    buttons.push(b);
  }
  const log = h("a", { class: "button", id: "raw-log-link", href: `/api/runs/${id}/output.log`, download: `run-${id}-output.log`, title: t("run.rawLogHelp") }, t("run.rawLog"));
  if (allowed.has("report")) {
    buttons.push(h("a", { class: "button", id: "report-link", href: `/api/runs/${id}/report`, download: `run-${id}-report.html` }, t("run.report")));
  }
  buttons.push(log);
  return buttons;
}

export async function render(root, { params, signal }) {
  const id = Number(params[0]);
  // Loaded here, not at the top: a problem in the streams module then breaks this screen
  // only, visibly, instead of the whole page.
  const { streamEvents, streamLog } = await import("../streams.js");
  const timers = [];
  const head = h("div", { class: "run-head" });
  const errSlot = h("div", { class: "slot", id: "run-error" });
  const actionSlot = h("div", { class: "slot" });
  const actions = h("div", { class: "run-actions" });
  const stepsSlot = h("div", {});
  const checksSlot = h("div", { id: "run-checks" }); // pass / warn / fail the steps reported
  const grid = new HostGrid();
  const log = new RunLog(id, { streamLog, onEnd: () => refresh() });

  root.append(
    head,
    errSlot,
    actions,
    actionSlot,
    checksSlot,
    h("h3", {}, t("run.steps")),
    stepsSlot,
    h("h3", {}, t("run.progress")),
    grid.el,
    h("h3", {}, t("run.log")),
    ...log.elements,
  );

  let run = null;
  let polling = 0;
  async function refresh() {
    try {
      run = await get(`/api/runs/${id}`, { signal });
      renderHead(run, id, head, errSlot);
      actions.replaceChildren(...actionButtons(run, id, actionSlot, { refresh, restart: startStreams }));
      stepsSlot.replaceChildren(stepsTable(run));
      checksSlot.replaceChildren(...checksView(run));
      grid.render(run);
    } catch (err) {
      // no server: the banner and the state say so; keep asking while the run may go on
      if (err.status !== 0) showError(actionSlot, err);
    }
    clearTimeout(polling);
    if (!signal.aborted && run && !TERMINAL.has(run.state)) polling = setTimeout(refresh, 2000);
  }

  // --- streams: the log (terminal output) and the events (host x step progress) ---
  let streamCtl = null;
  function startStreams() {
    if (streamCtl) streamCtl.abort();
    streamCtl = new AbortController();
    const own = streamCtl.signal;
    signal.addEventListener("abort", () => streamCtl.abort(), { once: true });
    grid.cells.clear();
    log.start(own, startStreams);
    let pending = 0;
    streamEvents(id, {
      after: 0,
      signal: own,
      onEvent: (ev) => {
        // a timer, not an animation frame: frames do not run while the window is hidden
        if (grid.add(ev) && run && !pending) {
          pending = setTimeout(() => {
            pending = 0;
            grid.render(run);
          }, 100);
        }
      },
      onEnd: () => refresh(),
      onError: (err) => {
        if (!own.aborted) log.showError(err);
      },
    }).catch(() => {}); // shown by onError above
  }

  const unwatch = onConnection((state) => {
    if (!run) return;
    if (state === "ok") refresh();
    else renderHead(run, id, head, errSlot);
  });
  await refresh();
  if (!run) {
    unwatch();
    return () => log.destroy();
  }
  startStreams();
  timers.push(
    setInterval(() => {
      for (const el of root.querySelectorAll(".elapsed[data-start]")) {
        if (el.dataset.start) el.textContent = fmtDuration(elapsed(el.dataset.start, null));
      }
      log.update();
    }, 500),
  );
  return () => {
    unwatch();
    clearTimeout(polling);
    for (const x of timers) clearInterval(x);
    if (streamCtl) streamCtl.abort();
    log.destroy();
  };
}
