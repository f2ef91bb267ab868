"""The idle-reclaim policy through the API (GET/PUT /api/v1/projects/<id>/idle-policy):
admins only, audited, a bad value is a clear 400 and changes nothing; the OpenAPI document
lists both methods."""

from __future__ import annotations

import pytest

from portal import db
from portal.services import tokens


@pytest.fixture
def bearer(app, people):
    made: dict = {}

    def make(name):
        if name not in made:
            with app.app_context():
                user = db.session.merge(people[name])
                made[name] = {"Authorization":
                              f"Bearer {tokens.create_token(user, 'idle')[1]}"}
        return made[name]

    return make


def test_api_get_and_put_for_admins_only(client, project, bearer, policy_state):
    url = f"/api/v1/projects/{project}/idle-policy"
    off = client.get(url, headers=bearer("ada"))
    assert off.status_code == 200
    assert off.json | {"updated_at": None} == {
        "project_id": project, "account": "tproj", "enabled": False, "limit_s": 0,
        "warn_s": [], "gpu_threshold": 5.0, "updated_at": None, "updated_by": None}
    for who in ("mia", "max"):  # a manager and a member
        assert client.get(url, headers=bearer(who)).status_code == 403
        refused = client.put(url, headers=bearer(who), json={"limit_s": 60})
        assert refused.status_code == 403
    put = client.put(url, headers=bearer("ada"),
                     json={"limit_s": 7200, "warn_s": [6300, 3600], "gpu_threshold": 10})
    assert put.status_code == 200, put.json
    assert (put.json["enabled"], put.json["limit_s"], put.json["warn_s"],
            put.json["gpu_threshold"], put.json["updated_by"]) == (
        True, 7200, [3600, 6300], 10.0, "ada")
    assert client.get(url, headers=bearer("ada")).json == put.json
    assert policy_state(project)[1] == 1
    assert client.get("/api/v1/projects/999999/idle-policy",
                      headers=bearer("ada")).status_code == 404


@pytest.mark.parametrize("body, words", [
    ({"limit_s": "90"}, "limit_s is a number"),
    ({"limit_s": True}, "limit_s is a number"),
    ({}, "limit_s is a number"),
    ({"limit_s": 90, "warn_s": 30}, "warn_s is a list"),
    ({"limit_s": 90, "warn_s": [30, "x"]}, "warn_s is a list"),
    ({"limit_s": 90, "gpu_threshold": "high"}, "gpu_threshold is a number"),
    ({"limit_s": 90, "colour": "red"}, "Unknown fields: colour"),
    ({"limit_s": -1}, "between 0 (off) and 30 days"),
    ({"limit_s": 90, "warn_s": [90]}, "Warning points are"),
    ({"limit_s": 90, "gpu_threshold": 101}, "percentage between 0 and 100"),
    ([1, 2], "Send a JSON object"),
])
def test_api_bad_input_is_a_clear_400_and_changes_nothing(client, project, bearer,
                                                           policy_state, body, words):
    url = f"/api/v1/projects/{project}/idle-policy"
    assert client.put(url, headers=bearer("ada"), json={"limit_s": 600}).status_code == 200
    before = policy_state(project)
    answer = client.put(url, headers=bearer("ada"), json=body)
    assert answer.status_code == 400
    assert answer.json["error"]["code"] in ("invalid_idle_policy", "invalid_body")
    assert words in answer.json["error"]["message"]
    assert policy_state(project) == before


def test_openapi_lists_the_policy_routes(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert set(paths["/projects/{project_id}/idle-policy"]) == {"get", "put"}
