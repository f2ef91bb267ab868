"""F4 unit fixtures: the sessions' fakes (Slurm, workspace) plus a runner that runs the
build's commands here, as the test's own user, on temporary directories."""

from __future__ import annotations

import pytest

from adapters.errors import CommandFailed
from adapters.runner import CommandRunner
from portal import db
from portal.services import custom_images as svc
from tests.unit.sessions import conftest as sessions_fixtures

# The sessions' fixtures, shared here (a fake Slurm and workspace, ursula and mona).
backend = sessions_fixtures.backend
ctx = sessions_fixtures.ctx
fresh_proxy_decisions = sessions_fixtures.fresh_proxy_decisions
image_app = sessions_fixtures.image_app
world = sessions_fixtures.world


class LocalRunner(CommandRunner):
    """CommandRunner without the run-as prefix; `fail_on` makes a program fail like a full
    disk after it wrote part of its output."""

    def __init__(self):
        super().__init__(run_as_prefix=[], timeout=60)
        self.calls: list[tuple[list[str], str | None]] = []
        self.fail_on: str | None = None

    def run(self, argv, *, as_user=None, **kwargs):
        self.calls.append((list(argv), as_user))
        if self.fail_on and argv[0] == self.fail_on:
            dest = argv[2] if argv[0] == "mksquashfs" else argv[-1] + "/partial"
            import os

            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with open(dest, "wb") as fh:
                fh.write(b"x" * 4096)
            raise CommandFailed(f"{argv[0]}: error writing '{dest}': No space left on "
                                "device", argv, "No space left on device", 1)
        return super().run(argv, as_user=None, **kwargs)


@pytest.fixture
def runner(monkeypatch):
    local = LocalRunner()
    monkeypatch.setattr(svc, "_runner", lambda: local)
    return local


@pytest.fixture
def store(app, tmp_path):
    path = tmp_path / "store"
    app.config["IMAGE_STORE"] = str(path)
    return path


@pytest.fixture
def running(world, runner, store, tmp_path, monkeypatch):
    """ursula's running session whose writable copy is a small real tree under tmp_path."""
    return {**world, **make_running(world["ursula"], tmp_path, monkeypatch)}


@pytest.fixture
def running_pages(image_app, backend, runner, store, tmp_path, monkeypatch):
    """The same for page tests: set up in its own context (each request gets its own)."""
    from portal.models import ProjectRole
    from tests.unit.sessions.sessionfakes import make_member, register_jupyter

    with image_app.test_request_context():
        ursula = make_member("ursula")
        make_member("mona", role=ProjectRole.MANAGER)
        register_jupyter()
        made = make_running(ursula, tmp_path, monkeypatch)
        out = {"session_id": made["session"].id, "root": made["root"]}
        db.session.remove()
    return out


def make_running(ursula, tmp_path, monkeypatch) -> dict:
    from dataclasses import replace

    from portal.services import sessions as sessionsvc
    from tests.unit.sessions.sessionfakes import session_data

    original = sessionsvc.script_input
    sessions_dir = tmp_path / "sessions"
    monkeypatch.setattr(sessionsvc, "script_input", lambda s: replace(
        original(s), directory=str(sessions_dir / str(s.id))))
    session = sessionsvc.create_session(ursula, session_data(writable=True))
    session.state = "running"
    db.session.commit()
    root = sessions_dir / str(session.id) / "rootfs"
    for sub in ("bin", "etc", "usr/local"):
        (root / sub).mkdir(parents=True)
    (root / "usr/local/hello.txt").write_text("hello from the session\n")
    (root / "etc/secret").write_text("mine")
    (root / "etc/secret").chmod(0o600)
    return {"session": session, "root": root}
