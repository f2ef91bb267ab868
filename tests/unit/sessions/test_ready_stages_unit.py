"""Time to ready per stage (issue #17 item 5) with a fake Slurm and a real local HTTP
server standing in for Jupyter: each stage recorded once, in order, the app only once it
answers /s/<id>/api/status with the session's secret."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from adapters.scheduler import JobState
from portal.models import Session
from portal.services import readystages, sessionconn, sessionsync
from portal.services import sessions as svc
from tests.unit.sessions.sessionfakes import session_data

T0 = datetime(2026, 12, 6, 1, 0, 0)


@pytest.fixture
def jupyter(monkeypatch):
    """A pretend Jupyter on 127.0.0.1: answers 200 to the right path and secret once
    `up` is set, 503 before; records what it was asked."""
    state = {"up": False, "asked": []}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            state["asked"].append((self.path, self.headers.get("Authorization")))
            ok = state["up"] and self.path == state["path"] and \
                self.headers.get("Authorization") == f"token {'ab' * 24}"
            self.send_response(200 if ok else 503)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(sessionconn, "node_address", lambda host: "127.0.0.1")
    state["port"] = server.server_port
    yield state
    server.shutdown()


def _running(backend, session, port, ready):
    backend.scheduler.set_state(session.slurm_job_id, JobState.RUNNING, node="vm")
    backend.files.write("x", f"{session.directory}/connection.json", json.dumps(
        {"host": "vm", "jupyter_port": port, "ssh_port": None, "token": "ab" * 24,
         "job_id": session.slurm_job_id, "ready": ready}))
    sessionsync.sync_sessions(backend, backend.scheduler.snapshot())


def test_four_stages_recorded_once_and_in_order(world, jupyter):
    backend = world["backend"]
    session = svc.create_session(world["ursula"], session_data())
    jupyter["path"] = f"/s/{session.id}/api/status"
    _running(backend, session, jupyter["port"], time.time())
    assert session.state == "running" and session.container_up_at is not None
    assert session.app_ready_at is None  # Jupyter listened but did not answer yet
    jupyter["up"] = True
    svc.probe(session)  # the owner's page asks too
    assert session.app_ready_at is not None
    first = (session.container_up_at, session.app_ready_at)
    asked = len(jupyter["asked"])
    sessionsync.sync_sessions(backend, backend.scheduler.snapshot())
    assert (session.container_up_at, session.app_ready_at) == first
    assert len(jupyter["asked"]) == asked  # never asked again once answered
    times = [st["at"] for st in readystages.stages(session)]
    assert None not in times and times == sorted(times)
    assert jupyter["asked"][-1] == (jupyter["path"], f"token {'ab' * 24}")
    json_stages = readystages.stages_json(session)
    assert [s["stage"] for s in json_stages] == ["queued", "started", "container", "app"]


def test_a_ready_time_from_a_clock_ahead_or_behind_stays_in_order(world, jupyter):
    backend = world["backend"]
    session = svc.create_session(world["ursula"], session_data())
    _running(backend, session, jupyter["port"], time.time() - 3600)  # node clock behind
    assert session.container_up_at >= session.started_at
    assert session.container_up_at >= session.submitted_at


def test_stage_times_and_durations():
    s = Session(created_at=T0, submitted_at=T0 + timedelta(seconds=0.4),
                started_at=T0,  # Slurm's whole second, before sbatch returned
                container_up_at=T0 + timedelta(seconds=3.5),
                app_ready_at=T0 + timedelta(seconds=3.75))
    stages = readystages.stages(s)
    assert [st["seconds"] for st in stages] == [0.4, 0.0, 3.1, 0.2]
    assert stages[1]["at"] == T0 + timedelta(seconds=0.4)
    assert readystages.total_seconds(s) == 3.8
    pending = readystages.stages(Session(created_at=T0, submitted_at=T0))
    assert [st["at"] is None for st in pending] == [False, True, True, True]


def test_job_time_is_kept_between_the_stage_before_and_now():
    s = Session(created_at=T0, submitted_at=T0, started_at=T0 + timedelta(seconds=2))
    now = T0 + timedelta(seconds=10)
    epoch = (T0 + timedelta(seconds=5)).replace(tzinfo=__import__("datetime").UTC).timestamp()
    assert sessionconn.ready_time(epoch, s, now) == T0 + timedelta(seconds=5)
    assert sessionconn.ready_time(epoch - 60, s, now) == T0 + timedelta(seconds=2)
    assert sessionconn.ready_time(epoch + 60, s, now) == now
    assert sessionconn.ready_time(None, s, now) == now


def test_a_session_without_jupyter_answers_when_its_services_listen():
    s = Session(state="running", host="vm", services=["ssh"], created_at=T0,
                container_up_at=T0 + timedelta(seconds=2), ready_at=T0 + timedelta(seconds=3))
    assert readystages.check_app(s) and s.app_ready_at == T0 + timedelta(seconds=2)


@pytest.mark.parametrize("ready", [True, "1", -5, 1e12])
def test_a_bad_ready_time_is_refused(ready):
    with pytest.raises(ValueError):
        sessionconn.parse_conn(json.dumps({"host": "vm", "ready": ready}))
