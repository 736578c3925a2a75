"""CPU per thread of a running worker, from /proc (docs/performance.md).

Thread names come from ``py-spy dump`` (a dev dependency), because the stage and encoder threads
are named in Python (``stage-route_0``, ``embed_0``), not in the kernel. Linux only.

Usage, while ``supportflow bench --tickets 8000`` runs its full-speed phase::

    python docs/experiments/thread_cpu.py $(pgrep -f "supportflow.cli.main worker" | head -1) [--every 5] [--samples 4]

Prints each interval's busiest threads in cores, then ``TOTAL``: the mean over the whole window.
Divide a thread's cores by the pipeline's tickets/s for its milliseconds per ticket.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


def thread_names(pid: int) -> dict[str, str]:
    exe = shutil.which("py-spy") or shutil.which("py-spy", path=os.path.dirname(sys.executable))
    if exe is None:
        return {}
    out = subprocess.run([exe, "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=30).stdout
    names = {}
    for line in out.splitlines():
        if line.startswith("Thread ") and '"' in line:
            names[line.split()[1]] = line.split('"')[1]
    return names


def cpu_ticks(pid: int) -> dict[str, int]:
    ticks = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:
            continue  # the thread ended
        fields = stat[stat.rfind(")") + 2 :].split()
        ticks[tid] = int(fields[11]) + int(fields[12])  # utime + stime
    return ticks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pid", type=int)
    parser.add_argument("--every", type=float, default=5.0)
    parser.add_argument("--samples", type=int, default=4)
    args = parser.parse_args()
    hz = os.sysconf("SC_CLK_TCK")
    names = thread_names(args.pid)
    first = prev = cpu_ticks(args.pid)
    started = last = time.monotonic()
    for i in range(args.samples):
        time.sleep(args.every)
        now_ticks, now = cpu_ticks(args.pid), time.monotonic()
        if any(t not in names for t in now_ticks):
            names.update(thread_names(args.pid))
        cores = {names.get(t, t): (v - prev.get(t, v)) / hz / (now - last) for t, v in now_ticks.items()}
        top = sorted(cores.items(), key=lambda kv: -kv[1])[:9]
        shown = " ".join(f"{k}={v:.2f}" for k, v in top if v > 0.005)
        print(f"{(i + 1) * args.every:5.0f}s total {sum(cores.values()):.2f} {shown}", flush=True)
        prev, last = now_ticks, now
    total = {names.get(t, t): (v - first.get(t, 0)) / hz / (last - started) for t, v in prev.items()}
    ranked = sorted(total.items(), key=lambda kv: -kv[1])
    print(f"TOTAL {sum(total.values()):.3f} " + " ".join(f"{k}={v:.3f}" for k, v in ranked if v > 0.003))


if __name__ == "__main__":
    main()
