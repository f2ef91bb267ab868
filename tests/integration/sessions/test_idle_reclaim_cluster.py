"""Idle reclaim (issue #17 item 2) on the dev cluster, driven by the worker's own step with
a controllable clock (idle.worker_step(scheduler, now=...)) instead of waiting real
minutes. Three real sessions of alice in proja, policy limit 90 s, one warning at 30 s:

- an unused CPU-only session is warned, then ended (scancel as alice: its Slurm job ends),
  and alice is told both times at a local SMTP server (aiosmtpd);
- a CPU-only session with a real SSH login (alice's key, held open) is not ended: its
  sampler counts the login, the worker's ingestion records it as "ssh" activity;
- a GPU session whose GPU readings are recorded nvidia-smi output (tests/data/nvidia_smi:
  busy, then left alone; the dev cluster's GPUs are fake) is spared while the recording
  says busy, then warned and ended once it has been under the threshold for the limit.
"""

from __future__ import annotations

import importlib.util
import socket
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.factory import make_scheduler
from adapters.runner import CommandRunner
from adapters.sshd import ssh_probe
from portal import db
from portal.models import Project, Session, SessionIdle, Whitelist
from portal.services import idle, keys, monitoring, notify, sessions
from portal.services import users as usersvc
from tests.integration.sessions.sessionhelpers import cycle, session_row, wait_for
from tests.support.receivers import smtp_server

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sessions-idle")]

REPO = Path(__file__).resolve().parents[3]
RECORDING = REPO / "tests" / "data" / "nvidia_smi" / "one_gpu_busy_then_idle.csv"
_spec = importlib.util.spec_from_file_location("session_monitor_idle",
                                              REPO / "jobscripts" / "session_monitor.py")
sampler = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sampler)


@pytest.fixture(scope="module")
def inbox(portal):
    with smtp_server() as (port, box):
        portal.app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_FROM="portal@test")
        yield box


def _activity(app, session_id: int):
    with app.app_context():
        row = db.session.get(SessionIdle, session_id)
        value = (row.last_activity_at, row.last_activity_kind) if row else (None, None)
        db.session.remove()
    return value


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _utc(t: datetime) -> float:
    return t.replace(tzinfo=UTC).timestamp()


def _record_gpu(app, session_id: int, busy_from: datetime) -> datetime:
    """The recording as the sampler would have written it from `busy_from` on, one line
    every 10 s, stored the way the worker stores samples; returns when the GPU was last
    busy (the idle clock's start)."""
    samples = []
    for i, line in enumerate(RECORDING.read_text().splitlines()):
        samples.append({"n": 10**6 + i, "t": _utc(busy_from) + 10 * i, "dt": 10.0,
                        "src": "proc", "cpu": 0.0, "gpu": sampler.parse_nvidia_csv(line)})
    with app.app_context():
        monitoring._store(session_id, samples)
        db.session.commit()
        session = db.session.get(Session, session_id)
        known, busy_until = idle.gpu_use(session, 5.0)
        db.session.remove()
    assert known and busy_until is not None
    return busy_until


def _step(app, now: datetime) -> dict:
    with app.test_request_context():
        result = idle.worker_step(make_scheduler(app.config), now=now)
        db.session.remove()
    return result


@pytest.fixture(scope="module")
def three(portal, inbox):
    """alice's unused CPU session, her CPU session with SSH and a one-GPU session."""
    app = portal.app
    app.config["MONITOR_INTERVAL"] = 2
    common = {"image": "jupyter", "end": "hours", "hours": 1, "cpus": 1, "mem_gb": 1}
    with app.test_request_context():
        alice = usersvc.get_user("alice")
        alice.email = "alice@example.org"
        db.session.commit()
        notify.save_settings(alice, ["idle_warning"], True, "")
        loopback = db.session.query(Whitelist).filter_by(name="loopback").one()
        made = {
            "unused": sessions.create_session(alice, {
                **common, "name": f"{portal.prefix}-idle", "ssh_auth": "none",
                "allow_all": True}),
            "ssh": sessions.create_session(alice, {
                **common, "name": f"{portal.prefix}-idlessh", "ssh_auth": "key",
                "ssh_key_ids": [keys.list_keys(alice)[0].id],
                "whitelist_ids": [loopback.id]}),
            "gpu": sessions.create_session(alice, {
                **common, "name": f"{portal.prefix}-idlegpu", "ssh_auth": "none",
                "allow_all": True, "gpu_model": "a100", "gpu_count": 1}),
        }
        ids = {name: s.id for name, s in made.items()}
        project_id = db.session.query(Project).filter_by(account="proja").one().id
        db.session.remove()
    wait_for(lambda: cycle(app) is not None
             and all(session_row(app, i).state == "running" for i in ids.values()),
             180, step=1, what="the three sessions to run")
    yield ids, project_id
    with app.test_request_context():
        for session_id in ids.values():
            if session_row(app, session_id).state in ("starting", "running"):
                sessions.delete_session(usersvc.get_user("alice"), session_id)
        db.session.remove()


def test_idle_sessions_are_warned_and_ended_used_ones_are_not(portal, inbox, three):
    app = portal.app
    ids, project_id = three
    rows = {name: session_row(app, i) for name, i in ids.items()}

    # A real SSH login, held open while the worker runs (its sampler sees it after sshd's
    # LoginGraceTime: only a logged-in connection lives that long).
    ssh = rows["ssh"]
    login = threading.Thread(target=ssh_probe, daemon=True, kwargs={
        "runner": CommandRunner(), "host": socket.gethostbyname(ssh.host),
        "port": ssh.ssh_port, "login": "alice", "identity_file": str(portal.private_key_path),
        "command": ("sleep", "150"), "timeout": 170})
    login.start()
    wait_for(lambda: cycle(app) is not None and _activity(app, ids["ssh"])[1] == "ssh",
             90, step=1, what="the worker to record alice's SSH login as activity")
    assert _activity(app, ids["unused"]) == (None, None)

    # The GPU session: busy until about now, then left alone (recorded readings).
    busy_from = max(rows["gpu"].started_at, _now() - timedelta(seconds=50))
    busy_until = _record_gpu(app, ids["gpu"], busy_from)
    with app.test_request_context():
        admin, _ = usersvc.create_user("idle-admin", unix_user="nobody",
                                       password="x" * 12, is_admin=True)
        idle.set_policy(admin, project_id, limit_s=90, warn_s=[30])
        db.session.remove()

    start = rows["unused"].started_at
    ssh_seen = _activity(app, ids["ssh"])[0]
    assert busy_until > start + timedelta(seconds=35) and ssh_seen > start + timedelta(
        seconds=5), (start, busy_until, ssh_seen)
    assert busy_until > ssh_seen  # the GPU was busy at the last step before its own

    # 35 s after the unused session started: only it is warned.
    assert _step(app, start + timedelta(seconds=35)) == {"idle_warned": 1}
    assert _step(app, start + timedelta(seconds=40)) == {}  # once per point and period
    name = rows["unused"].name
    wait_for(lambda: f"Your session {name} is idle" in inbox.subjects(), 10,
             what="the idle warning e-mail")

    # Past the limit for the unused one, not for the one used over SSH: only it ends.
    end_at = max(start + timedelta(seconds=91), ssh_seen + timedelta(seconds=1))
    assert end_at < ssh_seen + timedelta(seconds=90)
    result = _step(app, end_at)
    assert result.get("idle_ended") == 1 and "idle_error" not in result, result
    wait_for(lambda: cycle(app) is not None and session_row(app, ids["unused"]).state == "ended",
             120, step=1, what="Slurm to end the idle session's job")
    assert session_row(app, ids["ssh"]).state == "running"
    assert session_row(app, ids["gpu"]).state == "running"
    wait_for(lambda: f"Your idle session {name} was ended" in inbox.subjects(), 10,
             what="the 'ended' e-mail")
    ended = next(m for m in inbox.messages if "was ended" in str(m["Subject"]))
    assert ended["To"] == "alice@example.org"
    assert "Files in the workspace are kept" in ended.get_content()

    # The GPU session by its recorded readings: spared while busy, ended 90 s after.
    with app.test_request_context():  # the SSH session is done with: alice ends it
        sessions.delete_session(usersvc.get_user("alice"), ids["ssh"])
        db.session.remove()
    gpu_name = rows["gpu"].name
    assert session_row(app, ids["gpu"]).state == "running"
    _step(app, busy_until + timedelta(seconds=35))
    wait_for(lambda: f"Your session {gpu_name} is idle" in inbox.subjects(), 10,
             what="the GPU session's idle warning")
    result = _step(app, busy_until + timedelta(seconds=91))
    assert result.get("idle_ended") == 1, result
    wait_for(lambda: cycle(app) is not None and session_row(app, ids["gpu"]).state == "ended",
             120, step=1, what="Slurm to end the idle GPU session's job")
    subjects = inbox.subjects()
    for subject in (f"Your session {name} is idle", f"Your idle session {name} was ended",
                    f"Your session {gpu_name} is idle",
                    f"Your idle session {gpu_name} was ended"):
        assert subjects.count(subject) == 1, subjects  # each once
    assert not any(rows["ssh"].name in s and "ended" in s for s in subjects), subjects
