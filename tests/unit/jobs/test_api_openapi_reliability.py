"""Issue #13 in the API description: every POST documents the Idempotency-Key header, and
every operation that runs Slurm commands documents the 503 `slurm_unavailable` answer
with the outage kind; the answers the API really gives match what is documented."""

from __future__ import annotations

import re

import pytest

from adapters.errors import OUTAGE_PATTERNS, SlurmUnreachable
from portal import db
from portal.api.openapi import IDEMPOTENCY_KEY, SLURM_OPERATIONS
from portal.models import Project, ProjectRole
from portal.services import tokens
from tests.support.members import make_member
from tests.unit.projects.fake_accounts import FakeAccounts

BODY = {"name": "doc-1", "cpus": 1, "mem_gb": 2, "image": "base", "command": "true"}
SOCKET_TIMEOUT = SlurmUnreachable(
    "Batch job submission failed: Socket timed out on send/recv operation", ["sbatch"],
    "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation\n")


@pytest.fixture
def doc(app, client):
    return client.get("/api/v1/openapi.json").get_json()


def _resolve(doc: dict, obj: dict) -> dict:
    while "$ref" in obj:
        kind, name = obj["$ref"].split("/")[-2:]
        obj = doc["components"][kind][name]
    return obj


def _operations(doc):
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            yield method, path, operation


def test_every_post_documents_the_idempotency_key(doc):
    posts = [(path, op) for method, path, op in _operations(doc) if method == "post"]
    assert len(posts) > 20
    for path, operation in posts:
        headers = [_resolve(doc, p) for p in operation.get("parameters", [])]
        keys = [h for h in headers if h["in"] == "header" and h["name"] == "Idempotency-Key"]
        assert keys == [IDEMPOTENCY_KEY], f"POST {path} does not document Idempotency-Key"
    assert re.fullmatch(IDEMPOTENCY_KEY["schema"]["pattern"], "a" * 255)
    assert not re.fullmatch(IDEMPOTENCY_KEY["schema"]["pattern"], "a b")


def test_operations_that_run_slurm_document_the_503_with_the_outage(doc):
    found = {(m, p) for m, p, _ in _operations(doc)}
    assert SLURM_OPERATIONS <= found, f"not in the document: {SLURM_OPERATIONS - found}"
    error = doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]
    kinds = {component for component, _ in OUTAGE_PATTERNS} | {"controller", "slurmdbd"}
    assert set(error["outage"]["enum"]) == kinds
    for method, path in SLURM_OPERATIONS:
        answer = _resolve(doc, doc["paths"][path][method]["responses"]["503"])
        assert "slurm_unavailable" in answer["description"], (method, path)
        example = answer["content"]["application/json"]["example"]["error"]
        assert example["code"] == "slurm_unavailable" and example["outage"] in kinds
    for method, path, operation in _operations(doc):  # those that list a 503 themselves
        if "503" in operation.get("responses", {}):
            answer = _resolve(doc, operation["responses"]["503"])
            assert "`error.outage`" in answer["description"], (method, path)


def _token(app, name, **kwargs):
    with app.app_context():
        user = make_member(name, **kwargs)
        _, token = tokens.create_token(user, "t", scope="admin" if user.is_admin else "write")
    return {"Authorization": f"Bearer {token}"}


def test_the_documented_503s_are_what_the_api_answers(app, client, backend, doc):
    """A job create whose sbatch got no answer, and a member change while slurmdbd is
    down: both answer the documented 503 with the outage; the retried create with its
    Idempotency-Key replays the first answer."""
    headers = _token(app, "ursula")
    backend.scheduler.fail_submit = SOCKET_TIMEOUT
    first = client.post("/api/v1/jobs", json=BODY, headers={**headers, "Idempotency-Key": "k1"})
    assert first.status_code == 503 and "503" in doc["paths"]["/jobs"]["post"]["responses"]
    assert first.get_json()["error"]["outage"] == "controller"
    again = client.post("/api/v1/jobs", json=BODY, headers={**headers, "Idempotency-Key": "k1"})
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json() == first.get_json() and backend.scheduler.count("sbatch") == 1

    accounts = FakeAccounts()
    accounts.down = True
    app.extensions["accounts"] = accounts
    with app.app_context():
        manager = make_member("mona", role=ProjectRole.MANAGER, unix_user="daemon")
        manager.is_admin = True
        db.session.commit()
        make_member("olga", account="projb", unix_user="bin")
        project_id = db.session.query(Project).filter_by(account="proja").one().id
        _, token = tokens.create_token(manager, "t", scope="admin")
    answer = client.post(f"/api/v1/projects/{project_id}/members",
                         json={"username": "olga"}, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 503, answer.get_json()
    assert answer.get_json()["error"]["outage"] == "slurmdbd"
    responses = doc["paths"]["/projects/{project_id}/members"]["post"]["responses"]
    assert _resolve(doc, responses["503"])["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"}
