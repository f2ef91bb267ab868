"""F3 integration fixtures: one portal (own database, live server) per test module, the
session image registered, alice and bob in project proja, and cleanup of every Slurm job
a module started."""

from __future__ import annotations

import uuid

import pytest

from adapters.factory import make_scheduler
from adapters.runner import CommandRunner
from portal import db
from portal.services import keys, public_images, whitelists
from tests.integration.sessions.sessionhelpers import (
    JUPYTER_IMAGE,
    LiveServer,
    add_member,
    cycle,
    make_app,
    remove_session_dirs,
)


class Portal:
    """What a test module shares: the app, its live server, users' key and prefix."""

    def __init__(self, app, server, prefix, private_key_path):
        self.app, self.server, self.prefix = app, server, prefix
        self.private_key_path = private_key_path


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sessions")
    # One trusted proxy: a test may claim another client address with X-Forwarded-For.
    app = make_app(tmp / "portal.db", TRUSTED_PROXY_COUNT=1)
    prefix = "st" + uuid.uuid4().hex[:6]
    summary = cycle(app)
    assert summary.get("cluster_ok"), f"the dev cluster must be up: {summary}"
    with app.app_context():
        alice = add_member("alice", "proja")
        add_member("bob", "proja")
        public_images.register_image("jupyter", JUPYTER_IMAGE, framework="Python 3 / Jupyter")
        _, private = keys.create_key(alice, "laptop")
        whitelists.create_whitelist(alice, "loopback", "127.0.0.1/32 tcp")
        db.session.remove()
    key_path = tmp / "id_alice"
    key_path.write_text(private)
    key_path.chmod(0o600)
    server = LiveServer(app)
    yield Portal(app, server, prefix, key_path)
    server.stop()
    remove_session_dirs(app)
    scheduler = make_scheduler(app.config)
    runner = CommandRunner()
    for job in scheduler.info_all():
        if (job.name or "").startswith(prefix) and not job.state.is_terminal:
            runner.run(["scancel", "--", job.id], as_user=job.user, check=False)
