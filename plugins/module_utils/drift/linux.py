"""Drift of a linux_strongswan gateway (strongSwan swanctl + FRR + nftables), read ON the gateway.

Runs inside ``stowpath.core.drift_linux`` over SSH, so standard library only. It reuses the push
planner's building blocks (:mod:`..linux_gateway`: the device paths, the intended files with the
facility's own FRR sections carried along exactly as a push would, the nft include line, the swanctl runtime fingerprint recorded at the
last push) and compares only what stowpath owns:

* files: ``/etc/swanctl/conf.d/stowpath.conf`` and ``/etc/nftables.d/stowpath.nft`` (ours entirely),
  the include line in ``/etc/nftables.conf``, the owned sections of ``/etc/frr/frr.conf``;
* FRR running config: ``frr-reload.py --test`` (FRR's own diff, which normalises what FRR rewrites)
  restricted to the owned sections (:mod:`.frr`);
* nftables runtime: ``nft list table inet stowpath`` against the intended file loaded into a
  throw-away network namespace (nft's own canonical form: set ordering, defaults; counters ignored);
* strongSwan runtime: the loaded ``stowpath-*`` connections and the fingerprint of the loaded
  connections recorded by the last push;
* runtime state: tunnels ESTABLISHED and BGP Established with routes (the verification evaluators).

Nothing is changed on the device. Everything returned is masked; a device secret that differs from
the intended one is followed by ``[differs from intended]``.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from typing import Any, Callable

from .. import linux_gateway as lg
from ..checks import check
from . import frr
from .secrets import DIFFERS, artifact_secrets, mask_marked

Runner = Callable[[list[str]], "tuple[int, str, str]"]

# What a backup holds besides the owned files: the state the daemons actually run with.
BACKUP_COMMANDS: dict[str, list[str]] = {
    "swanctl-list-conns.txt": ["swanctl", "--list-conns"],
    "swanctl-list-sas.txt": ["swanctl", "--list-sas"],
    "frr-running-config.conf": ["vtysh", "-c", "show running-config"],
    "nft-ruleset.nft": ["nft", "list", "ruleset"],
}
BACKUP_FILES = {"swanctl": "etc-swanctl-conf.d-stowpath.conf", "frr": "etc-frr-frr.conf",
                "nft": "etc-nftables.d-stowpath.nft", "nft_main": "etc-nftables.conf"}
_COUNTER_RE = re.compile(r"counter packets \d+ bytes \d+")
_HANDLE_RE = re.compile(r"\s+# handle \d+")
_CONN_RE = re.compile(r"^\s{4}(\S+)\s*\{\s*$", re.M)
FRR_AREA = (("router bgp", "bgp"), ("ip prefix-list", "bgp"), ("route-map", "bgp"), ("interface", "interfaces"),
            ("ip route", "routes"))


def item(item_id: str, area: str, kind: str, obj: str, title: str, diff: str = "", commands: list[str] | None = None,
         changes: list[str] | None = None) -> dict[str, Any]:
    """One drifted owned section: what, where, the diff (device -> intended) and how to remediate."""
    return {"id": item_id, "area": area, "kind": kind, "object": obj, "title": title, "diff": diff,
            "commands": commands or [], "changes": changes or []}


def _text(data: bytes | None) -> str:
    return (data or b"").decode(errors="replace")


def _diff_lines(text: str) -> list[str]:
    return text.splitlines()


def nft_normalise(listing: str) -> list[str]:
    """``nft list table`` without counters and handles (they change on their own)."""
    out = []
    for line in listing.splitlines():
        line = _HANDLE_RE.sub("", _COUNTER_RE.sub("counter", line)).rstrip()
        if line.strip():
            out.append(line)
    return out


def nft_intended_listing(run: Runner, nft_text: str) -> str | None:
    """The intended table as nft itself lists it: loaded into a throw-away network namespace."""
    with tempfile.TemporaryDirectory(prefix="stowpath-drift-") as tmp:
        path = os.path.join(tmp, "stowpath.nft")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(nft_text)
        os.chmod(path, 0o600)
        table = " ".join(lg.NFT_TABLE)
        rc, out, _ = run(["unshare", "--net", "sh", "-c", f'nft -f "$1" && nft list table {table}', "sh", path])
    return out if rc == 0 else None


def _changed_rules(diff_lines: list[str]) -> list[str]:
    out = []
    for line in diff_lines:
        if line[:1] in "+-" and not line.startswith(("+++", "---")) and line[1:].strip() not in ("", "}"):
            where = "intended, missing on the device" if line[0] == "+" else "on the device, not intended"
            out.append(f"{where}: {line[1:].strip()}")
    return out


def intended_conns(swanctl_text: str) -> list[str]:
    """Connection names defined in the intended swanctl.conf (``connections { NAME { ...``)."""
    body = swanctl_text.split("secrets {", 1)[0]
    return sorted(set(_CONN_RE.findall(body)) - {"children", "local", "remote", "connections"})


def _frr_area(top: str) -> str:
    return next((area for prefix, area in FRR_AREA if top.startswith(prefix)), "routing")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:60]


def collect(run: Runner, artifacts: dict[str, str], paths: dict[str, str], state_dir: str,
            site: dict[str, Any] | None = None, runtime: bool = True, backup: bool = True,
            build_hint: str = "build/<host>") -> dict[str, Any]:
    """Back up, compare the owned parts with the intended artifacts, check runtime state."""
    t0 = time.monotonic()
    secrets = artifact_secrets(artifacts.values())

    def m(text: str) -> str:
        return mask_marked(text, secrets)

    result: dict[str, Any] = {"items": [], "ignored": [], "checks": [], "backup": {}, "errors": [], "facts": {}}
    items = result["items"]

    outputs: dict[str, str] = {}
    for name, cmd in BACKUP_COMMANDS.items():
        rc, out, err = run(cmd)
        outputs[name] = out if rc == 0 else ""
        if rc != 0:
            result["errors"].append(f"{' '.join(cmd)}: rc {rc}: {m((err or out).strip())[:300]}")
    current = {key: lg.read(path) for key, path in paths.items()}
    if backup:
        result["backup"] = {name: m(text) for name, text in outputs.items()}
        for key, fname in BACKUP_FILES.items():
            if current.get(key) is not None:
                result["backup"][fname] = m(_text(current[key]))

    # -- owned files ---------------------------------------------------------------------------
    try:
        frr_intended, owned = lg.frr_with_facility(run, artifacts["frr.conf"], current.get("frr"), state_dir,
                                                   running=outputs["frr-running-config.conf"])
    except lg.GatewayError as exc:
        result["errors"].append(m(str(exc)))
        frr_intended, owned = artifacts["frr.conf"], frr.Ownership(artifacts["frr.conf"])
    wanted = lg.intended_files(dict(artifacts, **{"frr.conf": frr_intended}), paths)
    sw_path, nft_path = paths["swanctl"], paths["nft"]
    if current.get("swanctl") != wanted[sw_path]:
        a, b = m(_text(current.get("swanctl"))), m(_text(wanted[sw_path]))
        diff = frr.unified(_diff_lines(a), _diff_lines(b), f"{sw_path} (device)", f"{build_hint}/swanctl.conf")
        items.append(item(
            "drift.config.ipsec.swanctl_conf", "ipsec", "config", sw_path,
            f"{sw_path} differs from the rendered strongSwan configuration"
            + (" (a pre-shared key differs)" if DIFFERS in a else ""),
            diff, [f"install -m 0600 {build_hint}/swanctl.conf {sw_path}", "swanctl --load-all --noprompt"],
            [ln for ln in _diff_lines(diff) if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]))
    if current.get("nft") != wanted[nft_path]:
        a, b = m(_text(current.get("nft"))), m(_text(wanted[nft_path]))
        diff = frr.unified(_diff_lines(a), _diff_lines(b), f"{nft_path} (device)", f"{build_hint}/nftables.conf")
        items.append(item("drift.config.firewall.nft_file", "firewall", "config", nft_path,
                          f"{nft_path} differs from the rendered nftables table", diff,
                          [f"install -m 0600 {build_hint}/nftables.conf {nft_path}", f"nft -f {nft_path}"],
                          _changed_rules(_diff_lines(diff))))
    include = lg.nft_include_line(nft_path)
    if include not in _text(current.get("nft_main")).splitlines():
        items.append(item("drift.config.firewall.nft_include", "firewall", "config", paths["nft_main"],
                          f"{paths['nft_main']} no longer includes {os.path.dirname(nft_path)}/*.nft "
                          "(the stowpath table would not survive a reboot)",
                          f"--- {paths['nft_main']} (device)\n+++ intended\n+{include}\n",
                          [f"echo '{include}' >> {paths['nft_main']}"], [f"intended, missing on the device: {include}"]))
    file_owned = frr.owned_text(_text(current.get("frr")), owned)
    want_owned = frr.owned_text(frr_intended, owned)
    if frr.canonical(file_owned) != frr.canonical(want_owned):
        diff = frr.unified([m(x) for x in file_owned], [m(x) for x in want_owned], f"{paths['frr']} (device, owned "
                           "sections)", f"{build_hint}/frr.conf (owned sections)")
        items.append(item("drift.config.routing.frr_conf", "routing", "config", paths["frr"],
                          f"stowpath's sections of {paths['frr']} differ from the rendered FRR configuration", diff,
                          [f"install -m 0640 -o frr -g frr {build_hint}/frr.conf {paths['frr']}"],
                          [ln for ln in _diff_lines(diff) if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]))

    # -- FRR running config (frr-reload --test), owned sections only ----------------------------
    with tempfile.TemporaryDirectory(prefix="stowpath-drift-") as tmp:
        path = os.path.join(tmp, "frr.conf")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(frr_intended)
        os.chmod(path, 0o600)
        rc, out, err = run([lg.FRR_RELOAD, "--test", "--stdout", path])
    if rc != 0:
        result["errors"].append(f"frr-reload --test: rc {rc}: {m((err or out).strip())[:300]}")
        changes: list[frr.Change] = []
    else:
        changes = frr.parse_reload(out)
    by_top: dict[str, list[frr.Change]] = {}
    for c in changes:
        if owned.owned_change(c):
            by_top.setdefault(c.top, []).append(c)
        else:
            result["ignored"].append(f"FRR running config: {c.op}{m(c.line.strip())} (under '{m(c.top)}', not a "
                                     "stowpath section)")
    for top, group in by_top.items():
        diff = frr.render_changes(group, "FRR running-config (device)", "intended")
        items.append(item(
            f"drift.running.{_frr_area(top)}.{_slug(top)}", _frr_area(top), "running", f"FRR: {m(top)}",
            f"FRR running config differs in '{m(top)}' ({len(group)} line(s))", m(diff),
            [m(cmd) for cmd in frr.vtysh_commands(group)],
            [("intended, missing on the device: " if c.op == "+" else "on the device, not intended: ")
             + m(c.line.strip()) for c in group]))

    # -- nftables runtime ----------------------------------------------------------------------
    table = " ".join(lg.NFT_TABLE)
    running_table = lg.nft_table(run)
    want_listing = nft_intended_listing(run, artifacts["nftables.conf"])
    if want_listing is None:
        result["errors"].append("could not load the intended table into a scratch network namespace (unshare): "
                                "the nft runtime comparison fell back to the recorded fingerprint")
        recorded = lg.load_state(state_dir).get("runtime", {}).get("nft")
        if recorded and lg.sha(running_table) != recorded:
            items.append(item("drift.running.firewall.nft_table", "firewall", "running", f"nft table {table}",
                              f"nft table {table} differs from what stowpath loaded", "", [f"nft -f {nft_path}"]))
    else:
        have, want = nft_normalise(running_table or ""), nft_normalise(want_listing)
        if have != want:
            diff = frr.unified(have, want, f"nft list table {table} (device)", "intended (nft -f in a scratch netns)")
            rules = _changed_rules(_diff_lines(diff))
            mss = any("maxseg" in r for r in rules)
            area = "mss" if mss and all("maxseg" in r for r in rules) else "firewall"
            title = (f"nft table {table} is missing" if running_table is None else
                     f"nft table {table} differs from the rendered rules" + (" (TCP MSS clamp changed)" if mss else ""))
            items.append(item("drift.running.firewall.nft_table", area, "running", f"nft table {table}", title,
                              m(diff), [f"nft -f {nft_path}"], [m(r) for r in rules]))
            if mss:
                items[-1]["areas"] = sorted({"mss", "firewall"} if area == "firewall" else {"mss"})

    # -- strongSwan runtime --------------------------------------------------------------------
    listing = outputs["swanctl-list-conns.txt"]
    loaded = lg.conn_names(listing)
    ours = intended_conns(artifacts["swanctl.conf"])
    missing = sorted(set(ours) - loaded)
    stale = sorted(n for n in loaded - set(ours) if n.startswith(lg.OWN_CONN_PREFIX))
    recorded_sw = lg.load_state(state_dir).get("runtime", {}).get("swanctl")
    fingerprint_differs = bool(recorded_sw) and lg.sha(lg.own_listing(listing)) != recorded_sw
    sw_file_drift = any(i["id"] == "drift.config.ipsec.swanctl_conf" for i in items)
    if missing or stale or (fingerprint_differs and not sw_file_drift):
        changes_sw = [f"intended, not loaded: {n}" for n in missing] + [f"loaded, not intended: {n}" for n in stale]
        if fingerprint_differs and not (missing or stale):
            changes_sw.append("the loaded connections differ from what stowpath loaded at the last push "
                              "(swanctl --list-conns fingerprint)")
        items.append(item("drift.running.ipsec.swanctl_conns", "ipsec", "running", "strongSwan loaded connections",
                          "strongSwan's loaded connections differ from the rendered configuration",
                          "".join(f"-{n}\n" for n in stale) + "".join(f"+{n}\n" for n in missing),
                          ["swanctl --load-all --noprompt"], changes_sw))
    result["facts"].update(loaded_conns=sorted(loaded), intended_conns=ours)

    # -- runtime state: tunnels, BGP (the verification evaluators) --------------------------------
    if runtime and site:
        result["checks"] = runtime_checks(run, site)

    result["facts"]["elapsed_s"] = round(time.monotonic() - t0, 3)
    return result


def split_json(text: str) -> list[str]:
    """vtysh prints one JSON document per ``-c``: split the concatenation back into documents."""
    import json

    decoder, out, pos = json.JSONDecoder(), [], 0
    text = text.strip()
    while pos < len(text):
        _, end = decoder.raw_decode(text, pos)
        out.append(text[pos:end])
        pos = end
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def collect_bgp_once(run: Runner, neighbors: list[str]) -> dict[str, Any]:
    """What ``platforms.linux_strongswan.collect_bgp`` reads, in one vtysh call (the same parsers)."""
    import ipaddress

    from ..platforms import linux_strongswan as ls

    cmds = ["show bgp ipv4 unicast summary json", "show ip route json"]
    for n in neighbors:
        ipaddress.ip_address(n)  # never put anything but an address into a vtysh command
        cmds += [f"show bgp ipv4 unicast neighbors {n} routes json",
                 f"show bgp ipv4 unicast neighbors {n} advertised-routes json"]
    rc, out, err = run(["vtysh", *[a for c in cmds for a in ("-c", c)]])
    if rc != 0:
        raise ls.ParseError(f"vtysh failed (rc {rc}): {(err or out).strip()[:300]} (is FRR running?)")
    try:
        docs = split_json(out)
    except ValueError as exc:
        raise ls.ParseError(f"vtysh: not JSON ({out[:160]!r})") from exc
    if len(docs) != len(cmds):
        raise ls.ParseError(f"vtysh answered {len(docs)} of {len(cmds)} commands")
    summary = ls.parse_bgp_summary(docs[0])
    received: dict[str, list[str]] = {}
    advertised: dict[str, list[str]] = {}
    for i, n in enumerate(neighbors):
        if summary["neighbors"].get(n, {}).get("state") == "Established":
            received[n] = ls.parse_bgp_neighbor_routes(docs[2 + 2 * i])
            advertised[n] = ls.parse_bgp_advertised(docs[3 + 2 * i])
    return {"summary": summary, "received": received, "advertised": advertised,
            "routes": ls.parse_ip_route(docs[1])}


def runtime_checks(run: Runner, site: dict[str, Any]) -> list[dict[str, Any]]:
    """Tunnels up and BGP Established with the expected routes (checks of the verification modules)."""
    from ..platforms import linux_strongswan as ls
    from ..verify.bgp import evaluate_bgp
    from ..verify.model import expected
    from ..verify.tunnels import evaluate_tunnels

    exp = expected(site)
    checks: list[dict[str, Any]] = []
    if exp["tunnels"]:
        try:
            sas_text, conns_text = ls.collect_tunnels(run)
            tchecks, _ = evaluate_tunnels(exp["tunnels"], ls.parse_list_sas(sas_text), ls.parse_list_conns(conns_text))
            checks += tchecks
        except ls.ParseError as exc:
            checks.append(check("network.tunnel", "network", "IPsec state is readable", "fail", cause=str(exc),
                                action="check that charon runs on the gateway"))
    addrs = [n["address"] for n in exp["neighbors"]] if exp["routing"] == "bgp" else []
    try:
        bchecks, _ = evaluate_bgp(exp, collect_bgp_once(run, addrs))
        checks += bchecks
    except (ls.ParseError, ValueError) as exc:
        checks.append(check("network.bgp", "network", "BGP state is readable", "fail", cause=str(exc),
                            action="check that FRR runs on the gateway"))
    return checks
