"""F4 on the dev cluster: a file installed in a running session (a step inside the job,
as the owner, in the session's container) is committed through the page to a custom
image; the worker builds it as the owner with progress and stores it as a read-only file of
the portal's; a new session started from the custom image finds the file; deleting the
image is refused while that session uses it."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile

import pytest

from portal import db
from portal.models import CustomImage, Session
from portal.services import sessions
from portal.services import users as usersvc
from tests.integration.sessions.sessionhelpers import Browser, cycle, in_container, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("custom-images")]
MARKER = "/usr/local/share/portal-custom-image-marker.txt"


@pytest.fixture(scope="module")
def store(portal):
    path = tempfile.mkdtemp(prefix="portal-images-")
    os.chmod(path, 0o755)  # the builds run as alice
    portal.app.config["IMAGE_STORE"] = os.path.join(path, "store")
    yield portal.app.config["IMAGE_STORE"]
    shutil.rmtree(path, ignore_errors=True)


def _start(portal, name: str, image: str, image_type: str = "public", *,
           writable: bool = False) -> int:
    with portal.app.test_request_context():
        created = sessions.create_session(usersvc.get_user("alice"), {
            "name": f"{portal.prefix}-{name}", "image": image, "image_type": image_type,
            "end": "hours", "hours": 1, "cpus": 1, "mem_gb": 1, "allow_all": True,
            "writable": writable})
        session_id = created.id
        db.session.remove()
    return session_id


def _row(app, model, row_id):
    with app.app_context():
        row = db.session.get(model, row_id)
        out = {c.name: getattr(row, c.name) for c in model.__table__.columns}
        db.session.remove()
    return out


def _script(app, session_id: int) -> str:
    """The session's job script (read as root: the tests run as the operator)."""
    with open(os.path.join(_row(app, Session, session_id)["directory"], "session.sh")) as fh:
        return fh.read()


def _wait_running(portal, browser, session_id):
    wait_for(lambda: browser.request(f"/sessions/{session_id}")[0] == 200
             and _row(portal.app, Session, session_id)["state"] == "running", 120,
             what="the session to run")


def test_commit_then_new_session_finds_the_file(portal, store):
    app = portal.app
    browser = Browser(portal.server.url)
    browser.login("alice")
    first = _start(portal, "src", "base", writable=True)
    second = None
    try:
        _wait_running(portal, browser, first)
        in_container(app, first, f"echo installed-in-session > {MARKER} && chmod 600 {MARKER}"
                                  f" && mkdir -m 0750 {MARKER}.d")
        # commit through the page
        page = f"/custom-images/new?session={first}"
        token = browser.csrf(page)
        status, headers, body = browser.form("/custom-images/new", {
            "session": first, "csrf_token": token, "name": "itest-tools", "tag": "v1",
            "display_name": "Integration tools", "framework": "Debian", "services": "webterm"})
        assert status == 302, body.decode()[-800:]
        image_id = int(headers["Location"].rstrip("/").rsplit("/", 1)[1])
        # a second commit of the same session while the first is queued: refused
        status, _, body = browser.form("/custom-images/new", {
            "session": first, "csrf_token": token, "name": "itest-other", "tag": "v1",
            "services": "webterm"})
        assert status == 200 and "already being made" in body.decode()
        seen = set()

        def ready():
            cycle(app)
            row = _row(app, CustomImage, image_id)
            seen.add(row["state"])
            assert row["state"] != "failed", row["error"]
            return row["state"] == "ready"

        wait_for(ready, 240, step=1, what="the image to be built")
        row = _row(app, CustomImage, image_id)
        assert row["path"].startswith(store) and row["size_bytes"] > 10_000_000
        # one SquashFS file of the portal's, read-only, its digest recorded (issue #12)
        info = os.stat(row["path"])
        assert row["path"].endswith(".sqfs") and info.st_uid == 0
        assert stat.S_IMODE(info.st_mode) == 0o444 and row["digest"].startswith("sha256:")
        listing = browser.request("/custom-images/")[2].decode()
        assert 'data-image="itest-tools:v1"' in listing and "ready" in listing
        # a new session from the custom image finds the file
        second = _start(portal, "from-custom", "itest-tools:v1", "custom")
        _wait_running(portal, browser, second)
        assert in_container(app, second, f"cat {MARKER}").strip() == "installed-in-session"
        # modes as they were in the session (issue #16 item 7): 0600 stays 0600, and the
        # files are the user's, as Charliecloud shows an image to whoever runs it
        shown = in_container(app, second, f"stat -c '%a %U' {MARKER} {MARKER}.d").split("\n")
        assert shown[:2] == ["600 alice", "750 alice"], shown
        # the second session was started without "keep changes": no copy, no commit
        detail = browser.request(f"/sessions/{second}")[2].decode()
        assert 'data-testid="create-image-off"' in detail
        assert 'data-testid="create-image"' not in detail
        assert "writable copy" not in _script(app, second)
        assert "writable copy" in _script(app, first)
        status, _, body = browser.form("/custom-images/new", {
            "session": second, "csrf_token": browser.csrf(f"/custom-images/new?session={second}"),
            "name": "itest-ro", "tag": "v1", "services": "webterm"})
        assert status == 200 and "Keep changes to the container" in body.decode()
        # deleting the image while the session uses it: refused with its name
        status, _, _ = browser.form(f"/custom-images/{image_id}/delete",
                                    {"csrf_token": browser.csrf("/custom-images/")})
        listing = browser.request("/custom-images/")[2].decode()
        assert f"{portal.prefix}-from-custom" in listing
        assert _row(app, CustomImage, image_id)["state"] == "ready"
        _disk_fills(portal, first)
    finally:
        with app.test_request_context():
            alice = usersvc.get_user("alice")
            for session_id in (first, second):
                if session_id:
                    sessions.delete_session(alice, session_id)
            db.session.remove()


def _disk_fills(portal, session_id: int) -> None:
    """A 20 MB tmpfs as the image store: the build fails with the reason in words, the
    partial image is removed, and the session keeps running with its files."""
    app = portal.app
    small = tempfile.mkdtemp(prefix="portal-small-")
    os.chmod(small, 0o755)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m,mode=0755", "tmpfs", small],
                   check=True)
    saved = app.config["IMAGE_STORE"]
    app.config["IMAGE_STORE"] = os.path.join(small, "store")
    try:
        from portal.services import custom_images

        with app.test_request_context():
            image = custom_images.commit(usersvc.get_user("alice"), session_id,
                                         {"name": "itest-full", "services": ["webterm"]})
            image_id = image.id
            db.session.remove()

        def ended():
            cycle(app)
            return _row(app, CustomImage, image_id)["state"] in ("ready", "failed")

        wait_for(ended, 120, step=1, what="the build on a full disk to end")
        row = _row(app, CustomImage, image_id)
        assert row["state"] == "failed" and "ran out of disk space" in row["error"]
        assert row["building_session_id"] is None
        assert os.listdir(os.path.join(small, "store", "proja")) == []  # nothing partial
        assert _row(app, Session, session_id)["state"] == "running"
        assert in_container(app, session_id, f"cat {MARKER}").strip() == \
            "installed-in-session"
    finally:
        app.config["IMAGE_STORE"] = saved
        subprocess.run(["umount", small], check=False)
        os.rmdir(small)
