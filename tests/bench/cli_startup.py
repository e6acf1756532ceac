"""How long the CLI takes to show help: ``python tests/bench/cli_startup.py [N]``.

Prints the best and median wall time of N runs (default 10) for ``qwengraph --help``,
``qwengraph run --help`` and ``qwengraph --version``, each a fresh process, and the CPU time of the
best run. The goal (issue 17) is 0.3 s for ``--help`` on an idle machine; on a shared, loaded machine
read the CPU column.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time

COMMANDS = (["--help"], ["run", "--help"], ["--version"])


def measure(args: list[str], runs: int) -> tuple[float, float, float]:
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "agents", *args], stdout=subprocess.DEVNULL, check=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return min(walls), statistics.median(walls), min(cpus)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}; {runs} runs each")
    print(f"{'command':28} {'best s':>8} {'median s':>9} {'best cpu s':>11}")
    for args in COMMANDS:
        best, median, cpu = measure(args, runs)
        print(f"{'qwengraph ' + ' '.join(args):28} {best:8.3f} {median:9.3f} {cpu:11.3f}")


if __name__ == "__main__":
    main()
