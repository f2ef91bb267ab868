"""The /api/v1 foundation: tokens, JSON errors, /me, /cluster, the OpenAPI document."""

from flask import url_for

from portal import db
from portal.api.openapi import openapi_document
from portal.models import ClusterSnapshot
from portal.services import tokens


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_no_token_is_a_json_401(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_me_with_token(make_user, client):
    user = make_user("ursula", admin=True)
    _, plaintext = tokens.create_token(user, "laptop")
    body = client.get("/api/v1/me", headers=_bearer(plaintext)).json
    assert body["username"] == "ursula" and body["is_admin"] is True and body["projects"] == []


def test_token_is_stored_hashed_and_revocable(make_user, client):
    user = make_user("ursula")
    record, plaintext = tokens.create_token(user, "laptop")
    assert plaintext not in (record.token_hash, record.prefix)
    response = client.delete(f"/api/v1/tokens/{record.id}", headers=_bearer(plaintext))
    assert response.status_code == 204
    assert client.get("/api/v1/me", headers=_bearer(plaintext)).status_code == 401


def test_a_token_cannot_create_tokens_whatever_its_scope(make_user, client):
    """Issue #12 finding 11: tokens are made on the profile page or by `portal token create`."""
    user = make_user("ursula", admin=True)
    for scope in tokens.SCOPES:
        _, plaintext = tokens.create_token(user, f"first-{scope}", scope)
        made = client.post("/api/v1/tokens", json={"name": "second"}, headers=_bearer(plaintext))
        assert made.status_code == 403
        assert made.json["error"]["code"] in ("token_minting_forbidden", "insufficient_scope")
    listed = client.get("/api/v1/tokens", headers=_bearer(plaintext)).json
    assert {t["name"] for t in listed} == {f"first-{s}" for s in tokens.SCOPES}
    assert all("token" not in t for t in listed)


def test_bad_token_names_and_scopes_are_refused_with_codes(make_user, app):
    import pytest

    from portal.services import ServiceError

    with app.app_context():
        user = db.session.merge(make_user("ursula"))
        tokens.create_token(user, "first", "write")
        for name, scope, code in [("", "read", "invalid_name"), ("x" * 65, "read", "invalid_name"),
                                  ("first", "read", "duplicate"), ("ok", "root", "invalid_scope"),
                                  ("ok", "admin", "admin_scope_forbidden")]:
            with pytest.raises(ServiceError) as refused:
                tokens.create_token(user, name, scope)
            assert refused.value.code == code
        assert len(tokens.list_tokens(user)) == 1


def test_other_users_token_cannot_be_revoked(make_user, client):
    mine, theirs = make_user("ursula"), make_user("victor")
    _, my_token = tokens.create_token(mine, "a")
    their_record, _ = tokens.create_token(theirs, "b")
    response = client.delete(f"/api/v1/tokens/{their_record.id}", headers=_bearer(my_token))
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_cluster_without_worker_data(make_user, client):
    _, plaintext = tokens.create_token(make_user("ursula"), "t")
    body = client.get("/api/v1/cluster", headers=_bearer(plaintext)).json
    assert body["available"] is False and body["stale"] is True and body["gpu_models"] == []


def test_cluster_reads_worker_cache_and_reports_failures(make_user, client):
    _, plaintext = tokens.create_token(make_user("ursula"), "t")
    data = {"cluster": {"version": "22.05.8", "partitions": [{"name": "gpu"}], "nodes": [],
                        "gpu_models": {"a100": [4, 3]}}, "jobs": []}
    db.session.add(ClusterSnapshot(data=data))
    db.session.add(ClusterSnapshot(data=None, error="Unable to contact slurm controller"))
    db.session.commit()
    body = client.get("/api/v1/cluster", headers=_bearer(plaintext)).json
    assert body["gpu_models"] == [{"model": "a100", "total": 4, "free": 3}]
    assert body["error"] == "Unable to contact slurm controller"
    assert body["slurm_version"] == "22.05.8" and body["stale"] is False


def test_unknown_api_path_is_json(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_openapi_lists_every_api_route(app, client):
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.1")
    documented = {("/api/v1" + path, method.upper()) for path, ops in doc["paths"].items()
                  for method in ops}
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi":
            path = rule.rule.replace("<int:", "{").replace(">", "}")
            routed |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert routed == documented
    assert openapi_document() == doc
    with app.test_request_context():
        assert url_for("api.openapi") == "/api/v1/openapi.json"
