"""Helpers the benchmarks share: a raw ASGI response, CPU time from /proc, percentiles, and
py-spy's raw output. Imported by the bench scripts, which run with this folder on sys.path."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from starlette.types import Send

__all__ = ["machine_busy_seconds", "percentile", "process_cpu", "read_stacks", "respond"]


async def respond(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (Linux /proc; 0.0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    # After "pid (comm)": state is field 3, utime field 14 and stime field 15 (1-based).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """All CPUs' busy time (everything but idle and iowait) from /proc/stat; 0.0 elsewhere."""
    try:
        with Path("/proc/stat").open() as stat:
            ticks = [int(value) for value in stat.readline().split()[1:]]
    except OSError:
        return 0.0
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def read_stacks(paths: Sequence[Path]) -> dict[str, int]:
    """py-spy's raw output ("frame;frame;... count" lines), merged."""
    stacks: dict[str, int] = {}
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                stacks[stack] = stacks.get(stack, 0) + int(count)
    return stacks
