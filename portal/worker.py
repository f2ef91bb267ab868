"""The reconciling worker: one loop over a registry of named, independent steps.

Every cached state the pages show (cluster, job and session states, charges, expiry) is
only as fresh as this loop, so it must never stop: each step runs in its own guard (any
exception, `database is locked` included, is logged with its traceback, the DB session is
rolled back and the next step runs), the cycle as a whole is guarded again, and the end of
every cycle stores a heartbeat (portal/services/heartbeat.py) with the per-step results, so
a worker that died or hangs shows up as late. Restarting a dead process is the
supervisor's job: etc/supervise.sh under `make run`, systemd (etc/systemd/) in production.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from adapters.factory import make_scheduler
from portal import db
from portal.services import (
    accounting_import,
    approvals,
    cluster,
    custom_images,
    duplicates,
    heartbeat,
    jobsync,
    monitoring,
    project_expiry,
    schedrun,
    sessionsync,
    wallet,
)
from portal.services.core.backend import backend_for

log = logging.getLogger("portal.worker")

# UTC, like every time the portal stores and like etc/supervise.sh's lines in the same log.
LOG_FORMAT = "%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s[%(process)d]: %(message)s"
LOG_DATEFMT = "%Y-%m-%dT%H:%M:%S"


class StepFailed(Exception):  # noqa: N818 - reads as "the step failed: <reason>"
    """A step ran but could not do its work (e.g. Slurm did not answer); the message says why.
    Logged without a traceback: the service already logged the details."""


@dataclass
class Cycle:
    """What the steps of one cycle share: the scheduler, the fresh snapshot, the summary."""

    scheduler: object
    snapshot: object | None = None
    summary: dict = field(default_factory=lambda: {"cluster_ok": False, "error": None})
    _backend: object | None = None

    @property
    def jobs(self) -> list[dict] | None:
        """squeue's jobs of this cycle; None when the refresh failed (steps then skip)."""
        snapshot = self.snapshot
        return snapshot.data["jobs"] if snapshot is not None and snapshot.data else None

    @property
    def backend(self):
        if self._backend is None:
            self._backend = backend_for(self.scheduler)
        return self._backend


@dataclass(frozen=True)
class Step:
    """A registered step: its name (in the heartbeat, the logs and the admin pages), what it
    runs, and how often: `interval` seconds at least between two runs in this process
    (None: every cycle). A step that is not due keeps its last result in the heartbeat."""

    name: str
    run: Callable[[Cycle], None]
    interval: float | None = None


# The registry, in order of registration: the cluster refresh first (the job/session/
# schedule steps read its snapshot and skip when it failed), the wallet after the sacct
# import it charges from. Adding a step is one `register` call (or `@step(...)`).
STEPS: list[Step] = []


def register(name: str, function: Callable[[Cycle], None], *,
             interval: float | None = None) -> Step:
    """Add `function` as the last step; names are unique (they key the heartbeat)."""
    if any(s.name == name for s in STEPS):
        raise ValueError(f"worker step {name!r} is already registered")
    if interval is not None and interval <= 0:
        raise ValueError(f"worker step {name!r}: interval must be positive or None")
    registered = Step(name, function, interval)
    STEPS.append(registered)
    return registered


def step(name: str, *, interval: float | None = None):
    """Decorator form of `register`: the function below becomes the last step."""
    def decorate(function: Callable[[Cycle], None]) -> Callable[[Cycle], None]:
        register(name, function, interval=interval)
        return function
    return decorate


@step("cluster")
def _cluster(c: Cycle) -> None:
    """One squeue-class call set for everybody; the later steps read its snapshot."""
    c.snapshot = cluster.refresh(c.scheduler)
    c.summary.update(cluster_ok=c.snapshot.error is None, error=c.snapshot.error)
    if c.snapshot.error:
        raise StepFailed(c.snapshot.error)


@step("jobs")
def _jobs(c: Cycle) -> None:
    if result := jobsync.sync_jobs(c.backend, c.jobs):
        c.summary["jobs"] = result


@step("schedules")
def _schedules(c: Cycle) -> None:
    if result := schedrun.step(c.backend, c.jobs):
        c.summary["schedules"] = result


@step("sessions")
def _sessions(c: Cycle) -> None:
    if result := sessionsync.sync_sessions(c.backend, c.jobs):
        c.summary["sessions"] = result


register("duplicates", duplicates.worker_step)  # issue #13: one Slurm job per portal job


@step("approvals")
def _approvals(c: Cycle) -> None:  # F11 orders waiting/closing; approved jobs re-checked
    result = approvals.worker_step(c.scheduler, c.jobs)
    c.summary.update(result)
    if result.get("orders_error"):
        raise StepFailed(result["orders_error"])


@step("monitoring")
def _monitoring(c: Cycle) -> None:  # session samples into metric buckets
    c.summary.update(monitoring.worker_step())


@step("custom_images")
def _custom_images(c: Cycle) -> None:  # F4: start queued image builds
    c.summary.update(custom_images.worker_step())


@step("project_expiry")
def _project_expiry(c: Cycle) -> None:  # projects past their end date / before their start
    result = project_expiry.enforce_expiry()
    c.summary.update(result)
    if result.get("expiry_errors"):
        raise StepFailed("; ".join(result["expiry_errors"]))


@step("accounting")
def _accounting(c: Cycle) -> None:  # sacct import, then Slurm's billing weights
    result = accounting_import.worker_step(c.scheduler)
    c.summary.update(result)
    if error := result.get("accounting_error") or result.get("billing_weights_error"):
        raise StepFailed(error)


@step("wallet")
def _wallet(c: Cycle) -> None:  # charges (after the sacct import), budgets
    result = wallet.worker_step()
    c.summary.update(result)
    if result.get("wallet_error"):
        raise StepFailed(result["wallet_error"])


@step("efficiency")  # issue #17: after monitoring's samples, before "ended" notifications
def _efficiency(c: Cycle) -> None:  # issue #17: what ended jobs used (sacct), once each
    from portal.services import efficiency

    result = efficiency.worker_step(c.scheduler)
    c.summary.update(result)
    if result.get("efficiency_error"):
        raise StepFailed(result["efficiency_error"])


@step("idle_reclaim")  # issue #17: after monitoring's GPU samples
def _idle_reclaim(c: Cycle) -> None:  # issue #17: warn and end idle sessions
    from portal.services import idle

    result = idle.worker_step(c.scheduler)
    c.summary.update(result)
    if result.get("idle_error"):
        raise StepFailed(result["idle_error"])


@step("notifications")  # issue #17: after the states and charges it reports
def _notifications(c: Cycle) -> None:  # e-mail and webhooks, each event once (issue #17)
    from portal.services import notify

    result = notify.worker_step()
    c.summary.update(result)
    if result.get("notifications_error"):
        raise StepFailed(result["notifications_error"])


@step("start_estimates")  # issue #17: sbatch --test-only for the forms
def _start_estimates(c: Cycle) -> None:  # when Slurm would start what a form shows
    from portal.services import startest

    c.summary.update(startest.worker_step(c.scheduler))


def _reason(exc: BaseException) -> str:
    """A short reason: the driver's message for DB errors ("database is locked"), no SQL."""
    inner = getattr(exc, "orig", None) or exc
    return f"{type(inner).__name__}: {inner}"[:300]


def _rollback() -> None:
    """Leave the DB session clean for the next step, even when rolling back fails."""
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection itself may be broken
        log.exception("rollback failed; dropping the DB session")
        db.session.remove()


def run_step(name: str, function: Callable[[Cycle], None], cycle: Cycle) -> dict:
    """Run one step in its guard; returns {"ok", "seconds", "error"}. Never raises."""
    started = time.monotonic()
    ok, error = True, None
    try:
        function(cycle)
    except StepFailed as exc:
        ok, error = False, str(exc)[:300]
        _rollback()
        log.warning("step %s failed after %.3f s: %s", name, time.monotonic() - started, error)
    except Exception as exc:  # noqa: BLE001 - one step's failure must not stop the others
        ok, error = False, _reason(exc)
        _rollback()
        log.exception("step %s raised after %.3f s: %s", name, time.monotonic() - started,
                      error)
    seconds = round(time.monotonic() - started, 3)
    if ok:
        log.debug("step %s ok in %.3f s", name, seconds)
    return {"ok": ok, "seconds": seconds, "error": error}


@dataclass
class _Process:
    """What the heartbeat says about this worker process."""

    started_at: object = field(default_factory=db.utcnow)
    cycles: int = 0
    last_run: dict = field(default_factory=dict)  # step name -> time.monotonic() it began
    last_result: dict = field(default_factory=dict)  # step name -> its run_step result

    def due(self, registered: Step, now: float) -> bool:
        """True when `registered` runs this cycle: every cycle, or its interval is over."""
        last = self.last_run.get(registered.name)
        return registered.interval is None or last is None or now - last >= registered.interval


_PROCESS = _Process()


def run_cycle(app, interval: float | None = None) -> dict:
    """One pass over STEPS (those due), then the heartbeat; returns the summary (the
    services' keys plus "steps": {name: {"ok", "seconds", "error"}} and "heartbeat_ok").
    A step that is not due keeps its last result. Never raises."""
    interval = float(interval or app.config["WORKER_INTERVAL"])
    started_at, started = db.utcnow(), time.monotonic()
    with app.app_context():
        cycle = Cycle(scheduler=make_scheduler(app.config))
        steps, skipped = {}, set()
        for registered in STEPS:
            name, now = registered.name, time.monotonic()
            if not _PROCESS.due(registered, now):
                steps[name] = _PROCESS.last_result[name]
                skipped.add(name)
                continue
            _PROCESS.last_run[name] = now
            steps[name] = _PROCESS.last_result[name] = run_step(name, registered.run, cycle)
            sd_notify("WATCHDOG=1")  # alive between steps too: only a stuck step goes quiet
        summary = {**cycle.summary, "steps": steps}
        _PROCESS.cycles += 1
        try:
            heartbeat.record(steps, cycle_started_at=started_at, interval=interval,
                             cycles=_PROCESS.cycles, process_started_at=_PROCESS.started_at)
            summary["heartbeat_ok"] = True
        except Exception as exc:  # noqa: BLE001 - the next cycle beats again
            _rollback()
            summary["heartbeat_ok"] = False
            log.exception("storing the heartbeat failed: %s", _reason(exc))
    seconds = time.monotonic() - started
    failed = [n for n, result in steps.items() if not result["ok"] and n not in skipped]
    log.log(logging.WARNING if failed or not summary["heartbeat_ok"] else logging.INFO,
            "cycle %d took %.3f s: %s%s", _PROCESS.cycles, seconds,
            " ".join(f"{n}=-" if n in skipped else
                     f"{n}={s['seconds']:.3f}{'' if s['ok'] else '!'}" for n, s in steps.items()),
            f"; failed: {', '.join(failed)}" if failed else "")
    return summary


def sd_notify(message: str) -> bool:
    """Tell systemd (Type=notify, WatchdogSec) we are ready/alive; no-op outside systemd
    (no NOTIFY_SOCKET). A worker stuck in a step stops sending WATCHDOG=1, and systemd
    restarts it (etc/systemd/portal-worker.service)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
        return True
    except OSError as exc:
        log.warning("sd_notify %r failed: %s", message, exc)
        return False


def run_forever(app, interval: float | None = None) -> None:
    """Loop until SIGTERM/SIGINT; waits on an event so a stop is immediate. Nothing a cycle
    does ends the loop; only a signal (or the process dying) does."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    interval = float(interval or app.config["WORKER_INTERVAL"])
    log.info("worker started (pid %d, every %g s, steps: %s)", os.getpid(), interval,
             ", ".join(registered.name for registered in STEPS))
    sd_notify("READY=1")
    while not stop.is_set():
        try:
            run_cycle(app, interval)
        except Exception:  # noqa: BLE001 - e.g. no app context: log, wait, try again
            log.exception("worker cycle failed")
        sd_notify("WATCHDOG=1")
        stop.wait(interval)
    sd_notify("STOPPING=1")
    log.info("worker stopped (signal)")


def log_formatter() -> logging.Formatter:
    formatter = logging.Formatter(LOG_FORMAT, LOG_DATEFMT)
    formatter.converter = time.gmtime
    return formatter


def setup_logging(level: str = "INFO") -> None:
    """Timestamped UTC lines on stderr (var/worker.log under `make run`, the journal under
    systemd): "2026-12-05T13:05:38.224Z INFO portal.worker[4242]: cycle 7 took 0.533 s: …"."""
    root = logging.getLogger()
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    if any(getattr(h, "portal_worker", False) for h in root.handlers):
        return  # called again in the same process (tests): one handler, one line
    handler = logging.StreamHandler()
    handler.setFormatter(log_formatter())
    handler.portal_worker = True
    root.addHandler(handler)
