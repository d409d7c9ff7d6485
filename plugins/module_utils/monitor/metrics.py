"""Metric families and the Prometheus text exposition format (standard library only)."""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field

KINDS = ("gauge", "counter")


@dataclass
class Family:
    """One metric family: name, type, help and its samples ``(labels, value)``."""

    name: str
    kind: str
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float | bool | None, **labels: str) -> None:
        if value is None:
            return
        self.samples.append(({k: str(v) for k, v in labels.items()}, float(value)))


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def _value(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(int(v)) if v.is_integer() and abs(v) < 2**53 else repr(v)


def render(families: list[Family]) -> str:
    """The text exposition format (version 0.0.4) of ``families``; a counter's samples get ``_total``."""
    out: list[str] = []
    for fam in families:
        if fam.kind not in KINDS:
            raise ValueError(f"unknown metric type {fam.kind!r}")
        name = fam.name + ("_total" if fam.kind == "counter" and not fam.name.endswith("_total") else "")
        base = name[: -len("_total")] if fam.kind == "counter" else name
        out.append(f"# HELP {base} {_escape_help(fam.help)}")
        out.append(f"# TYPE {base} {fam.kind}")
        for labels, value in fam.samples:
            lab = ",".join(f'{k}="{_escape_label(v)}"' for k, v in sorted(labels.items()))
            out.append(f"{name}{{{lab}}} {_value(value)}" if lab else f"{name} {_value(value)}")
    return "\n".join(out) + "\n"


def write_textfile(path: str, families: list[Family]) -> None:
    """Write ``families`` for the node exporter's textfile collector: atomically (temp file + rename in the
    same directory, so the collector never reads half a file), mode 0644."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".stowpath-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(render(families))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
