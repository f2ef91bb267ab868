"""The chaos suite, long form (issue #13's "Done means"): slurmctld frozen while the portal
is under load, counted as an operator would.

    .venv/bin/python bench/chaos.py [--runs 20] [--freeze 60] [--interval 10] [--timeout 30]

Each run starts a separate portal as `make run` does (gunicorn and the worker under
etc/supervise.sh, a private SQLite database; production settings unless given), logs two
page readers in (one page each every 0.5 s), lists jobs through the API every second and
creates a job every 4 s (each with an Idempotency-Key, retried with it after a dropped
connection). After 10 s slurmctld is SIGSTOPped for --freeze seconds (ALWAYS SIGCONT in a
`finally`), then the load goes on for 15 s. Printed per run and in total:

- reads: count, errors (no answer or 5xx), p95 during the freeze and overall;
- creates by answer (201, 503 with the outage it named, anything else);
- duplicates (portal jobs with more than one Slurm job carrying their tag, squeue and
  sacct), jobs Slurm lacks, jobs never resolved;
- the worker: its restarts, and the seconds from the wake-up until a whole cycle that
  started after it ended with every step ok, and until every create was resolved.

It freezes the shared dev cluster's controller: run it when nobody else needs it, or
give `--cluster devmulti` to run it against the multi-node dev cluster's own slurmctld
(started with `cluster.sh start-multi` if it is not up): the one-node cluster, and every
test using it, goes on undisturbed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters import runner  # noqa: E402
from tests.support import chaos  # noqa: E402

DEVMULTI_CONF = "/etc/slurm-devmulti/slurm.conf"


def one_run(n: int, args) -> dict:
    root = Path(tempfile.mkdtemp(prefix=f"chaos-bench-{n}-"))
    portal = chaos.ChaosPortal(root, interval=args.interval, command_timeout=args.timeout,
                               settle_seconds=60.0, inflight_seconds=150.0,
                               extra_env=_cluster_env(args.cluster))
    portal.setup()
    if args.cluster == "devmulti":  # the set-up's create_app reset it to its own config
        runner.use_slurm_conf(DEVMULTI_CONF)
    portal.start()
    worker = portal.child("worker")
    load = chaos.Load(portal, page_readers=2, page_every=0.5, list_every=1.0,
                      create_every=4.0, prefix=f"bench{n}", retry_for=240.0).start()
    try:
        time.sleep(10)
        frozen_at = time.monotonic() - load.t0
        with chaos.frozen_slurmctld():
            time.sleep(args.freeze)
        woke, woke_at = time.monotonic(), datetime.now(UTC).replace(tzinfo=None)
        thawed_at = woke - load.t0
        seen: dict = {}
        watcher = threading.Thread(target=_watch, args=(portal, woke, woke_at, seen),
                                   daemon=True)
        watcher.start()  # while the load goes on
        time.sleep(15)
    finally:
        load.stop()
    try:
        watcher.join(400)
        current, resolved = seen.get("current", float("nan")), seen.get("resolved", float("nan"))
        result = chaos.settled_verdict(portal, load, 60)
        restarts = (root / "state" / "worker.log").read_text().count("restarting in")
        alive = portal.child("worker") == worker
    finally:
        chaos.cancel_all(portal)
        portal.stop()
    during = chaos.reads_between(load, frozen_at, thawed_at)
    return {"verdict": result, "during": during, "current": current, "resolved": resolved,
            "restarts": restarts, "alive": alive, "creates": load.creates}


def _cluster_env(cluster: str) -> dict:
    """The portal's settings for --cluster (the bench's own Slurm commands follow
    SLURM_CONF, set once in main)."""
    if cluster == "devcluster":
        return {}
    return {"PORTAL_SLURM_CONF": DEVMULTI_CONF, "PORTAL_SLURM_CLUSTER": cluster}


def _use_devmulti() -> None:
    subprocess.run(["bash", str(chaos.CLUSTER_SH), "start-multi"], check=True, timeout=600,
                   stdout=subprocess.DEVNULL)
    os.environ["SLURM_CONF"] = DEVMULTI_CONF  # scontrol/scancel run here
    runner.use_slurm_conf(DEVMULTI_CONF)  # the adapters the verdict reads Slurm with


def _watch(portal, woke: float, woke_at: datetime, seen: dict) -> None:
    """Seconds from the wake-up until the worker ended a whole cycle that started after it
    with every step ok ("current"), and until no create waits to be resolved."""
    def good_cycle():
        beat = portal.heartbeat()
        return beat and beat["cycle_started_at"] > woke_at and all(
            s["ok"] for s in beat["steps"].values())

    chaos.wait_until(good_cycle, 300, "a good worker cycle after the wake-up", step=0.2)
    seen["current"] = time.monotonic() - woke
    chaos.wait_until(lambda: not chaos.unresolved(portal), 400, "every create resolved",
                     step=0.5)
    seen["resolved"] = time.monotonic() - woke


def _line(n, run) -> str:
    v, during = run["verdict"], run["during"]
    bad = sum(1 for r in during if r.status is None or r.status >= 500)
    return (f"run {n}: reads {v.reads} (errors {v.read_errors}, p95 {v.read_p95:.3f} s; "
            f"frozen: {len(during)}, errors {bad}, p95 "
            f"{chaos.p95([r.seconds for r in during]):.3f} s) | creates "
            f"{dict(sorted(v.creates_by_status.items()))} | duplicates {len(v.duplicates)}, "
            f"missing {len(v.missing)}, unresolved {len(v.unresolved)} | worker alive "
            f"{run['alive']}, restarts {run['restarts']}, good cycle {run['current']:.1f} s "
            f"and all resolved {run['resolved']:.1f} s after the wake-up")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--freeze", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=10.0, help="worker interval (s)")
    parser.add_argument("--timeout", type=float, default=30.0, help="COMMAND_TIMEOUT (s)")
    parser.add_argument("--cluster", choices=("devcluster", "devmulti"), default="devcluster",
                        help="whose slurmctld to freeze (devmulti: the multi-node dev cluster)")
    args = parser.parse_args()
    if args.cluster == "devmulti":
        _use_devmulti()
    print(f"{args.cluster}'s slurmctld frozen {args.freeze:g} s per run; worker interval "
          f"{args.interval:g} s, command timeout {args.timeout:g} s; {args.runs} runs", flush=True)
    runs = []
    for n in range(1, args.runs + 1):
        runs.append(one_run(n, args))
        print(_line(n, runs[-1]), flush=True)
    reads = [r.seconds for run in runs for r in run["during"]]
    errors = sum(run["verdict"].read_errors for run in runs)
    statuses: dict = {}
    for run in runs:
        for key, count in run["verdict"].creates_by_status.items():
            statuses[key] = statuses.get(key, 0) + count
    dups = sum(len(run["verdict"].duplicates) for run in runs)
    slow_503 = max((c.seconds for run in runs for c in run["creates"] if c.status == 503),
                   default=0.0)
    print(f"total: read errors {errors}, p95 of reads during the freezes "
          f"{chaos.p95(reads):.3f} s, creates {dict(sorted(statuses.items()))} (slowest 503 "
          f"{slow_503:.1f} s), duplicates {dups}, worker restarts "
          f"{sum(r['restarts'] for r in runs)}, good cycle after the wake-up at most "
          f"{max(r['current'] for r in runs):.1f} s (interval {args.interval:g} s)")
    ok = errors == 0 and dups == 0 and set(statuses) <= {"201", "503 controller"}
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
