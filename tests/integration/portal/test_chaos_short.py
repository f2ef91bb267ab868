"""The chaos suite, short form (issue #13): a real portal (gunicorn and the worker under
etc/supervise.sh, as `make run` starts them) on the real dev cluster, loaded by page
readers, an API lister and a creator with Idempotency-Keys, while

1. the worker and gunicorn (a worker process, then the master) are SIGKILLed during
   submissions;
2. slurmctld is frozen (SIGSTOP) for OUTAGE seconds;
3. slurmdbd is stopped for OUTAGE seconds;
4. MariaDB (slurmdbd's database) is stopped for OUTAGE seconds.

Then, as an operator would count: exactly one Slurm job per portal job (by its tag, in
squeue and sacct), every create answered 201 or a 503 naming the outage (retried with its
key after a dropped connection, never a second job), no job charged twice, pages and lists
answering during the Slurm outages, the worker alive and beating.

The daemons are ALWAYS restored in a `finally` (SIGCONT, `cluster.sh start`); each outage
lasts at most OUTAGE seconds. It freezes and stops shared daemons, so `make test` runs it
alone, after the rest (marker `disruptive`). The long form is bench/chaos.py.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.support import chaos

pytestmark = [pytest.mark.integration, pytest.mark.disruptive]

OUTAGE = 15.0  # seconds each daemon is down (the suite's whole run stays under ~3 min)


def _kill(portal: chaos.ChaosPortal, load: chaos.Load, target: str) -> float:
    """SIGKILL `target` while a create is in flight; seconds until it serves again."""
    assert load.posting.wait(20), "no create in flight to kill"
    time.sleep(0.03)
    pid = {"worker": lambda: portal.child("worker"), "web master": lambda: portal.child("web"),
           "web worker": lambda: portal.web_workers()[0]}[target]()
    started = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    if target == "worker":
        new = chaos.wait_until(lambda: portal.child("worker") not in (None, pid)
                               and portal.child("worker"), 30, "the worker to be restarted")
        chaos.wait_until(lambda: (portal.heartbeat() or {}).get("pid") == new, 30,
                         "the new worker's heartbeat")
    else:
        chaos.wait_until(lambda: portal.get("/api/v1/me", timeout=5)[0] == 200
                         and portal.child("web") not in (None, pid if target == "web master"
                                                         else None), 40, "gunicorn back")
    return time.monotonic() - started


def test_kills_and_outages_leave_one_slurm_job_per_portal_job(tmp_path):
    portal = chaos.ChaosPortal(tmp_path, interval=2.0, command_timeout=8.0,
                               settle_seconds=20.0, inflight_seconds=30.0)
    portal.setup()
    portal.start()
    load = chaos.Load(portal, create_every=1.5, retry_for=90.0)
    phases: dict[str, tuple[float, float]] = {}
    back: dict[str, float] = {}

    def phase(name, outage):
        start = time.monotonic() - load.t0
        with outage():
            time.sleep(OUTAGE)
        phases[name] = (start, time.monotonic() - load.t0)
        time.sleep(2)

    try:
        load.start()
        for n, target in enumerate(("web worker", "worker", "web master", "worker")):
            back[f"{target} ({n + 1})"] = _kill(portal, load, target)
        phase("slurmctld frozen", chaos.frozen_slurmctld)
        phase("slurmdbd stopped", chaos.stopped_slurmdbd)
        phase("MariaDB stopped", chaos.stopped_mariadb)
    finally:
        load.stop()
    try:
        chaos.wait_until(lambda: not chaos.unresolved(portal), 90, "every create resolved",
                         step=1.0)
        # After slurmdbd's outage sacct learns of the jobs that ended meanwhile only once
        # slurmctld has sent them on: wait for every recorded Slurm job to show there.
        result = chaos.settled_verdict(portal, load, 60)
        ended = chaos.datetime.now(chaos.UTC).replace(tzinfo=None)

        def fresh_good_cycle():  # a whole cycle after the outages, every step ok
            beat = portal.heartbeat()
            good = beat and beat["cycle_started_at"] > ended and all(
                s["ok"] for s in beat["steps"].values())
            return beat if good else None

        beat = chaos.wait_until(fresh_good_cycle, 60, "a good worker cycle", step=1.0)
        worker = portal.child("worker")
        per_phase = {name: chaos.reads_between(load, *span) for name, span in phases.items()}
    finally:
        chaos.cancel_all(portal)
        portal.stop()
    print("\nback after SIGKILL: " + ", ".join(f"{k} {v:.1f} s" for k, v in back.items()))
    print("\n".join(result.lines()))
    for name, reads in per_phase.items():
        bad = [r for r in reads if r.status is None or r.status >= 500]
        print(f"{name}: {len(reads)} reads, {len(bad)} errors, "
              f"p95 {chaos.p95([r.seconds for r in reads]):.3f} s")
    assert result.portal_jobs >= 20 and result.slurm_jobs >= 15
    assert result.duplicates == [] and result.missing == [] and result.ghosts == []
    assert result.unresolved == [] and result.keys_without_one_job == []
    answers = {c.status for c in load.creates}
    assert answers <= {200, 201, 503}, [(c.key, c.status, c.errors) for c in load.creates]
    assert all(c.outage for c in load.creates if c.status == 503)
    assert result.double_charged == []
    for name, reads in per_phase.items():  # pages and lists answer while Slurm is down
        assert reads and all(r.status is not None and r.status < 500 for r in reads), name
        assert chaos.p95([r.seconds for r in reads]) < 2.0, name
    assert worker and beat["pid"] == worker, "the worker is not alive and beating"
