// Schedules: the list with next fire times and missed occurrences, add, delete.
import { ApiError, api, del, get, post } from "../api.js";
import { h, table } from "../dom.js";
import { t } from "../i18n.js";
import { busy, field, fmtTime, notice, select, showError, siteName } from "../ui.js";
import { ACTIONS } from "./newrun.js";

function nextFire(s) {
  return s.next.length ? s.next[0].utc : null;
}

function triggerText(s) {
  if (s.at) return t("schedules.once", { at: `${fmtTime(s.at)} (${s.timezone || ""})` });
  if (s.cron) return t("schedules.cronText", { cron: s.cron, tz: s.timezone || "" });
  return s.trigger || "—";
}

function occurrenceText(o) {
  const run = o.run && o.run.id ? ` → #${o.run.id}` : "";
  return `${t(`occurrence.${o.state}`)} ${fmtTime(o.fire_time)}${run}`;
}

// An <input type="datetime-local"> value as ISO-8601 with this machine's offset.
export function localToIso(value) {
  const d = new Date(value);
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
  return `${value.length === 16 ? `${value}:00` : value}${sign}${pad(off / 60)}:${pad(off % 60)}`;
}

export async function render(root, { signal }) {
  const slot = h("div", { class: "slot", id: "schedules-status" });
  const missedSlot = h("div", { id: "missed" });
  const listSlot = h("div", {});
  const formSlot = h("div", {});
  root.append(h("h2", {}, t("schedules.title")), slot, missedSlot, listSlot, h("h3", {}, t("schedules.add")), formSlot);

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
      h("ul", {}, missed.map((o) => h("li", {}, `#${o.schedule}: ${occurrenceText(o)}`, o.detail ? ` — ${o.detail}` : ""))),
      ack,
    );
  }

  async function refresh() {
    let schedules;
    let missed = [];
    try {
      const answer = await get("/api/schedules", { signal });
      schedules = answer.schedules;
      missed = answer.missed;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && /path/.test(err.message)) {
        notice(slot, t("schedules.unavailable"), "info");
        return false;
      }
      showError(slot, err);
      return true;
    }
    missedSlot.replaceChildren(missed.length ? missedBox(missed) : "");
    if (!schedules.length) {
      listSlot.replaceChildren(h("p", { class: "muted" }, t("schedules.empty")));
      return true;
    }
    listSlot.replaceChildren(
      table(
        ["#", t("common.site"), t("common.bundle"), t("common.action"), t("schedules.trigger"), t("schedules.window"), t("schedules.next"), t("schedules.last"), t("schedules.enabled"), ""],
        schedules.map((s) => {
          const remove = h("button", { type: "button", class: "danger small" }, t("common.delete"));
          remove.addEventListener("click", () => {
            if (!confirm(t("schedules.deleteConfirm", { id: s.id }))) return;
            busy(remove, slot, async () => {
              await del(`/api/schedules/${s.id}`);
              notice(slot, t("schedules.deleted", { id: s.id }));
              await refresh();
            });
          });
          const last = (s.occurrences || [])[0];
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
            h("td", {}, s.bundle.name),
            h("td", {}, t(`action.${s.action}`)),
            h("td", {}, triggerText(s)),
            h("td", {}, t("schedules.minutes", { n: s.window_minutes })),
            h("td", { class: "next-fire" }, fmtTime(nextFire(s))),
            h("td", {}, last ? occurrenceText(last) : "—"),
            h("td", {}, toggle),
            h("td", {}, remove),
          );
        }),
        { class: "grid", id: "schedules-table" },
      ),
    );
    return true;
  }

  const available = await refresh();
  if (!available) return;
  let sites;
  let bundles;
  try {
    [sites, bundles] = await Promise.all([get("/api/sites?limit=100000", { signal }), get("/api/bundles?limit=100000", { signal })]);
  } catch (err) {
    showError(formSlot, err);
    return;
  }
  const siteSel = select(sites.map((s) => [s.name, s.name]), "", { id: "sched-site" });
  const bundleSel = select(bundles.map((b) => [`${b.name}@${b.version}`, `${b.name} ${b.version}`]), "", { id: "sched-bundle" });
  const actionSel = select(ACTIONS.map((a) => [a, t(`action.${a}`)]), "upgrade", { id: "sched-action" });
  const kindSel = select([["once", t("schedules.kindOnce")], ["cron", t("schedules.kindCron")]], "once", { id: "sched-kind" });
  const at = h("input", { type: "datetime-local", id: "sched-at" });
  const cron = h("input", { id: "sched-cron", placeholder: "0 2 * * 6" });
  const tz = h("input", { id: "sched-tz", value: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC" });
  const windowMin = h("input", { type: "number", id: "sched-window", min: 1, value: "120" });
  const onceFields = h("div", {}, field(t("schedules.at"), at));
  const cronFields = h("div", { hidden: true }, field(t("schedules.cron"), cron, t("schedules.cronHelp")), field(t("schedules.timezone"), tz));
  kindSel.addEventListener("change", () => {
    onceFields.hidden = kindSel.value !== "once";
    cronFields.hidden = kindSel.value !== "cron";
  });
  const addBtn = h("button", { type: "submit", class: "primary", id: "add-schedule" }, t("schedules.add"));
  const form = h(
    "form",
    { class: "schedule-form" },
    field(t("common.site"), siteSel),
    field(t("common.bundle"), bundleSel),
    field(t("common.action"), actionSel),
    field(t("schedules.kind"), kindSel),
    onceFields,
    cronFields,
    field(t("schedules.window"), windowMin, t("schedules.windowHelp")),
    h("div", { class: "form-actions" }, addBtn),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(addBtn, slot, async () => {
      const [bundle, version] = bundleSel.value.split("@");
      const body = { site: siteSel.value, bundle, version, action: actionSel.value, window_minutes: Number(windowMin.value) };
      if (kindSel.value === "once") {
        if (!at.value) {
          const err = new Error(t("schedules.needTime"));
          err.hint = t("schedules.needTimeHint");
          throw err;
        }
        body.at = localToIso(at.value);
      } else {
        body.cron = cron.value.trim();
        body.timezone = tz.value.trim();
      }
      await post("/api/schedules", body, { signal });
      notice(slot, t("schedules.added"));
      await refresh();
    });
  });
  formSlot.replaceChildren(form);
}
