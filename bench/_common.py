"""Helpers the benchmarks share: a raw ASGI response, CPU time from /proc, percentiles, the
machine's description, and py-spy's raw output. Imported by the bench scripts, which run with
this folder on sys.path."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from select import select

from rich.console import Console
from rich.table import Table
from starlette.types import Send

__all__ = [
    "launch",
    "leaf_table",
    "machine",
    "machine_busy_seconds",
    "percentile",
    "process_cpu",
    "read_stacks",
    "respond",
    "stop",
    "tally_stacks",
]


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


def machine(software: Mapping[str, str]) -> dict[str, str]:
    """What a run's figures depend on: the CPU and how many of it, Python, the ``software`` the
    bench names (versions), and the load average at the end."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "CPU": f"{model} ({platform.machine()})",
        "nproc": str(cpus),
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        **software,
        "load average": " ".join(f"{v:.2f}" for v in os.getloadavg()),
    }


def launch(command: Sequence[str], timeout: float) -> tuple[subprocess.Popen[bytes], str]:
    """Start a bench's server (the script again, with ``--role``) and read the first line it
    prints (where it listens); "" when it printed none within ``timeout`` seconds. A session of
    its own: a Ctrl-C in the terminal reaches only the bench, which stops its servers in order
    (they stop by themselves too when the bench dies: their stdin closes)."""
    process = subprocess.Popen(  # noqa: S603 - the bench script, with the bench's own arguments
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True
    )
    assert process.stdout is not None
    ready, _, _ = select([process.stdout], [], [], timeout)
    return process, process.stdout.readline().decode() if ready else ""


def stop(process: subprocess.Popen[bytes], timeout: float) -> None:
    """Close its stdin (the server shuts down gracefully, a profiler writes its file); then
    SIGTERM, then SIGKILL, each after ``timeout`` seconds."""
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            stream.close()
    for escalate in (process.terminate, process.kill):
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            escalate()
        else:
            return
    process.wait(timeout=timeout)


def tally_stacks(
    stacks: Mapping[str, int],
    buckets: Sequence[tuple[str, str]],
    frame_name: Callable[[str], str],
) -> tuple[dict[str, int], dict[str, int]]:
    """py-spy's samples per bucket (``(name, regex)``: the first that matches the stack) and per
    leaf function (named by ``frame_name``)."""
    counts = dict.fromkeys((name for name, _ in buckets), 0)
    leaves: dict[str, int] = {}
    for stack, n in stacks.items():
        for name, pattern in buckets:
            if re.search(pattern, stack):
                counts[name] += n
                break
        leaf = frame_name(stack.rpartition(";")[2])
        leaves[leaf] = leaves.get(leaf, 0) + n
    return counts, leaves


def leaf_table(
    console: Console, leaves: Mapping[str, int], total: int, ms: float, *, unit: str, top: int
) -> None:
    """The ``top`` functions by own samples: their share, and that share of ``ms`` (the CPU
    time the profiled process spent per ``unit``)."""
    table = Table(title=f"py-spy: top {top} functions by own samples", title_justify="left")
    for column in ("function", "share", unit):
        table.add_column(column, justify="left" if column == "function" else "right")
    for leaf, n in sorted(leaves.items(), key=lambda item: -item[1])[:top]:
        table.add_row(leaf, f"{n / total:.1%}", f"{n / total * ms:.3f}")
    console.print(table)
