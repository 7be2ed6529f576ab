// Time zones: a searchable picker over the tz database (GET /api/timezones, served by the
// appliance itself: no network), and times shown in a named zone.
import { get } from "./api.js";
import { h } from "./dom.js";
import { getLang, t } from "./i18n.js";

let zonesAnswer = null;

// {zones: [...sorted names], local: "<this computer's zone>"}, asked once per page.
export function loadZones(signal) {
  if (!zonesAnswer) {
    zonesAnswer = get("/api/timezones", { signal }).catch((err) => {
      zonesAnswer = null;
      throw err;
    });
  }
  return zonesAnswer;
}

export function viewerZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

function locale() {
  return getLang() === "zh" ? "zh-CN" : "en-GB";
}

// A time (ISO or ms) as the wall time in `zone` (the viewer's when none), in the UI language.
export function fmtInZone(value, zone) {
  const ms = typeof value === "number" ? value : Date.parse(value);
  if (Number.isNaN(ms)) return "—";
  const options = { weekday: "short", year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (zone) options.timeZone = zone;
  return new Intl.DateTimeFormat(locale(), options).format(new Date(ms));
}

// How far `zone`'s wall clock is ahead of UTC at the instant `ms`.
function offsetMs(zone, ms) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(ms));
  const part = (type) => Number(parts.find((p) => p.type === type).value);
  const wall = Date.UTC(part("year"), part("month") - 1, part("day"), part("hour"), part("minute"), part("second"));
  return wall - Math.floor(ms / 1000) * 1000;
}

// An <input type="datetime-local"> value read as a wall time in `zone`, as ISO-8601 UTC.
export function wallTimeToIso(value, zone) {
  const [date, time] = value.split("T");
  const [y, mo, d] = date.split("-").map(Number);
  const [hh, mi] = time.split(":").map(Number);
  const wall = Date.UTC(y, mo - 1, d, hh, mi);
  let ms = wall - offsetMs(zone, wall);
  ms = wall - offsetMs(zone, ms); // again at the instant found: right across a DST change
  return new Date(ms).toISOString();
}

// The picker: a search box that filters the zone list as you type; the list's choice is the
// value (always a zone of the database). `value` is a getter/setter.
export function zonePicker(zones, value, id) {
  let current = value;
  const search = h("input", { type: "search", id: `${id}-search`, placeholder: t("zone.search"), "aria-label": t("zone.search"), autocomplete: "off" });
  const list = h("select", { id, size: 6, class: "zone-list", "aria-label": t("zone.label") });
  const chosen = h("small", { class: "field-help", id: `${id}-chosen` });
  const none = h("small", { class: "field-help", hidden: true }, t("zone.none"));
  function fill() {
    const words = search.value.toLowerCase().replace(/[_/]+/g, " ").split(/\s+/).filter(Boolean);
    const shown = zones.filter((z) => {
      const key = z.toLowerCase().replace(/[_/]+/g, " ");
      return words.every((w) => key.includes(w));
    });
    if (words.length && shown.length && !shown.includes(current)) current = shown[0];
    list.replaceChildren(...shown.map((z) => h("option", { value: z, selected: z === current }, z)));
    none.hidden = shown.length > 0;
    chosen.textContent = t("zone.chosen", { zone: current || "—" });
  }
  search.addEventListener("input", fill);
  list.addEventListener("change", () => {
    current = list.value;
    chosen.textContent = t("zone.chosen", { zone: current });
  });
  fill();
  return {
    el: h("div", { class: "zone-picker" }, search, list, none, chosen),
    get value() {
      return current;
    },
    set value(zone) {
      current = zone;
      search.value = "";
      fill();
    },
  };
}
