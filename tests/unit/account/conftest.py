"""Account tests: a request context, and activation switched on with a fake cluster side."""

from __future__ import annotations

import pytest

from adapters import workspace as ws
from adapters.unix import UnixAccount
from portal import db
from portal.services import activation
from tests.unit.projects.fake_accounts import FakeAccounts


@pytest.fixture
def ctx(app):
    with app.test_request_context():
        yield
    db.session.remove()


class FakeWorkspaces:
    """Directories by path: (uid, mode); `provision` makes them as install -d would."""

    def __init__(self, accounts=None):
        self.accounts = accounts if accounts is not None else UNIX
        self.dirs: dict[str, tuple[int, int]] = {}
        self.provisioned: list[tuple] = []
        self.fail = None

    def inspect(self, path):
        if path not in self.dirs:
            return ws.WorkspaceState(path, False)
        uid, mode = self.dirs[path]
        return ws.WorkspaceState(path, True, True, uid, mode)

    def provision(self, runner, path, user, gid, mode=ws.MODE):
        if self.fail:
            raise self.fail
        self.provisioned.append((path, user, gid, mode))
        self.dirs[path] = (self.accounts[user].uid, mode)


UNIX = {"ursula": UnixAccount("ursula", 5001, 5001, "/home/ursula"),
        "nobody": UnixAccount("nobody", 65534, 65534, "/nonexistent")}


@pytest.fixture
def cluster_side(app, monkeypatch):
    """Activation on; Unix accounts, associations and workspaces faked."""
    app.config["ACTIVATION_REQUIRED"] = True
    app.extensions["accounts"] = accounts = FakeAccounts()
    spaces = FakeWorkspaces()
    monkeypatch.setattr(activation.ws, "inspect", spaces.inspect)
    monkeypatch.setattr(activation.ws, "provision", spaces.provision)
    monkeypatch.setattr(activation.unix, "lookup", UNIX.get)
    yield {"accounts": accounts, "spaces": spaces}
    app.extensions.pop("accounts", None)
