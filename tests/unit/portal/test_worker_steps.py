"""The worker survives a failing step (a real `database is locked` included), stores its
heartbeat every cycle, and pages and `portal cluster status` say when it is late (issue #13)."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import sqlite3
from datetime import timedelta
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from adapters.errors import AdapterError
from adapters.scheduler.base import ClusterInfo
from portal import cli, cli_common, db, worker
from portal.models import ClusterSnapshot, WorkerHeartbeat
from portal.services import cluster, heartbeat

NAMES = [registered.name for registered in worker.STEPS]


class FakeRunner:
    def run(self, argv, **_kw):  # sacct (the accounting import): no finished jobs
        return SimpleNamespace(stdout="", stderr="", returncode=0)


class FakeScheduler:
    """Slurm that answers: one idle a100 node, an empty queue."""

    runner = FakeRunner()
    bin_dir = None
    cluster = None

    def cluster_info(self):
        return ClusterInfo(partitions=[], nodes=[], gpu_models={"a100": (4, 4)}, version="23.11")

    def info_all(self, user=None):
        return []


class DownScheduler(FakeScheduler):
    def cluster_info(self):
        raise AdapterError("slurmctld does not answer")


@pytest.fixture
def fake_slurm(monkeypatch):
    monkeypatch.setattr(worker, "make_scheduler", lambda config: FakeScheduler())


@pytest.fixture
def ran(monkeypatch):
    """Every registered step wrapped to record that it was called (then run for real)."""
    calls: list[str] = []

    def spy(name, function):
        def wrapped(cycle):
            calls.append(name)
            return function(cycle)
        return wrapped

    monkeypatch.setattr(worker, "STEPS", [worker.Step(s.name, spy(s.name, s.run), s.interval)
                                          for s in worker.STEPS])
    return calls


def _sqlite_path(app) -> str:
    url = app.config["DATABASE_URL"]
    if not url.startswith("sqlite:///"):
        pytest.skip("the lock is SQLite's")
    return url.removeprefix("sqlite:///")


def test_real_database_lock_in_one_step_stops_no_other(app, fake_slurm, ran, monkeypatch):
    """Another connection holds SQLite's write lock while the cluster step writes: SQLite
    answers `database is locked`; the step is recorded as failed, every other step still
    runs and succeeds, and the heartbeat is stored."""
    path = _sqlite_path(app)
    real_refresh = cluster.refresh

    def refresh_while_locked(scheduler):
        db.session.execute(text("PRAGMA busy_timeout=100"))  # fail in 0.1 s, not 5 s
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # the write lock, as a busy web request would
        try:
            return real_refresh(scheduler)
        finally:
            holder.execute("ROLLBACK")
            holder.close()

    monkeypatch.setattr(cluster, "refresh", refresh_while_locked)
    summary = worker.run_cycle(app, interval=7)

    assert ran == NAMES  # every step ran, in the registry's order
    steps = summary["steps"]
    assert not steps["cluster"]["ok"]
    assert "OperationalError" in steps["cluster"]["error"]
    assert "database is locked" in steps["cluster"]["error"]
    assert all(steps[n]["ok"] for n in NAMES if n != "cluster"), steps
    assert summary["heartbeat_ok"] is True and summary["cluster_ok"] is False
    with app.app_context():
        row = db.session.get(WorkerHeartbeat, heartbeat.NAME)
        assert row.interval == 7 and row.pid == os.getpid() and row.cycles >= 1
        assert "database is locked" in row.steps["cluster"]["error"]
        assert row.steps["cluster"]["failing_since"]
        assert row.steps["wallet"] == {**steps["wallet"], "failing_since": None}
        assert db.session.scalar(select(ClusterSnapshot)) is None  # the write was undone

    # The lock is gone: the next cycle refreshes, and the step's failure is cleared.
    monkeypatch.setattr(cluster, "refresh", real_refresh)
    summary = worker.run_cycle(app, interval=7)
    assert all(s["ok"] for s in summary["steps"].values()) and summary["cluster_ok"]
    with app.app_context():
        row = db.session.get(WorkerHeartbeat, heartbeat.NAME)
        assert row.steps["cluster"]["ok"] and row.steps["cluster"]["failing_since"] is None
        assert db.session.scalar(select(ClusterSnapshot)).data["cluster"]["version"] == "23.11"


def test_a_raising_step_is_rolled_back_and_the_next_steps_commit(app, fake_slurm, monkeypatch):
    """A step that wrote, then raised: its write is rolled back; later steps' writes are not."""

    def half_done(cycle):
        db.session.add(ClusterSnapshot(data=None, error="half-done write"))
        db.session.flush()
        raise OperationalError("UPDATE x", {}, sqlite3.OperationalError("database is locked"))

    def later(cycle):
        db.session.add(ClusterSnapshot(data=None, error="later step"))
        db.session.commit()

    monkeypatch.setattr(worker, "STEPS", [worker.Step("half", half_done),
                                          worker.Step("later", later)])
    summary = worker.run_cycle(app)
    assert summary["steps"]["half"]["error"] == "OperationalError: database is locked"
    assert summary["steps"]["later"]["ok"] and summary["heartbeat_ok"]
    with app.app_context():
        errors = db.session.scalars(select(ClusterSnapshot.error)).all()
    assert errors == ["later step"]


def test_failing_since_is_kept_while_a_step_keeps_failing(app, monkeypatch):
    monkeypatch.setattr(worker, "make_scheduler", lambda config: DownScheduler())
    first = worker.run_cycle(app)
    assert first["steps"]["cluster"]["error"] == "slurmctld does not answer"
    with app.app_context():
        since = db.session.get(WorkerHeartbeat, heartbeat.NAME).steps["cluster"]["failing_since"]
    worker.run_cycle(app)
    with app.app_context():
        row = db.session.get(WorkerHeartbeat, heartbeat.NAME)
        assert row.steps["cluster"]["failing_since"] == since and row.cycles >= 2


def test_cycle_log_lines_have_timestamps_and_durations(app, fake_slurm, caplog):
    caplog.set_level(logging.DEBUG, logger="portal.worker")
    worker.run_cycle(app)
    formatter = worker.log_formatter()
    lines = [formatter.format(r) for r in caplog.records if r.name == "portal.worker"]
    cycle_line = next(line for line in lines if " cycle " in line)
    # "2026-12-05T13:02:06.004Z INFO portal.worker[123]: cycle 1 took 0.503 s: cluster=0.178 …"
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO portal\.worker\[\d+\]: "
                    r"cycle \d+ took \d+\.\d{3} s: cluster=\d+\.\d{3} ", cycle_line), cycle_line
    assert all(f"{n}=" in cycle_line for n in NAMES)
    assert any(re.search(r"step wallet ok in \d+\.\d{3} s", line) for line in lines)


def test_run_forever_survives_a_cycle_that_raises(app, monkeypatch, tmp_path):
    """Even an exception outside every step guard does not end the loop; systemd's
    watchdog gets a ping per step and per cycle."""
    handlers = {}
    monkeypatch.setattr(worker.signal, "signal", lambda signum, fn: handlers.update({signum: fn}))
    address = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    calls = []

    def flaky_cycle(app_, interval):
        calls.append(interval)
        if len(calls) == 1:
            raise RuntimeError("no app context")
        handlers[worker.signal.SIGTERM]()  # a stop after the second cycle

    monkeypatch.setattr(worker, "run_cycle", flaky_cycle)
    worker.run_forever(app, interval=0.01)
    assert calls == [0.01, 0.01]
    sock.settimeout(1)
    messages = [sock.recv(100).decode() for _ in range(4)]
    sock.close()
    assert messages == ["READY=1", "WATCHDOG=1", "WATCHDOG=1", "STOPPING=1"]


def test_no_notify_socket_is_a_no_op(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert worker.sd_notify("READY=1") is False


def _age_heartbeat(app, seconds: float) -> None:
    with app.app_context():
        row = db.session.get(WorkerHeartbeat, heartbeat.NAME)
        row.beat_at = db.utcnow() - timedelta(seconds=seconds)
        db.session.commit()


def test_late_means_three_intervals_plus_the_cycle(app, fake_slurm):
    worker.run_cycle(app, interval=10)
    with app.app_context():
        fresh = heartbeat.status()
        assert fresh["reported"] and not fresh["late"]
        row = db.session.get(WorkerHeartbeat, heartbeat.NAME)
        limit = 30 + row.duration
        assert fresh["late_after"] == round(limit, 1)
        assert not heartbeat.status(now=row.beat_at + timedelta(seconds=limit - 0.5))["late"]
        assert heartbeat.status(now=row.beat_at + timedelta(seconds=limit + 0.5))["late"]


def test_cluster_status_reports_a_late_worker(app, fake_slurm, monkeypatch):
    monkeypatch.setattr(cli_common, "make_app", lambda: app)
    monkeypatch.setattr("adapters.factory.make_scheduler", lambda config: FakeScheduler())
    runner = CliRunner()

    never = runner.invoke(cli.main, ["cluster", "status"])
    assert never.exit_code == 0 and "worker: LATE: never reported" in never.output

    worker.run_cycle(app, interval=10)
    fresh = runner.invoke(cli.main, ["cluster", "status"])
    assert fresh.exit_code == 0, fresh.output
    steps = len(worker.STEPS)
    assert "LATE" not in fresh.output and f"worker: {steps} of {steps} steps ok" in fresh.output
    assert "every 10 s" in fresh.output and "gpu a100: 4 free of 4" in fresh.output

    _age_heartbeat(app, 600)
    late = runner.invoke(cli.main, ["cluster", "status"])
    assert "worker: LATE: last cycle ended 600 s ago" in late.output
    as_json = runner.invoke(cli.main, ["cluster", "status", "--json"])
    body = json.loads(as_json.output)
    assert body["worker"]["late"] is True and body["worker"]["age_seconds"] >= 600


def test_cluster_status_shows_failing_steps_even_when_slurm_is_down(app, monkeypatch):
    monkeypatch.setattr(worker, "make_scheduler", lambda config: DownScheduler())
    worker.run_cycle(app)
    monkeypatch.setattr(cli_common, "make_app", lambda: app)
    monkeypatch.setattr("adapters.factory.make_scheduler", lambda config: DownScheduler())
    result = CliRunner().invoke(cli.main, ["cluster", "status"])
    assert result.exit_code == 1  # Slurm's own answer failed, as before
    assert "failed: cluster" in result.output
    assert "step cluster failing since" in result.output
    assert "slurmctld does not answer" in result.output


def test_pages_say_when_the_worker_is_late(app, fake_slurm, make_user, auth, client):
    make_user("ursula")
    make_user("root", admin=True)

    auth.login("root")
    page = client.get("/").text
    assert 'data-testid="worker-late"' in page and "never reported" in page
    worker.run_cycle(app, interval=10)
    page = client.get("/jobs/").text
    assert 'data-testid="worker-late"' not in page and 'data-testid="states-stale"' not in page
    home = client.get("/").text
    assert 'data-testid="worker-card"' in home and 'data-step="accounting"' in home

    _age_heartbeat(app, 300)
    page = client.get("/jobs/").text
    assert 'data-testid="worker-late"' in page and "its last cycle ended 5 minutes ago" in page
    auth.logout()

    auth.login("ursula")
    for path in ("/jobs/", "/sessions/"):
        page = client.get(path).text
        assert 'data-testid="worker-late"' not in page  # the banner is for admins
        assert "States may be stale: the last update was 5 minutes ago." in page, path
    assert 'data-testid="worker-card"' not in client.get("/").text


def test_api_cluster_view_says_when_the_worker_is_late(app, fake_slurm, make_user, client):
    from portal.services import tokens

    user = make_user("ursula")
    with app.app_context():
        _, token = tokens.create_token(user, "t")
    headers = {"Authorization": f"Bearer {token}"}
    worker.run_cycle(app, interval=10)
    body = client.get("/api/v1/cluster", headers=headers).json
    assert body["worker"]["reported"] and not body["worker"]["late"]
    assert body["worker"]["interval"] == 10 and "pid" not in body["worker"]
    _age_heartbeat(app, 600)
    body = client.get("/api/v1/cluster", headers=headers).json
    assert body["worker"]["late"] and body["worker"]["age_seconds"] >= 600


def test_admins_see_failing_steps(app, make_user, auth, client, monkeypatch):
    monkeypatch.setattr(worker, "make_scheduler", lambda config: DownScheduler())
    worker.run_cycle(app)
    make_user("root", admin=True)
    auth.login("root")
    page = client.get("/jobs/").text
    assert 'data-testid="worker-steps-failed"' in page
    assert "<code>cluster</code> (slurmctld does not answer)" in page


@pytest.fixture
def registry(monkeypatch):
    """An empty registry and a fresh process record, restored after the test."""
    monkeypatch.setattr(worker, "STEPS", [])
    monkeypatch.setattr(worker, "_PROCESS", worker._Process())
    return worker.STEPS


def test_one_registration_adds_a_step_that_runs_and_beats(app, fake_slurm, registry, caplog):
    """Adding a step is one `@worker.step(...)`: it runs every cycle, in registration
    order, and has its own entry in the heartbeat and the cycle's log line."""
    calls = []
    worker.register("first", lambda cycle: calls.append("first"))

    @worker.step("reindex")
    def reindex(cycle):
        calls.append("reindex")
        cycle.summary["reindexed"] = 3

    caplog.set_level(logging.INFO, logger="portal.worker")
    summary = worker.run_cycle(app, interval=10)
    worker.run_cycle(app, interval=10)
    assert calls == ["first", "reindex", "first", "reindex"]
    assert summary["reindexed"] == 3 and summary["steps"]["reindex"]["ok"]
    with app.app_context():
        assert db.session.get(WorkerHeartbeat, heartbeat.NAME).steps["reindex"]["ok"]
    assert any(re.search(r"first=\d+\.\d{3} reindex=\d+\.\d{3}", r.getMessage())
               for r in caplog.records)
    with pytest.raises(ValueError, match="already registered"):
        worker.register("reindex", reindex)


def test_a_failing_registered_step_stops_no_other(app, fake_slurm, registry, caplog):
    ran = []

    @worker.step("before")
    def before(cycle):
        ran.append("before")

    @worker.step("broken")
    def broken(cycle):
        raise RuntimeError("disk full")

    @worker.step("after")
    def after(cycle):
        ran.append("after")

    summary = worker.run_cycle(app, interval=10)
    assert ran == ["before", "after"]
    assert summary["steps"]["broken"] == {**summary["steps"]["broken"], "ok": False,
                                          "error": "RuntimeError: disk full"}
    assert summary["steps"]["after"]["ok"] and summary["heartbeat_ok"]
    raised = [r for r in caplog.records if r.getMessage().startswith("step broken raised")]
    assert raised and raised[0].exc_info is not None  # with its traceback
    assert re.search(r"raised after \d+\.\d{3} s", raised[0].getMessage())
    formatted = worker.log_formatter().format(raised[0])
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ERROR ", formatted)


def test_a_step_with_an_interval_runs_when_it_is_due(app, fake_slurm, registry, caplog):
    """A step registered with an interval skips the cycles in between, keeping its last
    result in the heartbeat; the others run every cycle."""
    calls = []
    worker.register("often", lambda cycle: calls.append("often"))
    worker.register("hourly", lambda cycle: calls.append("hourly"), interval=3600)

    caplog.set_level(logging.INFO, logger="portal.worker")
    worker.run_cycle(app, interval=10)
    second = worker.run_cycle(app, interval=10)  # seconds later: not due
    worker._PROCESS.last_run["hourly"] -= 3600  # as if the hour had passed
    worker.run_cycle(app, interval=10)
    assert calls == ["often", "hourly", "often", "often", "hourly"]
    assert second["steps"]["hourly"]["ok"]  # the last run's result, not a failure
    assert any("hourly=-" in r.getMessage() for r in caplog.records)
    with pytest.raises(ValueError, match="interval"):
        worker.register("never", lambda cycle: None, interval=0)
