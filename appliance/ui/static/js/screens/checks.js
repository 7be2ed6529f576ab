// The checks a run's steps reported (GET /api/runs/<id> "checks": pass / warn / fail per host
// and check): the warnings first, where they are seen, then the host x check table. Text from
// the playbooks goes in as text only.
import { h, table } from "../dom.js";
import { t } from "../i18n.js";

const STATUSES = ["pass", "warn", "fail"];

function count(checks, status) {
  return checks.filter((c) => c.status === status).length;
}

// The elements to show for the run (none when it reported no check).
export function checksView(run) {
  const checks = run.checks || [];
  if (!checks.length) return [];
  const out = [];
  const warnings = checks.filter((c) => c.status === "warn");
  if (warnings.length) {
    out.push(
      h(
        "div",
        { class: "notice notice-warn", id: "check-warnings", role: "status" },
        h("b", {}, t("checks.warnings", { n: warnings.length })),
        h(
          "ul",
          {},
          warnings.map((c) => h("li", {}, `${c.host}: ${c.name}: ${c.message}`)),
        ),
      ),
    );
  }
  const [pass, warn, fail] = STATUSES.map((s) => count(checks, s));
  const rows = checks.map((c) =>
    h(
      "tr",
      { class: `check check-${c.status}`, dataset: { host: c.host, check: c.name } },
      h("td", {}, `${c.step} ${c.step_name}`),
      h("td", {}, c.host),
      h("td", {}, c.name),
      h("td", {}, h("span", { class: `badge check-badge-${c.status}` }, t(`check.${c.status}`))),
      h("td", { class: "check-message" }, c.message || "—"),
    ),
  );
  out.push(
    h("h3", {}, t("checks.title")),
    h("p", { class: "muted", id: "checks-summary" }, t("checks.summary", { pass, warn, fail })),
    table(
      [t("plan.step"), t("run.host"), t("checks.check"), t("checks.status"), t("checks.message")],
      rows,
      { class: "grid", id: "checks-table" },
    ),
  );
  return out;
}
