"""Pages and API of sessions and public images with a fake Slurm: the create form and its
summary, who may see and open what, delete with confirmation, batch create, admin images."""

from __future__ import annotations

import pytest

from adapters.scheduler import JobState
from portal import db
from portal.models import ProjectRole, PublicImage, Session
from portal.services import sessions as svc
from portal.services import tokens
from tests.conftest import csrf_from
from tests.unit.sessions.sessionfakes import make_member, register_jupyter, write_conn

FORM = {"name": "lab-1", "image": "jupyter", "cpus": "2", "mem_gb": "4", "end": "hours",
        "hours": "2", "allow_all": "1", "start": "now", "ssh_auth": "none"}


@pytest.fixture
def people(image_app, backend):
    with image_app.app_context():
        make_member("ursula")
        make_member("mona", role=ProjectRole.MANAGER)
        make_member("olga", account="projb")
        register_jupyter()
        db.session.remove()
    return backend


def _post_form(client, auth, action, **fields):
    token = auth.csrf("/sessions/new")
    return client.post("/sessions/new", data={**FORM, **fields, "csrf_token": token,
                                               "action": action})


def _running_session(app, backend, username="ursula") -> int:
    with app.test_request_context():
        from portal.services import users

        session = svc.create_session(users.get_user(username),
                                     {**FORM, "allow_all": True})
        backend.scheduler.set_state(session.slurm_job_id, JobState.RUNNING, node="vm")
        write_conn(backend, session)
        svc.probe(session)
        assert session.state == "running"
        session_id = session.id
        db.session.remove()
    return session_id


def test_form_then_summary_then_create(client, auth, people):
    auth.login("ursula")
    page = client.get("/sessions/new").get_data(as_text=True)
    assert 'data-testid="session-form"' in page and "PyTorch 2" in page
    review = _post_form(client, auth, "review").get_data(as_text=True)
    assert 'data-testid="summary"' in review and "2 hours" in review and "PROJA" in review
    assert people.scheduler.calls == []
    created = _post_form(client, auth, "create")
    assert created.status_code == 302 and "/sessions/1" in created.headers["Location"]
    detail = client.get("/sessions/1").get_data(as_text=True)
    assert 'data-testid="deployment-id">500<' in detail
    listing = client.get("/sessions/").get_data(as_text=True)
    assert "lab-1" in listing and ">500<" in listing


def test_bad_input_shows_the_form_again_with_the_message(client, auth, people):
    auth.login("ursula")
    response = _post_form(client, auth, "review", name="no spaces please")
    assert response.status_code == 400
    assert "A name is 1–64 characters" in response.get_data(as_text=True)
    assert people.scheduler.calls == []


@pytest.mark.parametrize("path", ["/sessions/", "/sessions/new", "/sessions/1",
                                  "/sessions/1/terminal", "/s/1/api/status",
                                  "/sessions/admin/images"])
def test_anonymous_is_sent_to_login(client, people, path):
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_who_sees_and_opens_what(app, client, auth, people):
    session_id = _running_session(app, people)
    auth.login("olga")  # another project
    for path in (f"/sessions/{session_id}", f"/sessions/{session_id}/terminal",
                 f"/s/{session_id}/api/status"):
        assert client.get(path).status_code == 404, path
    auth.logout()
    auth.login("mona")  # manager: sees it, may delete it, does not connect
    detail = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert "lab-1" in detail and 'data-testid="connection"' not in detail
    assert client.get(f"/s/{session_id}/api/status").status_code == 404
    assert client.get(f"/sessions/{session_id}/terminal").status_code == 404
    auth.logout()
    auth.login("ursula")
    detail = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert 'data-testid="jupyter-link"' in detail and 'data-testid="terminal-link"' in detail


def test_terminal_page_loads_xterm_from_our_origin(app, client, auth, people):
    session_id = _running_session(app, people)
    auth.login("ursula")
    page = client.get(f"/sessions/{session_id}/terminal")
    html = page.get_data(as_text=True)
    assert "/sessions/vendor/xterm.js" in html and f"/terminal/{session_id}/ws" in html
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src" not in csp
    assert client.get("/sessions/vendor/xterm.js").status_code == 200
    assert client.get("/sessions/vendor/..%2Fpackage.json").status_code == 404


def test_delete_asks_then_cancels(app, client, auth, people):
    session_id = _running_session(app, people)
    auth.login("ursula")
    confirm = client.get(f"/sessions/delete?ids={session_id}").get_data(as_text=True)
    assert 'data-testid="confirm-delete"' in confirm and "lab-1" in confirm
    assert not [c for c in people.scheduler.calls if c.startswith("scancel")]
    token = csrf_from(confirm)
    response = client.post("/sessions/delete", data={"ids": session_id, "confirm": "1",
                                                     "csrf_token": token})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Session, session_id).state == "deleting"


def test_batch_page_is_for_managers(client, auth, people):
    auth.login("ursula")
    assert client.get("/sessions/batch").status_code == 403
    auth.logout()
    auth.login("mona")
    page = client.get("/sessions/batch").get_data(as_text=True)
    token = csrf_from(page)
    data = {**FORM, "name": "course", "csrf_token": token, "count_1": "2", "count_2": "0"}
    review = client.post("/sessions/batch", data={**data, "action": "review"})
    html = review.get_data(as_text=True)
    assert "course-ursula-1" in html and "course-ursula-2" in html
    created = client.post("/sessions/batch", data={**data, "action": "create"})
    assert created.status_code == 302
    assert people.scheduler.calls.count("sbatch") == 2


def test_admin_registers_images_others_may_not(client, auth, people, make_user):
    auth.login("ursula")
    assert client.get("/sessions/admin/images").status_code == 403
    auth.logout()
    make_user("root-admin", admin=True)
    auth.login("root-admin")
    page = client.get("/sessions/admin/images").get_data(as_text=True)
    token = csrf_from(page)
    bad = client.post("/sessions/admin/images", data={
        "csrf_token": token, "name": "torch", "path": "relative/path", "services": "jupyter"})
    assert bad.status_code == 400 and "absolute path" in bad.get_data(as_text=True)
    good = client.post("/sessions/admin/images", data={
        "csrf_token": token, "name": "torch", "path": "/srv/torch", "framework": "PyTorch",
        "services": ["jupyter", "webterm"]})
    assert good.status_code == 302
    assert "torch" in client.get("/sessions/admin/images").get_data(as_text=True)


def test_api_sessions_and_images(app, client, people, make_user):
    with app.app_context():
        from portal.services import users

        _, token = tokens.create_token(users.get_user("ursula"), "t")
    auth = {"Authorization": f"Bearer {token}"}
    created = client.post("/api/v1/sessions", json={**FORM, "allow_all": True}, headers=auth)
    assert created.status_code == 201 and created.json["deployment_id"] == "500"
    session_id = created.json["id"]
    assert created.json["connection"]["jupyter_url"] is None  # not running yet
    listed = client.get("/api/v1/sessions", headers=auth).json
    assert [s["id"] for s in listed] == [session_id]
    bad = client.post("/api/v1/sessions", json={**FORM, "cpus": "lots"}, headers=auth)
    assert bad.status_code == 400 and bad.json["error"]["code"] == "invalid_cpus"
    images = client.get("/api/v1/images", headers=auth).json
    jupyter = next(i for i in images if i["name"] == "jupyter")
    assert jupyter["services"] == ["jupyter", "ssh", "webterm"] and jupyter["auth"] == ["key"]
    refused = client.post("/api/v1/images", json={"name": "x", "path": "/x"}, headers=auth)
    assert refused.status_code == 403
    deleted = client.delete(f"/api/v1/sessions/{session_id}", headers=auth)
    assert deleted.status_code == 202 and deleted.json["state"] == "deleting"


def test_api_admin_registers_an_image(app, client, people, make_user):
    admin = make_user("root-admin", admin=True)
    with app.app_context():
        _, token = tokens.create_token(admin, "t")
    response = client.post("/api/v1/images", json={
        "name": "torch", "path": "/srv/torch", "services": ["jupyter"], "framework": "Torch"},
        headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201 and response.json["services"] == ["jupyter"]
    with app.app_context():
        assert db.session.query(PublicImage).filter_by(name="torch").one().framework == "Torch"
