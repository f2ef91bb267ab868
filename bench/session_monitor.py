"""What the session sampler (jobscripts/session_monitor.py) costs: CPU time / wall time.

    .venv/bin/python bench/session_monitor.py [--seconds 60] [--interval 10] [--procs 8]
                                              [--files 200]

Starts a pretend job (SLURM_JOB_ID set, PROCS sleeping processes plus one busy one) and
the sampler beside it, as it runs in a session, for SECONDS; then reads the sampler's
utime+stime from /proc/<pid>/stat and prints its share of one core, against a baseline
measured in the same run: an idle `python3 -c` process waiting the same time (what merely
keeping a python3 alive costs on this kernel). Target: sampler < 1 % of a core at the
production interval. Exits 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLER = REPO / "jobscripts" / "session_monitor.py"
HZ = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def measure(argv: list[str], seconds: float, env: dict) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of `argv` over `seconds`, read just before stopping it."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    try:
        time.sleep(seconds)
        used, wall = cpu_seconds(proc.pid), time.monotonic() - start
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return used, wall


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--procs", type=int, default=8)
    parser.add_argument("--files", type=int, default=200,
                        help="files in the pretend workspace (walked once in the run)")
    args = parser.parse_args()
    env = {**os.environ, "SLURM_JOB_ID": "4242424", "SLURM_CPUS_ON_NODE": "2"}
    job = [subprocess.Popen(["sleep", str(args.seconds * 3)], env=env) for _ in range(args.procs)]
    job.append(subprocess.Popen([sys.executable, "-c", "while True: pass"], env=env))
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.files):  # a workspace to walk, 100 files a directory
            folder = Path(tmp, f"d{i // 100}")
            folder.mkdir(exist_ok=True)
            (folder / f"f{i}").write_bytes(b"x" * 100)
        out = str(Path(tmp, "metrics.jsonl"))
        try:
            base_cpu, base_wall = measure(
                ["python3", "-c", f"import time; time.sleep({args.seconds * 3})"],
                args.seconds, env)
            cpu, wall = measure(
                ["python3", str(SAMPLER), "--out", out, "--interval", str(args.interval),
                 "--workspace", tmp, "--disk-every", "300"], args.seconds, env)
        finally:
            for proc in job:
                proc.kill()
                proc.wait()
        lines = Path(out).read_text().splitlines() if Path(out).exists() else []
    share = 100.0 * cpu / wall
    baseline = 100.0 * base_cpu / base_wall
    print(f"sampler: interval {args.interval:g}s, {args.files} workspace files walked once, "
          f"{len(lines)} samples in {wall:.1f}s, "
          f"CPU {cpu:.3f}s = {share:.3f}% of a core")
    print(f"baseline (idle python3): CPU {base_cpu:.3f}s = {baseline:.3f}% of a core")
    print(f"ratio sampler/baseline: {share / baseline:.1f}" if baseline else
          "ratio sampler/baseline: baseline used no measurable CPU")
    print("target < 1% of a core:", "met" if share < 1.0 else "MISSED")
    return 0 if share < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
