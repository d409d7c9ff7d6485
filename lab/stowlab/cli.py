"""The command line of ``lab/lab.py``: ``up``, ``down``, ``status``, ``cloud-break``, ``cloud-repair``, ``cloud-auth``,
``exec``."""

from __future__ import annotations

import argparse
import sys

from .health import status
from .host import LabError
from .lifecycle import cloud_break, cloud_repair, down, up
from .netns import dev_exec


def parser(description: str | None = None) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p_up = sub.add_parser("up")
    p_up.add_argument("--fleet", type=int, default=0)
    p_up.add_argument("--cloud", choices=("aws", "azure", "gcp"), default=None,
                      help="the cloud the lab plays (default aws; make lab-up CLOUD=...)")
    sub.add_parser("down")
    p_st = sub.add_parser("status")
    p_st.add_argument("--json", action="store_true")
    p_br = sub.add_parser("cloud-break")
    p_br.add_argument("what", choices=("vpn", "dx"))
    sub.add_parser("cloud-repair")
    p_au = sub.add_parser("cloud-auth", help="switch the running cloud DICOMweb service: mtls (default) | bearer | "
                                             "mtls+bearer (nginx reloaded, nothing rebuilt); no mode: show it")
    p_au.add_argument("mode", nargs="?", choices=("mtls", "bearer", "mtls+bearer"))
    p_fault = sub.add_parser("fault", help="inject one fault of the catalogue (list | NAME | clear)")
    p_fault.add_argument("action")
    p_fault.add_argument("--site")
    p_ex = sub.add_parser("exec")
    p_ex.add_argument("device")
    p_ex.add_argument("command", nargs=argparse.REMAINDER)
    return ap


def main(argv: list[str] | None = None, description: str | None = None) -> int:
    args = parser(description).parse_args(argv)
    try:
        if args.cmd == "up":
            return up(args.fleet, args.cloud or "aws")
        if args.cmd == "down":
            return down()
        if args.cmd == "status":
            return status(args.json)
        if args.cmd == "cloud-break":
            return cloud_break(args.what)
        if args.cmd == "cloud-repair":
            return cloud_repair()
        if args.cmd == "cloud-auth":
            return cloud_auth(args.mode)
        if args.cmd == "fault":
            from .faults import main as fault_main

            return fault_main(args.action, args.site)
        if args.cmd == "exec":
            cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
            proc = dev_exec(args.device, cmd, timeout=300)
            sys.stdout.write(proc.stdout)
            sys.stderr.write(proc.stderr)
            return proc.returncode
    except LabError as exc:
        print(f"lab: error: {exc}", file=sys.stderr)
        return 1
    return 2


def cloud_auth(mode: str | None) -> int:
    """Switch (or show) the auth mode of the lab's running cloud DICOMweb service; prints JSON."""
    import json

    from lab.services import cloud_token

    from .topology import STATE

    state_dir = STATE / "dev" / "cloud" / "dicomweb"
    if not (state_dir / "cloud_dicomweb.json").exists():
        raise LabError(f"no cloud DICOMweb service in {state_dir} (is the lab up?)")
    try:
        info = cloud_token.set_auth(state_dir, mode) if mode else cloud_token.describe(state_dir)
    except (RuntimeError, ValueError) as exc:
        raise LabError(str(exc)) from None
    print(json.dumps(info, indent=2))
    return 0
