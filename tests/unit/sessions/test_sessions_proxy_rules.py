"""The proxy's decision (decision 5) and its header hygiene, without a network."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.proxy.routes import filtered_cookies
from portal.services import Forbidden, NotFound, ServiceError, whitelists
from portal.services import proxy as rules
from tests.unit.sessions.sessionfakes import make_member, session_data, start_running


@pytest.fixture
def running(world):
    backend = world["backend"]
    session = start_running(backend, world["ursula"], session_data())
    assert session.state == "running"
    return session


def _authorize(user, session, client="10.0.0.1", **kw):
    return rules.authorize(user, session.id, client, host="portal.example", **kw)


def test_owner_gets_the_recorded_node_port_and_token(world, running):
    target = _authorize(world["ursula"], running)
    assert (target.host, target.port, target.token) == ("vm", 40001, "ab" * 24)
    assert target.prefix == f"/s/{running.id}/"


def test_everyone_else_gets_not_found(world, running):
    with pytest.raises(NotFound):
        _authorize(world["mona"], running)  # a manager sees it listed, but does not connect
    with pytest.raises(NotFound):
        _authorize(make_member("olga"), running)
    with pytest.raises(NotFound):
        rules.authorize(world["ursula"], running.id + 99, "10.0.0.1", host="x")


def test_whitelist_decides_the_client_address(world, running):
    wl, _ = whitelists.create_whitelist(world["ursula"], "lab", "192.168.0.0/16 tcp 443")
    running.allow_all, running.whitelists = False, [wl]
    assert _authorize(world["ursula"], running, client="192.168.3.4")
    with pytest.raises(Forbidden) as refused:
        _authorize(world["ursula"], running, client="10.0.0.1")
    assert refused.value.code == "address_not_admitted"


def test_other_sites_are_refused_for_writes_and_websockets(world, running):
    user = world["ursula"]
    assert _authorize(user, running, origin="http://evil.test", method="GET")
    for kw in ({"method": "POST"}, {"websocket": True}):
        with pytest.raises(Forbidden):
            _authorize(user, running, origin="http://evil.test", **kw)
    assert _authorize(user, running, origin="https://portal.example", method="POST")
    with pytest.raises(Forbidden):
        _authorize(user, running, origin=None, websocket=True)


def test_host_must_be_a_node_of_the_job(world, running):
    running.nodes = "othernode"
    with pytest.raises(Forbidden) as refused:
        _authorize(world["ursula"], running)
    assert refused.value.code == "bad_target"


def test_not_running_is_503(world, running):
    running.state = "ended"
    with pytest.raises(ServiceError) as refused:
        _authorize(world["ursula"], running)
    assert refused.value.status == 503 and refused.value.code == "not_running"


def test_a_changed_secret_key_makes_the_token_unusable(app, world, running):
    app.config["SECRET_KEY"] = "rotated"
    with pytest.raises(ServiceError) as refused:
        _authorize(world["ursula"], running)
    assert refused.value.code == "no_jupyter"


def test_portal_cookies_never_go_upstream():
    header = "session=abc; _xsrf=1; remember_token=r; username-vm-1=x"
    assert filtered_cookies(header, {"session", "remember_token"}) == "_xsrf=1; username-vm-1=x"


@given(st.lists(st.tuples(st.sampled_from(["session", "remember_token", "a", "_xsrf", "b c"]),
                          st.text(alphabet="xyz=", max_size=5)), max_size=6))
def test_filtered_cookies_keeps_only_foreign_names(pairs):
    header = "; ".join(f"{k}={v}" for k, v in pairs)
    kept = filtered_cookies(header, {"session", "remember_token"})
    names = [p.split("=", 1)[0].strip() for p in kept.split(";") if p.strip()]
    assert "session" not in names and "remember_token" not in names


@given(st.text(max_size=60))
def test_same_origin_never_raises(origin):
    assert rules.same_origin(origin, "portal.example") in (True, False)


class FakeSocket:
    def __init__(self, incoming):
        self.incoming, self.sent = list(incoming), []

    def send(self, data):
        self.sent.append(data)

    def receive(self, timeout=None):
        return self.incoming.pop(0) if self.incoming else None


def test_web_terminal_password_is_asked_first(app, world, running):
    from portal.proxy.terminal import _password_ok
    from portal.services.passwords import hash_password

    running.webterm_password_hash = hash_password("terminal secret 1")
    good = FakeSocket(['{"t": "auth", "password": "terminal secret 1"}'])
    assert _password_ok(good, running) and b"password" in good.sent[0]
    for wrong in (['{"t": "auth", "password": "nope"}'], ["not json"], []):
        ws = FakeSocket(wrong)
        assert not _password_ok(ws, running)
        assert b"Wrong password" in ws.sent[-1]
    running.webterm_password_hash = None
    assert _password_ok(FakeSocket([]), running)
