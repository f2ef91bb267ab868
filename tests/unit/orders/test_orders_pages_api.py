"""Order and approval pages and the /api/v1 orders/approvals endpoints (Slurm faked)."""

from portal import db
from portal.models import Order, Project, ProjectRole
from portal.services import jobs as jobsvc
from portal.services import tokens, users
from tests.conftest import csrf_from
from tests.support.members import make_member


def _setup(app, job_data):
    with app.test_request_context():
        requester = make_member("ursula")
        make_member("mona", role=ProjectRole.MANAGER)
        project = db.session.query(Project).filter_by(account="proja").one()
        project.approval_threshold = 1
        db.session.commit()
        jobsvc.create_job(requester, job_data)
        order_id = db.session.query(Order).one().id
        db.session.remove()
    return order_id


def _post(client, path, **data):
    token = csrf_from(client.get("/settings/").get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=True)


def test_pages_orders_and_reject_then_requester_sees_message(app, client, auth, backend,
                                                             job_data):
    order_id = _setup(app, job_data)
    auth.login("mona")
    page = client.get("/orders/approvals").get_data(as_text=True)
    assert f'data-order="{order_id}"' in page and "a 3-GPU fine-tune" in page
    detail = client.get(f"/orders/approvals/{order_id}").get_data(as_text=True)
    assert 'data-testid="approve"' in detail and "ursula" in detail
    page = _post(client, f"/orders/approvals/{order_id}/reject", message="").get_data(
        as_text=True)
    assert "needs a message" in page
    _post(client, f"/orders/approvals/{order_id}/reject", message="Too many <GPUs>")
    auth.logout()
    auth.login("ursula")
    mine = client.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "Too many &lt;GPUs&gt;" in mine and "rejected" in mine
    assert client.get(f"/orders/approvals/{order_id}").status_code == 404
    listing = client.get("/orders/?from=2026-05-02&to=2026-05-01").get_data(as_text=True)
    assert 'data-testid="filter-error"' in listing and "reversed" in listing
    assert client.get("/orders/").status_code == 200


def _bearer(app, name):
    with app.app_context():
        _token, plain = tokens.create_token(users.get_user(name), "t")
    return {"Authorization": f"Bearer {plain}"}


def test_api_orders_and_approvals(app, client, backend, accounts, job_data):
    order_id = _setup(app, job_data)
    mona, ursula = _bearer(app, "mona"), _bearer(app, "ursula")
    assert [o["id"] for o in client.get("/api/v1/approvals", headers=mona).json] == [order_id]
    assert client.get("/api/v1/approvals", headers=ursula).json == []
    own = client.post(f"/api/v1/approvals/{order_id}/approve", headers=ursula)
    assert own.status_code == 404
    empty = client.post(f"/api/v1/approvals/{order_id}/reject", headers=mona,
                        json={"message": " "})
    assert empty.status_code == 400 and empty.json["error"]["code"] == "message_required"
    ok = client.post(f"/api/v1/approvals/{order_id}/approve", headers=mona)
    assert ok.status_code == 200 and ok.json["approval"] == "approved"
    again = client.post(f"/api/v1/approvals/{order_id}/approve", headers=mona)
    assert again.status_code == 409 and again.json["error"]["code"] == "already_decided"
    listed = client.get("/api/v1/orders", headers=ursula).json
    assert listed[0]["id"] == order_id and listed[0]["unit_price"] == "0.0000"
    detail = client.get(f"/api/v1/orders/{order_id}", headers=ursula).json
    assert [h["kind"] for h in detail["history"]] == ["created", "held", "approved"]
    rev = client.get("/api/v1/orders?from=2026-05-02&to=2026-05-01", headers=ursula)
    assert rev.status_code == 400 and rev.json["error"]["code"] == "reversed_range"
    spec = client.get("/api/v1/openapi.json").json
    assert "/approvals/{order_id}/reject" in spec["paths"] and "Order" in spec[
        "components"]["schemas"]
