"""Run a command; sample the RSS of its whole process tree every 2 s; stop it above a limit.

    python bench/watchdog.py LIMIT_MB COMMAND [ARGS...]

For big builds on a shared machine (``build-demo --area 150000`` spawns a process per city and
partition workers; GNU time's maximum RSS is that of the largest single process, not of the
tree).  Prints the exit code, wall seconds, the tree's peak RSS and the 1-minute load average
sampled once a minute.  Linux only (/proc).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


def tree_rss_mib(root: int) -> float:
    """Resident MiB of ``root`` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    total_kib, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/status") as status:
                total_kib += next((int(line.split()[1]) for line in status if line.startswith("VmRSS:")), 0)
        except OSError:
            continue
    return total_kib / 1024


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    limit_mib, command = float(sys.argv[1]), sys.argv[2:]
    t0 = time.time()
    proc = subprocess.Popen(command, start_new_session=True)
    peak, loads, next_load = 0.0, [], t0
    while proc.poll() is None:
        rss = tree_rss_mib(proc.pid)
        peak = max(peak, rss)
        if time.time() >= next_load:
            with open("/proc/loadavg") as loadavg:
                loads.append(loadavg.read().split()[0])
            next_load += 60
        if rss > limit_mib:
            print(f"watchdog: tree RSS {rss:,.0f} MiB > {limit_mib:,.0f} MiB, stopping", flush=True)
            os.killpg(proc.pid, signal.SIGTERM)
            break
        time.sleep(2)
    code = proc.wait()
    print(
        f"watchdog: exit {code}, wall {time.time() - t0:.1f} s, peak tree RSS {peak:,.0f} MiB, "
        f"load average {' '.join(loads)}",
        flush=True,
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
