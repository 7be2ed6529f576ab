// A site's backups (issue 16): newest first, with the run that took it, when, its hosts, the
// versions it holds and its size; "Back up now" (a run with action backup), "Roll back to this"
// (a rollback run restoring that backup, after a confirmation) and delete (after a confirmation).
import { del, get, post } from "../api.js";
import { h, table } from "../dom.js";
import { t } from "../i18n.js";
import { busy, fmtTime, notice, showError, siteOrError } from "../ui.js";

export function fmtSize(bytes) {
  if (bytes === null || bytes === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

// {bundle name: version installed on the site}: a rollback runs the installed bundle's stage
function installedBundles(site) {
  const out = {};
  for (const info of Object.values(site.installed || {})) out[info.bundle] = info.bundle_version;
  return out;
}

function contents(backup) {
  const versions = Object.entries(backup.versions || {}).map(([name, version]) => `${name} ${version}`);
  return (versions.length ? versions : backup.components).join(", ");
}

async function startRun(site, body) {
  const run = await post("/api/runs", { site: site.name, ...body });
  location.hash = `#/runs/${run.id}`;
}

function rowFor(site, backup, slot, reload) {
  const bundles = installedBundles(site);
  const rollback = h("button", { type: "button", class: "small", dataset: { rollback: backup.run } }, t("backups.rollback"));
  rollback.addEventListener("click", () => {
    if (!window.confirm(t("backups.rollbackConfirm", { run: backup.run, site: site.name, what: contents(backup) }))) return;
    const version = bundles[backup.bundle] || backup.version;
    busy(rollback, slot, () => startRun(site, { bundle: backup.bundle, version, action: "rollback", backup: backup.run }));
  });
  const remove = h("button", { type: "button", class: "small danger", dataset: { deleteBackup: backup.run } }, t("backups.delete"));
  remove.addEventListener("click", () => {
    if (!window.confirm(t("backups.deleteConfirm", { run: backup.run, site: site.name }))) return;
    busy(remove, slot, async () => {
      await del(`/api/sites/${encodeURIComponent(site.name)}/backups/${backup.run}`);
      await reload();
      notice(slot, t("backups.deleted", { run: backup.run }));
    });
  });
  return h(
    "tr",
    { dataset: { backup: backup.run } },
    h("td", {}, h("a", { href: `#/runs/${backup.run}` }, `#${backup.run}`)),
    h("td", {}, fmtTime(backup.created_at)),
    h("td", {}, `${backup.bundle} ${backup.version}`, " ", h("span", { class: "muted" }, backup.action || "")),
    h("td", {}, backup.hosts.map((x) => x.host).join(", ") || "—"),
    h("td", { class: "backup-contents" }, contents(backup)),
    h("td", { class: "backup-size" }, fmtSize(backup.size_bytes)),
    h("td", { class: "actions" }, rollback, " ", remove),
  );
}

export async function render(root, { params, signal }) {
  const ref = params[0];
  const slot = h("div", { class: "slot" });
  const body = h("div", {});
  const site = await siteOrError(root, ref, "backups.title", slot, signal);
  if (!site) return;
  const path = `/api/sites/${encodeURIComponent(site.name)}/backups`;
  async function reload() {
    const backups = await get(path, { signal });
    if (!backups.length) {
      body.replaceChildren(h("p", { class: "muted", id: "backups-empty" }, t("backups.none")));
      return;
    }
    body.replaceChildren(
      h(
        "div",
        { class: "table-wrap" },
        table(
          [t("backups.run"), t("backups.taken"), t("backups.bundle"), t("backups.hosts"), t("backups.contents"), t("backups.size"), ""],
          backups.map((b) => rowFor(site, b, slot, reload)),
          { class: "grid", id: "backups-table" },
        ),
      ),
    );
  }
  const actions = Object.entries(installedBundles(site)).map(([bundle, version]) => {
    const button = h("button", { type: "button", class: "primary", dataset: { backupNow: bundle } }, t("backups.now", { bundle }));
    button.addEventListener("click", () => busy(button, slot, () => startRun(site, { bundle, version, action: "backup" })));
    return button;
  });
  root.append(
    h(
      "div",
      { class: "screen-head" },
      h("h2", {}, t("backups.title", { site: site.name })),
      h("div", { class: "run-actions" }, actions, h("a", { class: "button", href: `#/sites/${site.id}/status` }, t("status.open"))),
    ),
    h("p", { class: "muted" }, t("backups.help")),
    slot,
    body,
  );
  try {
    await reload();
  } catch (err) {
    if (err.name !== "AbortError") showError(slot, err);
  }
}
