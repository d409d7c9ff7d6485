"""A catalogue of faults injected where they really happen (cloud side, transit, facility firewall and
routing, services), one at a time, and ``clear``, which restores the lab from its own state and waits until
it is healthy again. Faults act on the live running state (swanctl, vtysh, nft, tc, nginx reload, the PACS
API), never on the lab's configuration files, and every change is recorded in ``STATE/faults.json`` so
``clear`` undoes exactly what was done (and then the rest it knows how to reset, idempotently).

    lab.py fault list
    lab.py fault NAME [--site SITE]
    lab.py fault clear
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from .host import LabError, log, write
from .netns import dev_exec
from .params import random_auth_key, random_psk
from .state import load_params
from .topology import CLOUD_ASNS, CLOUD_CIDR, FACILITY_LAN, PREFIX, REPO, STATE, VPN_ENDPOINTS, WAN_GW

FAULTS_FILE = STATE / "faults.json"
CLOUD_SERVICE = STATE / "dev" / "cloud" / "dicomweb"
PKI = STATE / "pki"
FAULT_TABLE = "stowpath_lab_fault"
FACILITY_TABLE = "facility_policy"
COMMENT = "stowpath-lab-fault"
INET_TO_CLOUD = "c-aws"
TRANSIT_BRIDGES = ("br-cloud", "br-wan")
PACS_API = "http://169.254.250.12:8042"
PACS_DESTINATION = "cloud-stow-rs"


@dataclass(frozen=True)
class Fault:
    name: str
    where: str
    what: str
    site: str  # the lab site (inventory host) it breaks
    inject: Callable[[dict[str, Any]], dict[str, Any]]


# ------------------------------------------------------------------ helpers
def _sh(device: str, *cmd: str, check: bool = True, input_text: str | None = None) -> str:
    if input_text is not None:
        fd, path = tempfile.mkstemp(prefix="stowpath-lab-fault-", dir="/tmp")
        with os.fdopen(fd, "w") as fh:
            fh.write(input_text)
        try:
            return dev_exec(device, [*cmd, path], check=check).stdout
        finally:
            os.unlink(path)
    return dev_exec(device, list(cmd), check=check).stdout


def _vtysh_file(device: str, text: str) -> None:
    """Apply FRR commands from a 0600 file (keys never on a command line)."""
    _sh(device, "vtysh", "-f", input_text=text)


def _params() -> dict[str, Any]:
    params = load_params()
    if params is None:
        raise LabError("no lab (run lab.py up)")
    return params


def _cgw_sas() -> dict[str, str]:
    """The facility gateway's IKE SAs by cloud endpoint: ``{endpoint: STATE[+child]}``."""
    out = _sh("cgw", "swanctl", "--list-sas", "--raw", check=False)
    states = {}
    for line in out.splitlines():
        m = re.match(r"list-sa event \{(\S+) \{.*?state=(\w+)", line)
        host = re.search(r"remote-host=([\d.]+)", line)
        if m and host:
            states[host.group(1)] = m.group(2) + ("+child" if "state=INSTALLED" in line else "")
    return states


def _bgp_states(device: str) -> dict[str, str]:
    try:
        data = json.loads(_sh(device, "vtysh", "-c", "show bgp ipv4 unicast summary json", check=False) or "{}")
    except ValueError:
        return {}
    return {a: p.get("state", "?") for a, p in (data.get("peers") or {}).items()}


def _wait(what: str, cond: Callable[[], bool], timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if cond():
            return True
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    if timeout:
        log(f"still waiting for {what} after {timeout:g} s")
    return False


def _cloud_handle() -> Any:
    from lab.services import cloud_dicomweb

    return cloud_dicomweb, cloud_dicomweb.CloudHandle.load(CLOUD_SERVICE)


def _nginx(locations: str = "", directives: dict[str, str] | None = None) -> dict[str, Any]:
    mod, h = _cloud_handle()
    mod.set_fault(h, locations, directives)
    return {"nginx": True}


def _pacs_api(method: str, path: str, body: Any = None) -> Any:
    import base64
    import urllib.request

    from .services import PACS_API_PASSWORD, PACS_API_USER

    req = urllib.request.Request(PACS_API + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": "Basic " + base64.b64encode(
                                     f"{PACS_API_USER}:{PACS_API_PASSWORD}".encode()).decode(),
                                          "Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=10) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


# ------------------------------------------------------------------ faults
def _psk_mismatch(params: dict[str, Any]) -> dict[str, Any]:
    conf = (STATE / "dev" / "aws" / "etc-swanctl" / "swanctl.conf").read_text()
    rng = random.SystemRandom()
    for t in params["vpn"]["tunnels"]:
        block = re.compile(r"(ike-cgw-" + re.escape(t["name"]) + r" \{.*?secret = \")[^\"]*(\")", re.S)
        conf = block.sub(lambda m: m.group(1) + random_psk(rng) + m.group(2), conf)
    _sh("aws", "swanctl", "--load-creds", "--clear", "--file", input_text=conf)
    for t in params["vpn"]["tunnels"]:
        _sh("aws", "swanctl", "--terminate", "--ike", f"cgw-{t['name']}", "--force", check=False)
    _wait("the facility to see AUTHENTICATION_FAILED", lambda: not any(
        "ESTABLISHED" in s for s in _cgw_sas().values()) and "AUTHENTICATION_FAILED" in
        _sh("cgw", "tail", "-n", "50", "/run/charon.log", check=False), 20)
    return {"creds": True, "initiate": True}


def _endpoints_down(which: tuple[int, ...]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def inject(params: dict[str, Any]) -> dict[str, Any]:
        addrs = ", ".join(VPN_ENDPOINTS[i] for i in which)
        _sh("aws", "nft", "-f", input_text=(
            f"table inet {FAULT_TABLE} {{\n chain input {{\n  type filter hook input priority -10; policy accept;\n"
            f"  ip daddr {{ {addrs} }} udp dport {{ 500, 4500 }} drop\n }}\n}}\n"))
        names = [params["vpn"]["tunnels"][i]["name"] for i in which]
        for n in names:
            _sh("aws", "swanctl", "--terminate", "--ike", f"cgw-{n}", "--force", check=False)
        _wait("the facility's tunnels to go down", lambda: all(
            "ESTABLISHED" not in _cgw_sas().get(VPN_ENDPOINTS[i], "") for i in which), 15)
        time.sleep(2.5)  # the first IKE_SA_INIT retransmit (charon: 2 s) is in the log
        return {"table": ["aws"], "initiate": True}
    return inject


def _bgp_asn_mismatch(params: dict[str, Any]) -> dict[str, Any]:
    lines = [f"router bgp {_cloud_asn()}"] + [f" neighbor {t['customer_inside']} remote-as {params['vpn']['customer_asn'] + 1}"
                                          for t in params["vpn"]["tunnels"]]
    _vtysh_file("aws", "\n".join(lines) + "\n")
    inside = [t["cloud_inside"] for t in params["vpn"]["tunnels"]]
    _wait("the facility's BGP sessions to drop", lambda: all(
        _bgp_states("cgw").get(a) not in ("Established", None) for a in inside), 20)
    time.sleep(1)
    return {"asn": True}


def _dx_md5_mismatch(params: dict[str, Any]) -> dict[str, Any]:
    dxn = params["dx"]["customer_address"].split("/")[0]
    _vtysh_file("aws", f"router bgp {_cloud_asn()}\n neighbor {dxn} password {random_auth_key(random.SystemRandom())}\n")
    _sh("aws", "vtysh", "-c", f"clear bgp {dxn}", check=False)
    peer = params["dx"]["amazon_address"].split("/")[0]
    _wait("the DX BGP session to drop", lambda: _bgp_states("cgwdx").get(peer) not in ("Established",), 20)
    return {"dx_key": True}


def _prefix_withdrawn(params: dict[str, Any]) -> dict[str, Any]:
    running = _sh("aws", "vtysh", "-c", "show running-config")
    nets = re.findall(r"^\s+network (\S+)$", running, re.M)
    _vtysh_file("aws", f"router bgp {_cloud_asn()}\n address-family ipv4 unicast\n"
                + "".join(f"  no network {n}\n" for n in nets))
    _wait("the facility to lose the cloud route", lambda: not re.search(
        r"\bbgp\b", _sh("cgw", "ip", "route", "show", "proto", "bgp", check=False)), 15)
    return {"networks": nets}


def _route_via_internet(params: dict[str, Any]) -> dict[str, Any]:
    _sh("cgw", "vtysh", "-c", "configure terminal", "-c", f"ip route {CLOUD_CIDR} {WAN_GW}")
    _wait("the static route", lambda: "eth0" in _sh("cgw", "ip", "route", "get", "203.0.113.140", check=False), 10)
    return {"static_route": True}


def _facility_fw(params: dict[str, Any]) -> dict[str, Any]:
    _sh("cgw", "nft", "-f", input_text=(
        f"table inet {FACILITY_TABLE} {{\n chain forward {{\n  type filter hook forward priority -10; policy accept;\n"
        f"  ip saddr {FACILITY_LAN} ip daddr {CLOUD_CIDR} tcp dport 443 counter drop comment \"block web uploads\"\n"
        " }\n}\n"))
    return {"facility_table": True}


def _cloud_fw(params: dict[str, Any]) -> dict[str, Any]:
    _sh("aws", "nft", "insert", "rule", "inet", "aws_edge", "forward", "ip", "daddr", CLOUD_CIDR, "tcp", "dport", "443",
        "counter", "drop", "comment", f'"{COMMENT}"')
    return {"cloud_rule": True}


def _mtu_blackhole(params: dict[str, Any]) -> dict[str, Any]:
    for br in TRANSIT_BRIDGES:
        _sh("inet", "ip", "link", "set", "dev", br, "mtu", "1400")
    _sh("inet", "nft", "-f", input_text=(
        f"table inet {FAULT_TABLE} {{\n"
        " chain output {\n  type filter hook output priority -10; policy accept;\n"
        "  icmp type destination-unreachable icmp code frag-needed drop\n }\n"
        " chain forward {\n  type filter hook forward priority -10; policy accept;\n"
        "  icmp type destination-unreachable icmp code frag-needed drop\n }\n}\n"))
    return {"mtu": True, "table": ["inet"]}


def _transit_loss(params: dict[str, Any]) -> dict[str, Any]:
    _sh("inet", "nft", "-f", input_text=(
        f"table inet {FAULT_TABLE} {{\n chain forward {{\n  type filter hook forward priority -10; policy accept;\n"
        "  numgen random mod 100 < 25 drop\n }\n}\n"))
    return {"table": ["inet"]}


def _transit_squeeze(params: dict[str, Any]) -> dict[str, Any]:
    _sh("inet", "tc", "qdisc", "replace", "dev", INET_TO_CLOUD, "root", "tbf", "rate", "2mbit", "burst", "16kb",
        "latency", "400ms")
    return {"tc": True}


def _server_cert_expired(params: dict[str, Any]) -> dict[str, Any]:
    return _nginx(directives={"ssl_certificate": str(PKI / "test" / "server-expired.crt"),
                              "ssl_certificate_key": str(PKI / "test" / "server-expired.key")})


def _client_cert_untrusted(params: dict[str, Any]) -> dict[str, Any]:
    return _nginx(directives={"ssl_client_certificate": str(PKI / "test" / "other-ca.crt")})


def _status(code: int, body: str, ctype: str = "text/plain") -> Callable[[dict[str, Any]], dict[str, Any]]:
    def inject(params: dict[str, Any]) -> dict[str, Any]:
        _, h = _cloud_handle()
        return _nginx(f"location = {h.base_path}/studies {{\n  default_type {ctype};\n  return {code} '{body}';\n}}\n")
    return inject


def _stow_path_404(params: dict[str, Any]) -> dict[str, Any]:
    _, h = _cloud_handle()
    return _nginx(f"location ^~ {h.base_path}/studies {{\n  return 404;\n}}\n")


def _service_slow(params: dict[str, Any]) -> dict[str, Any]:
    mod, h = _cloud_handle()
    port = h.orthanc_port + 7
    logf = open(Path(h.state_dir) / "fault-delay.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        ["ip", "netns", "exec", PREFIX + "cloud", sys.executable, str(REPO / "lab" / "services" / "cloud_dicomweb.py"),
         "delay-proxy", "--listen", f"127.0.0.1:{port}", "--upstream", f"127.0.0.1:{h.orthanc_port}", "--delay", "120",
         "--state-dir", h.state_dir], stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
        start_new_session=True)
    logf.close()
    time.sleep(0.5)
    _nginx(f"location ^~ {h.base_path}/studies {{\n  proxy_pass http://127.0.0.1:{port}/dicom-web/studies;\n"
           "  proxy_http_version 1.1;\n  proxy_request_buffering off;\n  proxy_read_timeout 600s;\n}\n")
    return {"nginx": True, "pid": proc.pid}


_CONFLICT = ('{"00081198":{"vr":"SQ","Value":[{"00081150":{"vr":"UI","Value":["1.2.840.10008.5.1.4.1.1.7"]},'
             '"00081155":{"vr":"UI","Value":["1.2.826.0.1.3680043.10.543.1"]},"00081197":{"vr":"US","Value":[43264]}}]}}')


def _pacs_timeout_low(params: dict[str, Any]) -> dict[str, Any]:
    servers = _pacs_api("GET", "/dicom-web/servers?expand") or {}
    current = servers.get(PACS_DESTINATION)
    if current is None:
        raise LabError(f"the lab PACS has no destination {PACS_DESTINATION}: onboard the lab facility first")
    _pacs_api("PUT", f"/dicom-web/servers/{PACS_DESTINATION}", _pacs_body(current, 5))
    return {"pacs_timeout": current.get("Timeout") or 300}


def _pacs_body(current: dict[str, Any], timeout: int) -> dict[str, Any]:
    """A PUT body that keeps the destination as it is but for the timeout. Orthanc never shows the key path:
    the onboarding installs the key beside the certificate (client.crt -> client.key)."""
    body = {k: v for k, v in current.items() if v not in (None, [], {}) and k != "Pkcs11"}
    cert = current.get("CertificateFile")
    if cert:
        body["CertificateKeyFile"] = str(Path(cert).with_name("client.key"))
    body["Timeout"] = timeout
    return body


CATALOGUE: dict[str, Fault] = {f.name: f for f in (
    Fault("psk-mismatch", "cloud", "both cloud VPN endpoints switch to new pre-shared keys", "cgw", _psk_mismatch),
    Fault("vpn-endpoint-down", "cloud", "the second cloud VPN endpoint stops answering IKE", "cgw", _endpoints_down((1,))),
    Fault("vpn-down", "cloud", "both cloud VPN endpoints stop answering IKE", "cgw", _endpoints_down((0, 1))),
    Fault("bgp-asn-mismatch", "cloud", "the cloud expects another ASN from the facility", "cgw", _bgp_asn_mismatch),
    Fault("dx-md5-mismatch", "cloud", "the DX router has a different BGP MD5 key", "cgwdx", _dx_md5_mismatch),
    Fault("prefix-withdrawn", "cloud", "the cloud stops advertising the VPC/DICOMweb prefix", "cgw", _prefix_withdrawn),
    Fault("route-via-internet", "facility", "a static route sends the cloud range out of the WAN", "cgw",
          _route_via_internet),
    Fault("facility-fw-drop-443", "facility", "a facility nftables table (not stowpath's) drops TCP 443", "cgw",
          _facility_fw),
    Fault("cloud-fw-drop-443", "cloud", "the cloud's firewall drops TCP 443 from the facility", "cgw", _cloud_fw),
    Fault("mtu-blackhole", "transit", "transit MTU 1400 and ICMP fragmentation-needed dropped", "cgw", _mtu_blackhole),
    Fault("transit-loss", "transit", "25% of the transit's forwarded packets dropped (nft numgen)", "cgw",
          _transit_loss),
    Fault("transit-squeeze", "transit", "uploads squeezed to 2 Mbit/s (tc tbf)", "cgw", _transit_squeeze),
    Fault("server-cert-expired", "service", "nginx serves an expired server certificate", "cgw", _server_cert_expired),
    Fault("client-cert-untrusted", "service", "nginx no longer trusts the facility's client CA", "cgw",
          _client_cert_untrusted),
    Fault("stow-path-404", "service", "the STOW-RS path answers 404", "cgw", _stow_path_404),
    Fault("service-500", "service", "STOW-RS answers 500", "cgw", _status(500, "internal error")),
    Fault("service-503", "service", "STOW-RS answers 503", "cgw", _status(503, "service unavailable")),
    Fault("service-slow", "service", "the service answers after 120 s", "cgw", _service_slow),
    Fault("payload-400", "service", "STOW-RS rejects the payload with 400", "cgw", _status(400, "invalid DICOM part")),
    Fault("payload-409", "service", "STOW-RS answers 409 with a FailureReason", "cgw",
          _status(409, _CONFLICT, "application/dicom+json")),
    Fault("pacs-timeout-low", "pacs", "the PACS destination's timeout is set to 5 s", "cgw", _pacs_timeout_low),
)}


# ------------------------------------------------------------------ clear
def _undo(params: dict[str, Any], done: dict[str, Any]) -> None:
    """Undo one fault's changes (idempotent: a piece that is not there is skipped)."""
    if done.get("creds"):
        _sh("aws", "swanctl", "--load-creds", "--clear", check=False)
    for dev in done.get("table") or []:
        _sh(dev, "nft", "delete", "table", "inet", FAULT_TABLE, check=False)
    if done.get("asn"):
        _vtysh_file("aws", f"router bgp {_cloud_asn()}\n" + "".join(
            f" neighbor {t['customer_inside']} remote-as {params['vpn']['customer_asn']}\n" for t in params["vpn"]["tunnels"]))
    if done.get("dx_key"):
        dxn = params["dx"]["customer_address"].split("/")[0]
        _vtysh_file("aws", f"router bgp {_cloud_asn()}\n neighbor {dxn} password {params['dx']['auth_key']}\n")
        _sh("aws", "vtysh", "-c", f"clear bgp {dxn}", check=False)
    if done.get("networks"):
        _vtysh_file("aws", f"router bgp {_cloud_asn()}\n address-family ipv4 unicast\n"
                    + "".join(f"  network {n}\n" for n in done["networks"]))
    if done.get("static_route"):
        _sh("cgw", "vtysh", "-c", "configure terminal", "-c", f"no ip route {CLOUD_CIDR} {WAN_GW}", check=False)
    if done.get("facility_table"):
        _sh("cgw", "nft", "delete", "table", "inet", FACILITY_TABLE, check=False)
    if done.get("cloud_rule"):
        listing = _sh("aws", "nft", "-a", "list", "chain", "inet", "aws_edge", "forward", check=False)
        for handle in re.findall(rf'comment "{COMMENT}" # handle (\d+)', listing):
            _sh("aws", "nft", "delete", "rule", "inet", "aws_edge", "forward", "handle", handle, check=False)
    if done.get("mtu"):
        for br in TRANSIT_BRIDGES:
            _sh("inet", "ip", "link", "set", "dev", br, "mtu", "1500", check=False)
    if done.get("tc"):
        _sh("inet", "tc", "qdisc", "del", "dev", INET_TO_CLOUD, "root", check=False)
    if done.get("pid"):
        try:
            if "delay-proxy" in Path(f"/proc/{done['pid']}/cmdline").read_bytes().decode(errors="replace"):
                os.kill(int(done["pid"]), signal.SIGTERM)
        except OSError:
            pass
    if done.get("nginx"):
        mod, h = _cloud_handle()
        mod.clear_fault(h)
    if done.get("pacs_timeout"):
        current = (_pacs_api("GET", "/dicom-web/servers?expand") or {}).get(PACS_DESTINATION)
        if current is not None:
            _pacs_api("PUT", f"/dicom-web/servers/{PACS_DESTINATION}", _pacs_body(current, int(done["pacs_timeout"])))


def _facility_onboarded(device: str) -> bool:
    return bool(_bgp_states(device))


def _healthy() -> bool:
    sas = _cgw_sas()
    if _facility_onboarded("cgw") and not (sas and all(s.endswith("+child") for s in sas.values())):
        return False
    return all(s == "Established" for dev in ("cgw", "cgwdx") for s in _bgp_states(dev).values())


def _active() -> list[dict[str, Any]]:
    try:
        return list(json.loads(FAULTS_FILE.read_text()))
    except (OSError, ValueError):
        return []


@contextlib.contextmanager
def _fault_lock() -> Iterator[None]:
    FAULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    with open(str(FAULTS_FILE) + ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def clear() -> int:
    params = _params()
    with _fault_lock():
        active = _active()
        for rec in reversed(active):
            _undo(params, rec.get("done") or {})
        FAULTS_FILE.unlink(missing_ok=True)
    # charon does not retry after AUTHENTICATION_FAILED: start those tunnels at once; a peer that did not
    # answer is retried by charon itself, give it a few seconds first
    kicks = [(rec.get("done") or {}) for rec in active]
    first = 0.0 if any(k.get("creds") for k in kicks) else (8.0 if any(k.get("initiate") for k in kicks) else 40.0)
    if not _wait("the lab to be healthy", _healthy, first):
        # charon gives up on a peer that rejected it: start what is still down, as an admin would
        up = {h for h, st in _cgw_sas().items() if st.endswith("+child")}
        conns = _sh("cgw", "swanctl", "--list-conns", "--raw", check=False)
        for line in conns.splitlines():
            m = re.match(r"list-conn event \{(\S+) \{", line)
            remote = re.search(r"remote_addrs=\[([\d.]+)", line)
            child = re.search(r"children \{(\S+) \{", line)
            if m and remote and child and remote.group(1) not in up:
                _sh("cgw", "swanctl", "--initiate", "--child", child.group(1), "--timeout", "10", check=False)
        if not _wait("the lab to be healthy", _healthy, 90):
            raise LabError(f"fault clear: the lab is not healthy yet (cgw SAs {_cgw_sas()}, BGP cgw "
                           f"{_bgp_states('cgw')}, cgwdx {_bgp_states('cgwdx')})")
    log("fault clear: healthy (tunnels and BGP established)")
    return 0


def inject(name: str, site: str | None = None) -> int:
    if name not in CATALOGUE:
        raise LabError(f"unknown fault {name!r}: see `lab.py fault list`")
    fault = CATALOGUE[name]
    if site and site not in (fault.site, {"cgw": "lab-facility", "cgwdx": "lab-facility-dx"}[fault.site]):
        raise LabError(f"fault {name} breaks the lab site {fault.site}, not {site}")
    params = _params()
    # one fault at a time in the shared lab: wait (STOWPATH_LAB_FAULT_WAIT s) for another user's fault to be
    # cleared, then claim the slot atomically
    deadline = time.monotonic() + float(os.environ.get("STOWPATH_LAB_FAULT_WAIT", "180"))
    while True:
        with _fault_lock():
            active = _active()
            if not active:
                record = {"name": name, "site": fault.site, "started": time.time(), "pid": os.getppid(), "done": {}}
                write(FAULTS_FILE, json.dumps([record]), 0o600)
                break
        if time.monotonic() > deadline:
            raise LabError(f"fault {active[-1]['name']} is still active: `lab.py fault clear` first (one at a time)")
        time.sleep(1)
    try:
        record["done"] = fault.inject(params)
    finally:
        write(FAULTS_FILE, json.dumps([record]), 0o600)
    log(f"fault {name} in place ({fault.where}: {fault.what}); diagnose -l {fault.site}")
    return 0


def listing() -> int:
    for f in CATALOGUE.values():
        print(f"{f.name:<22} {f.where:<9} {f.site:<6} {f.what}")
    return 0


def main(action: str, site: str | None = None) -> int:
    if action == "list":
        return listing()
    if action == "clear":
        return clear()
    return inject(action, site)


def _cloud_asn() -> int:
    """The BGP ASN the cloud edge runs now (the cloud the lab plays: aws 64512, azure 65515, gcp 64514)."""
    params = load_params() or {}
    return int(params.get("cloud_asn", CLOUD_ASNS[params.get("cloud", "aws")]))
