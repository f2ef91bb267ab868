"""Issue #12 finding 3 with a fake Slurm: a manager's batch create with a custom image
records the member's session as "awaiting" (nothing written, nothing submitted) until the
member accepts; the member sees who asked and who built the image; decline, withdraw,
and an image replaced in between."""

from __future__ import annotations

import pytest

from portal import db
from portal.models import AuditEvent, CustomImage, ProjectRole, Session
from portal.services import NotFound, ServiceError, image_store, sessionaccept, tokens
from portal.services import sessionbatch as batch
from portal.services import sessions as svc
from tests.conftest import csrf_from
from tests.unit.sessions.sessionfakes import make_member, register_jupyter, session_data

CUSTOM = {"image": "tools:v1", "image_type": "custom"}


@pytest.fixture(autouse=True)
def _image_store(image_app, tmp_path):
    image_app.config["IMAGE_STORE"] = str(tmp_path / "store")


def _image(mona, *, path="1-tools-v1", name="tools") -> CustomImage:
    """A ready image whose file is sealed in the store (issue #12 finding 1: a start checks
    the file against its recorded digest)."""
    content = b"hsqs" + path.encode()
    stored = image_store.store_file("proja", f"{path}.sqfs", lambda sink: sink(content))
    image = CustomImage(
        project_id=mona.current_project_id or _project_of(mona), owner_unix="nobody",
        name=name, tag="v1", display_name="Course tools", description="numpy and friends",
        framework="Python 3", services=["jupyter", "webterm"], state="ready",
        path=stored.path, digest=stored.digest, created_by_id=mona.id,
        session_name="mona-src", runtime="charliecloud")
    db.session.add(image)
    db.session.commit()
    return image


def _project_of(user) -> int:
    from portal.models import Membership

    return db.session.query(Membership).filter_by(user_id=user.id).first().project_id


def _actions(prefix="session."):
    return [e.action for e in db.session.query(AuditEvent).order_by(AuditEvent.id)
            if e.action.startswith(prefix)]


def test_custom_image_waits_for_the_member_public_starts_at_once(world):
    ursula, mona, backend = world["ursula"], world["mona"], world["backend"]
    _image(mona)
    created = batch.batch_create(mona, session_data(name="course", **CUSTOM),
                                 {"ursula": 1, "mona": 1})
    states = {s.user.username: s.state for s in created}
    assert states == {"ursula": "awaiting", "mona": "pending"}  # mona's own: her choice
    theirs = next(s for s in created if s.user_id == ursula.id)
    assert theirs.slurm_job_id is None and not theirs.directory
    # nothing of ursula's reached Slurm or her home
    assert list(backend.scheduler.as_users.values()) == ["nobody"]
    assert not any(theirs.uuid in str(spec.comment) for spec in
                   backend.scheduler.specs.values())
    assert not [p for p in backend.files.files if "course-ursula" in p or
                f"/{theirs.id}-" in p]
    asks = sessionaccept.awaiting_for(ursula)
    assert [s.id for s in asks] == [theirs.id]
    said = sessionaccept.describe(theirs)
    assert said["requested_by"] == "mona" and said["built_by"] == "mona"
    assert said["from_session"] == "mona-src" and said["image_name"] == "Course tools"
    # a public image for a member: submitted at once, as before
    public = batch.batch_create(mona, session_data(name="pub"), {"ursula": 1})
    assert public[0].state == "pending" and public[0].slurm_job_id


def test_accept_submits_as_the_member(world):
    ursula, mona, backend = world["ursula"], world["mona"], world["backend"]
    _image(mona)
    theirs, = batch.batch_create(mona, session_data(name="c", **CUSTOM), {"ursula": 1})
    with pytest.raises(NotFound):  # only the owner answers
        sessionaccept.accept(mona, theirs.id)
    session = sessionaccept.accept(ursula, theirs.id)
    assert session.state == "pending" and session.slurm_job_id
    spec = backend.scheduler.specs[session.slurm_job_id]
    as_user = backend.scheduler.as_users[session.slurm_job_id]
    assert as_user == "nobody" and spec.comment == svc.tag_of(session)
    with pytest.raises(ServiceError) as again:
        sessionaccept.accept(ursula, theirs.id)
    assert again.value.code == "not_awaiting"
    event = db.session.query(AuditEvent).filter_by(action="session.accept").one()
    assert event.actor_id == ursula.id and event.details["requested_by"] == "mona"
    assert event.details["built_by"] == "mona"


def test_decline_and_withdraw_submit_nothing(world):
    ursula, mona, backend = world["ursula"], world["mona"], world["backend"]
    _image(mona)
    first, second = batch.batch_create(mona, session_data(name="d", **CUSTOM), {"ursula": 2})
    declined = sessionaccept.decline(ursula, first.id)
    assert declined.state == "declined" and declined.hidden
    withdrawn = svc.delete_session(mona, second.id)  # the manager takes it back
    assert withdrawn.state == "withdrawn" and withdrawn.hidden
    assert backend.scheduler.specs == {} and backend.files.files == {}
    assert sessionaccept.awaiting_for(ursula) == []
    with pytest.raises(ServiceError) as late:
        sessionaccept.accept(ursula, first.id)
    assert late.value.status == 404
    assert _actions() == ["session.batch_create", "session.decline", "session.withdraw"]


def test_a_replaced_image_cannot_be_accepted(world):
    ursula, mona, backend = world["ursula"], world["mona"], world["backend"]
    image = _image(mona)
    theirs, = batch.batch_create(mona, session_data(name="r", **CUSTOM), {"ursula": 1})
    db.session.delete(image)
    db.session.commit()
    _image(mona, path="2-tools-v1")  # same key, other files
    assert not sessionaccept.describe(theirs)["image_available"]
    with pytest.raises(ServiceError) as gone:
        sessionaccept.accept(ursula, theirs.id)
    assert gone.value.code == "image_gone" and "no longer available" in gone.value.message
    assert db.session.get(Session, theirs.id).state == "awaiting"
    assert backend.scheduler.specs == {}


@pytest.fixture
def people(image_app, backend):
    with image_app.app_context():
        make_member("ursula")
        mona = make_member("mona", role=ProjectRole.MANAGER)
        register_jupyter()
        _image(mona)
        db.session.remove()
    return backend


def _batch_for_ursula(app) -> int:
    with app.test_request_context():
        from portal.services import users

        created = batch.batch_create(users.get_user("mona"),
                                     session_data(name="course", **CUSTOM), {"ursula": 1})
        session_id = created[0].id
        db.session.remove()
    return session_id


def test_the_member_sees_the_card_and_accepts_on_the_page(client, auth, people, image_app):
    session_id = _batch_for_ursula(image_app)
    auth.login("ursula")
    page = client.get("/sessions/").get_data(as_text=True)
    assert 'data-testid="acceptance"' in page
    assert "mona asked to start the session course-ursula-1 for you with the image Course " \
           "tools." in page
    assert "built by mona from the session mona-src" in page
    token = csrf_from(page)
    answered = client.post(f"/sessions/{session_id}/answer",
                           data={"csrf_token": token, "action": "accept"})
    assert answered.status_code == 302 and f"/sessions/{session_id}" in answered.headers[
        "Location"]
    assert len(people.scheduler.specs) == 1
    assert 'data-testid="acceptance"' not in client.get("/sessions/").get_data(as_text=True)


def test_the_manager_sees_it_waiting_without_buttons(client, auth, people, image_app):
    session_id = _batch_for_ursula(image_app)
    auth.login("mona")
    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert "Waiting for ursula to accept" in page and 'data-testid="accept"' not in page
    token = csrf_from(page)
    refused = client.post(f"/sessions/{session_id}/answer",
                          data={"csrf_token": token, "action": "accept"})
    assert refused.status_code == 404 and people.scheduler.specs == {}


def test_api_accept_and_decline(client, people, image_app):
    first, second = _batch_for_ursula(image_app), _batch_for_ursula(image_app)
    with image_app.app_context():
        from portal.services import users

        secret = tokens.create_token(users.get_user("ursula"), "t")[1]
        db.session.remove()
    bearer = {"Authorization": f"Bearer {secret}"}
    shown = client.get(f"/api/v1/sessions/{first}", headers=bearer).json
    assert shown["state"] == "awaiting" and shown["acceptance"]["requested_by"] == "mona"
    assert shown["acceptance"]["built_by"] == "mona"
    accepted = client.post(f"/api/v1/sessions/{first}/accept", headers=bearer)
    assert accepted.status_code == 200 and accepted.json["state"] == "pending"
    declined = client.post(f"/api/v1/sessions/{second}/decline", headers=bearer)
    assert declined.status_code == 200 and declined.json["state"] == "declined"
    again = client.post(f"/api/v1/sessions/{second}/accept", headers=bearer)
    assert again.status_code == 404 and len(people.scheduler.specs) == 1
