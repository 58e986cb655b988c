"""Run a command; sample the memory of its whole process tree every 2 s; stop it above a limit.

    python bench/watchdog.py LIMIT_MB COMMAND [ARGS...]

For big builds on a shared machine (``build-demo --area 150000`` spawns a process per city and
partition workers; GNU time's maximum RSS is that of the largest single process, not of the
tree).  Each sample sums over the tree both RSS (``VmRSS``: a page shared between forked processes
counts once per process, so the sum overstates) and PSS (``Pss`` of ``/proc/<pid>/smaps_rollup``:
each shared page is divided among the processes that map it, so the sum is the tree's real share of
memory).  Prints the exit code, wall seconds, the tree's peak PSS and peak RSS (MiB), the largest
single process's peak RSS and PSS, and the 1-minute load average sampled once a minute.  The limit
applies to the tree's PSS.  Linux only (/proc).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


def _tree_pids(root: int) -> list[int]:
    """``root`` and all its descendants (from each process's parent id in ``/proc/<pid>/stat``)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(children.get(pid, []))
    return pids


def _field_kib(path: str, field: str) -> int:
    """The kB value of ``field`` (e.g. ``"VmRSS:"``) in a /proc file; 0 if the process is gone."""
    try:
        with open(path) as f:
            return next((int(line.split()[1]) for line in f if line.startswith(field)), 0)
    except (OSError, ValueError, IndexError):
        return 0


def tree_memory_mib(root: int) -> tuple[float, float, float, float]:
    """(summed RSS, summed PSS, largest single RSS, largest single PSS) of ``root``'s tree, MiB."""
    pids = _tree_pids(root)
    rss = [_field_kib(f"/proc/{pid}/status", "VmRSS:") for pid in pids]
    pss = [_field_kib(f"/proc/{pid}/smaps_rollup", "Pss:") for pid in pids]
    return sum(rss) / 1024, sum(pss) / 1024, max(rss, default=0) / 1024, max(pss, default=0) / 1024


def tree_rss_mib(root: int) -> float:
    """Resident MiB of ``root`` and all its descendants (RSS summed: shared pages count per process)."""
    return tree_memory_mib(root)[0]


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    limit_mib, command = float(sys.argv[1]), sys.argv[2:]
    t0 = time.time()
    proc = subprocess.Popen(command, start_new_session=True)
    peak_rss = peak_pss = top_rss = top_pss = 0.0
    loads, next_load = [], t0
    while proc.poll() is None:
        rss, pss, one_rss, one_pss = tree_memory_mib(proc.pid)
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        top_rss, top_pss = max(top_rss, one_rss), max(top_pss, one_pss)
        if time.time() >= next_load:
            with open("/proc/loadavg") as loadavg:
                loads.append(loadavg.read().split()[0])
            next_load += 60
        if pss > limit_mib:
            print(f"watchdog: tree PSS {pss:,.0f} MiB > {limit_mib:,.0f} MiB, stopping", flush=True)
            os.killpg(proc.pid, signal.SIGTERM)
            break
        time.sleep(2)
    code = proc.wait()
    print(
        f"watchdog: exit {code}, wall {time.time() - t0:.1f} s, peak tree PSS {peak_pss:,.0f} MiB, "
        f"peak tree RSS {peak_rss:,.0f} MiB, largest process RSS {top_rss:,.0f} MiB / PSS {top_pss:,.0f} MiB, "
        f"load average {' '.join(loads)}",
        flush=True,
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
