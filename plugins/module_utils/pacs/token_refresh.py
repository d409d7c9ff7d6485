"""Bearer-token refresher for the PACS's DICOMweb destination (Orthanc): a small long-running service.

Orthanc's DICOMweb client sends fixed ``HttpHeaders``; it cannot run an OAuth 2.0 grant. This service does
it for the PACS: it gets a token with the client-credentials grant (:mod:`..dicomweb.oauth`, client secret or
private-key JWT assertion), puts it on Orthanc's DICOMweb server entry as ``Authorization: Bearer ...``
(``PUT /dicom-web/servers/{name}``, every other field of the entry kept), and fetches the next token at
``fraction`` (2/3) of each token's lifetime, with jitter; when the token URL or the PACS is down it retries
with exponential backoff (the current token stays in place until it expires).

Orthanc never reads back ``Password``, ``CertificateKeyFile`` and ``CertificateKeyPassword`` (they come back
``null``), and a PUT replaces the whole entry: the config file carries them, as the role that created the
entry knows them, and the service refuses to write an entry it would strip of one. The entry's
``StowpathFingerprint`` (what the role set) is kept, so the role still sees its own values.

A status file (JSON, mode 0600: last attempt, last refresh, expiry, next refresh, last error) is written
after every attempt for monitoring and the report (:func:`..dicomweb.target.refresher_status_text`). The
token, the client secret and the passwords never appear in a log line or in the status file.

Run: ``python -m ansible_collections.stowpath.core.plugins.module_utils.pacs.token_refresh --config FILE``
(``--once``: one refresh, exit status 0/1). The config (JSON, mode 0600) has ``api_url``, ``api_username``,
``api_password``, ``server`` and ``status_file``; the token settings ``token_url``, ``client_id``,
``client_secret`` or ``client_assertion_key_file`` (+ ``client_assertion_key_password``, ``client_assertion_kid``),
``token_auth_method``, ``token_audience``, ``token_scope``, ``token_ca_bundle``; the entry's hidden values
``password``, ``client_key``, ``client_key_password``; ``http_headers`` (other headers to keep); and the timing
``fraction`` (0.667), ``jitter`` (0.1), ``retry_base_s`` (5), ``retry_max_s`` (300), ``min_interval_s`` (30),
``default_lifetime_s`` (3600, when the token says nothing about its expiry).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import ssl
import stat
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ..dicomweb.oauth import TokenConfig, TokenError, get_token
from ..dicomweb.tls import make_context
from ..redact import mask_with
from .autoroute import Backoff
from .base import PacsError
from .orthanc import OrthancApi

# Fields Orthanc stores but never shows (null on read), and where the config keeps them.
HIDDEN = {"Password": "password", "CertificateKeyFile": "client_key", "CertificateKeyPassword": "client_key_password"}
# Which readable field makes a hidden one necessary.
NEEDED_BY = {"Password": "Username", "CertificateKeyFile": "CertificateFile"}


@dataclass
class RefreshConfig:
    """Where the token comes from, which PACS entry gets it, and the timing."""

    server: str
    token: TokenConfig
    api_url: str = "http://127.0.0.1:8042"
    api_username: str | None = None
    api_password: str | None = field(default=None, repr=False)
    api_timeout: float = 30.0
    hidden: dict[str, str] = field(default_factory=dict, repr=False)
    http_headers: dict[str, str] = field(default_factory=dict, repr=False)
    status_file: str | None = None
    fraction: float = 2 / 3
    jitter: float = 0.1
    retry_base_s: float = 5.0
    retry_max_s: float = 300.0
    min_interval_s: float = 30.0
    default_lifetime_s: float = 3600.0

    @property
    def secrets(self) -> list[str]:
        return [s for s in (self.api_password, *self.token.secrets, *self.hidden.values(),
                            *self.http_headers.values()) if s]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RefreshConfig:
        token = TokenConfig(
            token_url=d.get("token_url"), client_id=d.get("client_id"), client_secret=d.get("client_secret") or None,
            assertion_key_file=d.get("client_assertion_key_file") or None,
            assertion_key_password=d.get("client_assertion_key_password") or None,
            assertion_kid=d.get("client_assertion_kid") or None, auth_method=d.get("token_auth_method") or None,
            audience=d.get("token_audience") or None, scope=d.get("token_scope") or None,
            ca_bundle=d.get("token_ca_bundle") or None, connect_address=d.get("token_connect_address") or None,
            timeout=float(d.get("token_timeout", 30)))
        problems = token.problems() if token.token_url else ["token_url is required (the client-credentials grant)"]
        if not d.get("server"):
            problems.append("server (the PACS's DICOMweb server name) is required")
        if problems:
            raise ValueError("; ".join(problems))
        return cls(server=str(d["server"]), token=token, api_url=d.get("api_url") or cls.api_url,
                   api_username=d.get("api_username") or None, api_password=d.get("api_password") or None,
                   api_timeout=float(d.get("api_timeout", 30)),
                   hidden={k: str(d[k]) for k in HIDDEN.values() if d.get(k)},
                   http_headers={str(k): str(v) for k, v in (d.get("http_headers") or {}).items()
                                 if str(k).lower() != "authorization"},
                   status_file=d.get("status_file") or None,
                   **{k: float(d[k]) for k in ("fraction", "jitter", "retry_base_s", "retry_max_s", "min_interval_s",
                                               "default_lifetime_s") if d.get(k) is not None})


# ---------------------------------------------------------------- pure parts

def refresh_delay(lifetime_s: float, fraction: float = 2 / 3, jitter: float = 0.1, min_s: float = 30.0,
                  rand: Callable[[], float] = random.random) -> float:
    """Seconds until the next refresh: ``fraction`` of the token's lifetime, +-``jitter`` of that, never less
    than ``min_s`` unless the token lives shorter (then half its lifetime)."""
    base = max(0.0, lifetime_s) * fraction
    delay = base * (1 - jitter + 2 * jitter * rand())
    floor = min(min_s, max(1.0, lifetime_s / 2))
    return round(max(floor, delay), 3)


def entry_body(current: dict[str, Any], hidden: dict[str, str], headers: dict[str, str],
               access_token: str) -> dict[str, Any]:
    """The PUT body: the entry as Orthanc shows it, its hidden values from the config, the headers with the
    new ``Authorization``. Raises :class:`PacsError` when the PUT would strip a hidden value it cannot know."""
    body = {k: v for k, v in current.items() if v is not None and k != "HttpHeaders" and k not in HIDDEN}
    for key, conf_key in HIDDEN.items():
        if conf_key in hidden:
            body[key] = hidden[conf_key]
        elif NEEDED_BY.get(key) in body:
            raise PacsError(f"the entry has {NEEDED_BY[key]} but the refresher's config has no {conf_key}: a PUT "
                            f"would remove the entry's {key}", f"add {conf_key} to the refresher's config (the "
                            "value the pacs_destination role set)")
    body["HttpHeaders"] = {**headers, "Authorization": f"Bearer {access_token}"}
    return body


def status_doc(*, now: float, ok: bool, expires_at: float | None, next_at: float, error: str | None,
               failures: int, previous: dict[str, Any], cfg: RefreshConfig) -> dict[str, Any]:
    """What the status file says after one attempt (never a token or secret)."""
    def iso(t: float | None) -> str | None:
        return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))

    return {"server": cfg.server, "token_url": cfg.token.token_url, "client_id": cfg.token.client_id,
            "last_attempt": iso(now), "last_refresh": iso(now) if ok else previous.get("last_refresh"),
            "expires_at": iso(expires_at) if ok else previous.get("expires_at"),
            "next_refresh": iso(next_at), "error": None if ok else error, "consecutive_failures": failures,
            "ok": ok}


# ---------------------------------------------------------------- effects

def server_path(name: str) -> str:
    return "/dicom-web/servers/" + quote(name, safe="")


def set_token(api: OrthancApi, cfg: RefreshConfig, access_token: str) -> None:
    """Put ``access_token`` on the PACS's entry, keeping the rest; read back that the header is there."""
    status, listing = api.request("GET", "/dicom-web/servers?expand")
    if status != 200 or not isinstance(listing, dict):
        raise PacsError(f"GET /dicom-web/servers?expand answered HTTP {status}",
                        "check that the PACS runs with the DICOMweb plugin")
    current = listing.get(cfg.server)
    if not isinstance(current, dict):
        raise PacsError(f"the PACS has no DICOMweb server {cfg.server!r}",
                        "configure the destination first (onboard-site.yml), then start the refresher")
    body = entry_body(current, cfg.hidden, cfg.http_headers, access_token)
    status, answer = api.request("PUT", server_path(cfg.server), body=body)
    if status != 200:
        message = answer.get("Message", "") if isinstance(answer, dict) else ""
        raise PacsError(f"the PACS refused the new token header (HTTP {status}: {message})", "check the PACS log")
    status, listing = api.request("GET", "/dicom-web/servers?expand")
    stored = listing.get(cfg.server) if status == 200 and isinstance(listing, dict) else None
    if not isinstance(stored, dict) or "Authorization" not in (stored.get("HttpHeaders") or []):
        raise PacsError("the PACS did not keep the Authorization header", "check the DICOMweb plugin version")


def token_context(cfg: TokenConfig) -> ssl.SSLContext | None:
    if not (cfg.token_url or "").startswith("https:"):
        return None
    return make_context(cfg.ca_bundle, None, None, None, verify=True)


def refresh_once(cfg: RefreshConfig, api: OrthancApi, issued: list[str] | None = None) -> tuple[float, float | None]:
    """One refresh: (token lifetime in seconds, expiry epoch). Raises TokenError / PacsError / OSError.
    The new token is appended to ``issued`` (for masking) before it is used."""
    token = get_token(cfg.token, token_context(cfg.token), force=True)
    if issued is not None:
        issued[:] = [*issued[-1:], token.access_token]
    set_token(api, cfg, token.access_token)
    lifetime = token.expires_in()
    return (cfg.default_lifetime_s if lifetime is None else lifetime), token.expires_at


def write_status(path: str | None, doc: dict[str, Any]) -> None:
    if not path:
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(doc, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, path)


class Refresher:
    """The loop's state: consecutive failures, the last status; ``step`` runs one attempt, returns the delay."""

    def __init__(self, cfg: RefreshConfig, api: OrthancApi, log: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.time, rand: Callable[[], float] = random.random) -> None:
        self.cfg, self.api, self.clock, self.rand = cfg, api, clock, rand
        self._log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.failures = 0
        self.status: dict[str, Any] = {}
        self.issued: list[str] = []
        self.backoff = Backoff(cfg.retry_base_s, cfg.retry_max_s, cfg.jitter)

    def log(self, line: str) -> None:
        """Log a line with every known and issued secret masked."""
        self._log(mask_with(line, [*self.cfg.secrets, *self.issued]))

    def step(self) -> float:
        now = self.clock()
        try:
            lifetime, expires_at = refresh_once(self.cfg, self.api, self.issued)
        except (TokenError, PacsError, OSError, ssl.SSLError) as exc:
            self.failures += 1
            error = exc.failure.cause if isinstance(exc, TokenError) else str(exc)
            action = exc.failure.action if isinstance(exc, TokenError) else getattr(exc, "action", "")
            delay = self.backoff.delay(self.failures, self.rand)
            self.status = status_doc(now=now, ok=False, expires_at=None, next_at=now + delay, error=error,
                                     failures=self.failures, previous=self.status, cfg=self.cfg)
            self.log(f"token-refresh: {self.cfg.server}: {error} ({action}); retry {self.failures} in {delay:.0f} s")
        else:
            self.failures = 0
            delay = refresh_delay(lifetime, self.cfg.fraction, self.cfg.jitter, self.cfg.min_interval_s, self.rand)
            self.status = status_doc(now=now, ok=True, expires_at=expires_at, next_at=now + delay, error=None,
                                     failures=0, previous=self.status, cfg=self.cfg)
            self.log(f"token-refresh: {self.cfg.server}: new token, lifetime {lifetime:.0f} s, next in {delay:.0f} s")
        write_status(self.cfg.status_file, self.status)
        return delay


def load_config(path: str) -> RefreshConfig:
    """The config file (it holds secrets: a warning when others may read it)."""
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        print(f"token-refresh: warning: {path} is mode {mode:04o} and holds secrets: chmod 600 it", file=sys.stderr)
    with open(path, encoding="utf-8") as fh:
        return RefreshConfig.from_dict(json.load(fh))


def main(argv: list[str] | None = None, sleep: Callable[[float], None] = time.sleep) -> int:
    p = argparse.ArgumentParser(description="stowpath: keep the PACS's DICOMweb bearer token fresh")
    p.add_argument("--config", required=True, help="JSON config (mode 0600; fields in the module docstring)")
    p.add_argument("--once", action="store_true", help="refresh once and exit (0 ok, 1 failed)")
    a = p.parse_args(argv)
    try:
        cfg = load_config(a.config)
    except (OSError, ValueError) as exc:
        print(f"token-refresh: cannot use {a.config}: {exc}", file=sys.stderr)
        return 2
    api = OrthancApi(cfg.api_url, cfg.api_username, cfg.api_password, timeout=cfg.api_timeout)
    refresher = Refresher(cfg, api)
    if a.once:
        refresher.step()
        return 0 if refresher.status.get("ok") else 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        sleep(refresher.step())


if __name__ == "__main__":
    sys.exit(main())
