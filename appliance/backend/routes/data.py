"""The appliance's own data in the window: a backup to download, a backup restored into a new
folder, the snapshots of the sites' records restored in place. A passphrase travels only in
the request (body for a backup, a header beside a restore's archive), over the token-protected
loopback API; it is never stored or logged."""

from __future__ import annotations

from urllib.parse import unquote

from bottle import Bottle, HTTPResponse, request, response

from appliance.backend.http import body_deadline, content_length, json_body
from appliance.context import Context
from appliance.jobs import datafolder
from appliance.store import site_snapshots
from appliance.validate import Field, expect_object

BACKUP_FIELDS = {"passphrase": Field(str), "path": Field(str)}
PASSPHRASE_HEADER = "X-Appliance-Passphrase"


def register(app: Bottle, ctx: Context) -> None:
    limit = ctx.settings.max_body_bytes

    @app.get("/api/data")
    def data_info() -> dict:
        return datafolder.data_info(ctx)

    @app.post("/api/data/backup")
    def backup() -> HTTPResponse | dict:
        body = expect_object(json_body(request, limit), "backup", BACKUP_FIELDS)
        if "path" in body:  # written on this computer (the window's own)
            response.status = 201
            return datafolder.backup_to_file(ctx, body["path"], body.get("passphrase"))
        stream, name, size = datafolder.backup_download(ctx, body.get("passphrase"))
        return HTTPResponse(
            stream,
            status=200,
            headers={
                "Content-Type": "application/x-tar",
                "Content-Length": str(size),
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store",
            },
        )

    @app.post("/api/data/restore")
    def restore() -> dict:
        folder = request.query.getunicode("folder") or ""
        # percent-encoded UTF-8: a header holds Latin-1 only
        passphrase = unquote(request.get_header(PASSPHRASE_HEADER) or "") or None
        with body_deadline(request.environ):
            done = datafolder.restore_upload(
                ctx, request.environ["wsgi.input"], content_length(request), folder, passphrase
            )
        response.status = 201
        return done

    @app.post("/api/data/snapshots/<number:int>/restore")
    def restore_snapshot(number: int) -> dict:
        return site_snapshots.restore(ctx.store, ctx.paths.snapshots, number)
