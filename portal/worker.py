"""The reconciling worker: one loop of idempotent steps (today: the cluster-state cache)."""

from __future__ import annotations

import logging
import signal
import threading

from portal.services import (
    accounting_import,
    approvals,
    cluster,
    custom_images,
    monitoring,
    project_expiry,
    schedrun,
    sessionsync,
    wallet,
)
from portal.slurm import make_scheduler

log = logging.getLogger("portal.worker")


def run_cycle(app) -> dict:
    """One pass; returns a summary. Each step commits on its own so one failure stops nothing."""
    with app.app_context():
        scheduler = make_scheduler(app.config)
        snapshot = cluster.refresh(scheduler)
        summary = {"cluster_ok": snapshot.error is None, "error": snapshot.error}
        summary.update(schedrun.worker_steps(scheduler, snapshot))  # job states, schedules
        summary.update(sessionsync.worker_step(scheduler, snapshot))  # interactive sessions
        summary.update(approvals.worker_step(scheduler))  # F11 orders waiting/closing
        summary.update(monitoring.worker_step())  # session samples into metric buckets
        summary.update(custom_images.worker_step())  # F4: start queued image builds
        summary.update(project_expiry.enforce_expiry())  # projects past their end date
        summary.update(accounting_import.worker_step(scheduler))  # sacct import, weights
        summary.update(wallet.worker_step())  # charges (after the sacct import), budgets
        return summary


def run_forever(app, interval: float | None = None) -> None:
    """Loop until SIGTERM/SIGINT; waits on an event so a stop is immediate."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    interval = interval or float(app.config["WORKER_INTERVAL"])
    while not stop.is_set():
        summary = run_cycle(app)
        if not summary["cluster_ok"]:
            log.warning("cluster refresh failed: %s", summary["error"])
        stop.wait(interval)
