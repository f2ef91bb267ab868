"""Fixtures of the session unit tests; the fakes live in sessionfakes.py."""

from __future__ import annotations

import pytest

from portal import db
from portal.models import ProjectRole
from portal.services import jobs as jobsvc
from portal.services import sessions as svc
from portal.services.core import backend as core_backend
from tests.unit.sessions.sessionfakes import (
    FakeFiles,
    FakeScheduler,
    FakeSshd,
    make_member,
    register_jupyter,
)


@pytest.fixture(autouse=True)
def fresh_proxy_decisions():
    """The proxy keeps granted decisions for a moment; every test starts without any."""
    from portal.services import proxy

    proxy._decisions.clear()


@pytest.fixture
def backend(app, monkeypatch):
    fake = jobsvc.Backend(FakeScheduler(first_id=500), FakeFiles())
    monkeypatch.setattr(svc, "get_backend", lambda: fake)
    monkeypatch.setattr(core_backend, "get_backend", lambda: fake)  # sessionconn.node_address
    monkeypatch.setattr(svc, "Sshd", FakeSshd)
    FakeSshd.prepared = []
    return fake


@pytest.fixture
def ctx(app):
    with app.test_request_context():
        yield
    db.session.remove()


@pytest.fixture
def image_app(app):
    """The app with existence checks off (image paths of a pretend cluster)."""
    app.config["IMAGE_CHECK_PATH"] = False
    return app


@pytest.fixture
def world(image_app, ctx, backend):
    """ursula (member) and mona (manager) in proja, the jupyter image registered."""
    ursula = make_member("ursula")
    mona = make_member("mona", role=ProjectRole.MANAGER)
    register_jupyter()
    return {"ursula": ursula, "mona": mona, "backend": backend}
