"""index.html of a support bundle: one self-contained page (no script, no outside resource)
that opens offline from the unpacked archive: findings first (pass / warn / fail), then the
hosts with their facts, the runs, and links to the collected files. Every text is escaped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any
from urllib.parse import quote

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.5rem;color:#1f2933}
table{border-collapse:collapse;margin:.5rem 0 1.2rem}td,th{border:1px solid #d5dbe1;
padding:.25rem .5rem;text-align:left;vertical-align:top}
.pass{background:#dcfce7}.warn{background:#fef3c7}.fail{background:#fee2e2}
code{font:12px ui-monospace,monospace}
"""


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], classes=None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{escape(classes[i])}"' if classes else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _size(n: Any) -> str:
    if not isinstance(n, int):
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def render(
    meta: Mapping[str, Any],
    findings: Sequence[Mapping[str, str]],
    hosts: Mapping[str, Mapping[str, Any]],
    runs: Sequence[Mapping[str, Any]],
    files: Sequence[str],
) -> str:
    counts = {s: sum(f["status"] == s for f in findings) for s in ("pass", "warn", "fail")}
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>Support bundle: {escape(meta['site'])}</title><style>{STYLE}</style></head><body>",
        f"<h1>Support bundle: {escape(meta['site'])}</h1>",
        f"<p>Made {escape(meta['created_at'])} by appliance {escape(meta['appliance'])}. "
        "Secrets are redacted (********).</p>",
        f'<h2 id="findings">Findings: <span class="fail">{counts["fail"]} fail</span> '
        f'<span class="warn">{counts["warn"]} warn</span> '
        f'<span class="pass">{counts["pass"]} pass</span></h2>',
    ]
    order = {"fail": 0, "warn": 1, "pass": 2}
    ranked = sorted(findings, key=lambda f: order[f["status"]])
    parts.append(
        _table(
            ["status", "where", "check", "message"],
            [
                [
                    escape(f["status"].upper()),
                    escape(f["scope"]),
                    escape(f["name"]),
                    escape(f["message"]),
                ]
                for f in ranked
            ],
            [f["status"] for f in ranked],
        )
    )
    parts.append("<h2>Hosts</h2>")
    rows = []
    for name, s in hosts.items():
        facts = s.get("facts") or {}
        memory = facts.get("memory") or {}
        disks = ", ".join(
            f"{escape(p)}: {_size(d.get('free'))} free of {_size(d.get('total'))}"
            for p, d in (facts.get("disks") or {}).items()
        )
        rows.append(
            [
                escape(name),
                escape(str(facts.get("os", "-"))),
                escape(str(facts.get("python", "-"))),
                disks or "-",
                f"{_size(memory.get('available'))} / {_size(memory.get('total'))}",
                escape(str(facts.get("uptime_seconds", "-"))),
                escape(s.get("error") or f"{s.get('lines', 0)} log line(s)"),
            ]
        )
    parts.append(
        _table(["host", "OS", "Python", "disk", "memory free / total", "uptime s", "logs"], rows)
    )
    parts.append("<h2>Runs</h2>")
    parts.append(
        _table(
            ["run", "action", "version", "state", "finished", "error"],
            [
                [
                    f'<a href="runs/{r["id"]}/output.log">{r["id"]}</a>',
                    escape(r["action"]),
                    escape(r["version"]),
                    escape(r["state"]),
                    escape(r["finished_at"] or "-"),
                    escape(r["error"] or ""),
                ]
                for r in runs
            ],
        )
    )
    parts.append("<h2>Files</h2><ul>")
    parts += [f'<li><a href="{escape(quote(p))}"><code>{escape(p)}</code></a></li>' for p in files]
    parts.append("</ul></body></html>")
    return "\n".join(parts)
