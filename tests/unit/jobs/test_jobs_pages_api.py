"""Pages, JSON API and CLI of F6–F8 (Slurm and the workspace faked)."""

import pytest
from click.testing import CliRunner

from portal import cli, cli_common, db
from portal.models import Job, JobTemplate, Schedule
from portal.services import jobs as jobsvc
from portal.services import jobtemplates, tokens
from tests.conftest import PASSWORD, csrf_from


@pytest.fixture
def alice(outside_member, backend):
    return outside_member("ursula")


@pytest.fixture
def logged_in(app, alice, client):
    page = client.get("/login")
    client.post("/login", data={"username": "ursula", "password": PASSWORD,
                                "csrf_token": csrf_from(page.get_data(as_text=True))})
    return client


def _token(client, path="/jobs/new"):
    return csrf_from(client.get(path).get_data(as_text=True))


FORM = {"name": "web-1", "gpu_model": "", "gpu_count": "0", "cpus": "1", "mem_gb": "2",
        "shm_gb": "0", "image_type": "public", "image": "base", "command": "echo 'hi' $(id)"}


def test_run_job_page_submits_and_shows_the_detail(logged_in, backend):
    response = logged_in.post("/jobs/new", data={**FORM, "csrf_token": _token(logged_in)})
    assert response.status_code == 302
    job = db.session.query(Job).one()
    page = logged_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "web-1" in page and "echo &#39;hi&#39; $(id)" in page and 'id="job-log"' in page
    assert "sbatch --job-name=web-1 --account=proja" in page
    listing = logged_in.get("/jobs/").get_data(as_text=True)
    assert f'data-job-id="{job.id}"' in listing and "Python 3" in listing


def test_pending_reason_shows_in_words(app, logged_in, backend):
    logged_in.post("/jobs/new", data={**FORM, "csrf_token": _token(logged_in)})
    with app.app_context():
        job = db.session.query(Job).one()
        job.reason = "Dependency"
        db.session.commit()
        job_id = job.id
    page = logged_in.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "Waiting for another job it depends on to finish." in page


def test_bad_job_form_shows_a_message_and_changes_nothing(logged_in, backend):
    for change in ({"name": "rm -rf /"}, {"image": "evil"}, {"command": ""}):
        response = logged_in.post("/jobs/new", data={**FORM, **change,
                                                     "csrf_token": _token(logged_in)})
        assert response.status_code == 400 and 'class="flash error"' in response.text
    assert db.session.query(Job).count() == 0 and backend.scheduler.calls == []


def test_forms_need_csrf(logged_in, backend):
    assert logged_in.post("/jobs/new", data=FORM).status_code == 400
    assert db.session.query(Job).count() == 0


def test_live_log_and_ranged_download(logged_in, backend):
    logged_in.post("/jobs/new", data={**FORM, "csrf_token": _token(logged_in)})
    job = db.session.query(Job).one()
    backend.files.files[job.directory + "/output.log"] = "line 1\n中文\n".encode()
    body = logged_in.get(f"/jobs/{job.id}/log?offset=3").json
    assert body["text"] == "e 1\n中文\n" and body["offset"] == 14 and body["done"] is False
    whole = logged_in.get(f"/jobs/{job.id}/log.txt")
    assert whole.status_code == 200 and whole.data == "line 1\n中文\n".encode()
    assert "attachment" in whole.headers["Content-Disposition"]
    part = logged_in.get(f"/jobs/{job.id}/log.txt", headers={"Range": "bytes=-7"})
    assert part.status_code == 206 and part.data == "中文\n".encode()
    assert part.headers["Content-Range"] == "bytes 7-13/14"
    bad = logged_in.get(f"/jobs/{job.id}/log.txt", headers={"Range": "bytes=99-"})
    assert bad.status_code == 416


def test_another_users_job_and_log_are_refused(app, logged_in, backend, outside_member):
    other = outside_member("victor")
    with app.test_request_context():
        job = jobsvc.create_job(other, {**FORM, "name": "theirs"})
        backend.files.files[job.directory + "/output.log"] = b"secret"
    for path in (f"/jobs/{job.id}", f"/jobs/{job.id}/log.txt", f"/jobs/{job.id}/log?offset=0",
                 f"/jobs/{job.id}/log.txt?path=/etc/shadow", "/jobs/999/log.txt"):
        response = logged_in.get(path)
        assert response.status_code == 404 and b"secret" not in response.data
    assert logged_in.get("/jobs/1/../../etc/passwd").status_code == 404


def test_template_pages_and_run_from_template(logged_in, backend):
    token = _token(logged_in, "/templates/new")
    response = logged_in.post("/templates/new", data={**FORM, "name": "tpl",
                                                      "csrf_token": token})
    assert response.status_code == 302
    template = db.session.query(JobTemplate).one()
    form = logged_in.get(f"/jobs/new?template={template.id}").get_data(as_text=True)
    assert 'value="tpl-1"' in form
    logged_in.post("/jobs/new", data={**FORM, "name": "tpl-1", "template_id": template.id,
                                      "csrf_token": token})
    form = logged_in.get(f"/templates/{template.id}/run", follow_redirects=True).get_data(
        as_text=True)
    assert 'value="tpl-2"' in form
    assert db.session.query(Job).one().template_id == template.id


def test_schedule_pages_preview_create_and_delete(logged_in, backend):
    token = _token(logged_in, "/templates/new")
    logged_in.post("/templates/new", data={**FORM, "name": "tpl", "csrf_token": token})
    template = db.session.query(JobTemplate).one()
    preview = logged_in.get("/schedules/preview?cron=0+20+*+*+*&timezone=Europe/Berlin").json
    assert preview["description"] == "At 20:00" and len(preview["next_runs"]) == 5
    bad = logged_in.get("/schedules/preview?cron=0+20+*+*&timezone=UTC").json
    assert bad["error"]["code"] == "invalid_cron"
    data = {"name": "nightly", "cron": "0 20 * * *", "timezone": "Europe/Berlin",
            "template_id": template.id, "mode": "single", "missed_policy": "skip",
            "csrf_token": token}
    shown = logged_in.post("/schedules/new", data={**data, "action": "preview"})
    assert "At 20:00" in shown.text and db.session.query(Schedule).count() == 0
    created = logged_in.post("/schedules/new", data={**data, "action": "save"})
    assert created.status_code == 302
    page = logged_in.get(created.headers["Location"]).get_data(as_text=True)
    assert "nightly-1" in page and "At 20:00" in page
    schedule = db.session.query(Schedule).one()
    logged_in.post(f"/schedules/{schedule.id}/delete", data={"csrf_token": token})
    assert backend.scheduler.pending() == []


def test_api_jobs_templates_schedules(app, alice, client, backend):
    with app.app_context():
        _, token = tokens.create_token(alice, "t")
    headers = {"Authorization": f"Bearer {token}"}
    body = {**FORM, "name": "api-1"}
    created = client.post("/api/v1/jobs", json=body, headers=headers)
    assert created.status_code == 201 and created.json["slurm_job_id"] == "1000"
    job_id = created.json["id"]
    assert client.get("/api/v1/jobs", headers=headers).json[0]["name"] == "api-1"
    bad = client.post("/api/v1/jobs", json={**body, "name": "a;b"}, headers=headers)
    assert bad.status_code == 400 and bad.json["error"]["code"] == "invalid_name"
    directory = client.get(f"/api/v1/jobs/{job_id}", headers=headers).json
    assert directory["events"][0]["kind"] == "submitted"
    with app.app_context():
        path = db.session.get(Job, job_id).directory + "/output.log"
    backend.files.files[path] = b"0123456789"
    log = client.get(f"/api/v1/jobs/{job_id}/log", headers={**headers, "Range": "bytes=2-4"})
    assert log.status_code == 206 and log.data == b"234"
    template = client.post("/api/v1/templates", json={**body, "name": "tp"}, headers=headers)
    assert template.status_code == 201 and template.json["next_job_name"] == "tp-1"
    run = client.post(f"/api/v1/templates/{template.json['id']}/run", headers=headers)
    assert run.status_code == 201 and run.json["name"] == "tp-1"
    schedule = client.post("/api/v1/schedules", headers=headers, json={
        "name": "s", "cron": "*/5 * * * *", "timezone": "UTC",
        "template_id": template.json["id"]})
    assert schedule.status_code == 201 and schedule.json["upcoming_job"]["name"] == "s-1"
    assert client.post("/api/v1/schedules/preview", headers=headers,
                       json={"cron": "bad", "timezone": "UTC"}).json["error"]["code"] == \
        "invalid_cron"
    assert client.delete(f"/api/v1/schedules/{schedule.json['id']}",
                         headers=headers).status_code == 204
    assert client.delete(f"/api/v1/jobs/{job_id}", headers=headers).status_code == 204
    assert client.get("/api/v1/jobs/999", headers=headers).status_code == 404


def test_cli_job_template_schedule(app, alice, backend, monkeypatch):
    monkeypatch.setattr(cli_common, "make_app", lambda: app)
    runner = CliRunner()
    result = runner.invoke(cli.main, ["job", "run", "--user", "ursula", "--name", "cli-1",
                                      "--command", "echo $((1+1))", "--cpus", "1"])
    assert result.exit_code == 0, result.output
    assert "Slurm job 1000" in result.output
    result = runner.invoke(cli.main, ["template", "create", "tp", "--user", "ursula",
                                      "--command", "true"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli.main, ["template", "run", "1", "--user", "ursula"])
    assert "(tp-1)" in result.output
    result = runner.invoke(cli.main, ["job", "list", "--user", "ursula"])
    assert "cli-1" in result.output and "tp-1" in result.output
    result = runner.invoke(cli.main, ["schedule", "preview", "--cron", "0 20 * * *",
                                      "--timezone", "Asia/Taipei"])
    assert result.output.startswith("At 20:00")
    result = runner.invoke(cli.main, ["job", "run", "--user", "ursula", "--name", "x y",
                                      "--command", "true"])
    assert result.exit_code == 1 and "error:" in result.output
    result = runner.invoke(cli.main, ["schedule", "create", "nightly", "--user", "ursula",
                                      "--cron", "0 20 * * *", "--template", "1"])
    assert result.exit_code == 0 and "nightly-1" in result.output, result.output
    with app.app_context():
        assert jobtemplates.list_templates(db.session.get(type(alice), alice.id))
