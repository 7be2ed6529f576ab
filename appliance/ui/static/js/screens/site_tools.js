// A site's setup beyond its hosts: credentials (write-only; unlock a passphrase-protected key),
// the host check table, the inventory export, deleting the site; and importing an inventory.
// Built only through h(); text only through textContent.
import { del, get, post, put } from "../api.js";
import { h, table } from "../dom.js";
import { t } from "../i18n.js";
import { busy, field, notice, select, showError } from "../ui.js";

const KINDS = ["ssh_key", "password", "become_password"];

function unlockForm(slot, onUnlocked, signal) {
  const pass = h("input", { type: "password", id: "unlock-passphrase", autocomplete: "off" });
  const button = h("button", { type: "submit", class: "primary", id: "unlock" }, t("cred.unlock"));
  const form = h("form", { class: "unlock-form" }, field(t("cred.passphrase"), pass, t("cred.passphraseHelp")), button);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(button, slot, async () => {
      await post("/api/credentials/unlock", { passphrase: pass.value }, { signal });
      pass.value = "";
      await onUnlocked();
    });
  });
  return form;
}

export function credentialsPanel(site, { signal }) {
  const status = h("p", { id: "cred-status" });
  const slot = h("div", { class: "slot", id: "cred-result" });
  const unlockSlot = h("div", { id: "unlock-slot" });
  const sshKey = h("textarea", { rows: 3, id: "cred-ssh-key", autocomplete: "off", spellcheck: "false" });
  const keyFile = h("input", { type: "file", id: "cred-ssh-key-file" });
  keyFile.addEventListener("change", async () => {
    if (keyFile.files[0]) sshKey.value = await keyFile.files[0].text();
    keyFile.value = "";
  });
  const password = h("input", { type: "password", id: "cred-password", autocomplete: "new-password" });
  const become = h("input", { type: "password", id: "cred-become", autocomplete: "new-password" });
  const save = h("button", { type: "submit", class: "primary", id: "save-credentials" }, t("cred.save"));
  const clears = h("span", { class: "clears" });

  function show(kinds) {
    status.textContent = kinds.length ? t("cred.set", { kinds: kinds.map((k) => t(`cred.${k}`)).join(", ") }) : t("cred.none");
    clears.replaceChildren(
      ...kinds.map((k) => {
        const b = h("button", { type: "button", class: "small", dataset: { clear: k } }, t("cred.clear", { kind: t(`cred.${k}`) }));
        b.addEventListener("click", () => send({ clear: [k] }, b));
        return b;
      }),
    );
  }

  async function refreshLock() {
    const key = await get("/api/credentials/key", { signal });
    unlockSlot.replaceChildren(
      key.locked ? h("div", { class: "notice notice-info" }, t("cred.locked"), unlockForm(slot, unlocked, signal)) : [],
    );
  }

  async function unlocked() {
    await refreshLock();
    notice(slot, t("cred.unlocked"), "info");
  }

  function send(body, button) {
    return busy(button, slot, async () => {
      try {
        const answer = await put(`/api/sites/${site.id}/credentials`, body, { signal });
        sshKey.value = password.value = become.value = ""; // never kept, never shown back
        show(answer.credentials);
        notice(slot, t("cred.saved"));
      } catch (err) {
        if (err.status === 423) await refreshLock();
        throw err;
      }
    });
  }

  const form = h(
    "form",
    { class: "cred-form", autocomplete: "off" },
    field(t("cred.ssh_key"), h("div", {}, sshKey, h("label", { class: "button small" }, t("cred.keyFile"), keyFile)), t("cred.sshKeyHelp")),
    h("div", { class: "field-row" }, field(t("cred.password"), password), field(t("cred.become_password"), become)),
    h("div", { class: "form-actions" }, save, clears),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const body = {};
    if (sshKey.value.trim()) body.ssh_key = sshKey.value;
    if (password.value) body.password = password.value;
    if (become.value) body.become_password = become.value;
    if (!Object.keys(body).length) {
      notice(slot, t("cred.nothing"), "info");
      return;
    }
    send(body, save);
  });
  show(KINDS.filter((k) => (site.credentials || []).includes(k)));
  get(`/api/sites/${site.id}/credentials`, { signal })
    .then((c) => show(c.credentials))
    .catch((err) => showError(slot, err));
  refreshLock().catch((err) => showError(slot, err));
  return h("section", { class: "panel", id: "credentials" }, h("h3", {}, t("cred.title")), h("p", { class: "muted" }, t("cred.help")), status, unlockSlot, form, slot);
}

function keyCell(key) {
  if (!key) return h("td", {}, "—"); // a host on this machine: no SSH, no key
  if (!key.fingerprint) return h("td", { class: "no" }, t("hostkey.notRead"));
  const cls = { trusted: "yes", unknown: "", changed: "no" }[key.status] ?? "";
  return h(
    "td",
    { class: `host-key ${cls}` },
    h("span", {}, `${key.type} `),
    h("code", { class: "fingerprint" }, key.fingerprint),
    h("br"),
    h("span", { class: "muted" }, t(`hostkey.${key.status}`)),
  );
}

// Accept (unknown) or replace (changed, after a confirmation naming both fingerprints) the key a
// host offers; the fingerprint shown goes along, so a key that changed meanwhile is refused.
function acceptButton(site, host, key, slot, again, signal) {
  if (!key || !key.fingerprint || !["unknown", "changed"].includes(key.status)) return [];
  const replace = key.status === "changed";
  const b = h(
    "button",
    { type: "button", class: replace ? "small danger" : "small", dataset: { accept: host } },
    replace ? t("hostkey.replace") : t("hostkey.accept"),
  );
  b.addEventListener("click", () => {
    if (replace && !window.confirm(t("hostkey.replaceConfirm", { host, old: key.trusted?.fingerprint ?? "?", now: key.fingerprint }))) return;
    busy(b, slot, async () => {
      await post(`/api/sites/${site.id}/host-keys`, { hosts: [host], replace, fingerprints: { [host]: key.fingerprint } }, { signal });
      notice(slot, t("hostkey.accepted", { host }));
      again();
    });
  });
  return b;
}

// Every new key at once (trust on first use for the site); changed keys stay one by one.
function acceptAll(site, hosts, slot, again, signal) {
  const fresh = hosts.filter((x) => x.host_key && x.host_key.status === "unknown" && x.host_key.fingerprint);
  if (!fresh.length) return [];
  const b = h("button", { type: "button", id: "accept-all-keys" }, t("hostkey.acceptAll", { count: fresh.length }));
  b.addEventListener("click", () =>
    busy(b, slot, async () => {
      const fingerprints = Object.fromEntries(fresh.map((x) => [x.host, x.host_key.fingerprint]));
      await post(`/api/sites/${site.id}/host-keys`, { hosts: Object.keys(fingerprints), fingerprints }, { signal });
      notice(slot, t("hostkey.accepted", { host: Object.keys(fingerprints).join(", ") }));
      again();
    }),
  );
  return h("p", {}, b);
}

export function checkPanel(site, { signal }) {
  const slot = h("div", { class: "slot table-wrap", id: "check-result" });
  const keySlot = h("div", { class: "slot", id: "host-key-result" });
  const button = h("button", { type: "button", id: "check-hosts" }, t("check.run"));
  const again = () => button.click();
  button.addEventListener("click", () => {
    slot.replaceChildren(h("p", { class: "muted" }, t("check.running")));
    busy(button, slot, async () => {
      const r = await post(`/api/sites/${site.id}/check`, {}, { signal });
      slot.replaceChildren(
        h("div", { class: `notice ${r.ok ? "notice-ok" : "error-box"}`, id: "check-verdict" }, r.ok ? t("check.ready") : t("check.notReady")),
        acceptAll(site, r.hosts, keySlot, again, signal),
        table(
          [t("check.host"), t("check.target"), t("check.login"), t("check.python"), t("check.modules"), t("check.sudo"), t("check.hostKey"), t("check.problem")],
          r.hosts.map((x) =>
            h(
              "tr",
              { dataset: { host: x.host } },
              h("td", {}, x.host),
              h("td", {}, `${x.user ? `${x.user}@` : ""}${x.address}:${x.port}`),
              h("td", { class: x.reachable ? "yes" : "no" }, x.reachable ? t("common.yes") : t("common.no")),
              h(
                "td",
                {},
                [x.python_version, x.python].filter(Boolean).join(" ") || "—",
                x.ansible_core ? h("div", { class: "muted" }, t("check.core", { version: x.ansible_core })) : null,
                x.ansible_core_note ? h("div", { class: "muted" }, x.ansible_core_note) : null,
              ),
              h("td", { class: x.modules ? "yes" : "no" }, x.modules ? t("common.yes") : t("common.no")),
              h("td", {}, x.sudo || "—"),
              keyCell(x.host_key),
              h("td", {}, x.error || "", h("div", {}, acceptButton(site, x.host, x.host_key, keySlot, again, signal))),
            ),
          ),
          { class: "grid", id: "check-table" },
        ),
      );
    });
  });
  return h("section", { class: "panel", id: "host-check" }, h("h3", {}, t("check.title")), h("p", { class: "muted" }, t("check.help")), button, keySlot, slot);
}

export function exportPanel(site, { signal }) {
  const text = h("textarea", { rows: 8, readonly: true, id: "inventory-text", hidden: true });
  const slot = h("div", { class: "slot" });
  const url = `/api/sites/${site.id}/inventory`;
  const show = h("button", { type: "button", id: "show-inventory" }, t("inv.show"));
  show.addEventListener("click", () =>
    busy(show, slot, async () => {
      const response = await fetch(url, { credentials: "same-origin", signal });
      if (!response.ok) throw new Error(t("err.http", { status: response.status }));
      text.value = await response.text();
      text.hidden = false;
      text.select();
    }),
  );
  return h(
    "section",
    { class: "panel", id: "inventory-export" },
    h("h3", {}, t("inv.export")),
    h("p", {}, show, " ", h("a", { class: "button", href: url, download: `${site.name}.ini`, id: "download-inventory" }, t("inv.download"))),
    slot,
    text,
  );
}

export function deletePanel(site, { signal }) {
  const slot = h("div", { class: "slot", id: "delete-site-result" });
  const button = h("button", { type: "button", class: "danger", id: "delete-site" }, t("sites.delete"));
  button.addEventListener("click", () => {
    if (!window.confirm(t("sites.deleteConfirm", { name: site.name }))) return;
    busy(button, slot, async () => {
      await del(`/api/sites/${site.id}`, { signal });
      location.hash = "#/sites";
    });
  });
  return h("section", { class: "panel danger-zone" }, h("h3", {}, t("sites.delete")), h("p", { class: "muted" }, t("sites.deleteHelp")), button, slot);
}

export function importPanel({ signal }) {
  const slot = h("div", { class: "slot", id: "import-site-result" });
  const name = h("input", { id: "import-name", required: true });
  const format = select([["ini", "INI"], ["yaml", "YAML"]], "ini", { id: "import-format" });
  const text = h("textarea", { rows: 8, id: "import-text", spellcheck: "false" });
  const file = h("input", { type: "file", id: "import-file", accept: ".ini,.yml,.yaml,.cfg,.txt,*" });
  file.addEventListener("change", async () => {
    const f = file.files[0];
    if (!f) return;
    text.value = await f.text();
    format.value = /\.ya?ml$/i.test(f.name) ? "yaml" : "ini";
    if (!name.value) name.value = f.name.replace(/\.[^.]*$/, "").replace(/[^A-Za-z0-9_.-]/g, "-");
    file.value = "";
  });
  const go = h("button", { type: "submit", class: "primary", id: "import-site" }, t("inv.import"));
  const form = h(
    "form",
    { class: "import-form" },
    h("div", { class: "field-row" }, field(t("sites.name"), name), field(t("inv.format"), format)),
    field(t("inv.text"), text, t("inv.textHelp")),
    h("div", { class: "form-actions" }, go, h("label", { class: "button" }, t("inv.file"), file)),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(go, slot, async () => {
      const site = await post("/api/sites/import", { name: name.value.trim(), format: format.value, text: text.value }, { signal });
      location.hash = `#/sites/${site.id}?saved=1`;
    });
  });
  return h("details", { class: "panel", id: "import-inventory" }, h("summary", {}, t("inv.importTitle")), form, slot);
}
