"""Run a child process and measure it: wall time, its own peak RSS, and the peak RSS of its process tree.

Not wait4's ru_maxrss: Linux carries the high-water mark across exec, and Python starts children
with vfork, so a child's ru_maxrss is at least its parent's peak (a child measured 513 MB under a
500 MB parent, against 13 MB of its own). /proc's VmHWM belongs to the child's own memory map, so
it is read while the child runs; it only grows, so the last reading before the exit is the peak,
short of a rise in the last sampling interval. A program that hands work to helper processes
would look smaller than it is, so the whole tree's RSS is also summed at each sample.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SAMPLE_EVERY_S = 0.05
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Measured:
    seconds: float
    returncode: int
    stdout: str
    stderr: str
    peak_rss_bytes: int  # the child itself: its VmHWM, last read before it exited
    peak_tree_rss_bytes: int  # the child and its descendants together, the largest sum sampled


def run_measured(
    argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 3600
) -> Measured:
    # Files, not pipes: a tool writing megabytes would block on a full pipe nobody reads while we wait.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=cwd)
        peaks = [0, 0]  # the child's VmHWM, the tree's largest RSS sum
        done = threading.Event()
        sampler = threading.Thread(target=_sample, args=(proc.pid, peaks, done), daemon=True)
        sampler.start()
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status = os.waitpid(proc.pid, 0)
        finally:
            timer.cancel()
            done.set()
        seconds = time.perf_counter() - t0
        sampler.join()
        # The Popen object must not wait for a child we already reaped.
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(
            seconds,
            proc.returncode,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
            peaks[0],
            peaks[1],
        )


def _sample(pid: int, peaks: list[int], done: threading.Event) -> None:
    while not done.is_set():
        peaks[0] = max(peaks[0], _hwm(pid))
        peaks[1] = max(peaks[1], sum(_rss(p) for p in _tree(pid)))
        done.wait(SAMPLE_EVERY_S)


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                parent = int(Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _hwm(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            line = next((line for line in status if line.startswith("VmHWM:")), None)
    except OSError:
        return 0
    return int(line.split()[1]) * 1024 if line else 0


def _rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0
