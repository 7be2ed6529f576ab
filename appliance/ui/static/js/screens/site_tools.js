// A site's setup beyond its hosts: delete it (refused with the reason while a run or a schedule
// refers to it). Built only through h(); text only through textContent.
import { del } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { busy } from "../ui.js";

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
