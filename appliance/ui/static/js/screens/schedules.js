// Schedules: the list (bundle and version, action, window, next fire time in the schedule's
// zone and in the viewer's, occurrences linked to their runs), missed occurrences, and the form
// that adds or edits a schedule (the zone picked from the tz database). The list refreshes
// itself while the screen is open.
import { ApiError, api, del, get, post, put } from "../api.js";
import { h, table } from "../dom.js";
import { t } from "../i18n.js";
import { busy, field, notice, select, showError, siteName } from "../ui.js";
import { fmtInZone, loadZones, viewerZone, wallTimeToIso, zonePicker } from "../zones.js";
import { ACTIONS } from "./newrun.js";

const REFRESH_MS = 5000;

function triggerText(s) {
  if (s.at) return t("schedules.once", { at: `${fmtInZone(s.at, s.timezone)} (${s.timezone})` });
  if (s.cron) return t("schedules.cronText", { cron: s.cron, tz: s.timezone || "" });
  return s.trigger || "—";
}

// The next fire time twice: in the schedule's zone (named) and in the viewer's.
function nextFireCell(s) {
  const next = s.next_fire;
  if (!next) return h("td", { class: "next-fire" }, "—");
  const here = viewerZone();
  return h(
    "td",
    { class: "next-fire" },
    h("div", { class: "next-site-zone" }, `${fmtInZone(next.utc, next.zone)} ${next.abbreviation || ""} (${next.zone})`),
    here === next.zone ? null : h("div", { class: "next-viewer-zone muted" }, t("schedules.yourTime", { time: fmtInZone(next.utc), zone: here })),
  );
}

function occurrenceItem(o, zone) {
  const when = `${t(`occurrence.${o.state}`)} ${fmtInZone(o.fire_time, zone)}`;
  if (!(o.run && o.run.id)) return [when];
  return [when, " → ", h("a", { class: "occurrence-run", href: `#/runs/${o.run.id}` }, t("schedules.runLink", { id: o.run.id }))];
}

function occurrencesCell(s) {
  const occurrences = s.occurrences || [];
  if (!occurrences.length) return h("td", { class: "occurrences" }, "—");
  const [last, ...older] = occurrences;
  return h(
    "td",
    { class: "occurrences" },
    h("div", {}, occurrenceItem(last, s.timezone), last.detail ? h("div", { class: "muted occurrence-detail" }, last.detail) : null),
    older.length
      ? h(
          "details",
          {},
          h("summary", {}, t("schedules.older", { n: older.length })),
          h("ul", {}, older.map((o) => h("li", {}, occurrenceItem(o, s.timezone)))),
        )
      : null,
  );
}

export async function render(root, { signal }) {
  const slot = h("div", { class: "slot", id: "schedules-status" });
  const missedSlot = h("div", { id: "missed" });
  const listSlot = h("div", {});
  const formTitle = h("h3", { id: "schedule-form-title" }, t("schedules.add"));
  const formSlot = h("div", {});
  root.append(h("h2", {}, t("schedules.title")), slot, missedSlot, listSlot, formTitle, formSlot);
  let startEdit = (s) => {
    pendingEdit = s; // clicked before the form is ready: opened in it once it is
  };
  let pendingEdit = null;

  function missedBox(missed) {
    const ack = h("button", { type: "button", id: "ack-missed" }, t("schedules.acknowledge"));
    ack.addEventListener("click", () =>
      busy(ack, slot, async () => {
        await post("/api/schedules/acknowledge", { ids: missed.map((o) => o.id) });
        await refresh();
      }),
    );
    return h(
      "div",
      { class: "error-box", role: "alert" },
      h("strong", {}, t("schedules.missedTitle", { n: missed.length })),
      h("ul", {}, missed.map((o) => h("li", {}, `#${o.schedule}: `, occurrenceItem(o, null), o.detail ? ` — ${o.detail}` : ""))),
      ack,
    );
  }

  function row(s) {
    const remove = h("button", { type: "button", class: "danger small" }, t("common.delete"));
    remove.addEventListener("click", () => {
      if (!confirm(t("schedules.deleteConfirm", { id: s.id }))) return;
      busy(remove, slot, async () => {
        await del(`/api/schedules/${s.id}`);
        notice(slot, t("schedules.deleted", { id: s.id }));
        await refresh();
      });
    });
    const edit = h("button", { type: "button", class: "small edit-schedule" }, t("schedules.edit"));
    edit.addEventListener("click", () => startEdit(s));
    const toggle = h("input", { type: "checkbox", checked: s.enabled !== false, "aria-label": t("schedules.enabled") });
    toggle.addEventListener("change", () =>
      busy(toggle, slot, async () => {
        await api("PATCH", `/api/schedules/${s.id}`, { enabled: toggle.checked });
        await refresh();
      }),
    );
    return h(
      "tr",
      { dataset: { schedule: String(s.id) } },
      h("td", {}, String(s.id)),
      h("td", {}, siteName(s.site)),
      h("td", { class: "sched-bundle" }, `${s.bundle.name} ${s.bundle.version}`),
      h("td", {}, t(`action.${s.action}`)),
      h("td", {}, triggerText(s)),
      h("td", {}, t("schedules.minutes", { n: s.window_minutes })),
      nextFireCell(s),
      occurrencesCell(s),
      h("td", {}, toggle),
      h("td", { class: "row-actions" }, edit, " ", remove),
    );
  }

  async function refresh() {
    let answer;
    try {
      answer = await get("/api/schedules", { signal });
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && /path/.test(err.message)) {
        notice(slot, t("schedules.unavailable"), "info");
        return false;
      }
      showError(slot, err);
      return true;
    }
    const { schedules, missed } = answer;
    missedSlot.replaceChildren(missed.length ? missedBox(missed) : "");
    if (!schedules.length) {
      listSlot.replaceChildren(h("p", { class: "muted", id: "schedules-empty" }, t("schedules.empty")));
      return true;
    }
    const headers = ["#", t("common.site"), t("common.bundle"), t("common.action"), t("schedules.trigger"), t("schedules.window"), t("schedules.next"), t("schedules.last"), t("schedules.enabled"), ""];
    // Keep an open "older occurrences" list open across refreshes.
    const open = new Set([...listSlot.querySelectorAll("tr[data-schedule] details[open]")].map((d) => d.closest("tr").dataset.schedule));
    listSlot.replaceChildren(table(headers, schedules.map(row), { class: "grid", id: "schedules-table" }));
    for (const id of open) {
      const details = listSlot.querySelector(`tr[data-schedule="${id}"] details`);
      if (details) details.open = true;
    }
    return true;
  }

  const available = await refresh();
  if (!available) return undefined;

  // Refresh by itself (runs start, occurrences are recorded, another window or the command line
  // adds schedules) until the screen is left.
  let timer = null;
  const poll = async () => {
    if (signal.aborted) return;
    try {
      await refresh();
    } finally {
      if (!signal.aborted) timer = setTimeout(poll, REFRESH_MS);
    }
  };
  timer = setTimeout(poll, REFRESH_MS);
  const stop = () => clearTimeout(timer);
  signal.addEventListener("abort", stop);

  let sites;
  let bundles;
  let zones;
  try {
    [sites, bundles, zones] = await Promise.all([
      get("/api/sites?limit=100000", { signal }),
      get("/api/bundles?limit=100000", { signal }),
      loadZones(signal),
    ]);
  } catch (err) {
    showError(formSlot, err);
    return stop;
  }
  const siteZone = (name) => (sites.find((s) => s.name === name) || {}).timezone || zones.local;
  const siteSel = select(sites.map((s) => [s.name, s.name]), "", { id: "sched-site" });
  const bundleSel = select(bundles.map((b) => [`${b.name}@${b.version}`, `${b.name} ${b.version}`]), "", { id: "sched-bundle" });
  const actionSel = select(ACTIONS.map((a) => [a, t(`action.${a}`)]), "upgrade", { id: "sched-action" });
  const kindSel = select([["once", t("schedules.kindOnce")], ["cron", t("schedules.kindCron")]], "once", { id: "sched-kind" });
  const at = h("input", { type: "datetime-local", id: "sched-at" });
  const cron = h("input", { id: "sched-cron", placeholder: "0 2 * * 6" });
  const tz = zonePicker(zones.zones, siteZone(siteSel.value), "sched-tz");
  const windowMin = h("input", { type: "number", id: "sched-window", min: 1, value: "120" });
  const onceFields = h("div", {}, field(t("schedules.at"), at, t("schedules.atHelp")));
  const cronFields = h("div", { hidden: true }, field(t("schedules.cron"), cron, t("schedules.cronHelp")));
  const showKind = () => {
    onceFields.hidden = kindSel.value !== "once";
    cronFields.hidden = kindSel.value !== "cron";
  };
  kindSel.addEventListener("change", showKind);
  let editing = null; // the schedule being edited, or null when adding
  siteSel.addEventListener("change", () => {
    if (!editing) tz.value = siteZone(siteSel.value); // a new schedule follows its site's zone
  });
  const submit = h("button", { type: "submit", class: "primary", id: "add-schedule" }, t("schedules.add"));
  const cancel = h("button", { type: "button", id: "cancel-edit" }, t("common.cancel"));
  const actions = h("div", { class: "form-actions" }, submit);
  const form = h(
    "form",
    { class: "schedule-form" },
    field(t("common.site"), siteSel),
    field(t("common.bundle"), bundleSel),
    field(t("common.action"), actionSel),
    field(t("schedules.kind"), kindSel),
    onceFields,
    cronFields,
    field(t("schedules.timezone"), tz.el, t("schedules.timezoneHelp")),
    field(t("schedules.window"), windowMin, t("schedules.windowHelp")),
    actions,
  );

  function setMode(schedule) {
    editing = schedule;
    formTitle.textContent = schedule ? t("schedules.editTitle", { id: schedule.id }) : t("schedules.add");
    submit.textContent = schedule ? t("schedules.save") : t("schedules.add");
    actions.replaceChildren(submit, schedule ? cancel : "");
  }
  startEdit = (s) => {
    setMode(s);
    siteSel.value = s.site.name;
    bundleSel.value = `${s.bundle.name}@${s.bundle.version}`;
    actionSel.value = s.action;
    kindSel.value = s.trigger === "cron" ? "cron" : "once";
    at.value = s.at_local ? s.at_local.slice(0, 16) : "";
    cron.value = s.cron || "";
    tz.value = s.timezone;
    windowMin.value = String(s.window_minutes);
    showKind();
    form.scrollIntoView({ block: "start" });
  };
  cancel.addEventListener("click", () => {
    setMode(null);
    form.reset();
    tz.value = siteZone(siteSel.value);
    showKind();
  });

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(submit, slot, async () => {
      const [bundle, version] = bundleSel.value.split("@");
      const body = { site: siteSel.value, bundle, version, action: actionSel.value, timezone: tz.value, window_minutes: Number(windowMin.value) };
      if (kindSel.value === "once") {
        if (!at.value) {
          const err = new Error(t("schedules.needTime"));
          err.hint = t("schedules.needTimeHint");
          throw err;
        }
        body.at = wallTimeToIso(at.value, tz.value);
      } else {
        body.cron = cron.value.trim();
      }
      if (editing) {
        const saved = await put(`/api/schedules/${editing.id}`, body, { signal });
        notice(slot, t("schedules.saved", { id: saved.id }));
        setMode(null);
      } else {
        await post("/api/schedules", body, { signal });
        notice(slot, t("schedules.added"));
      }
      await refresh();
    });
  });
  formSlot.replaceChildren(form);
  if (pendingEdit) startEdit(pendingEdit);
  return stop;
}
