"""The OpenAPI document and the routes agree (issue #18 item 4): every route under
/api/v1 has a documented operation and every documented operation is a route, and the
strict answer check (tests/support/openapi_check.py) catches an answer that drifted."""

from __future__ import annotations

from tests.support import openapi_check

SKIP = {"HEAD", "OPTIONS"}


def _routes(app) -> set[tuple[str, str]]:
    return {(method.lower(), openapi_check.openapi_path(rule.rule))
            for rule in app.url_map.iter_rules()
            if rule.rule.startswith(openapi_check.PREFIX + "/")
            for method in rule.methods - SKIP} - {
        ("get", p) for p in openapi_check.UNDOCUMENTED}


def _documented(doc) -> set[tuple[str, str]]:
    return {(method, path) for path, ops in doc["paths"].items() for method in ops
            if method in ("get", "post", "put", "patch", "delete")}


def test_every_route_is_documented_and_every_operation_exists(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    routes, documented = _routes(app), _documented(doc)
    assert len(routes) > 80
    assert sorted(routes - documented) == [], "routes the document does not describe"
    assert sorted(documented - routes) == [], "documented operations with no route"


def test_the_check_names_a_field_the_document_does_not_have(app):
    with app.app_context():
        def check(status, body):
            return openapi_check.problems("get", "/api/v1/jobs/<int:job_id>", status,
                                          "application/json", body)

        job = {"id": 1, "name": "a", "state": "pending", "surprise": 1}
        assert "GET /jobs/{job_id} -> 200: (body): Unevaluated properties are not allowed " \
               "('surprise' was unexpected)" in check(200, job)
        assert check(418, {}) == ["GET /jobs/{job_id} -> 418: status not documented"]
        assert "GET /jobs/{job_id} -> 200: id: 'one' is not of type 'integer'" in check(
            200, {"id": "one"})
        assert "GET /jobs/{job_id} -> 200: (body): 'owner' is a required property" in check(
            200, job)
        assert check(404, {"error": {"code": "not_found", "message": "No such job."}}) == []


def test_every_schema_is_json_schema_2020_12(client):
    """OpenAPI 3.1 schemas are JSON Schema 2020-12: 3.0's `nullable` would be ignored, so a
    null the route sends would not be allowed by the document."""
    from jsonschema import Draft202012Validator

    doc = client.get("/api/v1/openapi.json").get_json()
    assert '"nullable"' not in client.get("/api/v1/openapi.json").get_data(as_text=True)
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
