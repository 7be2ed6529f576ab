// Whether the page can still talk to its server. Every request reports here (api.js, streams.js):
// a request that found no server makes the state "lost"; an answer "missing or wrong token"
// (code auth.token) means a new server with a new login: "restarted". While lost, the public
// /api/health is asked every few seconds; once it answers, one request with the page's login
// tells "ok" (same login: the connection is back) from "restarted". A banner above the screen
// says which, and for a restart offers Reconnect: the window asks the desktop side for the new
// login link when it can, a browser tab says where that link is printed.
import { h } from "./dom.js";
import { t } from "./i18n.js";

const PROBE_MS = 2000;
let state = "ok";
const listeners = new Set();
let probing = 0;

export function connectionState() {
  return state;
}

// fn(state) on every change; returns a function that stops the calls.
export function onConnection(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function set(next) {
  if (next === state) return;
  state = next;
  render();
  for (const fn of [...listeners]) {
    try {
      fn(state);
    } catch (err) {
      console.error(err);
    }
  }
}

// A request reached the server (ok=true, with the error code of a refusal if any), or not.
export function reached(ok, code = null) {
  if (!ok) {
    if (state !== "restarted") set("lost");
    probe();
  } else if (code === "auth.token") {
    set("restarted");
  } else if (state === "lost") {
    set("ok");
  }
}

function probe() {
  if (probing) return;
  probing = setTimeout(async () => {
    probing = 0;
    try {
      const health = await fetch("/api/health", { cache: "no-store" });
      if (!health.ok) throw new Error(`health ${health.status}`);
      // the server is there; does it still know this page's login?
      const mine = await fetch("/api/sites?limit=1", { credentials: "same-origin", cache: "no-store" });
      set(mine.status === 401 ? "restarted" : "ok");
    } catch {
      probe(); // still unreachable: ask again
    }
  }, PROBE_MS);
}

async function reconnect() {
  // the desktop window may offer its current login link (pywebview's JS bridge)
  const bridge = window.pywebview && window.pywebview.api;
  if (bridge && typeof bridge.login_url === "function") {
    try {
      const url = await bridge.login_url();
      if (url) {
        location.replace(url);
        return;
      }
    } catch (err) {
      console.error(err);
    }
  }
  location.reload();
}

function banner() {
  let el = document.getElementById("connection-banner");
  if (!el) {
    el = h("div", { id: "connection-banner", role: "alert" });
    const main = document.getElementById("main");
    if (main && main.parentNode) main.parentNode.insertBefore(el, main);
    else document.body.prepend(el);
  }
  return el;
}

// The banner is text too: it follows the language switch (i18n.js sets <html lang>).
new MutationObserver(() => {
  if (state !== "ok") render();
}).observe(document.documentElement, { attributes: true, attributeFilter: ["lang"] });

function render() {
  const el = banner();
  el.dataset.state = state;
  if (state === "ok") {
    el.replaceChildren();
    el.className = "";
    return;
  }
  el.className = "error-box connection-banner";
  if (state === "lost") {
    el.replaceChildren(h("strong", {}, t("conn.lost")), " ", h("div", { class: "error-hint" }, t("conn.lostHint")));
    return;
  }
  const inWindow = Boolean(window.pywebview);
  el.replaceChildren(
    h("strong", {}, t("conn.restarted")),
    " ",
    h("div", { class: "error-hint" }, inWindow ? t("conn.windowHint") : t("conn.tabHint")),
    h("button", { type: "button", id: "reconnect", onclick: reconnect }, t("conn.reconnect")),
  );
}
