// New run: site + bundle version + action, the plan (component from -> to) from a dry run,
// then start and go to the run's live view.
import { get, post } from "../api.js";
import { h, table } from "../dom.js";
import { t } from "../i18n.js";
import { busy, field, notice, select, showError, stepName } from "../ui.js";

export const ACTIONS = ["install", "upgrade", "check", "rollback"];

export function planTable(plan) {
  return table(
    ["#", t("plan.step"), t("plan.kind"), t("common.component"), t("plan.from"), t("plan.to")],
    plan.map((s) =>
      h(
        "tr",
        {},
        h("td", {}, String(s.idx ?? "")),
        h("td", {}, stepName(s)),
        h("td", {}, t(`kind.${s.kind}`)),
        h("td", {}, s.component || "—"),
        h("td", {}, s.from_version || (s.component ? t("plan.none") : "—")),
        h("td", {}, s.to_version ? h("b", {}, s.to_version) : "—"),
      ),
    ),
    { class: "grid", id: "plan-table" },
  );
}

export async function render(root, { query, signal }) {
  const status = h("div", { class: "slot", id: "run-status" });
  root.append(h("h2", {}, t("newRun.title")), status);
  let sites;
  let bundles;
  try {
    [sites, bundles] = await Promise.all([
      get("/api/sites?limit=100000", { signal }),
      get("/api/bundles?limit=100000", { signal }),
    ]);
  } catch (err) {
    showError(status, err);
    return;
  }
  if (!sites.length || !bundles.length) {
    notice(status, !sites.length ? t("newRun.needSite") : t("newRun.needBundle"), "info");
    return;
  }
  const siteSel = select(
    sites.map((s) => [s.name, s.name]),
    query.get("site") || sites[0].name,
    { id: "run-site" },
  );
  const bundleKey = (b) => `${b.name}@${b.version}`;
  const wanted = query.get("bundle") ? `${query.get("bundle")}@${query.get("version")}` : bundleKey(bundles[bundles.length - 1]);
  const bundleSel = select(
    bundles.map((b) => [bundleKey(b), `${b.name} ${b.version}`]),
    wanted,
    { id: "run-bundle" },
  );
  const actionSel = select(
    ACTIONS.map((a) => [a, t(`action.${a}`)]),
    query.get("action") || "install",
    { id: "run-action" },
  );
  const planSlot = h("div", { id: "plan" });
  const previewBtn = h("button", { type: "button", id: "preview-plan" }, t("newRun.preview"));
  const startBtn = h("button", { type: "button", class: "primary", id: "start-run", disabled: true }, t("newRun.start"));

  const body = () => {
    const [bundle, version] = bundleSel.value.split("@");
    return { site: siteSel.value, bundle, version, action: actionSel.value };
  };
  const invalidate = () => {
    startBtn.disabled = true;
    planSlot.replaceChildren();
    status.replaceChildren();
  };
  for (const s of [siteSel, bundleSel, actionSel]) s.addEventListener("change", invalidate);

  previewBtn.addEventListener("click", () =>
    busy(previewBtn, status, async () => {
      invalidate();
      let answer;
      try {
        answer = await post("/api/runs", { ...body(), dry_run: true }, { signal });
      } catch (err) {
        if (err.fields) planSlot.replaceChildren(configLink(body()));
        throw err;
      }
      planSlot.replaceChildren(h("h3", {}, t("newRun.plan")), planTable(answer.plan || []));
      // day two: what the site's last status says differs from its records
      for (const warning of answer.warnings || []) {
        planSlot.append(h("div", { class: "notice notice-warn plan-warning", role: "status" }, t("status.driftWarning"), " ", warning));
      }
      startBtn.disabled = false;
    }),
  );
  startBtn.addEventListener("click", () =>
    busy(startBtn, status, async () => {
      const created = await post("/api/runs", body(), { signal });
      location.hash = `#/runs/${created.id}`;
    }),
  );

  root.append(
    h(
      "form",
      { class: "run-form", onsubmit: (e) => e.preventDefault() },
      field(t("common.site"), siteSel),
      field(t("common.bundle"), bundleSel),
      field(t("common.action"), actionSel),
      h("div", { class: "form-actions" }, previewBtn, startBtn),
    ),
    planSlot,
  );
}

// A plan refused for missing or invalid configuration values: the screen that fills them.
function configLink({ site, bundle, version }) {
  const href = `#/sites/${encodeURIComponent(site)}/config/${encodeURIComponent(bundle)}?version=${encodeURIComponent(version)}`;
  return h("p", {}, h("a", { class: "button", href, id: "fill-config" }, t("newRun.fillConfig")));
}
