"""How much the adapter adds to a submission: SlurmScheduler.submit vs raw sbatch.

    .venv/bin/python bench/submit_overhead.py [-n 50] [--user alice] [--account proja]

Submits N held trivial jobs each way as the same user, interleaved one by one so both
see the same controller load, then cancels them all. Prints both totals and the ratio
adapter/raw (target: <= 1.3). Needs root (runuser) and the dev cluster up.

The raw baseline is the one place outside adapters/ that starts a process itself: it is
the measuring stick the adapter is compared with, so it must not go through the adapter.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.runner import BASE_ENV, CommandRunner  # noqa: E402
from adapters.scheduler import JobSpec, SlurmScheduler  # noqa: E402

SCRIPT = "#!/bin/sh\ntrue\n"


def raw_submit(sbatch: str, user: str, account: str, name: str, home: str) -> str:
    argv = [
        "runuser",
        "-u",
        user,
        "--",
        sbatch,
        "--parsable",
        "--hold",
        f"--account={account}",
        f"--job-name={name}",
        "--time=1",
        f"--chdir={home}",
    ]
    done = subprocess.run(
        argv,
        input=SCRIPT,
        capture_output=True,
        text=True,
        check=True,
        env=dict(BASE_ENV),
        timeout=30,
    )
    return done.stdout.strip().split(";")[0]


def adapter_submit(sched: SlurmScheduler, user: str, account: str, name: str) -> str:
    spec = JobSpec(script=SCRIPT, job_name=name, account=account, time=1, hold=True)
    return sched.submit(spec, as_user=user)


def timed(call) -> tuple[float, str]:
    started = time.perf_counter()
    job_id = call()
    return time.perf_counter() - started, job_id


def run(n: int, user: str, account: str) -> int:
    sched = SlurmScheduler(runner=CommandRunner(timeout=30))
    sbatch, home = sched._bin("sbatch"), os.path.expanduser(f"~{user}")
    tag = f"bench-{uuid.uuid4().hex[:8]}"
    raw_times, adapter_times, jobs = [], [], []
    try:
        for i in range(-2, n):  # two untimed warm-up rounds
            first_raw = i % 2 == 0  # alternate who goes first within a round
            calls = [
                ("raw", lambda: raw_submit(sbatch, user, account, f"{tag}-raw", home)),
                ("adapter", lambda: adapter_submit(sched, user, account, f"{tag}-adp")),
            ]
            for kind, call in calls if first_raw else reversed(calls):
                elapsed, job_id = timed(call)
                jobs.append(job_id)
                if i >= 0:
                    (raw_times if kind == "raw" else adapter_times).append(elapsed)
    finally:
        if jobs:
            sched.runner.run([sched._bin("scancel"), *jobs], check=False)
    raw_total, adapter_total = sum(raw_times), sum(adapter_times)
    ratio = adapter_total / raw_total
    print(f"submissions: {n} each way as {user} (account {account}), interleaved; all cancelled")
    for label, times in (("raw sbatch", raw_times), ("adapter", adapter_times)):
        print(
            f"{label:>10}: total {sum(times):7.3f} s   median "
            f"{statistics.median(times) * 1000:6.1f} ms   max {max(times) * 1000:6.1f} ms"
        )
    print(f"ratio adapter/raw: {ratio:.3f} (target <= 1.3)")
    return 0 if ratio <= 1.3 else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=50, help="submissions each way (default 50)")
    parser.add_argument("--user", default="alice")
    parser.add_argument("--account", default="proja")
    opts = parser.parse_args(argv)
    if opts.n < 1:
        parser.error("-n must be at least 1")
    return run(opts.n, opts.user, opts.account)


if __name__ == "__main__":
    sys.exit(main())
