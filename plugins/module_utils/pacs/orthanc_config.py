"""Orthanc's configuration files: read the global HTTPS-client settings and set the CA.

The CA Orthanc uses to verify the cloud is global, not per destination: ``HttpsCACertificates``
(a PEM bundle path) and ``HttpsVerifyPeers``. Orthanc's configuration is a JSON file or a directory
of ``*.json`` files, with ``//`` and ``/* */`` comments (Debian's ``/etc/orthanc/orthanc.json``).
A top-level key may be defined in only one file (Orthanc refuses to start otherwise: "defined in 2
different configuration files"), so a key is edited in place in the file that defines it, and only
keys defined nowhere go into a new ``stowpath-https.json`` (directory) or the top of the file.
Edits keep comments and layout; changes take effect after an Orthanc restart.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

CA_KEY = "HttpsCACertificates"
VERIFY_KEY = "HttpsVerifyPeers"
NEW_FILE = "stowpath-https.json"
_PEM_CERT_RE = re.compile(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.DOTALL)


def strip_comments(text: str) -> str:
    """``text`` with ``//`` and ``/* */`` comments (outside strings) blanked; offsets are preserved."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                out[i] = " "
                i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            for j in range(i, end):
                if out[j] != "\n":
                    out[j] = " "
            i = end
        else:
            i += 1
    return "".join(out)


def _top_level_spans(stripped: str) -> dict[str, tuple[int, int]]:
    """Top-level key -> (start, end) offsets of its value in the comment-stripped text."""
    spans: dict[str, tuple[int, int]] = {}
    decoder = json.JSONDecoder()
    i = stripped.find("{")
    if i < 0:
        return spans
    i += 1
    n = len(stripped)
    while i < n:
        while i < n and stripped[i] in " \t\r\n,":
            i += 1
        if i >= n or stripped[i] == "}":
            break
        key, i = decoder.raw_decode(stripped, i)
        while stripped[i] in " \t\r\n":
            i += 1
        if stripped[i] != ":":
            raise ValueError(f"expected ':' after {key!r}")
        i += 1
        while stripped[i] in " \t\r\n":
            i += 1
        _, end = decoder.raw_decode(stripped, i)
        spans[str(key)] = (i, end)
        i = end
    return spans


def config_files(path: str) -> list[str]:
    """The files Orthanc reads for ``path`` (a file, or every ``*.json`` of a directory, sorted)."""
    if os.path.isdir(path):
        return [os.path.join(path, f) for f in sorted(os.listdir(path)) if f.endswith(".json")]
    return [path]


def load_settings(path: str) -> dict[str, tuple[str, Any]]:
    """Top-level key -> (file defining it, value), over all configuration files of ``path``."""
    found: dict[str, tuple[str, Any]] = {}
    for f in config_files(path):
        with open(f, encoding="utf-8") as fh:
            stripped = strip_comments(fh.read())
        if not stripped.strip():
            continue
        data = json.loads(stripped)
        if not isinstance(data, dict):
            raise TypeError(f"{f}: the top level is not a JSON object")
        for key, value in data.items():
            found[key] = (f, value)
    return found


def _cert_bodies(pem: str) -> set[str]:
    return {re.sub(r"\s+", "", m) for m in _PEM_CERT_RE.findall(pem)}


def bundle_contains(bundle_path: str, ca_path: str) -> tuple[bool, int, int]:
    """(every certificate of ``ca_path`` is in ``bundle_path``, certs in ca file, certs in bundle)."""
    with open(ca_path, encoding="ascii", errors="replace") as fh:
        wanted = _cert_bodies(fh.read())
    with open(bundle_path, encoding="ascii", errors="replace") as fh:
        have = _cert_bodies(fh.read())
    return bool(wanted) and wanted <= have, len(wanted), len(have)


def ca_status(path: str, ca_file: str | None) -> dict[str, Any]:
    """Whether Orthanc's HTTPS client would verify the cloud with the vendor CA.

    ``status``: ``pass`` (verification on, bundle contains every certificate of ``ca_file``),
    ``fail`` (with ``cause``/``action``) or ``warn`` (cannot tell: no ``ca_file`` given).
    """
    settings = load_settings(path)
    bundle = settings.get(CA_KEY, ("", ""))[1] or ""
    verify = settings.get(VERIFY_KEY, ("", True))[1]
    detail: dict[str, Any] = {CA_KEY: bundle, VERIFY_KEY: verify, "config": path,
                              "defined_in": {k: settings[k][0] for k in (CA_KEY, VERIFY_KEY) if k in settings}}
    if verify is False:
        return {"status": "fail", "detail": detail,
                "cause": "HttpsVerifyPeers is false: the PACS does not verify the cloud's certificate",
                "action": f"set HttpsVerifyPeers to true and {CA_KEY} to the vendor CA bundle, then restart Orthanc"}
    if not bundle:
        return {"status": "fail", "detail": detail,
                "cause": f"{CA_KEY} is empty: Orthanc cannot verify any HTTPS peer (libcurl error 77)",
                "action": f"set {CA_KEY} to a bundle containing the vendor CA ({ca_file or 'ca_file'}), then restart"}
    if not ca_file:
        return {"status": "warn", "detail": detail,
                "cause": "no ca_file given: cannot tell whether the bundle holds the vendor CA",
                "action": "pass ca_file (the vendor CA bundle on the PACS host)"}
    detail["ca_file"] = ca_file
    try:
        ok, n_wanted, n_have = bundle_contains(bundle, ca_file)
    except OSError as exc:
        return {"status": "fail", "detail": detail, "cause": f"cannot read a CA file: {exc}",
                "action": f"install the CA bundle at {bundle} on the PACS host (mode 0644)"}
    detail.update({"ca_file_certificates": n_wanted, "bundle_certificates": n_have})
    if ok:
        return {"status": "pass", "detail": detail}
    return {"status": "fail", "detail": detail,
            "cause": f"{CA_KEY} ({bundle}) does not contain the vendor CA from {ca_file}: TLS to the cloud fails "
                     "(libcurl error 60)",
            "action": f"set {CA_KEY} to {ca_file} (or a bundle that includes it) and restart Orthanc"}


def plan_ca_edit(path: str, ca_bundle: str, verify_peers: bool = True) -> dict[str, tuple[str, str]]:
    """Files to write so that ``HttpsCACertificates = ca_bundle`` and ``HttpsVerifyPeers = verify_peers``.

    Returns ``{file: (old_text, new_text)}`` for files that change (empty: nothing to do). Keys are
    edited where they are defined; keys defined nowhere go to ``stowpath-https.json`` beside the
    others (directory) or right after the opening brace (single file).
    """
    wanted: dict[str, Any] = {CA_KEY: ca_bundle, VERIFY_KEY: verify_peers}
    texts: dict[str, str] = {}
    for f in config_files(path):
        with open(f, encoding="utf-8") as fh:
            texts[f] = fh.read()
    new_texts = dict(texts)
    missing: dict[str, Any] = {}
    for key, value in wanted.items():
        where = None
        for f in texts:
            stripped = strip_comments(new_texts[f])
            if not stripped.strip():
                continue
            spans = _top_level_spans(stripped)
            if key in spans:
                where = (f, spans[key])
        if where is None:
            missing[key] = value
            continue
        f, (start, end) = where
        current = json.loads(strip_comments(new_texts[f])[start:end])
        if current != value:
            new_texts[f] = new_texts[f][:start] + json.dumps(value) + new_texts[f][end:]
    if missing:
        if os.path.isdir(path):
            target = os.path.join(path, NEW_FILE)
            texts.setdefault(target, "")
            new_texts[target] = "// written by stowpath (pacs_destination): the CA Orthanc uses to verify HTTPS peers\n" \
                + json.dumps(missing, indent=2) + "\n"
        else:
            f = path
            brace = strip_comments(new_texts[f]).find("{")
            insert = "".join(f"\n  {json.dumps(k)} : {json.dumps(v)}," for k, v in missing.items())
            new_texts[f] = new_texts[f][: brace + 1] + insert + new_texts[f][brace + 1:]
    return {f: (texts.get(f, ""), new_texts[f]) for f in new_texts if new_texts[f] != texts.get(f, "")}


MERGED_BUNDLE = "orthanc-https-ca.pem"


def _pem_certs(pem: str) -> list[str]:
    return [m.group(0) for m in re.finditer(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", pem, re.S)]


def plan_ca_merge(path: str, ca_file: str, verify_peers: bool = True) -> dict[str, tuple[str, str]]:
    """Like :func:`plan_ca_edit`, but the vendor CA is *added* to the bundle Orthanc already trusts.

    ``HttpsCACertificates`` is global: other HTTPS destinations of the PACS (other clouds, peers) rely on
    it. When it names a readable bundle that lacks the vendor CA, the plan writes a merged bundle
    (``orthanc-https-ca.pem`` beside ``ca_file``: the existing certificates, then the vendor's) and points
    Orthanc at it; the original bundle is never modified. With no existing bundle, ``ca_file`` itself is used.
    """
    settings = load_settings(path)
    current = settings.get(CA_KEY, ("", ""))[1] or ""
    merged = os.path.join(os.path.dirname(os.path.abspath(ca_file)), MERGED_BUNDLE)
    if not current or os.path.abspath(current) == os.path.abspath(ca_file):
        return plan_ca_edit(path, ca_file, verify_peers)
    try:
        with open(current, encoding="ascii", errors="replace") as fh:
            existing = _pem_certs(fh.read())
        with open(ca_file, encoding="ascii", errors="replace") as fh:
            vendor = _pem_certs(fh.read())
    except OSError:
        return plan_ca_edit(path, ca_file, verify_peers)  # nothing readable to keep
    seen = {re.sub(r"\s+", "", c) for c in existing}
    certs = existing + [c for c in vendor if re.sub(r"\s+", "", c) not in seen]
    text = "".join(c.strip() + "\n" for c in certs)
    edits = plan_ca_edit(path, merged, verify_peers)
    old = ""
    if os.path.exists(merged):
        with open(merged, encoding="ascii", errors="replace") as fh:
            old = fh.read()
    if old != text:
        edits[merged] = (old, text)
    return edits


def write_edits(edits: dict[str, tuple[str, str]]) -> None:
    """Write planned edits atomically, keeping each file's mode (new files: 0644)."""
    for f, (_, new) in edits.items():
        mode = os.stat(f).st_mode & 0o7777 if os.path.exists(f) else 0o644
        tmp = f + ".stowpath.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(new)
        os.chmod(tmp, mode)
        os.replace(tmp, f)
