"""F3 monitoring on the dev cluster: a session's sampler reports the CPU load a step
started in the job makes (`srun --jobid --overlap` as the owner), the worker ingests it,
and the page's JSON and the API show it; the fake GPUs say there is no telemetry."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from portal import db
from portal.models import Session
from portal.services import monitoring, sessions, tokens
from portal.services import users as usersvc
from tests.integration.sessions.sessionhelpers import Browser, cycle, session_row, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sessions-monitoring")]

BUSY = "import time\nend = time.time() + 180\nwhile time.time() < end: pass\n"


@pytest.fixture(scope="module")
def running(portal):
    """alice's 1-CPU session with one (fake) GPU; samples every 2 s."""
    app = portal.app
    app.config["MONITOR_INTERVAL"] = 2
    with app.test_request_context():
        created = sessions.create_session(usersvc.get_user("alice"), {
            "name": f"{portal.prefix}-mon", "image": "jupyter", "end": "hours", "hours": 1,
            "cpus": 1, "mem_gb": 1, "gpu_model": "a100", "gpu_count": 1, "allow_all": True})
        session_id = created.id
        db.session.remove()
    wait_for(lambda: cycle(app) is not None and session_row(app, session_id).state == "running",
             120, step=1, what="the session to run")
    yield session_id
    with app.test_request_context():
        sessions.delete_session(usersvc.get_user("alice"), session_id)
        db.session.remove()


def _series(app, session_id: int, range_: str = "1h") -> dict:
    cycle(app)
    with app.app_context():
        data = monitoring.series(db.session.get(Session, session_id), range_)
        db.session.remove()
    return data


def _busy_cpu(marker: str) -> float | None:
    """CPU seconds of the busy python3 (found by the marker in its command line)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if marker.encode() in argv and argv[0].endswith(b"python3"):
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
                return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            continue
    return None


def test_cpu_load_in_the_session_shows_in_the_cpu_series(portal, running):
    """The machine is shared (other tests run at the same time): the busy step may get
    much less than a core, so the series is compared with what it really got."""
    app, session_id = portal.app, running
    job_id = session_row(app, session_id).slurm_job_id
    quiet = wait_for(lambda: len((d := _series(app, session_id))["t"]) >= 2 and d, 90, step=1,
                     what="the first samples")
    assert quiet["source"] == "proc"  # linuxproc, no cgroup: the job's processes
    assert quiet["mem"][-1] > 0
    idle = statistics.median(quiet["cpu"])
    marker = f"busy-{uuid.uuid4().hex}"
    busy = subprocess.Popen(  # a step in the job, as its owner, burning what it can get
        ["runuser", "-u", "alice", "--", "srun", f"--jobid={job_id}", "--overlap", "--quiet",
         "python3", "-c", BUSY, marker], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    readings: list = []

    def shows_the_load():
        data = _series(app, session_id)
        used = _busy_cpu(marker)
        if used is None:
            return None
        readings.append((time.monotonic(), used))
        if len(readings) < 2 or len(data["cpu"]) < len(quiet["cpu"]) + 2:
            return None
        (t0, c0), (t1, c1) = readings[max(0, len(readings) - 6)], readings[-1]
        rate = (c1 - c0) / (t1 - t0) if t1 > t0 else 0.0
        recent = statistics.mean(data["cpu"][-2:])
        return data if rate > 0.02 and recent >= 0.5 * rate and recent > idle + 0.02 else None

    try:
        loaded = wait_for(shows_the_load, 150, step=1, what="the busy step in the CPU series")
    finally:
        busy.terminate()
        busy.wait(timeout=30)
    print("cpu before:", quiet["cpu"], "with the busy step:", loaded["cpu"][-3:])
    assert max(loaded["cpu"][-2:]) <= 2.0  # at most the node's two cores
    assert loaded["gpu"] == {"available": False, "note": "no GPU telemetry on this node"}
    assert loaded["gpu_util"][-1] is None and loaded["live"] is True
    assert loaded["disk_ws"][-1] is not None and loaded["net_rx"][-1] is not None


def test_page_json_and_api_show_the_same_series(portal, running):
    app, session_id = portal.app, running
    browser = Browser(portal.server.url)
    browser.login("alice")
    status, _, raw = browser.request(f"/monitoring/sessions/{session_id}.json?range=lifetime")
    assert status == 200
    page = json.loads(raw)
    assert page["resolution_s"] == 60 and page["t"]
    with app.app_context():
        _, token = tokens.create_token(usersvc.get_user("alice"), "monitoring-test")
        db.session.remove()
    api = Browser(portal.server.url, {"Authorization": f"Bearer {token}"})
    status, _, raw = api.request(f"/api/v1/sessions/{session_id}/metrics")
    assert status == 200 and json.loads(raw)["cpu"]
    bob = Browser(portal.server.url)
    bob.login("bob")  # same project, not a manager: not his session
    assert bob.request(f"/monitoring/sessions/{session_id}.json")[0] == 404
