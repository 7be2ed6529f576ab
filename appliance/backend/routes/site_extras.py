"""Remote-site routes: inventory import/export, credentials (write-only), connectivity check,
host keys."""

from __future__ import annotations

from bottle import Bottle, HTTPResponse, request, response

from appliance.backend.http import json_body
from appliance.context import Context
from appliance.errors import BadRequest
from appliance.jobs.sites import inventory_io, trust
from appliance.jobs.sites import service as remote_sites
from appliance.validate import Field, expect_object

UNLOCK_FIELDS = {"passphrase": Field(str, required=True)}
IMPORT_FIELDS = {
    "name": Field(str, required=True),
    "format": Field(str),  # ini | yaml | auto (default: from the content)
    "text": Field(str, required=True, max_chars=inventory_io.MAX_TEXT),
}
TRUST_FIELDS = {
    "hosts": Field(list),  # names; default: every host reached over SSH
    "replace": Field(bool),  # accept a key that changed
    "fingerprints": Field(dict),  # host -> the fingerprint the engineer saw
}


def _strings(value: object, where: str) -> None:
    items = value.values() if isinstance(value, dict) else value
    if not all(isinstance(x, str) for x in items or ()):
        raise BadRequest(f"{where} must hold strings", f"Send {where} as host names.")


def register(app: Bottle, ctx: Context) -> None:
    limit = ctx.settings.max_body_bytes

    @app.post("/api/sites/import")
    def import_site() -> dict:
        # the inventory's text is one string as large as the body may be
        body = expect_object(json_body(request, limit, max_string=limit), "import", IMPORT_FIELDS)
        fmt = body.get("format") or "auto"
        created = remote_sites.import_site(ctx, body["name"], fmt, body["text"])
        response.status = 201
        return created

    @app.get("/api/sites/<ref>/inventory")
    def export_site(ref: str) -> HTTPResponse:
        return HTTPResponse(
            remote_sites.export_site(ref),
            status=200,
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )

    @app.get("/api/sites/<ref>/credentials")
    def credential_status(ref: str) -> dict:
        return remote_sites.credential_status(ref)

    @app.put("/api/sites/<ref>/credentials")
    def set_credentials(ref: str) -> dict:
        body = json_body(request, limit)
        if not isinstance(body, dict):
            raise BadRequest("credentials must be a JSON object", 'Send {"password": ...}.')
        clear = body.pop("clear", [])
        if not isinstance(clear, list) or not all(isinstance(k, str) for k in clear):
            raise BadRequest("clear must be a list of kinds", 'Send e.g. "clear": ["password"].')
        # the answer names the kinds that are set; a secret is never sent back
        return remote_sites.set_site_credentials(ctx, ref, body, clear)

    @app.post("/api/sites/<ref>/check")
    def check_site(ref: str) -> dict:
        return remote_sites.check_site(ctx, ref)

    @app.get("/api/sites/<ref>/host-keys")
    def host_keys(ref: str) -> dict:
        return trust.trusted_keys(ctx, ref)

    @app.post("/api/sites/<ref>/host-keys")
    def trust_host_keys(ref: str) -> dict:
        body = expect_object(json_body(request, limit), "host-keys", TRUST_FIELDS)
        _strings(body.get("hosts"), "hosts")
        _strings(body.get("fingerprints"), "fingerprints")
        return trust.trust_keys(
            ctx,
            ref,
            body.get("hosts") or (),
            replace=bool(body.get("replace")),
            expect=body.get("fingerprints"),
        )

    @app.get("/api/credentials/key")
    def key_status() -> dict:
        return remote_sites.key_status(ctx)

    @app.post("/api/credentials/unlock")
    def unlock_key() -> dict:
        body = expect_object(json_body(request, limit), "unlock", UNLOCK_FIELDS)
        return remote_sites.unlock_key(ctx, body["passphrase"])

    @app.post("/api/credentials/lock")
    def lock_key() -> dict:
        return remote_sites.lock_key(ctx)
