"""Issue #12 finding 11 (and #13): API tokens have scopes, cannot mint tokens, and a read
does not write the database.

Before: every token could do everything its owner could, including `POST /api/v1/tokens`
(a stolen token minted itself a successor that survived its revocation), and every API
request wrote `last_used_at`. Here Bob holds Alice's (and an admin's) tokens and uses them
with `curl` as the Unix user bob against a live portal on the real dev cluster.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from adapters.runner import CommandRunner
from portal import db
from portal.models import ApiToken
from portal.services import tokens, users
from tests.integration.jobs.jobhelpers import cycle
from tests.integration.sessions.sessionhelpers import LiveServer, wait_for
from tests.support.members import add_member

pytestmark = pytest.mark.integration


def _curl_as_bob(url: str, token: str, method: str = "GET", body=None) -> tuple[int, dict]:
    argv = ["runuser", "-u", "bob", "--", "curl", "-s", "-o", "-", "-w", "\n%{http_code}",
            "-X", method, "-H", f"Authorization: Bearer {token}"]
    if body is not None:
        argv += ["-H", "Content-Type: application/json", "--data", json.dumps(body)]
    done = subprocess.run(argv + [url], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    payload, _, status = done.stdout.rpartition("\n")
    return int(status), (json.loads(payload) if payload.strip() else {})


def _alice_jobs_named(name: str) -> list[str]:
    done = subprocess.run(["squeue", "-h", "-u", "alice", "-n", name, "-o", "%i"],
                          capture_output=True, text=True, timeout=30)
    return done.stdout.split()


@pytest.fixture
def live(app):
    summary = cycle(app)  # the cluster cache: partitions and images for the job form
    assert summary.get("cluster_ok"), f"the dev cluster must be up: {summary}"
    server = LiveServer(app)
    yield server
    server.stop()
    db.session.remove()


def test_a_read_token_cannot_submit_work(app, live):
    name = "sec" + uuid.uuid4().hex[:8]
    with app.app_context():
        alice = add_member("alice", "proja")
        _, read = tokens.create_token(alice, "dashboard", "read")
        _, write = tokens.create_token(alice, "scripts", "write")
        db.session.remove()
    job = {"name": name, "cpus": 1, "mem_gb": 1, "image": "base", "command": "sleep 120"}
    try:
        # Reading works with the read token …
        assert _curl_as_bob(live.url + "/api/v1/jobs", read)[0] == 200
        # … submitting does not, and nothing reaches Slurm.
        status, answer = _curl_as_bob(live.url + "/api/v1/jobs", read, "POST", job)
        assert status == 403 and answer["error"]["code"] == "insufficient_scope"
        assert "read scope" in answer["error"]["message"]
        assert _alice_jobs_named(name) == []
        # Control: the same request with a write token is a real Slurm job.
        status, answer = _curl_as_bob(live.url + "/api/v1/jobs", write, "POST", job)
        assert status == 201, answer
        assert wait_for(lambda: _alice_jobs_named(name), 30, what="the job in squeue")
    finally:
        for job_id in _alice_jobs_named(name):
            CommandRunner().run(["scancel", "--", job_id], as_user="alice", check=False)


def test_no_token_can_mint_a_token(app, live):
    with app.app_context():
        alice = add_member("alice", "proja")
        admin, _ = users.create_user("root1", is_admin=True, require_unix=False)
        stolen = [tokens.create_token(alice, "w", "write")[1],
                  tokens.create_token(admin, "a", "admin")[1]]
        db.session.remove()
    for token in stolen:
        status, answer = _curl_as_bob(live.url + "/api/v1/tokens", token, "POST",
                                      {"name": "successor"})
        assert status == 403 and answer["error"]["code"] == "token_minting_forbidden"
    with app.app_context():
        names = set(db.session.scalars(select(ApiToken.name)))
        db.session.remove()
    assert "successor" not in names


def test_an_admins_write_token_has_no_admin_rights(app, live):
    with app.app_context():
        admin, _ = users.create_user("root1", is_admin=True, require_unix=False)
        _, write = tokens.create_token(admin, "w", "write")
        _, full = tokens.create_token(admin, "a", "admin")
        db.session.remove()
    image = {"name": "sec-evil", "path": "/tmp/anything", "framework": "x"}
    status, answer = _curl_as_bob(live.url + "/api/v1/qos", write)
    assert status == 403 and answer["error"]["code"] == "insufficient_scope"
    status, answer = _curl_as_bob(live.url + "/api/v1/images", write, "POST", image)
    assert status == 403  # a service-level admin check, refused the same way
    status, me = _curl_as_bob(live.url + "/api/v1/me", write)
    assert me["is_admin"] is False and me["token_scope"] == "write"
    # The admin scope carries the admin's rights.
    assert _curl_as_bob(live.url + "/api/v1/qos", full)[0] == 200
    assert _curl_as_bob(live.url + "/api/v1/me", full)[1]["is_admin"] is True


def test_only_admins_create_admin_tokens_and_pages_offer_the_scopes(app, client, auth,
                                                                    make_user):
    make_user("ursula")
    auth.login("ursula")
    page = client.get("/settings/profile").get_data(as_text=True)
    assert 'value="read"' in page and 'value="write"' in page and 'value="admin"' not in page
    forged = client.post("/settings/tokens", data={"name": "x", "scope": "admin",
                                                   "csrf_token": auth.csrf("/settings/profile")})
    assert "data-testid=\"new-token\"" not in forged.get_data(as_text=True)
    made = client.post("/settings/tokens", data={"name": "mine", "scope": "write",
                                                 "csrf_token": auth.csrf("/settings/profile")})
    body = made.get_data(as_text=True)
    assert 'data-testid="new-token"' in body and '<td data-testid="token-scope">write</td>' in body
    with app.app_context():
        assert [(t.name, t.scope) for t in db.session.scalars(select(ApiToken))] == [
            ("mine", "write")]
        db.session.remove()


def test_reads_do_not_write_and_last_use_is_coalesced(app, client, make_user):
    user = make_user("ursula")
    with app.app_context():
        _, plain = tokens.create_token(db.session.merge(user), "t", "read")
        db.session.remove()
    writes: list[str] = []
    engine = app.extensions["db_engine"]

    def count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            writes.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        headers = {"Authorization": f"Bearer {plain}"}
        assert client.get("/api/v1/me", headers=headers).status_code == 200
        assert len(writes) == 1 and "last_used_at" in writes[0]  # first use: noted once
        for _ in range(5):
            assert client.get("/api/v1/me", headers=headers).status_code == 200
        assert len(writes) == 1  # within the interval: no write at all
        with app.app_context():
            record = db.session.scalar(select(ApiToken))
            first_seen = record.last_used_at
            record.last_used_at = first_seen - timedelta(minutes=6)
            db.session.commit()
            db.session.remove()
        writes.clear()
        assert client.get("/api/v1/me", headers=headers).status_code == 200
        assert len(writes) == 1  # older than the interval: moved forward, once
    finally:
        event.remove(engine, "before_cursor_execute", count)
    with app.app_context():
        assert db.session.scalar(select(ApiToken)).last_used_at >= first_seen
        db.session.remove()
