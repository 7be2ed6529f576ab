// Bundles: import a signed .bundle (drop or pick a file; raw bytes POSTed with progress),
// the verification result, the list, and a bundle's components and upgrade paths.
import { del, get, upload } from "../api.js";
import { h, table } from "../dom.js";
import { t } from "../i18n.js";
import { busy, errorBox, fmtTime, notice, showError } from "../ui.js";
import { keysSection } from "./keys.js";

function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function signedBy(bundle) {
  const k = bundle.key;
  if (!k) return t("bundles.signatureOk", { key: bundle.key_id });
  return t("bundles.signedBy", { name: k.name, id: k.id, fingerprint: k.fingerprint });
}

function importResult(status, bundle) {
  return h(
    "div",
    { class: "notice notice-ok import-result", role: "status" },
    h("strong", {}, status === 201 ? t("bundles.imported") : t("bundles.already")),
    " ",
    `${bundle.name} ${bundle.version}`,
    h(
      "ul",
      {},
      h("li", { id: "signed-by" }, signedBy(bundle)),
      h("li", {}, t("bundles.hashesOk", { files: bundle.files })),
      h("li", {}, "sha256: ", h("code", {}, bundle.sha256)),
    ),
    h("a", { class: "button", href: `#/bundles/${encodeURIComponent(bundle.name)}/${encodeURIComponent(bundle.version)}` }, t("bundles.open")),
  );
}

export async function list(root, { signal }) {
  const result = h("div", { class: "slot", id: "import-result" });
  const progress = h("progress", { max: 100, value: 0, hidden: true, id: "import-progress" });
  const progressText = h("span", { class: "muted" });
  const input = h("input", { type: "file", accept: ".bundle", id: "bundle-file" });
  const listSlot = h("div", {});

  async function importFile(file) {
    if (!file) return;
    progress.hidden = false;
    progress.value = 0;
    progressText.textContent = t("bundles.uploading", { name: file.name, size: fmtBytes(file.size) });
    result.replaceChildren();
    try {
      const { status, body } = await upload("/api/bundles", file, (loaded, total) => {
        progress.value = Math.round((loaded / total) * 100);
        if (loaded === total) progressText.textContent = t("bundles.verifying");
      });
      result.replaceChildren(importResult(status, body));
      refresh();
      keys.refresh();
    } catch (err) {
      result.replaceChildren(errorBox(err));
    } finally {
      progress.hidden = true;
      progressText.textContent = "";
      input.value = "";
    }
  }

  input.addEventListener("change", () => importFile(input.files[0]));
  const drop = h(
    "div",
    { class: "dropzone", id: "dropzone" },
    h("p", {}, t("bundles.drop")),
    h("label", { class: "button primary" }, t("bundles.pick"), input),
    h("div", {}, progress, " ", progressText),
  );
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    importFile(e.dataTransfer.files[0]);
  });

  async function refresh() {
    try {
      const bundles = await get("/api/bundles?limit=100000", { signal });
      if (!bundles.length) {
        notice(listSlot, t("bundles.empty"), "info");
        return;
      }
      listSlot.replaceChildren(
        table(
          [t("common.bundle"), t("common.version"), t("bundles.description"), t("bundles.components"), t("bundles.importedAt")],
          bundles.map((b) =>
            h(
              "tr",
              { dataset: { bundle: `${b.name}@${b.version}` } },
              h("td", {}, h("a", { href: `#/bundles/${encodeURIComponent(b.name)}/${encodeURIComponent(b.version)}` }, b.name)),
              h("td", {}, b.version),
              h("td", {}, b.description || ""),
              h("td", {}, b.components.map((c) => `${c.name} ${c.version}`).join(", ")),
              h("td", {}, fmtTime(b.imported_at)),
            ),
          ),
          { class: "grid", id: "bundles-table" },
        ),
      );
    } catch (err) {
      showError(listSlot, err);
    }
  }

  const keys = keysSection({ signal });
  root.append(h("h2", {}, t("bundles.title")), drop, result, h("h3", {}, t("bundles.imported_list")), listSlot, keys.section);
  await Promise.all([refresh(), keys.refresh()]);
}

export async function detail(root, { params, signal }) {
  const [name, version] = params;
  const slot = h("div", { class: "slot" });
  root.append(h("h2", {}, `${name} ${version}`), slot);
  let b;
  try {
    b = await get(`/api/bundles/${encodeURIComponent(name)}/${encodeURIComponent(version)}`, { signal });
  } catch (err) {
    showError(slot, err);
    return;
  }
  root.append(
    h("p", {}, b.description || ""),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, t("bundles.signature")),
      h("dd", {}, signedBy(b)),
      h("dt", {}, "sha256"),
      h("dd", {}, h("code", {}, b.sha256)),
      h("dt", {}, t("bundles.importedAt")),
      h("dd", {}, fmtTime(b.imported_at)),
      h("dt", {}, t("bundles.upgradeFrom")),
      h("dd", {}, (b.upgrade_from || []).join(", ") || t("bundles.freshOnly")),
    ),
    h("h3", {}, t("bundles.components")),
    table(
      ["#", t("common.component"), t("common.version"), t("bundles.playbook")],
      b.components.map((c, i) => h("tr", {}, h("td", {}, String(i + 1)), h("td", {}, c.name), h("td", {}, c.version), h("td", {}, h("code", {}, c.playbook || "")))),
      { class: "grid" },
    ),
    h("h3", {}, t("bundles.sites")),
    (b.sites || []).length
      ? table(
          [t("common.site"), t("bundles.installedVersion"), t("common.action"), t("bundles.allowed"), ""],
          b.sites.map((s) =>
            h(
              "tr",
              { dataset: { site: s.site } },
              h("td", {}, s.site),
              h("td", {}, s.installed || t("bundles.notInstalled")),
              h("td", {}, t(`action.${s.action}`)),
              h("td", { class: s.allowed ? "yes" : "no" }, s.allowed ? t("common.yes") : `${t("common.no")}: ${s.reason_code ? t(s.reason_code, s.reason_params) : s.reason || ""}`),
              h(
                "td",
                {},
                s.allowed
                  ? h(
                      "a",
                      {
                        class: "button",
                        href: `#/runs/new?site=${encodeURIComponent(s.site)}&bundle=${encodeURIComponent(name)}&version=${encodeURIComponent(version)}&action=${s.action}`,
                      },
                      t("nav.newRun"),
                    )
                  : null,
              ),
            ),
          ),
          { class: "grid", id: "upgrade-paths" },
        )
      : h("p", { class: "muted" }, t("sites.empty")),
    deleteBundle(name, version, signal),
  );
}

function deleteBundle(name, version, signal) {
  const slot = h("div", { class: "slot", id: "delete-bundle-result" });
  const button = h("button", { type: "button", class: "danger", id: "delete-bundle" }, t("bundles.delete"));
  button.addEventListener("click", () => {
    if (!window.confirm(t("bundles.deleteConfirm", { name, version }))) return;
    busy(button, slot, async () => {
      await del(`/api/bundles/${encodeURIComponent(name)}/${encodeURIComponent(version)}`, { signal });
      location.hash = "#/bundles";
    });
  });
  return h("section", { class: "panel danger-zone" }, h("h3", {}, t("bundles.delete")), h("p", { class: "muted" }, t("bundles.deleteHelp")), button, slot);
}
