"""Every project and admin route × (admin, manager, member, non-member, anonymous).

Each answers what it should: the page (200) or the action (302) for those allowed, 403 for
a member who may see the project but not change it (or any non-admin on admin pages), 404
for someone outside the project — and a refusal never carries the project's data. The
POSTs used are refusals or no-ops, so one session can walk the whole table.
"""

from __future__ import annotations

import pytest

from portal import db
from portal.models import ExtensionRequest
from tests.conftest import PASSWORD, csrf_from

OK, DONE, FORBIDDEN, HIDDEN = 200, 302, 403, 404
# (method, route, form data, expected for ada (admin), mia (manager), max (member), otto)
ROUTES = [
    ("GET", "/projects/", None, (OK, OK, OK, OK)),
    ("GET", "/projects/{p}", None, (OK, OK, OK, HIDDEN)),
    ("GET", "/projects/{p}/edit", None, (OK, OK, FORBIDDEN, HIDDEN)),
    ("POST", "/projects/{p}/edit", {"name": "Test Project"}, (DONE, DONE, FORBIDDEN, HIDDEN)),
    ("POST", "/projects/{p}/members", {"username": "nobody-such", "role": "member"},
     (DONE, DONE, FORBIDDEN, HIDDEN)),
    ("POST", "/projects/{p}/members/{mia}/remove", {}, (DONE, DONE, FORBIDDEN, HIDDEN)),
    ("POST", "/projects/{p}/members/{mia}/role", {"role": "manager"},
     (DONE, DONE, FORBIDDEN, HIDDEN)),
    ("POST", "/projects/{p}/extensions", {"days": "0"}, (DONE, DONE, DONE, HIDDEN)),
    ("GET", "/admin/projects/", None, (OK, FORBIDDEN, FORBIDDEN, FORBIDDEN)),
    ("POST", "/admin/projects/", {"account": "Bad Name", "name": "x"},
     (OK, FORBIDDEN, FORBIDDEN, FORBIDDEN)),
    ("GET", "/admin/projects/{p}/settings", None, (OK, FORBIDDEN, FORBIDDEN, FORBIDDEN)),
    ("POST", "/admin/projects/{p}/settings", {"gpu_limit": "4", "cpu_limit": "16",
                                              "mem_limit_gb": "64", "gpu_per_user": "2",
                                              "end_date": "2099-12-31"},
     (DONE, FORBIDDEN, FORBIDDEN, FORBIDDEN)),
    ("POST", "/admin/extensions/{r}/reject", {"message": ""},
     (DONE, FORBIDDEN, FORBIDDEN, FORBIDDEN)),
    ("GET", "/admin/qos/", None, (OK, FORBIDDEN, FORBIDDEN, FORBIDDEN)),
    ("POST", "/admin/qos/", {"name": "Bad Name"}, (OK, FORBIDDEN, FORBIDDEN, FORBIDDEN)),
    ("GET", "/admin/qos/normal", None, (OK, FORBIDDEN, FORBIDDEN, FORBIDDEN)),
    ("POST", "/admin/qos/normal/delete", {}, (DONE, FORBIDDEN, FORBIDDEN, FORBIDDEN)),
    ("GET", "/admin/users/", None, (OK, FORBIDDEN, FORBIDDEN, FORBIDDEN)),
    ("POST", "/admin/users/", {"username": "Bad Name"}, (OK, FORBIDDEN, FORBIDDEN, FORBIDDEN)),
]
ROLES = ["ada", "mia", "max", "otto"]


@pytest.fixture
def pending(app, project, people):
    request = ExtensionRequest(project_id=project, requested_by_id=people["max"].id, days=3)
    db.session.add(request)
    db.session.commit()
    return request.id


def _path(template: str, project: int, people, request_id: int) -> str:
    return template.format(p=project, mia=people["mia"].id, r=request_id)


@pytest.mark.parametrize("who", ROLES)
def test_route_matrix(who, client, auth, project, people, pending):
    assert auth.login(who, PASSWORD).status_code == 302
    token = csrf_from(client.get("/settings/").get_data(as_text=True))
    for method, template, data, expected in ROUTES:
        path = _path(template, project, people, pending)
        if method == "GET":
            response = client.get(path)
        else:
            response = client.post(path, data={"csrf_token": token, **data})
        want = expected[ROLES.index(who)]
        assert response.status_code == want, (who, method, path)
        body = response.get_data(as_text=True)
        if want == HIDDEN:  # not even the project's name
            assert "tproj" not in body and "Test Project" not in body, (who, path)
        if want == FORBIDDEN:  # the error page, nothing of what was asked for
            assert "tproj" not in body and 'name="csrf_token"' not in body.split(
                "</header>")[-1], (who, path)


def test_anonymous_is_sent_to_login(client, project, people, pending):
    for method, template, _data, _expected in ROUTES:
        path = _path(template, project, people, pending)
        response = client.get(path) if method == "GET" else client.post(path)
        assert response.status_code in (302, 400), path  # login, or the CSRF refusal
        if response.status_code == 302:
            assert "/login" in response.headers["Location"]
