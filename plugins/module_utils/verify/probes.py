"""Active probes from a Linux host (the PACS LAN host or a gateway with a LAN source address):
iputils ``ping``, ``traceroute -I`` and TCP connects, with parsers of their output."""

from __future__ import annotations

import errno
import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

Run = Callable[[list[str]], "tuple[int, str, str]"]

_STATS = re.compile(r"(\d+) packets transmitted, (\d+) received(?:, \+(\d+) errors)?")
_RTT = re.compile(r"= [\d.]+/([\d.]+)/[\d.]+/[\d.]+ ms")
_FRAG = re.compile(r"(?:Frag needed and DF set \(mtu = (\d+)\)|message too long, mtu=(\d+))")
_FROM_ERR = re.compile(r"^From (\S+) icmp_seq=\d+ (.+)$", re.M)
_HOP = re.compile(r"^\s*(\d+)\s+(.*)$")
_ADDR_RTT = re.compile(r"(\d+\.\d+\.\d+\.\d+)\s+([\d.]+) ms(?:\s+(![A-Z0-9]*))?")


def parse_ping(text: str) -> dict[str, Any]:
    """iputils ping output -> transmitted, received, loss_pct, rtt_avg_ms, errors [{from, error}], mtu."""
    m = _STATS.search(text)
    sent, recv = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    rtt = _RTT.search(text)
    frag = _FRAG.search(text)
    errors = [{"from": a, "error": e.strip()} for a, e in _FROM_ERR.findall(text)]
    if "local error" in text and not errors:
        errors.append({"from": "local", "error": text.split("local error:", 1)[1].splitlines()[0].strip()})
    mtu = int(frag.group(1) or frag.group(2)) if frag else None
    return {"transmitted": sent, "received": recv,
            "loss_pct": round(100.0 * (sent - recv) / sent, 1) if sent else 100.0,
            "rtt_avg_ms": float(rtt.group(1)) if rtt else None, "errors": errors, "mtu": mtu}


def parse_traceroute(text: str) -> list[dict[str, Any]]:
    """``traceroute -n -q1`` output -> ``[{ttl, address|None, rtt_ms, annotation}]``."""
    hops = []
    for line in text.splitlines():
        if line.startswith("traceroute"):
            continue
        m = _HOP.match(line)
        if not m:
            continue
        ttl, rest = int(m.group(1)), m.group(2)
        a = _ADDR_RTT.search(rest)
        if a:
            hops.append({"ttl": ttl, "address": a.group(1), "rtt_ms": float(a.group(2)), "annotation": a.group(3)})
        else:
            hops.append({"ttl": ttl, "address": None, "rtt_ms": None, "annotation": None})
    return hops


def ping_cmd(target: str, source: str | None = None, count: int = 3, size: int | None = None,
             dont_fragment: bool = False, wait_s: int = 1) -> list[str]:
    cmd = ["ping", "-n", "-c", str(count), "-i", "0.2", "-W", str(wait_s)]
    if source:
        cmd += ["-I", source]
    if size is not None:
        cmd += ["-s", str(size)]
    if dont_fragment:
        cmd += ["-M", "do"]
    return cmd + [target]


def traceroute_cmd(target: str, source: str | None = None, max_hops: int = 15, wait_s: int = 1) -> list[str]:
    cmd = ["traceroute", "-I", "-n", "-q", "1", "-w", str(wait_s), "-m", str(max_hops)]
    if source:
        cmd += ["-s", source]
    return cmd + [target]


def discover_pmtu(run: Run, target: str, source: str | None = None, ceiling: int = 1500,
                  floor: int = 576) -> dict[str, Any]:
    """Path MTU to ``target`` with DF pings: use the MTU routers report (frag needed), else bisect.

    ``blackhole`` is True when large packets vanished without an ICMP "fragmentation needed" (PMTUD
    cannot work on this path, so only the MSS clamp protects TCP).
    """
    probes: list[dict[str, Any]] = []

    def fits(mtu: int) -> tuple[bool, int | None]:
        rc, out, err = run(ping_cmd(target, source, count=1, size=mtu - 28, dont_fragment=True))
        res = parse_ping(out + "\n" + err)
        probes.append({"mtu": mtu, "ok": res["received"] > 0, "reported_mtu": res["mtu"]})
        return res["received"] > 0, res["mtu"]

    def result(pmtu: int | None) -> dict[str, Any]:
        reported = any(p["reported_mtu"] for p in probes)
        return {"pmtu": pmtu, "blackhole": pmtu is not None and pmtu < ceiling and not reported,
                "reported_by_icmp": reported, "probes": probes}

    ok, reported = fits(ceiling)
    if ok:
        return result(ceiling)
    hi = ceiling  # the smallest size known not to fit
    if reported and floor <= reported < ceiling:
        if fits(reported)[0]:
            return result(reported)
        hi = reported
    if not fits(floor)[0]:
        return result(None)
    lo = floor  # the largest size known to fit
    while hi - lo > 1:
        mid = (lo + hi) // 2
        ok, reported = fits(mid)
        if ok:
            lo = mid
            continue
        hi = mid
        if reported and lo < reported < mid:
            if fits(reported)[0]:
                return result(reported)
            hi = reported
    return result(lo)


def tcp_probe(host: str, port: int, source: str | None = None, timeout_s: float = 2.0) -> dict[str, Any]:
    """One TCP connect: ``open`` | ``refused`` | ``timeout`` | ``unreachable`` | ``error``."""
    start = time.monotonic()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout_s)
    result, err = "open", None
    try:
        if source:
            sock.bind((source, 0))
        sock.connect((host, port))
    except TimeoutError:
        result = "timeout"
    except OSError as exc:
        err = errno.errorcode.get(exc.errno or 0, str(exc))
        if exc.errno == errno.ECONNREFUSED:
            result = "refused"
        elif exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EACCES, errno.EPERM):
            result = "unreachable"
        else:
            result = "error"
    finally:
        sock.close()
    return {"host": host, "port": port, "source": source, "result": result, "errno": err,
            "elapsed_s": round(time.monotonic() - start, 3)}


# A port the firewall lets through answers (SYN/ACK or reset) within about one round trip, as the allowed port
# did: a blocked port is declared after BLOCKED_RTT_FACTOR round trips of the allowed port, at least
# BLOCKED_MIN_WAIT_S (scheduling noise on a loaded host) and at most the probe timeout. Two SYNs per blocked
# port (two connects) make one lost SYN not pass a port that is really open.
BLOCKED_RTT_FACTOR = 10
BLOCKED_MIN_WAIT_S = 0.5


def blocked_wait(allowed: list[dict[str, Any]], timeout_s: float) -> float:
    """Seconds to wait for a blocked port, from the allowed ports' connect times (all open: they prove the path)."""
    if not allowed or any(r["result"] != "open" for r in allowed):
        return timeout_s
    rtt = max(r["elapsed_s"] for r in allowed)
    return round(min(timeout_s, max(BLOCKED_MIN_WAIT_S, BLOCKED_RTT_FACTOR * rtt)), 3)


def merge_attempts(attempts: list[dict[str, Any]]) -> dict[str, Any]:
    """One result from several connects to one port: any answer (open, then refused) wins over silence."""
    for wanted in ("open", "refused", "error", "unreachable"):
        for r in attempts:
            if r["result"] == wanted:
                return {**r, "attempts": len(attempts)}
    return {**attempts[0], "attempts": len(attempts)}


def probe_ports(host: str, allowed: list[int], blocked: list[int], source: str | None,
                timeout_s: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]], float]:
    """Allowed ports first (one RTT when open), then every blocked port twice, concurrently, for
    :func:`blocked_wait`. Returns (allowed results, blocked results, the blocked wait used)."""
    with ThreadPoolExecutor(max_workers=max(1, len(allowed), 2 * len(blocked))) as pool:
        allowed_res = list(pool.map(lambda port: tcp_probe(host, port, source, timeout_s), allowed))
        wait = blocked_wait(allowed_res, timeout_s)
        futures = [[pool.submit(tcp_probe, host, port, source, wait) for _ in range(2)] for port in blocked]
        blocked_res = [merge_attempts([f.result() for f in pair]) for pair in futures]
    return allowed_res, blocked_res, wait
