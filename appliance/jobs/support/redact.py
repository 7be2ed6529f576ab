"""What a support bundle must never carry: every credential value the appliance knows (the SSH
keys and passwords of every site, not only this one), private key blocks, ``password=``-style
values, and the values of variables whose names say they are secret. Applied to every text
before it is written into the archive."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from appliance.store import credentials
from appliance.store.credential_key import CredentialKey, CredentialKeyError, PassphraseNeeded
from appliance.store.credentials import REDACTED, Redactor

logger = logging.getLogger(__name__)

_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.S
)
_SECRET_WORDS = r"pass(?:word|wd|phrase)?|secret|token|api[_-]?key|private[_-]?key|credentials?"
# password=x, "password": "x", password: x (the value up to a quote, space, comma, ; or &)
_ASSIGNED = re.compile(
    rf"""(?ix)
    (\b[\w.-]*(?:{_SECRET_WORDS})[\w.-]*["']?\s*[=:]\s*["']?)
    (?!\*{{8}})([^\s"',;&]+)
    """
)
SECRET_NAME = re.compile(rf"(?i)(?:{_SECRET_WORDS}|become_pass|ansible_ssh_pass)")


class Scrubber:
    """One text in, the same text with every known secret and secret-looking value replaced."""

    def __init__(self, known: Iterable[str]) -> None:
        self.known = Redactor(known)

    def __call__(self, text: str) -> str:
        text = self.known(text)
        text = _PRIVATE_KEY.sub(REDACTED, text)
        return _ASSIGNED.sub(lambda m: m.group(1) + REDACTED, text)


def all_known_secrets(
    root: Path, site_ids: Iterable[int], key: CredentialKey | None, own: int
) -> list[str]:
    """Every credential value of every site (a locked key raises as the credentials do, 423,
    before anything is collected). Another site's credentials that no key opens any more are
    skipped: the appliance cannot have written what it cannot read."""
    found: list[str] = []
    for site_id in site_ids:
        try:
            found += credentials.load_credentials(root, site_id, key=key).values()
        except PassphraseNeeded:
            raise
        except CredentialKeyError as e:
            if site_id == own:
                raise
            logger.warning("support bundle: credentials of site %s not read: %s", site_id, e)
    return found


def secret_vars(values: Mapping[str, Any]) -> list[str]:
    """Values of variables named like secrets (``db_password: x``), at any depth."""
    found: list[str] = []
    for name, value in values.items():
        if isinstance(value, Mapping):
            found += secret_vars(value)
        elif SECRET_NAME.search(str(name)) and isinstance(value, str | int) and str(value):
            found.append(str(value))
    return found


def masked(values: Mapping[str, Any]) -> dict[str, Any]:
    """The variables with secret-named values replaced (for site.json)."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, Mapping):
            out[name] = masked(value)
        elif SECRET_NAME.search(str(name)):
            out[name] = REDACTED
        else:
            out[name] = value
    return out
