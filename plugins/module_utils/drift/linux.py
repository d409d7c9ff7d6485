"""Drift of a linux_strongswan gateway (strongSwan swanctl + FRR + nftables).

Everything the check reads comes from ONE shell script run on the gateway (:func:`collect_script`: one
SSH round trip; sections framed by a random marker, parsed by :func:`parse_sections`); the comparison
(:func:`analyse`) runs wherever the sections arrive: on the controller in the ``drift_gateway`` /
``drift_linux`` action plugins, or on the gateway in the ``drift_linux`` module (standard library
only). It reuses the push planner's building blocks (:mod:`..linux_gateway`: the device paths, the
intended files with the facility's own FRR sections carried along exactly as a push would, the nft
include line, the swanctl runtime fingerprint recorded at the last push) and compares only what
stowpath owns:

* files: ``/etc/swanctl/conf.d/stowpath.conf`` and ``/etc/nftables.d/stowpath.nft`` (ours entirely),
  the include line in ``/etc/nftables.conf``, the owned sections of ``/etc/frr/frr.conf``;
* FRR running config: the owned sections of ``show running-config`` against the intended ones (same
  lines, in any order: in sync); when they differ, ``frr-reload.py --test`` (FRR's own diff, which
  normalises what FRR rewrites) restricted to the owned sections (:mod:`.frr`) says exactly how, in a
  second round trip to that gateway only;
* nftables runtime: ``nft list table inet stowpath`` against the intended file loaded into a
  throw-away network namespace on the gateway, in the same script (nft's own canonical form: set
  ordering, defaults; counters ignored);
* strongSwan runtime: the loaded ``stowpath-*`` connections and the fingerprint of the loaded
  connections recorded by the last push;
* runtime state: tunnels ESTABLISHED and BGP Established with routes (the verification evaluators).

Nothing is changed on the device. Everything returned is masked; a device secret that differs from
the intended one is followed by ``[differs from intended]``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import tempfile
import time
from typing import Any, Callable

from .. import linux_gateway as lg
from ..checks import check
from . import frr
from .secrets import DIFFERS, artifact_secrets, mask_marked

Runner = Callable[[list[str]], "tuple[int, str, str]"]
# frr_reload(intended_text) -> (rc, stdout, stderr) of ``frr-reload.py --test --stdout`` on the gateway
Reloader = Callable[[str], "tuple[int, str, str]"]
Sections = dict[str, "tuple[int, str, str]"]

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


# ------------------------------------------------------------------------------------------ collection
# The script's sections: name -> argv (run in this order). Files are read with cat (rc != 0: absent).
RUNTIME_SECTIONS = ("sas_raw", "conns_raw", "bgp")
NFT_WANT = "nft_intended"  # the intended table (stdin) loaded into a scratch netns and listed by nft
FRR_RELOAD_SCRIPT = ('t=$(mktemp) || exit 1; trap \'rm -f "$t"\' EXIT; cat > "$t" || exit 1; '
                     + shlex.quote(lg.FRR_RELOAD) + ' --test --stdout "$t"')


def bgp_neighbors(site: dict[str, Any] | None) -> list[str]:
    """The BGP neighbors the runtime check reads (none for static routing)."""
    if not site:
        return []
    from ..verify.model import expected

    exp = expected(site)
    return [n["address"] for n in exp["neighbors"]] if exp["routing"] == "bgp" else []


def sections(paths: dict[str, str], state_dir: str, neighbors: list[str] | None, runtime: bool = True
             ) -> list[tuple[str, list[str]]]:
    """What the check reads from the gateway, as (section name, argv)."""
    from ..platforms import linux_strongswan as ls

    out: list[tuple[str, list[str]]] = [
        ("swanctl-list-conns.txt", ["swanctl", "--list-conns"]), ("swanctl-list-sas.txt", ["swanctl", "--list-sas"]),
        ("frr-running-config.conf", ["vtysh", "-c", "show running-config"]), ("nft-ruleset.nft", ["nft", "list", "ruleset"]),
        ("nft_table", ["nft", "--stateless", "list", "table", *lg.NFT_TABLE]),
        (NFT_WANT, ["unshare", "--net", "sh", "-c", f"nft -f /dev/stdin && nft list table {' '.join(lg.NFT_TABLE)}"]),
    ]
    out += [(f"file:{key}", ["cat", "--", path]) for key, path in sorted(paths.items())]
    out.append(("state", ["cat", "--", os.path.join(state_dir, "state.json")]))
    if runtime and neighbors is not None:
        out += [("sas_raw", ls.LIST_SAS), ("conns_raw", ls.LIST_CONNS), ("bgp", ls.bgp_argv(neighbors))]
    return out


def collect_script(plan: list[tuple[str, list[str]]]) -> str:
    """One POSIX shell script that runs every section and frames its stdout, exit code and stderr with
    the marker given as ``$1``. stdin carries the intended nft table (read first; the other commands get
    /dev/null)."""
    lines = ['M=$1', 'W=$(cat)', 'exec 3>&1 </dev/null',
             'sec() { n=$1; shift; printf \'%s OUT %s\\n\' "$M" "$n"; '
             'e=$( { "$@"; } 2>&1 1>&3 ); r=$?; '
             'printf \'\\n%s RC %s %s\\n%.2000s\\n%s EOS\\n\' "$M" "$n" "$r" "$e" "$M"; }']
    for name, argv in plan:
        cmd = "sec " + shlex.join([name, *argv])
        lines.append(f'printf "%s\\n" "$W" | {cmd}' if name == NFT_WANT else cmd)
    return "\n".join(lines) + "\n"


def parse_sections(out: str, marker: str) -> Sections:
    """The script's output -> section name -> (rc, stdout, stderr)."""
    m = re.escape(marker)
    found = re.finditer(rf"^{m} OUT (\S+)\n(.*?)\n{m} RC \1 (\d+)\n(.*?)\n{m} EOS$", out, re.S | re.M)
    return {x.group(1): (int(x.group(3)), x.group(2), x.group(4)) for x in found}


def remote_command(marker: str, plan: list[tuple[str, list[str]]]) -> str:
    """The command line that runs :func:`collect_script` (``sh -c SCRIPT sh MARKER``)."""
    return shlex.join(["sh", "-c", collect_script(plan), "sh", marker])


# ------------------------------------------------------------------------------------------ analysis
def _out(got: Sections, name: str) -> str | None:
    rc, out, _ = got.get(name, (127, "", "not collected"))
    return out if rc == 0 else None


def _file(got: Sections, key: str) -> bytes | None:
    text = _out(got, f"file:{key}")
    return None if text is None else text.encode()


def analyse(got: Sections, artifacts: dict[str, str], paths: dict[str, str], site: dict[str, Any] | None = None,
            runtime: bool = True, backup: bool = True, build_hint: str = "build/<host>",
            frr_reload: Reloader | None = None) -> dict[str, Any]:
    """Back up, compare the owned parts with the intended artifacts, check runtime state, from the
    collected sections. ``frr_reload`` runs FRR's own diff on the gateway; it is called only when the
    owned sections of the running config differ from the intended ones."""
    t0 = time.monotonic()
    secrets = artifact_secrets(artifacts.values())

    def m(text: str) -> str:
        return mask_marked(text, secrets)

    result: dict[str, Any] = {"items": [], "ignored": [], "checks": [], "backup": {}, "errors": [], "facts": {}}
    items = result["items"]
    outputs: dict[str, str] = {}
    for name in BACKUP_COMMANDS:
        rc, out, err = got.get(name, (127, "", "not collected"))
        outputs[name] = out if rc == 0 else ""
        if rc != 0:
            result["errors"].append(f"{' '.join(BACKUP_COMMANDS[name])}: rc {rc}: {m((err or out).strip())[:300]}")
    current = {key: _file(got, key) for key in paths}
    try:
        state = json.loads(_out(got, "state") or "{}")
    except ValueError:
        state = {}
    if backup:
        result["backup"] = {name: m(text) for name, text in outputs.items()}
        for key, fname in BACKUP_FILES.items():
            if current.get(key) is not None:
                result["backup"][fname] = m(_text(current[key]))

    # -- owned files ---------------------------------------------------------------------------
    sources = [outputs["frr-running-config.conf"], _text(current.get("frr"))]
    owned = frr.Ownership(artifacts["frr.conf"], sources, state.get("frr_owned"))
    try:
        frr_intended = frr.merge_facility(artifacts["frr.conf"], sources, owned)
    except frr.OwnershipConflict as exc:
        result["errors"].append(m(f"frr: {exc}: stowpath cannot share it; nothing was changed"))
        frr_intended, owned = artifacts["frr.conf"], frr.Ownership(artifacts["frr.conf"])
    sw_path, nft_path = paths["swanctl"], paths["nft"]
    wanted = {sw_path: artifacts["swanctl.conf"].encode(), nft_path: artifacts["nftables.conf"].encode()}
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

    # -- FRR running config, owned sections only -------------------------------------------------
    running = outputs["frr-running-config.conf"]
    same = bool(running) and frr.canonical(frr.owned_text(running, owned)) == frr.canonical(want_owned)
    result["facts"]["frr_reload"] = not same and frr_reload is not None
    if not same and frr_reload is not None:
        _frr_running_items(result, frr_reload(frr_intended), owned, m)
    elif not same:
        result["errors"].append("the owned FRR sections differ from the intended ones and frr-reload --test "
                                "could not be run to say how")

    # -- nftables runtime ----------------------------------------------------------------------
    _nft_items(result, _out(got, "nft_table"), _out(got, NFT_WANT), state, nft_path, m)

    # -- strongSwan runtime --------------------------------------------------------------------
    listing = outputs["swanctl-list-conns.txt"]
    loaded = lg.conn_names(listing)
    ours = intended_conns(artifacts["swanctl.conf"])
    missing = sorted(set(ours) - loaded)
    stale = sorted(n for n in loaded - set(ours) if n.startswith(lg.OWN_CONN_PREFIX))
    recorded_sw = state.get("runtime", {}).get("swanctl")
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
        result["checks"] = runtime_checks(got, site)

    result["facts"]["elapsed_s"] = round(time.monotonic() - t0, 3)
    return result


def _frr_running_items(result: dict[str, Any], answer: tuple[int, str, str], owned: frr.Ownership,
                       m: Callable[[str], str]) -> None:
    """FRR's own diff (``frr-reload --test``) of the running config, owned sections as drift items."""
    rc, out, err = answer
    if rc != 0:
        result["errors"].append(f"frr-reload --test: rc {rc}: {m((err or out).strip())[:300]}")
        return
    by_top: dict[str, list[frr.Change]] = {}
    for c in frr.parse_reload(out):
        if owned.owned_change(c):
            by_top.setdefault(c.top, []).append(c)
        else:
            result["ignored"].append(f"FRR running config: {c.op}{m(c.line.strip())} (under '{m(c.top)}', not a "
                                     "stowpath section)")
    for top, group in by_top.items():
        diff = frr.render_changes(group, "FRR running-config (device)", "intended")
        result["items"].append(item(
            f"drift.running.{_frr_area(top)}.{_slug(top)}", _frr_area(top), "running", f"FRR: {m(top)}",
            f"FRR running config differs in '{m(top)}' ({len(group)} line(s))", m(diff),
            [m(cmd) for cmd in frr.vtysh_commands(group)],
            [("intended, missing on the device: " if c.op == "+" else "on the device, not intended: ")
             + m(c.line.strip()) for c in group]))


def _nft_items(result: dict[str, Any], running_table: str | None, want_listing: str | None, state: dict[str, Any],
               nft_path: str, m: Callable[[str], str]) -> None:
    table = " ".join(lg.NFT_TABLE)
    items = result["items"]
    if want_listing is None:
        result["errors"].append("could not load the intended table into a scratch network namespace (unshare): "
                                "the nft runtime comparison fell back to the recorded fingerprint")
        recorded = state.get("runtime", {}).get("nft")
        if recorded and lg.sha(running_table) != recorded:
            items.append(item("drift.running.firewall.nft_table", "firewall", "running", f"nft table {table}",
                              f"nft table {table} differs from what stowpath loaded", "", [f"nft -f {nft_path}"]))
        return
    have, want = nft_normalise(running_table or ""), nft_normalise(want_listing)
    if have == want:
        return
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


def split_json(text: str) -> list[str]:
    """vtysh prints one JSON document per ``-c``: split the concatenation back into documents."""
    from ..platforms.linux_strongswan import split_json as split

    return split(text)


def runtime_checks(got: Sections, site: dict[str, Any]) -> list[dict[str, Any]]:
    """Tunnels up and BGP Established with the expected routes (checks of the verification modules),
    from the collected sections (the platform's own parsers and the verification evaluators)."""
    from ..platforms import linux_strongswan as ls
    from ..verify.bgp import evaluate_bgp
    from ..verify.model import expected
    from ..verify.tunnels import evaluate_tunnels

    exp = expected(site)
    checks: list[dict[str, Any]] = []
    if exp["tunnels"]:
        try:
            texts = []
            for name, argv in (("sas_raw", ls.LIST_SAS), ("conns_raw", ls.LIST_CONNS)):
                rc, out, err = got.get(name, (127, "", "not collected"))
                if rc != 0:
                    raise ls.ParseError(f"{' '.join(argv)} failed (rc {rc}): {(err or out).strip()[:300]} "
                                        "(is charon running and its vici socket /run/charon.vici there?)")
                texts.append(out)
            tchecks, _ = evaluate_tunnels(exp["tunnels"], ls.parse_list_sas(texts[0]), ls.parse_list_conns(texts[1]))
            checks += tchecks
        except ls.ParseError as exc:
            checks.append(check("network.tunnel", "network", "IPsec state is readable", "fail", cause=str(exc),
                                action="check that charon runs on the gateway"))
    addrs = [n["address"] for n in exp["neighbors"]] if exp["routing"] == "bgp" else []
    try:
        rc, out, err = got.get("bgp", (127, "", "not collected"))
        if rc != 0:
            raise ls.ParseError(f"vtysh failed (rc {rc}): {(err or out).strip()[:300]} (is FRR running?)")
        bchecks, _ = evaluate_bgp(exp, ls.parse_bgp(out, addrs))
        checks += bchecks
    except (ls.ParseError, ValueError) as exc:
        checks.append(check("network.bgp", "network", "BGP state is readable", "fail", cause=str(exc),
                            action="check that FRR runs on the gateway"))
    return checks


def collect(run_script: Callable[[str, str], tuple[int, str, str]], artifacts: dict[str, str],
            paths: dict[str, str], state_dir: str, site: dict[str, Any] | None = None, runtime: bool = True,
            backup: bool = True, build_hint: str = "build/<host>",
            frr_reload: Reloader | None = None) -> dict[str, Any]:
    """The whole check: one script run (``run_script(command, stdin) -> (rc, out, err)``), then
    :func:`analyse`. Raises :class:`..linux_gateway.GatewayError` when the script itself cannot run."""
    import secrets as _secrets

    marker = "@@stowpath-" + _secrets.token_hex(8)
    plan = sections(paths, state_dir, bgp_neighbors(site) if runtime and site else None, runtime and bool(site))
    t0 = time.monotonic()
    rc, out, err = run_script(remote_command(marker, plan), artifacts["nftables.conf"])
    read_s = round(time.monotonic() - t0, 3)
    got = parse_sections(out, marker)
    if rc != 0 or not got:
        raise lg.GatewayError("drift collection", f"sh exited {rc} with {len(got)} of {len(plan)} sections: "
                              f"{(err or out).strip()[:300]}")
    result = analyse(got, artifacts, paths, site, runtime, backup, build_hint, frr_reload)
    result["facts"]["read_s"] = read_s  # the round trip (elapsed_s: the comparison)
    return result
