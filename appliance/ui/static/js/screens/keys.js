// Trusted vendor keys (on the Bundles screen): the list with fingerprints and the bundles each
// signed, trusting a vendor's .pub file, removing a key (refused with the bundles it signed).
import { del, get, post } from "../api.js";
import { h, table } from "../dom.js";
import { t } from "../i18n.js";
import { busy, notice, showError } from "../ui.js";

export function keysSection({ signal }) {
  const slot = h("div", { class: "slot", id: "keys-result" });
  const listSlot = h("div", { class: "table-wrap" });
  const input = h("input", { type: "file", accept: ".pub,.pem", id: "key-file" });

  async function refresh() {
    try {
      const keys = await get("/api/keys", { signal });
      listSlot.replaceChildren(
        table(
          [t("keys.name"), t("keys.id"), t("keys.fingerprint"), t("keys.source"), t("keys.bundles"), ""],
          keys.map((k) => {
            const remove = h("button", { type: "button", class: "danger small", dataset: { remove: k.id } }, t("common.remove"));
            remove.addEventListener("click", () => {
              if (!window.confirm(t("keys.removeConfirm", { name: k.name }))) return;
              busy(remove, slot, async () => {
                await del(`/api/keys/${encodeURIComponent(k.id)}`, { signal });
                notice(slot, t("keys.removed", { name: k.name }));
                await refresh();
              });
            });
            return h(
              "tr",
              { dataset: { key: k.id } },
              h("td", {}, k.name),
              h("td", {}, h("code", {}, k.id)),
              h("td", {}, h("code", { class: "fingerprint" }, k.fingerprint)),
              h("td", {}, t(`keys.${k.source}`)),
              h("td", {}, k.bundles.join(", ") || "—"),
              h("td", { class: "actions" }, k.source === "added" ? remove : null),
            );
          }),
          { class: "grid", id: "keys-table" },
        ),
      );
    } catch (err) {
      showError(listSlot, err);
    }
  }

  input.addEventListener("change", async () => {
    const file = input.files[0];
    if (!file) return;
    try {
      const key = await post("/api/keys", { name: file.name, pem: await file.text() }, { signal });
      notice(slot, t("keys.trusted", { name: key.name, fingerprint: key.fingerprint }));
      await refresh();
    } catch (err) {
      showError(slot, err);
    } finally {
      input.value = "";
    }
  });

  const section = h(
    "section",
    { class: "panel", id: "keys" },
    h("h3", {}, t("keys.title")),
    h("p", { class: "muted" }, t("keys.help")),
    h("label", { class: "button" }, t("keys.add"), input),
    slot,
    listSlot,
  );
  return { section, refresh };
}
