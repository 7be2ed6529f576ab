// The page's entry module: the shell (header, navigation, language switch) and the hash router.
import { h } from "./dom.js";
import { getLang, setLang, t } from "./i18n.js";
import { showError } from "./ui.js";
import * as backups from "./screens/backups.js";
import * as bundles from "./screens/bundles.js";
import * as data from "./screens/data.js";
import * as history from "./screens/history.js";
import * as logsearch from "./screens/logsearch.js";
import * as newRun from "./screens/newrun.js";
import * as run from "./screens/run.js";
import * as schedules from "./screens/schedules.js";
import * as siteConfig from "./screens/siteconfig.js";
import * as sites from "./screens/sites.js";
import * as siteStatus from "./screens/status.js";

const ROUTES = [
  [/^\/?$/, sites.list, "sites"],
  [/^\/sites$/, sites.list, "sites"],
  [/^\/sites\/new$/, sites.edit, "sites"],
  [/^\/sites\/([^/]+)$/, sites.edit, "sites"],
  [/^\/sites\/([^/]+)\/logs$/, logsearch.render, "sites"],
  [/^\/sites\/([^/]+)\/status$/, siteStatus.render, "sites"],
  [/^\/sites\/([^/]+)\/config\/([^/]+)$/, siteConfig.render, "sites"],
  [/^\/sites\/([^/]+)\/backups$/, backups.render, "sites"],
  [/^\/bundles$/, bundles.list, "bundles"],
  [/^\/bundles\/([^/]+)\/([^/]+)$/, bundles.detail, "bundles"],
  [/^\/runs\/new$/, newRun.render, "new-run"],
  [/^\/runs\/(\d+)$/, run.render, "history"],
  [/^\/history$/, history.render, "history"],
  [/^\/schedules$/, schedules.render, "schedules"],
  [/^\/data$/, data.render, "data"],
];

const NAV = [
  ["sites", "#/sites", "nav.sites"],
  ["bundles", "#/bundles", "nav.bundles"],
  ["new-run", "#/runs/new", "nav.newRun"],
  ["history", "#/history", "nav.history"],
  ["schedules", "#/schedules", "nav.schedules"],
  ["data", "#/data", "nav.data"],
];

let current = null; // {controller, cleanup}

function parseHash() {
  const raw = decodeURIComponent(location.hash.replace(/^#/, "")) || "/";
  const [path, qs] = raw.split("?");
  return { path, query: new URLSearchParams(qs || "") };
}

function renderShell() {
  const { path } = parseHash();
  const active = (ROUTES.find(([re]) => re.test(path)) || [])[2];
  const header = document.getElementById("app-header");
  header.replaceChildren(
    h("h1", {}, h("a", { href: "#/sites", class: "brand" }, t("app.title")), h("small", {}, t("app.subtitle"))),
    h(
      "nav",
      { "aria-label": t("nav.label") },
      NAV.map(([key, href, label]) =>
        h("a", { href, class: key === active ? "active" : null, dataset: { nav: key } }, t(label)),
      ),
    ),
    h(
      "button",
      {
        class: "lang-switch",
        type: "button",
        title: t("lang.switchTitle"),
        onclick: () => {
          setLang(getLang() === "zh" ? "en" : "zh");
          route();
        },
      },
      t("lang.other"),
    ),
  );
  document.title = t("app.title");
}

async function route() {
  if (current) {
    current.controller.abort();
    if (typeof current.cleanup === "function") current.cleanup();
  }
  const controller = new AbortController();
  current = { controller, cleanup: null };
  renderShell();
  const root = document.getElementById("main");
  root.replaceChildren();
  const { path, query } = parseHash();
  const match = ROUTES.map(([re, screen]) => [re.exec(path), screen]).find(([m]) => m);
  if (!match) {
    root.append(h("h2", {}, t("err.noScreen")), h("p", {}, h("a", { href: "#/sites" }, t("nav.sites"))));
    return;
  }
  const [m, screen] = match;
  try {
    const cleanup = await screen(root, { params: m.slice(1), query, signal: controller.signal });
    if (current && current.controller === controller) current.cleanup = cleanup;
    else if (typeof cleanup === "function") cleanup();
  } catch (err) {
    if (!controller.signal.aborted) showError(root, err);
  }
}

window.addEventListener("hashchange", route);
window.addEventListener("unhandledrejection", (e) => {
  if (e.reason && e.reason.name === "AbortError") return;
  showError(document.getElementById("global-error"), e.reason);
});
route();
