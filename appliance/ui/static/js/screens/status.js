// Day two: a site's status board (component x host: state, version, detail), refresh, the
// overall badge, the attention banner (links the failed run; acknowledge with a reason), and
// per-component start / stop / restart (a run with action operate, after a confirmation) on every
// host, or on the one host picked beside the buttons (a component on several hosts).
import { strip } from "../ansi.js";
import { get, post } from "../api.js";
import { h, table } from "../dom.js";
import { t } from "../i18n.js";
import { busy, fmtTime, notice, showError, siteOrError } from "../ui.js";

const OPERATIONS = ["start", "stop", "restart"];

export function healthBadge(state) {
  const known = ["healthy", "degraded", "down", "unknown", "running", "stopped", "unreachable"];
  const value = known.includes(state) ? state : "unknown";
  return h("span", { class: `badge health-${value}`, dataset: { health: value } }, t(`health.${value}`));
}

// {component: [operations]} from the bundles the site has installed
async function declaredOperations(site, signal) {
  const bundles = new Map();
  for (const info of Object.values(site.installed || {})) {
    bundles.set(`${info.bundle}/${info.bundle_version}`, [info.bundle, info.bundle_version]);
  }
  const out = {};
  for (const [name, version] of bundles.values()) {
    let bundle;
    try {
      bundle = await get(`/api/bundles/${encodeURIComponent(name)}/${encodeURIComponent(version)}`, { signal });
    } catch (err) {
      if (err.name === "AbortError") throw err;
      continue; // the bundle is gone: no operations to offer
    }
    for (const c of bundle.components || []) {
      const installed = (site.installed || {})[c.name];
      if (installed && installed.bundle === name && c.operations) {
        out[c.name] = OPERATIONS.filter((op) => op in c.operations);
      }
    }
  }
  return out;
}

function attentionBanner(ref, attention, onDone) {
  if (!attention) return null;
  const slot = h("div", { class: "slot" });
  const reason = h("input", { name: "ack-reason", "aria-label": t("status.ackReason"), placeholder: t("status.ackReason") });
  const button = h("button", { type: "button", id: "ack-attention" }, t("status.ack"));
  button.addEventListener("click", () =>
    busy(button, slot, async () => {
      await post(`/api/sites/${encodeURIComponent(ref)}/attention/ack`, { reason: reason.value });
      onDone();
    }),
  );
  return h(
    "div",
    { class: "attention-banner", role: "alert", id: "attention" },
    h("strong", {}, t("status.attention")),
    " ",
    h("span", { class: "attention-reason" }, attention.reason),
    " ",
    h("a", { href: `#/runs/${attention.run}`, id: "attention-run" }, t("status.openRun", { id: attention.run })),
    h("div", { class: "ack-form" }, reason, button),
    slot,
  );
}

function operationButtons(ref, component, operations, hosts, slot) {
  if (!operations.length) return [];
  // several hosts: the operation acts on every one, or on the one picked here
  const picker =
    hosts.length > 1
      ? h(
          "select",
          { class: "op-hosts", dataset: { component }, "aria-label": t("status.opHosts") },
          h("option", { value: "" }, t("status.allHosts")),
          ...hosts.map((host) => h("option", { value: host.host }, host.host)),
        )
      : null;
  const buttons = operations.map((op) => {
    const button = h("button", { type: "button", class: "small", dataset: { op, component } }, t(`status.op.${op}`));
    button.addEventListener("click", () => {
      const host = picker ? picker.value : "";
      const words = { op: t(`status.op.${op}`), component, host };
      if (!window.confirm(t(host ? "status.opConfirmHost" : "status.opConfirm", words))) return;
      const body = { component, operation: op, ...(host ? { hosts: [host] } : {}) };
      busy(button, slot, async () => {
        const run = await post(`/api/sites/${encodeURIComponent(ref)}/operations`, body);
        location.hash = `#/runs/${run.id}`;
      });
    });
    return button;
  });
  return picker ? [picker, " ", ...buttons] : buttons;
}

function board(ref, status, operations, slot) {
  const rows = [];
  for (const c of status.components) {
    c.hosts.forEach((host, i) =>
      rows.push(
        h(
          "tr",
          { dataset: { component: c.component, host: host.host } },
          i === 0 ? h("td", { rowspan: c.hosts.length }, h("b", {}, c.component), " ", h("span", { class: "muted" }, c.installed_version)) : null,
          h("td", {}, host.host),
          h("td", { class: "host-state" }, healthBadge(host.state)),
          h("td", {}, host.version || "—"),
          h("td", { class: "detail" }, host.detail || ""),
          h("td", {}, fmtTime(host.checked_at)),
          i === 0 ? h("td", { rowspan: c.hosts.length, class: "actions" }, operationButtons(ref, c.component, operations[c.component] || [], c.hosts, slot)) : null,
        ),
      ),
    );
  }
  if (!rows.length) return h("p", { class: "muted", id: "status-empty" }, t("status.none"));
  return h(
    "div",
    { class: "table-wrap" },
    table(
      [t("status.component"), t("status.host"), t("status.state"), t("status.version"), t("status.detail"), t("status.checked"), ""],
      rows,
      { class: "grid", id: "status-board" },
    ),
  );
}

async function showLog(ref, pre) {
  const response = await fetch(`/api/sites/${encodeURIComponent(ref)}/status/log`, { credentials: "same-origin" });
  // the log keeps Ansible's colours; shown as plain text here
  pre.textContent = response.ok ? strip(await response.text()) : t("status.noLog");
  pre.hidden = false;
}

export async function render(root, { params, signal }) {
  const ref = params[0];
  const slot = h("div", { class: "slot" });
  const body = h("div", {});
  const site = await siteOrError(root, ref, "status.title", slot, signal);
  if (!site) return;
  const operations = await declaredOperations(site, signal);
  const badge = h("span", { id: "overall" });
  const checked = h("span", { class: "muted" });
  const refresh = h("button", { type: "button", class: "primary", id: "refresh-status" }, t("status.refresh"));
  const pre = h("pre", { class: "status-log", hidden: true, id: "status-log" });
  const logButton = h("button", { type: "button", id: "show-status-log" }, t("status.showLog"));
  logButton.addEventListener("click", () => busy(logButton, slot, () => showLog(site.name, pre)));

  const draw = (status) => {
    badge.replaceChildren(healthBadge(status.overall));
    checked.textContent = status.checked_at ? t("status.checkedAt", { at: fmtTime(status.checked_at) }) : t("status.never");
    body.replaceChildren(
      attentionBanner(site.name, status.attention, load) || "",
      board(site.name, status, operations, slot),
    );
  };
  async function load() {
    try {
      draw(await get(`/api/sites/${encodeURIComponent(site.name)}/status`, { signal }));
    } catch (err) {
      showError(slot, err);
    }
  }
  refresh.addEventListener("click", () =>
    busy(refresh, slot, async () => {
      notice(slot, t("status.refreshing"), "info");
      draw(await post(`/api/sites/${encodeURIComponent(site.name)}/status`, undefined, { signal }));
      slot.replaceChildren();
    }),
  );
  root.append(
    h(
      "div",
      { class: "screen-head" },
      h("h2", {}, t("status.title", { site: site.name }), " ", badge),
      h("div", { class: "run-actions" }, refresh, logButton, h("a", { class: "button", href: `#/sites/${site.id}` }, t("common.edit"))),
    ),
    checked,
    slot,
    body,
    pre,
  );
  await load();
}
