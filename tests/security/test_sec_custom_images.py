"""Issue #12 finding 1 on the dev cluster: custom images could be swapped by another user.

The attack: the image store was 1777 and a project folder was used if it merely existed.
carol (not in proja) pre-created the folder, waited for bob's commit, then swapped the
committed image for a copy with an extra /etc/profile.d script: bob's next session ran it as
bob. Now the store and its folders are root's (0755), an image is one root-owned 0444
SquashFS file whose SHA-256 is recorded at commit and checked before every start. Here, as
real Unix users through runuser: carol cannot create a folder or write in the store, a
folder she made in an old sticky store is moved aside and never used, neither she nor bob
can replace, change or remove bob's committed image, bob's session from it runs the image
as committed; a file changed by root (simulated here) is refused with a clear message; bob
can still delete his image (through the portal).
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from adapters.factory import make_scheduler
from adapters.runner import CommandRunner
from portal import db
from portal.models import CustomImage, Session
from portal.services import ServiceError, custom_images
from portal.services import sessions as sessionsvc
from portal.services import users as usersvc
from portal.services.jobscript import container_argv
from tests.integration.sessions.sessionhelpers import (
    add_member,
    cycle,
    make_app,
    remove_session_dirs,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("custom-images")]
MARKER = "/usr/local/share/sec-custom-image-marker.txt"
EVIL = "/etc/profile.d/zz-carol.sh"


def _as(user: str, *argv: str) -> subprocess.CompletedProcess:
    """`argv` as the Unix user `user` (the attacker's own rights)."""
    return subprocess.run(["runuser", "-u", user, "--", *argv], capture_output=True,
                          text=True, timeout=60)


def _sha256(path: str) -> str:
    with open(path, "rb") as fh:
        return "sha256:" + hashlib.sha256(fh.read()).hexdigest()


class World:
    def __init__(self, app, prefix, base):
        self.app, self.prefix, self.base = app, prefix, base
        self.image_id: int | None = None
        self.sessions: list[int] = []


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sec-custom-images")
    base = Path(tempfile.mkdtemp(prefix="sec-ci-"))
    base.chmod(0o755)
    app = make_app(tmp / "portal.db", IMAGE_STORE=str(base / "store"))
    summary = cycle(app)
    assert summary.get("cluster_ok"), f"the dev cluster must be up: {summary}"
    with app.app_context():
        add_member("bob", "proja")  # carol is in no project here
        db.session.remove()
    w = World(app, "sc" + uuid.uuid4().hex[:6], base)
    yield w
    with app.test_request_context():
        bob = usersvc.get_user("bob")
        for session_id in w.sessions:
            try:
                sessionsvc.delete_session(bob, session_id)
            except ServiceError:
                pass
        db.session.remove()
    remove_session_dirs(app)
    runner = CommandRunner()
    for job in make_scheduler(app.config).info_all():
        if (job.name or "").startswith(w.prefix) and not job.state.is_terminal:
            runner.run(["scancel", "--", job.id], as_user=job.user, check=False)
    shutil.rmtree(base, ignore_errors=True)


def _start(w: World, name: str, image: str, image_type: str, *, writable=False) -> int:
    with w.app.test_request_context():
        session = sessionsvc.create_session(usersvc.get_user("bob"), {
            "name": f"{w.prefix}-{name}", "image": image, "image_type": image_type,
            "end": "hours", "hours": 1, "cpus": 1, "mem_gb": 1, "allow_all": True,
            "writable": writable})
        w.sessions.append(session.id)
        session_id = session.id
        db.session.remove()
    return session_id


def _row(app, model, row_id) -> dict:
    with app.app_context():
        row = db.session.get(model, row_id)
        out = {c.name: getattr(row, c.name) for c in model.__table__.columns}
        db.session.remove()
    return out


def _wait_running(w: World, session_id: int) -> None:
    def running():
        cycle(w.app)
        state = _row(w.app, Session, session_id)["state"]
        assert state not in ("failed", "ended"), f"the session {state}"
        return state == "running"

    wait_for(running, 180, step=1, what="the session to run")


def _in_container(w: World, session_id: int, command: str) -> str:
    """`command` in bob's session container, as bob, in a login shell (which runs
    /etc/profile.d: the swapped image's payload would run here)."""
    with w.app.test_request_context():
        session = db.session.get(Session, session_id)
        argv = container_argv(sessionsvc.script_input(session),
                              ["/bin/bash", "-lc", command], service=True, shm=False)
        job_id = session.slurm_job_id
        db.session.remove()
    return CommandRunner(timeout=60).run(
        ["srun", f"--jobid={job_id}", "--overlap", "--ntasks=1", "--", *argv],
        as_user="bob").stdout


def test_carol_cannot_make_a_project_folder_or_write_in_the_store(world):
    store = Path(world.app.config["IMAGE_STORE"])
    cycle(world.app)  # the worker checks (and makes) the store
    info = store.stat()
    assert info.st_uid == 0 and stat.S_IMODE(info.st_mode) == 0o755
    for argv in (["mkdir", str(store / "proja")], ["touch", str(store / "x")],
                 ["ln", "-s", "/home/carol", str(store / "projb")]):
        result = _as("carol", *argv)
        assert result.returncode != 0 and "Permission denied" in result.stderr, argv
    assert os.listdir(store) == []


def test_a_folder_carol_made_in_an_old_sticky_store_is_moved_aside(world):
    old = world.base / "old-store"
    old.mkdir()
    old.chmod(0o1777)  # the layout before the fix
    assert _as("carol", "mkdir", "-m", "777", str(old / "proja")).returncode == 0
    assert _as("carol", "touch", str(old / "proja" / "1-tools-v1.sqfs")).returncode == 0
    saved = world.app.config["IMAGE_STORE"]
    world.app.config["IMAGE_STORE"] = str(old)
    try:
        cycle(world.app)  # the worker checks the newly configured store
    finally:
        world.app.config["IMAGE_STORE"] = saved
    assert stat.S_IMODE(old.stat().st_mode) == 0o755 and old.stat().st_uid == 0
    assert not (old / "proja").exists()  # never used: the portal makes its own
    aside = [p for p in old.iterdir() if p.name.startswith(".untrusted-proja-")]
    assert len(aside) == 1 and aside[0].stat().st_uid == pwd.getpwnam("carol").pw_uid
    assert _as("carol", "mkdir", str(old / "proja")).returncode != 0


def test_nobody_can_swap_bobs_committed_image(world):
    first = _start(world, "src", "base", "public", writable=True)
    _wait_running(world, first)
    _in_container(world, first, f"echo committed-by-bob > {MARKER}")
    with world.app.test_request_context():
        image = custom_images.commit(usersvc.get_user("bob"), first,
                                     {"name": "tools", "tag": "v1", "services": ["webterm"]})
        world.image_id = image.id
        db.session.remove()

    def ready():
        cycle(world.app)
        row = _row(world.app, CustomImage, world.image_id)
        assert row["state"] != "failed", row["error"]
        return row["state"] == "ready"

    wait_for(ready, 240, step=1, what="the image to be built")
    row = _row(world.app, CustomImage, world.image_id)
    path = row["path"]
    info = os.stat(path)
    assert info.st_uid == 0 and stat.S_IMODE(info.st_mode) == 0o444
    assert os.stat(os.path.dirname(path)).st_uid == 0
    assert _sha256(path) == row["digest"]
    # carol's evil copy: the committed image plus a profile.d script
    evil = world.base / "evil.sqfs"
    tree = world.base / "evil-tree"
    subprocess.run(["unsquashfs", "-q", "-no-progress", "-d", str(tree), path], check=True,
                   capture_output=True)
    (tree / EVIL.lstrip("/")).write_text("echo carol-was-here > /tmp/carol-ran-as-$(id -un)\n")
    subprocess.run(["mksquashfs", str(tree), str(evil), "-quiet", "-no-progress", "-all-root"],
                   check=True, capture_output=True)
    evil.chmod(0o644)
    folder = os.path.dirname(path)
    for user in ("carol", "bob"):  # the attacker, and the committer himself
        for argv in (["mv", "-f", path, path + ".orig"], ["cp", str(evil), path],
                     ["rm", "-f", path], ["chmod", "u+w", path],
                     ["sh", "-c", f"cat {evil} > {path}"],
                     ["cp", str(evil), f"{folder}/9-tools-v1.sqfs"],
                     ["ln", "-sf", str(evil), f"{folder}/x.sqfs"]):
            result = _as(user, *argv)
            assert result.returncode != 0, (user, argv, result.stdout)
    assert sorted(os.listdir(folder)) == [os.path.basename(path)]
    assert _sha256(path) == row["digest"]
    # bob's session from his image runs it as committed
    second = _start(world, "from-image", "tools:v1", "custom")
    _wait_running(world, second)
    out = _in_container(world, second, f"cat {MARKER}; test -e {EVIL} && echo EVIL || true")
    assert out.split() == ["committed-by-bob"]
    # mounted in bob's own session folder, not /var/tmp/bob.ch, which carol could make
    with world.app.test_request_context():
        data = sessionsvc.script_input(db.session.get(Session, second))
        argv = container_argv(data, ["true"], service=True, shm=False)
        db.session.remove()
    mount = f"{data.directory}/.image-mount"
    assert f"--mount={mount}" in argv and os.stat(mount).st_uid == pwd.getpwnam("bob").pw_uid
    # Part two runs here, not as its own test: under xdist the module-scoped world may be
    # torn down between two tests when another module of its group runs in between.
    _an_image_changed_after_commit_is_refused_and_bob_can_delete_it(world)


def _an_image_changed_after_commit_is_refused_and_bob_can_delete_it(world):
    assert world.image_id, "needs the image made above"
    row = _row(world.app, CustomImage, world.image_id)
    path, evil = row["path"], world.base / "evil.sqfs"
    # root (or a broken disk) changes the stored file behind the portal's back
    os.chmod(path, 0o644)
    shutil.copyfile(evil, path)
    os.chmod(path, 0o444)
    with world.app.app_context():
        before = db.session.query(Session).count()
        db.session.remove()
    with pytest.raises(ServiceError) as err:
        _start(world, "tampered", "tools:v1", "custom")
    assert err.value.code == "image_changed"
    message = str(err.value.message)
    assert "tools:v1 has changed since it was committed" in message and "SHA-256" in message
    with world.app.app_context():
        assert db.session.query(Session).count() == before  # nothing submitted
        db.session.remove()
    # bob deletes his image once no session uses it: the portal removes the file
    with world.app.test_request_context():
        bob = usersvc.get_user("bob")
        for session_id in world.sessions:
            if _row(world.app, Session, session_id)["state"] not in ("ended", "failed"):
                sessionsvc.delete_session(bob, session_id)
        db.session.remove()

    def ended():
        cycle(world.app)
        return all(_row(world.app, Session, s)["state"] in ("ended", "failed")
                   for s in world.sessions)

    wait_for(ended, 120, step=1, what="bob's sessions to end")
    with world.app.test_request_context():
        custom_images.delete(usersvc.get_user("bob"), world.image_id)
        db.session.remove()
    assert not os.path.exists(path)
