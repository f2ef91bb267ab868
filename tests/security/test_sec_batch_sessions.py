"""Issue #12 finding 3 on the dev cluster: a manager must not run code as a member.

The attack: alice (manager of proja) installs a wrapper as `jupyter` in her own session
(it writes who ran it into bob's home), commits the session to a custom image the real
way, and batch-creates a session for bob from that image through the API. Before the fix
the session was submitted as bob at once and the wrapper ran as bob, in bob's home, with
no action from him. Now nothing exists in Slurm or in bob's home until bob accepts (the
worker runs in between); only his "accept" submits it (as him). A declined one never runs;
one from a public image runs at once as before.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from adapters.factory import make_scheduler
from adapters.runner import CommandRunner
from portal import db
from portal.models import CustomImage, ProjectRole, Session
from portal.services import custom_images, sessions, tokens
from portal.services import users as usersvc
from portal.services.jobscript import container_argv
from tests.integration.sessions.sessionhelpers import (
    add_member,
    cycle,
    make_app,
    remove_session_dirs,
    wait_for,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sec-batch")
    app = make_app(tmp / "portal.db")
    store = tempfile.mkdtemp(prefix="sec-images-")
    os.chmod(store, 0o755)
    app.config["IMAGE_STORE"] = os.path.join(store, "store")
    summary = cycle(app)
    assert summary.get("cluster_ok"), f"the dev cluster must be up: {summary}"
    prefix = "sb" + uuid.uuid4().hex[:6]
    marker = Path(f"/home/bob/planted-{prefix}.txt")
    with app.app_context():
        alice = add_member("alice", "proja", role=ProjectRole.MANAGER)
        bob = add_member("bob", "proja")
        secrets = {"alice": tokens.create_token(alice, "t")[1],
                   "bob": tokens.create_token(bob, "t")[1]}
        db.session.remove()
    world = {"app": app, "client": app.test_client(), "prefix": prefix, "marker": marker,
             "secrets": secrets}
    try:
        _alices_image(world)
        yield world
    finally:
        scheduler = make_scheduler(app.config)
        for job in scheduler.info_all():
            if (job.name or "").startswith(prefix) and not job.state.is_terminal:
                CommandRunner().run(["scancel", "--", job.id], as_user=job.user, check=False)
        remove_session_dirs(app)
        marker.unlink(missing_ok=True)
        shutil.rmtree(store, ignore_errors=True)


def _alices_image(world) -> None:
    """alice's custom image "evil:v1", made the real way: her own session of the base
    image keeping changes, her wrapper installed in it as `jupyter` (a job step as alice,
    in the session's container), committed and built by the worker."""
    app = world["app"]
    with app.test_request_context():
        alice = usersvc.get_user("alice")
        source = sessions.create_session(alice, {
            "name": f"{world['prefix']}-src", "image": "base", "end": "hours", "hours": 1,
            "cpus": 1, "mem_gb": 1, "allow_all": True, "writable": True})
        source_id = source.id
        db.session.remove()

    def running():
        cycle(app)
        return _row(app, Session, source_id)["state"] == "running"

    wait_for(running, 180, step=1, what="alice's own session to run")
    wrapper = (f'#!/bin/sh\n{{ id -un; echo "$HOME"; }} > /home/bob/{world["marker"].name}\n'
               "exec sleep 600\n")
    _in_container(app, source_id, "cat > /usr/local/bin/jupyter && "
                  "chmod 755 /usr/local/bin/jupyter", wrapper)
    with app.test_request_context():
        image = custom_images.commit(usersvc.get_user("alice"), source_id, {
            "name": "evil", "tag": "v1", "display_name": "Handy tools",
            "services": ["jupyter"]})
        image_id = image.id
        db.session.remove()

    def ready():
        cycle(app)
        row = _row(app, CustomImage, image_id)
        assert row["state"] != "failed", row["error"]
        return row["state"] == "ready"

    wait_for(ready, 300, step=1, what="alice's image to be built")
    with app.test_request_context():
        sessions.delete_session(usersvc.get_user("alice"), source_id)
        db.session.remove()


def _row(app, model, row_id) -> dict:
    with app.app_context():
        row = db.session.get(model, row_id)
        out = {c.name: getattr(row, c.name) for c in model.__table__.columns}
        db.session.remove()
    return out


def _in_container(app, session_id: int, command: str, stdin: str) -> None:
    """`command` in the session's container as its owner (the web terminal's way)."""
    with app.test_request_context():
        session = db.session.get(Session, session_id)
        argv = container_argv(sessions.script_input(session), ["/bin/sh", "-c", command],
                              service=True, shm=False)
        job_id, owner = session.slurm_job_id, session.user.unix_user
        db.session.remove()
    CommandRunner(timeout=60).run(
        ["srun", f"--jobid={job_id}", "--overlap", "--ntasks=1", "--input=all", "--", *argv],
        as_user=owner, input=stdin)


def _api(world, who, method, path, body=None):
    headers = {"Authorization": f"Bearer {world['secrets'][who]}"}
    return world["client"].open(path, method=method, headers=headers, json=body)


def _batch(world, name, **fields):
    body = {"name": f"{world['prefix']}-{name}", "members": {"bob": 1}, "cpus": 1,
            "mem_gb": 1, "end": "hours", "hours": 1, "allow_all": True, **fields}
    response = _api(world, "alice", "POST", "/api/v1/sessions", body)
    assert response.status_code == 201, response.get_data(as_text=True)
    created, = response.json
    return created


def _bobs_jobs(world, session_id: int) -> list:
    """bob's jobs in Slurm (live or finished) carrying this session's tag."""
    with world["app"].app_context():
        tag = "portal-session-" + db.session.get(Session, session_id).uuid
        db.session.remove()
    scheduler = make_scheduler(world["app"].config)
    return [j for j in scheduler.info_all() if j.user == "bob" and j.comment == tag]


def _directory(world, session_id: int) -> str:
    with world["app"].app_context():
        directory = db.session.get(Session, session_id).directory
        db.session.remove()
    return directory


def test_custom_image_runs_nothing_as_the_member_until_they_accept(world):
    created = _batch(world, "evil", image="evil:v1", image_type="custom")
    session_id = created["id"]
    assert created["state"] == "awaiting" and created["slurm_job_id"] is None
    assert created["acceptance"]["requested_by"] == "alice"
    assert created["acceptance"]["built_by"] == "alice"
    for _ in range(2):  # the worker runs: it must not start it either
        cycle(world["app"])
    assert _bobs_jobs(world, session_id) == []
    assert not _directory(world, session_id)
    assert not world["marker"].exists(), "alice's wrapper ran as bob without his consent"
    # alice cannot answer for bob
    assert _api(world, "alice", "POST", f"/api/v1/sessions/{session_id}/accept"
                ).status_code == 404
    # bob sees who asked and which image, and accepts: now it is submitted, as bob
    shown = _api(world, "bob", "GET", f"/api/v1/sessions/{session_id}").json
    assert shown["acceptance"]["image_name"] == "Handy tools"
    assert shown["acceptance"]["from_session"] == f"{world['prefix']}-src"
    accepted = _api(world, "bob", "POST", f"/api/v1/sessions/{session_id}/accept")
    assert accepted.status_code == 200, accepted.get_data(as_text=True)
    assert accepted.json["state"] == "pending" and accepted.json["slurm_job_id"]
    assert [j.id for j in _bobs_jobs(world, session_id)] == [accepted.json["slurm_job_id"]]
    wait_for(lambda: world["marker"].exists(), 120, step=1,
             what="the accepted session to start its service as bob")
    assert world["marker"].read_text().split()[0] == "bob"


def test_declined_never_runs(world):
    created = _batch(world, "declined", image="evil:v1", image_type="custom")
    declined = _api(world, "bob", "POST", f"/api/v1/sessions/{created['id']}/decline")
    assert declined.status_code == 200 and declined.json["state"] == "declined"
    cycle(world["app"])
    assert _bobs_jobs(world, created["id"]) == []
    again = _api(world, "bob", "POST", f"/api/v1/sessions/{created['id']}/accept")
    assert again.status_code == 404


def test_public_image_starts_at_once(world):
    created = _batch(world, "public", image="base")
    assert created["state"] == "pending" and created["slurm_job_id"]
    assert [j.id for j in _bobs_jobs(world, created["id"])] == [created["slurm_job_id"]]
    assert os.path.isdir(_directory(world, created["id"]))
