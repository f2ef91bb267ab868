"""A session's life on the dev cluster as the pages, API, CLI and worker see it: created
through the form and its summary, pending with the reason in words, deleted ("deleting"
until Slurm confirms), killed from the login node, failed with its log, and refused
before anything reaches Slurm when the input is wrong."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner

from adapters.factory import make_scheduler
from portal import cli, cli_common, db
from portal.models import Session
from portal.services import public_images, sessions, tokens
from portal.services import users as usersvc
from tests.integration.sessions.sessionhelpers import Browser, cycle, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sessions-life")]


def _row(app, session_id: int) -> dict:
    with app.app_context():
        row = db.session.get(Session, session_id)
        out = {c: getattr(row, c) for c in ("state", "reason", "slurm_job_id", "hidden",
                                             "error", "host")}
        db.session.remove()
    return out


def _sacct_state(job_id: str) -> str:
    out = subprocess.run(["sacct", "-n", "-X", "-P", "-o", "State", "-j", job_id],
                         capture_output=True, text=True, check=True).stdout
    return out.strip().split("\n")[0] if out.strip() else ""


def _review_and_create(browser: Browser, fields: dict) -> tuple[int, str]:
    token = browser.csrf("/sessions/new")
    status, _, body = browser.form("/sessions/new", {**fields, "csrf_token": token,
                                                     "action": "review"})
    page = body.decode()
    assert status == 200 and 'data-testid="summary"' in page, page[-1500:]
    status, headers, body = browser.form("/sessions/new", {**fields, "csrf_token": token,
                                                           "action": "create"})
    assert status == 302, body.decode()[-1500:]
    return int(headers["Location"].rsplit("/", 1)[1]), page


def test_form_summary_pending_reason_then_delete(portal):
    browser = Browser(portal.server.url)
    browser.login("alice")
    begin = (datetime.now() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    name = f"{portal.prefix}-later"
    session_id, summary = _review_and_create(browser, {
        "name": name, "image": "jupyter", "start": "at", "begin_at": begin, "end": "hours",
        "hours": "2", "gpu_model": "a100", "gpu_count": "1", "cpus": "2", "mem_gb": "2",
        "allow_all": "1"})
    assert name in summary and "a100 × 1 GPU" in summary and "allow all incoming" in summary
    job_id = _row(portal.app, session_id)["slurm_job_id"]
    assert job_id and job_id.isdigit()
    cycle(portal.app)
    assert _row(portal.app, session_id)["reason"] == "BeginTime"
    page = browser.request("/sessions/")[2].decode()
    assert job_id in page and name in page and "pending" in page
    detail = browser.request(f"/sessions/{session_id}")[2].decode()
    assert 'data-testid="reason"' in detail
    # delete: confirmation page, then "deleting" until Slurm confirms, then gone
    status, _, body = browser.request(f"/sessions/delete?ids={session_id}")
    assert status == 200 and name in body.decode()
    status, _, _ = browser.form("/sessions/delete", {"ids": session_id, "confirm": "1",
                                                     "csrf_token": browser.csrf("/sessions/")})
    assert status == 302
    assert _row(portal.app, session_id)["state"] == "deleting"
    wait_for(lambda: cycle(portal.app) is not None and _row(portal.app, session_id)["hidden"],
             60, what="Slurm to confirm the cancel")
    assert name not in browser.request("/sessions/")[2].decode()
    assert _sacct_state(job_id).startswith("CANCELLED")


def _create(app, username: str, **fields) -> int:
    with app.test_request_context():
        user = usersvc.get_user(username)
        created = sessions.create_session(user, {"end": "hours", "hours": 1, "cpus": 1,
                                                 "mem_gb": 1, "allow_all": True, **fields})
        session_id = created.id
        db.session.remove()
    return session_id


def test_scancel_on_the_login_node_shows_within_one_worker_cycle(portal):
    session_id = _create(portal.app, "alice", name=f"{portal.prefix}-kill", image="base")
    wait_for(lambda: cycle(portal.app) is not None
             and _row(portal.app, session_id)["state"] == "running", 90, what="running")
    job_id = _row(portal.app, session_id)["slurm_job_id"]
    subprocess.run(["runuser", "-u", "alice", "--", "scancel", job_id], check=True)
    cycle(portal.app)
    row = _row(portal.app, session_id)
    assert row["state"] == "ended" and not row["hidden"]


@pytest.fixture
def broken_image(portal):
    """An image directory ch-run accepts but that has no Jupyter: the container fails."""
    path = f"/tmp/portal-test-broken-{uuid.uuid4().hex[:8]}"
    for sub in ("bin", "etc", "usr", "home", "tmp"):
        os.makedirs(f"{path}/{sub}", mode=0o755)
    for name in ("passwd", "group", "hosts", "resolv.conf"):
        open(f"{path}/etc/{name}", "w").close()
    os.chmod(path, 0o755)
    with portal.app.app_context():
        public_images.register_image(f"broken-{path[-8:]}", path, framework="none",
                                     services="jupyter,webterm")
        db.session.remove()
    yield f"broken-{path[-8:]}"
    shutil.rmtree(path, ignore_errors=True)


def test_a_container_that_fails_to_start_shows_failed_with_its_log(portal, broken_image):
    session_id = _create(portal.app, "alice", name=f"{portal.prefix}-bad", image=broken_image)
    wait_for(lambda: cycle(portal.app) is not None
             and _row(portal.app, session_id)["state"] == "failed", 120, step=1,
             what="the session to fail")
    error = _row(portal.app, session_id)["error"]
    assert "portal-session: FAILED" in error and "ch-run" in error


def test_refused_before_submitting(portal):
    """Each bad field is refused with a message naming the limit; Slurm sees nothing."""
    name = f"{portal.prefix}-refused"
    past = (datetime.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    cases = [
        ({"gpu_model": "a100", "gpu_count": 5}, "invalid_gpu_count", "from 0 to 4"),
        ({"cpus": 999}, "invalid_cpus", "from 1 to 16"),
        ({"start": "at", "begin_at": past}, "begin_in_past", "past"),
        ({"image": "no-such-image"}, "image_not_allowed", "no-such-image"),
        ({"name": "bad name;rm"}, "invalid_name", "letters"),
    ]
    from portal.services import ServiceError

    with portal.app.test_request_context():
        alice = usersvc.get_user("alice")
        for fields, code, words in cases:
            data = {"name": name, "image": "jupyter", "allow_all": True, **fields}
            with pytest.raises(ServiceError) as refused:
                sessions.create_session(alice, data)
            assert refused.value.code == code and words in str(refused.value.message)
        db.session.remove()
    assert not [j for j in make_scheduler(portal.app.config).info_all(user="alice")
                if j.name == name]


def test_api_and_cli_create_list_and_delete(portal, monkeypatch):
    with portal.app.app_context():
        _, token = tokens.create_token(usersvc.get_user("alice"), "sessions-test")
        db.session.remove()
    client = portal.app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    body = {"name": f"{portal.prefix}-api", "image": "jupyter", "start": "at",
            "begin_at": (datetime.now() + timedelta(hours=3)).isoformat(timespec="minutes"),
            "end": "hours", "hours": 1, "allow_all": True}
    created = client.post("/api/v1/sessions", json=body, headers=auth)
    assert created.status_code == 201, created.json
    session_id = created.json["id"]
    assert created.json["deployment_id"].isdigit()
    listed = client.get("/api/v1/sessions", headers=auth).json
    assert session_id in [s["id"] for s in listed]
    images = client.get("/api/v1/images", headers=auth).json
    assert "jupyter" in [i["name"] for i in images]
    monkeypatch.setattr(cli_common, "make_app", lambda: portal.app)
    result = CliRunner().invoke(cli.main, ["session", "list", "--user", "alice"])
    assert result.exit_code == 0 and re.search(rf"{session_id}\s+pending", result.output)
    result = CliRunner().invoke(cli.main, ["session", "delete", str(session_id), "--user",
                                           "alice"])
    assert result.exit_code == 0 and "deleting" in result.output
    gone = client.get(f"/api/v1/sessions/{session_id}", headers=auth).json
    assert gone["state"] == "deleting"
    other = client.get(f"/api/v1/sessions/{session_id + 1000}", headers=auth)
    assert other.status_code == 404 and other.json["error"]["code"] == "not_found"
