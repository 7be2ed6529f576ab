"""The sign-off report: content, escaping, self-containment, HTTP download and CLI."""

from __future__ import annotations

import re
from pathlib import Path

from appliance.context import Context
from appliance.jobs.reports.report import render_report, write_report
from tests.support.client import Api
from tests.support.processes import run_cli
from tests.ui.helpers import make_run, write_log

LOG = [
    "=== run 1: install acme-suite 1.0.0 on site acme (installed: nothing), 4 step(s) ===",
    "=== [1/4] preflight (playbooks/preflight.yml) ===",
    "ok: [db1]",
    "=== [3/4] component app none -> 1.0.0 (playbooks/app.yml) ===",
    "TASK [start app] ***",
    '\x1b[0;31mfatal: [app1]: FAILED! => {"msg": "port <8080> in use"}\x1b[0m',
    "PLAY RECAP ***",
    "\x1b[0;31mapp1\x1b[0m : ok=1 changed=0 unreachable=0 \x1b[0;31mfailed=1\x1b[0m",
    "=== failed: step 3 app failed ===",
]


def test_report_of_failed_run_has_hosts_steps_and_stripped_error_lines(ctx: Context) -> None:
    run_id = make_run(ctx)
    write_log(ctx, run_id, LOG)
    html = render_report(ctx, run_id)
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "external reference"
    assert "<style>" in html and "@media print" in html
    assert "FAILED" in html and "acme" in html and "acme-suite 1.0.0" in html
    hosts = html.split("Results per host")[1].split("</table>")[0]
    assert "<td>db1</td>" in hosts and "<td>app1</td>" in hosts
    errors = html.split("<h2>Errors</h2>")[1]
    assert "Step 3: app" in errors
    escaped = "fatal: [app1]: FAILED! =&gt; {&quot;msg&quot;: &quot;port &lt;8080&gt; in use&quot;}"
    assert escaped in errors
    assert "failed=1" in errors
    assert "\x1b" not in html
    assert "step 3 app failed" in html and "Read the log." in html
    assert "Operator" in html and "@" in html


def test_report_download_has_own_csp_and_is_saved(ctx: Context, api: Api) -> None:
    run_id = make_run(ctx, state="succeeded", failed_step=None, error=None, hint=None)
    reply = api.get(f"/api/runs/{run_id}/report")
    assert reply.status == 200, reply.body
    assert reply.headers["content-type"].startswith("text/html")
    assert "attachment" in reply.headers["content-disposition"]
    csp = reply.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "style-src 'unsafe-inline'" in csp
    assert (ctx.paths.reports / f"{run_id}.html").read_bytes() == reply.body
    body = reply.body.decode()
    assert "SUCCEEDED" in body and "<h2>Errors</h2>" not in body
    assert "Verification" in body and "verify &lt;check&gt;" in body  # escaped task names


def test_report_of_active_run_is_409_and_unknown_is_404(ctx: Context, api: Api) -> None:
    run_id = make_run(ctx, state="running", failed_step=None)
    reply = api.get(f"/api/runs/{run_id}/report")
    assert reply.status == 409 and "still running" in reply.json()["error"]
    assert api.get("/api/runs/9999/report").status == 404


def test_report_cli_writes_file(ctx: Context, data_dir: Path, tmp_path: Path) -> None:
    run_id = make_run(ctx)
    write_report(ctx, run_id)  # the store is shared through the data folder
    out = tmp_path / "signed.html"
    done = run_cli(data_dir, "report", str(run_id), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_text().startswith("<!doctype html>")
    bad = run_cli(data_dir, "report", "4242")
    assert bad.returncode != 0 and "4242" in bad.stderr
