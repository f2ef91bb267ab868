"""Issue #13, submissions: no database transaction while Slurm or file commands run, a
clear 503 when sbatch gets no answer, no second Slurm job for one portal job, the
duplicate sweep, and Idempotency-Key on API POSTs and in the CLI (Slurm faked)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy.exc import OperationalError

from adapters.errors import CommandTimeout, SlurmUnreachable
from adapters.scheduler import JobState
from portal import cli, cli_common, db
from portal.models import AuditEvent, IdempotencyKey, Job, JobEvent
from portal.services import ServiceError, audit, duplicates, jobdelete, tokens
from portal.services import jobs as jobsvc

SOCKET_TIMEOUT = SlurmUnreachable(
    "Batch job submission failed: Socket timed out on send/recv operation", ["sbatch"],
    "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation\n")
CONNECT_FAILURE = SlurmUnreachable(
    "Batch job submission failed: Unable to contact slurm controller (connect failure)",
    ["sbatch"], "sbatch: error: Batch job submission failed: Unable to contact slurm "
    "controller (connect failure)\n")


@pytest.fixture
def alice(outside_member, backend):
    return outside_member("ursula")


@pytest.fixture
def headers(app, alice):
    with app.app_context():
        _, token = tokens.create_token(alice, "t")
    return {"Authorization": f"Bearer {token}"}


BODY = {"name": "api-1", "cpus": 1, "mem_gb": 2, "image": "base", "command": "true"}


def _watch_transactions(backend, monkeypatch) -> list[tuple[str, bool]]:
    """Record, for every file command and sbatch, whether a DB transaction was open."""
    seen: list[tuple[str, bool]] = []
    for obj, name in ((backend.files, "make_dirs"), (backend.files, "write"),
                      (backend.scheduler, "submit")):
        real = getattr(obj, name)

        def watched(*args, _real=real, _name=name, **kwargs):
            seen.append((_name, db.session().in_transaction()))
            return _real(*args, **kwargs)

        monkeypatch.setattr(obj, name, watched)
    return seen


def test_no_transaction_is_open_while_files_are_written_and_sbatch_runs(
        member, backend, job_data, monkeypatch):
    seen = _watch_transactions(backend, monkeypatch)
    job = jobsvc.create_job(member(), job_data)
    assert job.state == "pending"
    assert [name for name, _ in seen] == ["make_dirs", "write", "write", "submit"]
    assert not any(open_ for _, open_ in seen), seen


def test_a_hung_sbatch_blocks_no_other_request(app, alice, headers, backend, client):
    """Issue #13 item 1: a create waiting in sbatch held SQLite's write lock, and every
    other API call failed after the 5 s busy timeout. Now others answer at once."""
    entered, release = threading.Event(), threading.Event()
    real_submit = backend.scheduler.submit

    def hung_submit(spec, *, as_user):
        entered.set()
        release.wait(30)
        return real_submit(spec, as_user=as_user)

    backend.scheduler.submit = hung_submit
    results: dict = {}

    def create():
        with app.test_client() as other:
            results["create"] = other.post("/api/v1/jobs", json=BODY, headers=headers)

    thread = threading.Thread(target=create)
    thread.start()
    try:
        assert entered.wait(20), "the create never reached sbatch"
        started = time.monotonic()
        listing = client.get("/api/v1/jobs", headers=headers)  # writes the token's last use
        template = client.post("/api/v1/templates", headers=headers,
                               json={**BODY, "name": "tpl"})  # a write of its own
        elapsed = time.monotonic() - started
    finally:
        release.set()
        thread.join(30)
    assert listing.status_code == 200 and template.status_code == 201, template.get_json()
    assert [j["state"] for j in listing.get_json()] == ["submitting"]  # on record already
    assert elapsed < 2.0, f"other requests waited {elapsed:.1f} s for the hung create"
    assert results["create"].status_code == 201


@pytest.mark.parametrize("failure", [CommandTimeout("runuser did not finish within 30s",
                                                    ["runuser", "sbatch"]), SOCKET_TIMEOUT])
def test_no_answer_from_sbatch_is_a_clear_503_with_the_recorded_job(
        app, alice, headers, backend, client, failure):
    backend.scheduler.fail_submit = failure
    response = client.post("/api/v1/jobs", json=BODY, headers=headers)
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "slurm_unavailable" and error["outage"] == "controller"
    assert "will not be submitted twice" in error["message"]
    job = response.get_json()["job"]
    assert job["state"] == "submitting" and job["id"] == error["job_id"]
    with app.app_context():
        row = db.session.get(Job, job["id"])
        assert row.submit_ended_at is not None and row.slurm_job_id is None
        assert [e.kind for e in row.events] == ["submit_uncertain"]
    assert backend.scheduler.count("sbatch") == 1


def test_a_controller_that_cannot_be_reached_keeps_nothing(
        app, alice, headers, backend, client):
    """"connect failure": the request never left this host, so nothing is half-made."""
    backend.scheduler.fail_submit = CONNECT_FAILURE
    response = client.post("/api/v1/jobs", json=BODY, headers=headers)
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["outage"] == "controller" and "not running" in error["message"]
    with app.app_context():
        assert db.session.query(Job).count() == 0
    assert backend.files.files == {}


def test_the_job_page_says_the_job_is_on_record_and_not_to_submit_again(
        app, alice, backend, client):
    from tests.conftest import PASSWORD, csrf_from

    page = client.get("/login")
    client.post("/login", data={"username": "ursula", "password": PASSWORD,
                                "csrf_token": csrf_from(page.get_data(as_text=True))})
    backend.scheduler.fail_submit = SOCKET_TIMEOUT
    form = {"name": "web-1", "gpu_model": "", "gpu_count": "0", "cpus": "1", "mem_gb": "2",
            "shm_gb": "0", "image_type": "public", "image": "base", "command": "true",
            "csrf_token": csrf_from(client.get("/jobs/new").get_data(as_text=True))}
    response = client.post("/jobs/new", data=form, follow_redirects=True)
    assert response.status_code == 200
    assert "Do not submit it again before then" in response.get_data(as_text=True)


def test_deleting_a_job_while_sbatch_runs_cancels_what_sbatch_made(member, backend, job_data):
    user = member()
    real_submit = backend.scheduler.submit

    def submit_while_deleted(spec, *, as_user):
        jid = real_submit(spec, as_user=as_user)
        job = db.session.query(Job).one()  # the owner deletes it meanwhile (another tab)
        jobdelete.delete_job(user, job.id, backend)
        db.session.commit()
        return jid

    backend.scheduler.find_by_comment = lambda tag, *, user=None: None  # not visible yet
    backend.scheduler.submit = submit_while_deleted
    job = jobsvc.create_job(user, {**{"name": "x"}, **_data()})
    assert backend.scheduler.jobs[job.slurm_job_id].state is JobState.CANCELLED
    assert job.hidden


def _data():
    return {"cpus": "1", "mem_gb": "2", "image": "base", "command": "true"}


# -- the duplicate sweep -------------------------------------------------------------------


def _second_job_with_the_tag(backend, job) -> str:
    fake = backend.scheduler
    return fake.submit(fake.specs[job.slurm_job_id], as_user="ursula")  # same --comment


def test_the_sweep_cancels_a_second_job_with_one_tag_and_records_it(
        member, backend, job_data):
    job = jobsvc.create_job(member(), job_data)
    extra = _second_job_with_the_tag(backend, job)
    result = duplicates.sweep(backend, backend.scheduler.snapshot())
    assert result == {"cancelled": 1}
    assert backend.scheduler.jobs[extra].state is JobState.CANCELLED
    assert backend.scheduler.jobs[job.slurm_job_id].state is JobState.QUEUED
    event = db.session.query(JobEvent).filter_by(kind="duplicate_cancelled").one()
    assert event.details["slurm_job_id"] == extra and event.details["kept"] == job.slurm_job_id
    audit_row = db.session.query(AuditEvent).filter_by(action="job.duplicate_cancelled").one()
    assert audit_row.target == f"job:{job.id}"
    assert duplicates.sweep(backend, backend.scheduler.snapshot()) == {}


def test_the_sweep_keeps_the_first_when_the_row_recorded_none(member, backend, job_data):
    job = jobsvc.create_job(member(), job_data)
    first = job.slurm_job_id
    extra = _second_job_with_the_tag(backend, job)
    job.slurm_job_id, job.state = None, "submitting"
    db.session.commit()
    duplicates.sweep(backend, backend.scheduler.snapshot())
    assert backend.scheduler.jobs[extra].state is JobState.CANCELLED
    assert backend.scheduler.jobs[first].state is JobState.QUEUED


def test_the_sweep_cancels_a_job_that_surfaced_after_the_row_gave_up(
        member, backend, job_data):
    job = jobsvc.create_job(member(), job_data)
    late = job.slurm_job_id
    job.slurm_job_id, job.state = None, "failed"  # marked "never reached Slurm"
    db.session.commit()
    assert duplicates.sweep(backend, backend.scheduler.snapshot()) == {"cancelled": 1}
    assert backend.scheduler.jobs[late].state is JobState.CANCELLED
    assert db.session.query(JobEvent).filter_by(kind="orphan_cancelled").count() == 1


def test_the_sweep_leaves_tags_of_other_portals_alone(member, backend, job_data):
    job = jobsvc.create_job(member(), job_data)
    _second_job_with_the_tag(backend, job)
    snapshot = backend.scheduler.snapshot()
    for info in snapshot:
        info["comment"] = jobsvc.TAG_PREFIX + "0" * 32  # a tag this database never made
    assert duplicates.sweep(backend, snapshot) == {}
    assert backend.scheduler.count("scancel-operator") == 0


# -- Idempotency-Key -----------------------------------------------------------------------


def test_the_same_key_returns_the_first_result_and_makes_one_job(
        app, alice, headers, backend, client):
    keyed = {**headers, "Idempotency-Key": "b7c0c7b2-6e0f-4c47-9a43-6f1b1f7e1d11"}
    first = client.post("/api/v1/jobs", json=BODY, headers=keyed)
    again = client.post("/api/v1/jobs", json=BODY, headers=keyed)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert backend.scheduler.count("sbatch") == 1
    other = client.post("/api/v1/jobs", json={**BODY, "name": "api-2"}, headers=keyed)
    assert other.status_code == 422
    assert other.get_json()["error"]["code"] == "idempotency_key_reused"
    plain = client.post("/api/v1/jobs", json=BODY, headers=headers)  # no key: a new job
    assert plain.status_code == 201 and backend.scheduler.count("sbatch") == 2


def test_a_retry_of_an_unconfirmed_create_gets_the_same_job_not_a_second(
        app, alice, headers, backend, client):
    keyed = {**headers, "Idempotency-Key": "retry-1"}
    backend.scheduler.fail_submit = SOCKET_TIMEOUT
    first = client.post("/api/v1/jobs", json=BODY, headers=keyed)
    backend.scheduler.fail_submit = None
    again = client.post("/api/v1/jobs", json=BODY, headers=keyed)
    assert first.status_code == again.status_code == 503
    assert again.get_json()["job"]["id"] == first.get_json()["job"]["id"]
    assert backend.scheduler.count("sbatch") == 1


def test_a_failure_that_made_nothing_frees_the_key(app, alice, headers, backend, client):
    keyed = {**headers, "Idempotency-Key": "retry-2"}
    backend.scheduler.fail_submit = CONNECT_FAILURE
    assert client.post("/api/v1/jobs", json=BODY, headers=keyed).status_code == 503
    backend.scheduler.fail_submit = None
    assert client.post("/api/v1/jobs", json=BODY, headers=keyed).status_code == 201


def test_a_key_in_use_answers_409_and_a_dead_first_request_gives_its_job(
        app, alice, headers, backend, client):
    keyed = {**headers, "Idempotency-Key": "busy"}
    created = client.post("/api/v1/jobs", json=BODY, headers=keyed).get_json()
    with app.app_context():
        row = db.session.query(IdempotencyKey).one()
        row.status, row.response = None, None  # as if the first request were still running
        db.session.commit()
    busy = client.post("/api/v1/jobs", json=BODY, headers=keyed)
    assert busy.status_code == 409
    assert busy.get_json()["error"]["code"] == "idempotency_in_progress"
    with app.app_context():
        row = db.session.query(IdempotencyKey).one()
        row.created_at -= timedelta(minutes=10)  # older than any request runs: it died
        db.session.commit()
    replay = client.post("/api/v1/jobs", json=BODY, headers=keyed)
    assert replay.status_code == 200 and replay.get_json()["id"] == created["id"]
    assert backend.scheduler.count("sbatch") == 1


def test_secrets_are_not_stored_or_replayed(app, alice, headers, client):
    keyed = {**headers, "Idempotency-Key": "key-1"}
    first = client.post("/api/v1/keys", json={"name": "k1"}, headers=keyed)
    assert first.status_code == 201 and "PRIVATE KEY" in first.get_json()["private_key"]
    again = client.post("/api/v1/keys", json={"name": "k1"}, headers=keyed)
    assert again.status_code == 201 and again.get_json()["private_key"] is None
    assert again.get_json()["fingerprint"] == first.get_json()["fingerprint"]
    with app.app_context():
        assert "PRIVATE" not in db.session.query(IdempotencyKey).one().response


def test_a_bad_key_is_refused(app, alice, headers, client):
    response = client.post("/api/v1/jobs", json=BODY,
                           headers={**headers, "Idempotency-Key": "has space"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_idempotency_key"


def test_the_cli_runs_a_keyed_job_once_and_retries_a_lost_db_connection(
        app, alice, backend, monkeypatch):
    monkeypatch.setattr(cli_common, "make_app", lambda: app)
    runner = CliRunner()
    args = ["job", "run", "--user", "ursula", "--name", "cli-1", "--command", "true",
            "--idempotency-key", "nightly-2026-12-05"]
    first = runner.invoke(cli.main, args)
    again = runner.invoke(cli.main, args)
    assert first.exit_code == again.exit_code == 0, first.output + again.output
    assert "Slurm job 1000" in first.output and "Slurm job 1000" in again.output
    assert "seen before" in again.output and backend.scheduler.count("sbatch") == 1

    real_record, calls = audit.record, []

    def connection_lost_once(action, *args, **kwargs):  # after sbatch, before the answer
        if action == "job.create" and not calls:
            calls.append(action)
            raise OperationalError("UPDATE", {}, Exception("server closed the connection"),
                                   connection_invalidated=True)
        return real_record(action, *args, **kwargs)

    monkeypatch.setattr(audit, "record", connection_lost_once)
    result = runner.invoke(cli.main, ["job", "run", "--user", "ursula", "--name", "cli-2",
                                      "--command", "true"])
    assert result.exit_code == 0, result.output
    assert "trying once more" in result.output and "Slurm job 1001" in result.output
    assert backend.scheduler.count("sbatch") == 2  # one for cli-1, one for cli-2
    with app.app_context():
        assert db.session.query(Job).filter_by(name="cli-2").count() == 1


def test_outage_words_name_what_is_down(app):
    from portal.services import outage

    with app.app_context():
        error = outage.unavailable(SlurmUnreachable(
            "Sending PersistInit msg: Unable to connect to database", ["sacctmgr"],
            "sacctmgr: error: Sending PersistInit msg: Unable to connect to database\n"))
    assert isinstance(error, ServiceError) and error.status == 503
    assert error.details == {"outage": "database"} and "MariaDB" in error.message
