// History: every run with state, trigger, duration, site and bundle (a rollback links the run
// whose backup it restored); filter by site and state.
import { get } from "../api.js";
import { h, table } from "../dom.js";
import { t } from "../i18n.js";
import { RUN as STATES } from "../states.js";
import { elapsed, field, fmtDuration, fmtTime, notice, select, showError, siteName, stateBadge } from "../ui.js";


export async function render(root, { query, signal }) {
  const slot = h("div", { class: "slot" });
  const listSlot = h("div", {});
  let sites = [];
  try {
    sites = await get("/api/sites?limit=100000", { signal });
  } catch (err) {
    showError(slot, err);
  }
  const siteSel = select([["", t("history.allSites")], ...sites.map((s) => [s.name, s.name])], query.get("site") || "", { id: "filter-site" });
  const stateSel = select([["", t("history.allStates")], ...STATES.map((s) => [s, t(`state.${s}`)])], query.get("state") || "", { id: "filter-state" });
  const onChange = () => {
    const q = new URLSearchParams();
    if (siteSel.value) q.set("site", siteSel.value);
    if (stateSel.value) q.set("state", stateSel.value);
    location.hash = `#/history${q.toString() ? `?${q}` : ""}`;
  };
  siteSel.addEventListener("change", onChange);
  stateSel.addEventListener("change", onChange);
  root.append(
    h("h2", {}, t("history.title")),
    h("form", { class: "filters", onsubmit: (e) => e.preventDefault() }, field(t("common.site"), siteSel), field(t("common.state"), stateSel)),
    slot,
    listSlot,
  );
  const q = new URLSearchParams({ limit: "500" });
  if (query.get("site")) q.set("site", query.get("site"));
  if (query.get("state")) q.set("state", query.get("state"));
  let runs;
  try {
    runs = await get(`/api/runs?${q}`, { signal });
  } catch (err) {
    showError(slot, err);
    return;
  }
  if (!runs.length) {
    notice(slot, t("history.empty"), "info");
    return;
  }
  listSlot.replaceChildren(
    table(
      ["#", t("common.state"), t("common.action"), t("run.trigger"), t("common.site"), t("common.bundle"), t("run.started"), t("run.duration")],
      runs.map((r) =>
        h(
          "tr",
          { dataset: { run: String(r.id), state: r.state } },
          h("td", {}, h("a", { href: `#/runs/${r.id}` }, `#${r.id}`)),
          h("td", {}, stateBadge(r.state)),
          h("td", {}, t(`action.${r.action}`)),
          h("td", { class: "trigger" }, triggerCell(r)),
          h("td", {}, siteName(r.site)),
          h("td", {}, `${r.bundle} ${r.version}`),
          h("td", {}, fmtTime(r.started_at || r.created_at)),
          h("td", {}, fmtDuration(elapsed(r.started_at, r.finished_at))),
        ),
      ),
      { class: "grid", id: "history-table" },
    ),
  );
}

// How the run came about: by hand or by a schedule, for a rollback the run it undid, and for
// a run a rollback undid, that rollback (each a link).
function triggerCell(run) {
  return h("span", {}, t(`trigger.${run.trigger}`), relatedRuns(run).flatMap((link) => [" · ", link]));
}

// Links to the runs related to `run` (shared with the run screen).
export function relatedRuns(run) {
  const links = [];
  if (run.action === "rollback" && run.backup_run) {
    links.push(h("a", { href: `#/runs/${run.backup_run}`, class: "rollback-of" }, t("history.rollbackOf", { id: run.backup_run })));
  }
  for (const id of run.rolled_back_by || []) {
    links.push(h("a", { href: `#/runs/${id}`, class: "rolled-back-by" }, t("history.rolledBackBy", { id })));
  }
  return links;
}
