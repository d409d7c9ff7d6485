"""The command line of ``lab/lab.py``: ``up``, ``down``, ``status``, ``cloud-break``, ``cloud-repair``, ``exec``."""

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
    sub.add_parser("down")
    p_st = sub.add_parser("status")
    p_st.add_argument("--json", action="store_true")
    p_br = sub.add_parser("cloud-break")
    p_br.add_argument("what", choices=("vpn", "dx"))
    sub.add_parser("cloud-repair")
    p_ex = sub.add_parser("exec")
    p_ex.add_argument("device")
    p_ex.add_argument("command", nargs=argparse.REMAINDER)
    return ap


def main(argv: list[str] | None = None, description: str | None = None) -> int:
    args = parser(description).parse_args(argv)
    try:
        if args.cmd == "up":
            return up(args.fleet)
        if args.cmd == "down":
            return down()
        if args.cmd == "status":
            return status(args.json)
        if args.cmd == "cloud-break":
            return cloud_break(args.what)
        if args.cmd == "cloud-repair":
            return cloud_repair()
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
