// The appliance's own data: a backup to download (the credentials key wrapped by a passphrase),
// the snapshots of the sites' records restored in place, and a backup restored into a NEW
// folder (a running appliance keeps its own; start it on the new one). Text only via h().
import { download, get, post, upload } from "../api.js";
import { h, table } from "../dom.js";
import { t } from "../i18n.js";
import { busy, field, fmtTime, notice, showError } from "../ui.js";

function backupPanel(info, { signal }) {
  const slot = h("div", { class: "slot", id: "backup-result" });
  const pass = h("input", { type: "password", id: "backup-passphrase", autocomplete: "new-password" });
  const again = h("input", { type: "password", id: "backup-passphrase-again", autocomplete: "new-password" });
  const path = h("input", { id: "backup-path", value: info.backup_file, spellcheck: "false" });
  const save = h("button", { type: "submit", class: "primary", id: "save-backup" }, t("data.saveGo"));
  const go = h("button", { type: "button", id: "make-backup" }, t("data.backupGo"));
  const form = h(
    "form",
    { class: "backup-form", autocomplete: "off" },
    info.needs_passphrase
      ? h("div", { class: "field-row" }, field(t("data.passphrase"), pass, t("data.passphraseHelp", { min: info.min_passphrase })), field(t("data.again"), again))
      : h("p", { class: "muted" }, t(`data.key.${info.key}`)),
    field(t("data.path"), path, t("data.pathHelp")),
    h("div", { class: "form-actions" }, save, go),
  );
  // saved on this computer (works in the appliance's own window), or downloaded (a browser)
  function run(button, action) {
    if (info.needs_passphrase && pass.value !== again.value) {
      notice(slot, t("data.differ"), "info");
      return;
    }
    busy(button, slot, async () => {
      notice(slot, t("data.writing"), "info");
      const body = info.needs_passphrase ? { passphrase: pass.value } : {};
      const text = await action(body);
      pass.value = again.value = ""; // never kept
      notice(slot, text);
    });
  }
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    run(save, async (body) => {
      const done = await post("/api/data/backup", { ...body, path: path.value.trim() }, { signal });
      return t("data.written", { path: done.path, files: done.files, bytes: done.bytes });
    });
  });
  go.addEventListener("click", () => run(go, async (body) => t("data.saved", { name: await download("/api/data/backup", body, { signal }) })));
  return h("section", { class: "panel", id: "data-backup" }, h("h3", {}, t("data.backup")), h("p", { class: "muted" }, t("data.backupHelp")), form, slot);
}

function snapshotsPanel(info, { signal }) {
  const slot = h("div", { class: "slot", id: "snapshot-result" });
  const rows = info.snapshots.map((s) => {
    const b = h("button", { type: "button", class: "small", dataset: { snapshot: s.id } }, t("data.snapshotRestore"));
    b.addEventListener("click", () => {
      if (!window.confirm(t("data.snapshotConfirm", { id: s.id, sites: s.sites.join(", ") }))) return;
      busy(b, slot, async () => {
        const done = await post(`/api/data/snapshots/${s.id}/restore`, {}, { signal });
        notice(slot, t("data.snapshotDone", { id: done.snapshot, sites: done.sites.join(", ") || "—" }));
      });
    });
    return h("tr", { dataset: { id: s.id } }, h("td", {}, String(s.id)), h("td", {}, fmtTime(s.taken_at)), h("td", {}, s.reason), h("td", {}, s.sites.join(", ") || "—"), h("td", { class: "actions" }, b));
  });
  return h(
    "section",
    { class: "panel", id: "data-snapshots" },
    h("h3", {}, t("data.snapshots")),
    h("p", { class: "muted" }, t("data.snapshotsHelp")),
    rows.length
      ? h("div", { class: "table-wrap" }, table([t("data.snapshotId"), t("data.taken"), t("data.reason"), t("data.sites"), ""], rows, { class: "grid", id: "snapshots-table" }))
      : h("p", { class: "muted" }, t("data.noSnapshots")),
    slot,
  );
}

function restorePanel(info) {
  const slot = h("div", { class: "slot", id: "restore-result" });
  const file = h("input", { type: "file", id: "restore-file", accept: ".tar,*" });
  const chosen = h("span", { class: "muted", id: "restore-file-name" }, t("data.noFile"));
  file.addEventListener("change", () => {
    chosen.textContent = file.files[0] ? file.files[0].name : t("data.noFile");
  });
  const folder = h("input", { id: "restore-folder", value: info.restore_folder, spellcheck: "false" });
  const pass = h("input", { type: "password", id: "restore-passphrase", autocomplete: "off" });
  const go = h("button", { type: "submit", class: "primary", id: "restore-go" }, t("data.restoreGo"));
  const form = h(
    "form",
    { class: "restore-form", autocomplete: "off" },
    field(t("data.file"), h("div", {}, h("label", { class: "button" }, t("data.chooseFile"), file), " ", chosen)),
    field(t("data.folder"), folder, t("data.folderHelp")),
    field(t("data.restorePassphrase"), pass, t("data.restorePassphraseHelp")),
    h("div", { class: "form-actions" }, go),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const chosenFile = file.files[0];
    if (!chosenFile) {
      notice(slot, t("data.noFile"), "info");
      return;
    }
    busy(go, slot, async () => {
      const headers = pass.value ? { "X-Appliance-Passphrase": encodeURIComponent(pass.value) } : {};
      const path = `/api/data/restore?folder=${encodeURIComponent(folder.value.trim())}`;
      const { body } = await upload(path, chosenFile, (done, total) => notice(slot, t("data.uploading", { pct: Math.floor((100 * done) / total) }), "info"), headers);
      pass.value = "";
      slot.replaceChildren(
        h(
          "div",
          { class: "notice notice-ok", role: "status", id: "restore-done" },
          h("p", {}, t("data.restored", { created: fmtTime(body.created_at), root: body.root })),
          h("p", {}, t("data.startOn")),
          h("pre", {}, `appliance --data-dir ${body.root}`),
        ),
      );
    });
  });
  return h(
    "section",
    { class: "panel", id: "data-restore" },
    h("h3", {}, t("data.restore")),
    h("p", { class: "muted" }, t("data.restoreHelp")),
    h("pre", {}, "appliance --data-dir NEW_FOLDER data restore BACKUP.tar"),
    form,
    slot,
  );
}

export async function render(root, { signal }) {
  root.append(h("h2", {}, t("data.title")));
  const slot = h("div");
  root.append(slot);
  try {
    const info = await get("/api/data", { signal });
    slot.replaceChildren(h("p", {}, t("data.folderNow"), " ", h("code", { id: "data-dir" }, info.data_dir)), backupPanel(info, { signal }), snapshotsPanel(info, { signal }), restorePanel(info));
  } catch (err) {
    showError(slot, err);
  }
}
