// A site's configuration for one bundle, generated from the bundle's declaration (config: in
// bundle.yml): a typed input per item with its title and help in the UI language, the server's
// error next to each field, passwords write-only. Saving first shows the changes (old -> new,
// passwords masked) and which components use them; after saving, a reconfigure run re-applies
// those components. Built only through h(); text only through textContent.
import { get, post, put } from "../api.js";
import { h, table } from "../dom.js";
import { getLang, t } from "../i18n.js";
import { busy, notice, showError } from "../ui.js";

const MASK = "••••••••";

function text(map, fallback) {
  if (!map) return fallback;
  return map[getLang()] || map.en || fallback;
}

function shown(item, value) {
  if (item.type === "password") return value ? MASK : "—";
  if (value === null || value === undefined || value === "") return "—";
  if (item.type === "bool") return value ? t("config.yes") : t("config.no");
  return String(value);
}

function control(item) {
  const id = `cfg-${item.name}`;
  const props = { id, name: item.name, "aria-describedby": `${id}-error` };
  if (item.type === "bool") return h("input", { ...props, type: "checkbox", checked: Boolean(item.value) });
  if (item.type === "select") {
    return h(
      "select",
      props,
      item.required ? [] : h("option", { value: "" }, "—"),
      item.options.map((o) => h("option", { value: o, selected: o === item.value }, o)),
    );
  }
  if (item.type === "text") return h("textarea", { ...props, rows: 4, value: item.value ?? "" });
  if (item.type === "password") {
    const hint = item.set ? t("config.passwordSet") : t("config.passwordNotSet");
    return h("input", { ...props, type: "password", autocomplete: "new-password", placeholder: hint });
  }
  const input = h("input", { ...props, type: item.type === "int" ? "number" : "text", value: item.value ?? "" });
  if (item.type === "int") {
    if (item.min !== undefined) input.min = String(item.min);
    if (item.max !== undefined) input.max = String(item.max);
  }
  return input;
}

// The value an input holds now, in its item's type; undefined: nothing to send for it.
function readValue(item, input) {
  if (item.type === "bool") return input.checked;
  const raw = input.value;
  if (item.type === "password") return raw === "" ? undefined : raw;
  if (raw === "") return null; // back to the default
  if (item.type === "int") return /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
  return raw;
}

function same(a, b) {
  return (a ?? null) === (b ?? null);
}

function changes(items, inputs) {
  const out = [];
  for (const item of items) {
    const value = readValue(item, inputs[item.name]);
    if (value === undefined) continue;
    const before = item.type === "password" ? item.set : item.value;
    if (item.type !== "password" && (same(value, before) || (value === null && !item.set))) continue;
    out.push({ item, before, after: value });
  }
  return out;
}

export async function render(root, { params, query, signal }) {
  const [siteRef, bundle] = params;
  const version = query.get("version") || "";
  const url = `/api/sites/${encodeURIComponent(siteRef)}/config/${encodeURIComponent(bundle)}${
    version ? `?version=${encodeURIComponent(version)}` : ""
  }`;
  const status = h("div", { class: "slot", id: "config-status" });
  let data;
  try {
    data = await get(url, { signal });
  } catch (err) {
    root.append(h("h2", {}, t("config.title")), status);
    showError(status, err);
    return;
  }
  const inputs = {};
  const errors = {};
  const rows = data.items.map((item) => {
    const input = control(item);
    inputs[item.name] = input;
    errors[item.name] = h("div", { class: "field-error", id: `cfg-${item.name}-error`, role: "alert", dataset: { errorFor: item.name } });
    const label = text(item.title, item.name);
    return h(
      "div",
      { class: "field config-item", dataset: { item: item.name } },
      h("label", { class: "field-label", for: `cfg-${item.name}` }, label, item.required ? h("span", { class: "required" }, " *") : null),
      input,
      item.help ? h("small", { class: "field-help" }, text(item.help, "")) : null,
      item.components.length ? h("small", { class: "muted" }, t("config.usedBy", { components: item.components.join(", ") })) : null,
      errors[item.name],
    );
  });

  function showFieldErrors(fields) {
    for (const [name, el] of Object.entries(errors)) el.textContent = fields && fields[name] ? fields[name] : "";
  }
  showFieldErrors(data.errors);

  const review = h("div", { class: "slot", id: "config-review-slot" });
  const after = h("div", { class: "slot", id: "config-after" });
  const check = h("button", { type: "submit", class: "primary", id: "config-review" }, t("config.review"));
  const form = h("form", { class: "config-form", novalidate: true }, rows, h("div", { class: "form-actions" }, check));

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const diff = changes(data.items, inputs);
    after.replaceChildren();
    if (!diff.length) {
      notice(review, t("config.noChanges"), "info");
      return;
    }
    const components = [...new Set(diff.flatMap((d) => d.item.components))];
    const save = h("button", { type: "button", class: "primary", id: "config-save" }, t("common.save"));
    review.replaceChildren(
      h("h3", {}, t("config.changes")),
      table(
        [t("config.item"), t("config.before"), t("config.after")],
        diff.map((d) =>
          h("tr", { dataset: { change: d.item.name } }, h("td", {}, text(d.item.title, d.item.name)), h("td", {}, shown(d.item, d.before)), h("td", {}, d.after === null ? t("config.default") : shown(d.item, d.after))),
        ),
        { class: "grid", id: "config-diff" },
      ),
      h("p", { id: "config-affected" }, components.length ? t("config.affected", { components: components.join(", ") }) : t("config.noneAffected")),
      save,
    );
    save.addEventListener("click", () =>
      busy(save, status, async () => {
        const values = Object.fromEntries(diff.map((d) => [d.item.name, d.after]));
        try {
          data = await put(url, { values }, { signal });
        } catch (err) {
          review.replaceChildren();
          if (err.fields) showFieldErrors(err.fields);
          throw err;
        }
        status.replaceChildren();
        review.replaceChildren();
        for (const item of data.items) if (item.type === "password") inputs[item.name].value = "";
        showFieldErrors(data.errors);
        notice(after, t("config.saved"));
        if (data.reconfigure && data.reconfigure.length) after.append(reconfigureButton(data, after, signal));
      }),
    );
  });

  const versions = h(
    "select",
    { id: "config-version", "aria-label": t("config.version") },
    data.versions.map((v) => h("option", { value: v, selected: v === data.version }, v)),
  );
  versions.addEventListener("change", () => {
    location.hash = `#/sites/${data.site_id}/config/${encodeURIComponent(data.bundle)}?version=${encodeURIComponent(versions.value)}`;
  });
  root.append(
    h("h2", {}, t("config.titleNamed", { bundle: data.bundle, version: data.version, site: data.site })),
    h("p", {}, h("a", { href: `#/sites/${data.site_id}` }, t("config.backToSite", { site: data.site }))),
    h("p", {}, h("label", {}, t("config.version"), " ", versions), " ", h("small", { class: "muted" }, t("config.versionHelp"))),
    status,
    form,
    review,
    after,
  );
  if (!data.items.length) notice(status, t("config.none"), "info");
  else if (data.reconfigure && data.reconfigure.length) after.append(reconfigureButton(data, after, signal));
}

function reconfigureButton(data, slot, signal) {
  const button = h("button", { type: "button", id: "config-reconfigure" }, t("config.reconfigure", { components: data.reconfigure.join(", ") }));
  button.addEventListener("click", () =>
    busy(button, slot, async () => {
      const run = await post("/api/runs", { site: data.site, bundle: data.bundle, version: data.version, action: "reconfigure" }, { signal });
      location.hash = `#/runs/${run.id}`;
    }),
  );
  return h("p", {}, button);
}

// On the site screen: a link per bundle that declares configuration.
export function configPanel(site, bundles) {
  const names = [...new Set(bundles.filter((b) => (b.config || []).length).map((b) => b.name))];
  if (!names.length) return null;
  return h(
    "section",
    { class: "panel", id: "config-panel" },
    h("h3", {}, t("config.panel")),
    h(
      "ul",
      {},
      names.map((name) => h("li", {}, h("a", { href: `#/sites/${site.id}/config/${encodeURIComponent(name)}`, dataset: { configBundle: name } }, name))),
    ),
  );
}
