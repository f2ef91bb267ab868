"""F4 "Keep changes to the container": a per-session choice (default off). Only a writable
session's job script copies the image; the portal's `session_writable = false` hides the
checkbox and refuses the choice (form, batch, API) with a clear message."""

from __future__ import annotations

import pytest

from portal import db
from portal.models import ProjectRole, Session
from portal.services import ServiceError, tokens
from portal.services import sessionbatch as batch
from portal.services import sessions as svc
from portal.services.sessionspec import writable_choice
from tests.conftest import csrf_from
from tests.unit.sessions.sessionfakes import make_member, register_jupyter, session_data

COPY = "making the session's writable copy of the image"
FORM = {"name": "lab-1", "image": "jupyter", "cpus": "2", "mem_gb": "4", "end": "hours",
        "hours": "2", "allow_all": "1", "start": "now", "ssh_auth": "none"}


def _script(backend, session) -> str:
    return backend.files.files[f"{session.directory}/session.sh"].decode()


def test_default_is_read_only_and_the_script_copies_nothing(world):
    session = svc.create_session(world["ursula"], session_data())
    assert session.writable is False
    script = _script(world["backend"], session)
    assert COPY not in script and "rootfs" not in script and "--write" not in script
    assert svc.script_input(session).writable_root is None


def test_writable_session_copies_the_image_first(world):
    session = svc.create_session(world["ursula"], session_data(writable=True))
    assert session.writable is True
    script = _script(world["backend"], session)
    root = f"{session.directory}/rootfs"
    assert script.index(COPY) < script.index("jupyter server")
    assert f"ROOT={root}" in script and "--write" in script
    assert svc.script_input(session).writable_root == root


@pytest.mark.parametrize("value,expected", [
    (None, False), ("", False), (False, False), (True, True), ("1", True), ("on", True),
    ("true", True), ("0", False), ("no", False)])
def test_choice_values(app, value, expected):
    with app.app_context():
        assert writable_choice({"writable": value}) is expected


@pytest.mark.parametrize("value", ["maybe", 3, [True], {"x": 1}])
def test_choice_that_is_not_yes_or_no_is_refused(app, value):
    with app.app_context(), pytest.raises(ServiceError) as err:
        writable_choice({"writable": value})
    assert err.value.code == "invalid_writable"


def test_portal_without_writable_sessions_refuses_the_choice(world, app):
    app.config["SESSION_WRITABLE"] = False
    with pytest.raises(ServiceError) as err:
        svc.create_session(world["ursula"], session_data(writable=True))
    assert err.value.code == "writable_disabled" and "session_writable" in err.value.message
    assert world["backend"].scheduler.calls == [] and db.session.query(Session).count() == 0
    plain = svc.create_session(world["ursula"], session_data())  # without it: fine
    assert plain.writable is False and COPY not in _script(world["backend"], plain)


def test_batch_create_passes_the_choice_to_every_session(world, app):
    created = batch.batch_create(world["mona"], session_data(name="c", writable="1"),
                                 {"ursula": 1, "mona": 1})
    assert [s.writable for s in created] == [True, True]
    assert all(COPY in _script(world["backend"], s) for s in created)
    app.config["SESSION_WRITABLE"] = False
    with pytest.raises(ServiceError) as err:
        batch.batch_create(world["mona"], session_data(name="d", writable=True), {"ursula": 1})
    assert err.value.code == "writable_disabled"


# --- pages and API ------------------------------------------------------------------------


@pytest.fixture
def people(image_app, backend):
    with image_app.app_context():
        make_member("ursula")
        make_member("mona", role=ProjectRole.MANAGER)
        register_jupyter()
        db.session.remove()
    return backend


def _only_session(app) -> Session:
    with app.app_context():
        rows = db.session.query(Session).all()
        assert len(rows) == 1
        writable = rows[0].writable
        db.session.remove()
    return writable


def test_form_checkbox_off_by_default_then_kept_through_the_summary(app, client, auth, people):
    auth.login("ursula")
    page = client.get("/sessions/new").get_data(as_text=True)
    assert 'name="writable"' in page and "start-up takes longer" in page
    assert 'checked data-testid="writable"' not in page  # off by default
    token = csrf_from(page)
    review = client.post("/sessions/new", data={**FORM, "writable": "1", "csrf_token": token,
                                                "action": "review"}).get_data(as_text=True)
    assert "Keep changes to the container" in review and "yes (start-up takes longer)" in review
    assert '<input type="hidden" name="writable" value="1">' in review
    created = client.post("/sessions/new", data={**FORM, "writable": "1", "csrf_token": token,
                                                 "action": "create"})
    assert created.status_code == 302 and _only_session(app) is True
    detail = client.get(created.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="create-image-off"' not in detail


def test_form_without_the_box_makes_a_read_only_session(app, client, auth, people):
    auth.login("ursula")
    token = auth.csrf("/sessions/new")
    created = client.post("/sessions/new", data={**FORM, "csrf_token": token,
                                                 "action": "create"})
    assert created.status_code == 302 and _only_session(app) is False


def test_detail_explains_instead_of_the_create_image_link(app, client, auth, people):
    from adapters.scheduler import JobState
    from tests.unit.sessions.sessionfakes import write_conn

    with app.test_request_context():
        from portal.services import users

        session = svc.create_session(users.get_user("ursula"), {**FORM, "allow_all": True})
        people.scheduler.set_state(session.slurm_job_id, JobState.RUNNING, node="vm")
        write_conn(people, session)
        svc.probe(session)
        session_id = session.id
        db.session.remove()
    auth.login("ursula")
    detail = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert 'data-testid="create-image"' not in detail
    assert 'data-testid="create-image-off"' in detail and "Keep changes to the container" in detail
    form = client.get(f"/custom-images/new?session={session_id}").get_data(as_text=True)
    assert 'data-testid="not-writable"' in form


def test_portal_off_hides_the_box_and_refuses_a_posted_one(app, client, auth, people):
    app.config["SESSION_WRITABLE"] = False
    auth.login("ursula")
    page = client.get("/sessions/new").get_data(as_text=True)
    assert 'name="writable"' not in page
    token = csrf_from(page)
    refused = client.post("/sessions/new", data={**FORM, "writable": "1", "csrf_token": token,
                                                 "action": "create"})
    assert refused.status_code == 400 and "session_writable = false" in \
        refused.get_data(as_text=True)
    assert people.scheduler.calls == []
    auth.logout()
    auth.login("mona")
    assert 'name="writable"' not in client.get("/sessions/batch").get_data(as_text=True)


def test_batch_page_offers_the_box(client, auth, people):
    auth.login("mona")
    page = client.get("/sessions/batch").get_data(as_text=True)
    assert 'name="writable"' in page
    data = {**FORM, "name": "course", "csrf_token": csrf_from(page), "count_1": "1",
            "writable": "1"}
    review = client.post("/sessions/batch", data={**data, "action": "review"})
    assert '<input type="hidden" name="writable" value="1">' in review.get_data(as_text=True)
    created = client.post("/sessions/batch", data={**data, "action": "create"})
    assert created.status_code == 302


def test_api_accepts_writable_and_says_it(app, client, people):
    with app.app_context():
        from portal.services import users

        _, token = tokens.create_token(users.get_user("ursula"), "t")
    auth = {"Authorization": f"Bearer {token}"}
    body = {**FORM, "allow_all": True}
    plain = client.post("/api/v1/sessions", json=body, headers=auth)
    assert plain.status_code == 201 and plain.json["writable"] is False
    kept = client.post("/api/v1/sessions", json={**body, "name": "lab-2", "writable": True},
                       headers=auth)
    assert kept.status_code == 201 and kept.json["writable"] is True
    bad = client.post("/api/v1/sessions", json={**body, "name": "lab-3", "writable": "perhaps"},
                      headers=auth)
    assert bad.status_code == 400 and bad.json["error"]["code"] == "invalid_writable"
    app.config["SESSION_WRITABLE"] = False
    off = client.post("/api/v1/sessions", json={**body, "name": "lab-4", "writable": True},
                      headers=auth)
    assert off.status_code == 400 and off.json["error"]["code"] == "writable_disabled"
    spec = client.get("/api/v1/openapi.json").json
    assert spec["components"]["schemas"]["SessionInput"]["properties"]["writable"]["type"] \
        == "boolean"
