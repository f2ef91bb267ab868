"""What people see: cards with live usage, details with reasons in words, the admin pages,
the JSON API and the CLI — all on the same services."""

from __future__ import annotations

import html
from datetime import date, timedelta

import pytest
from click.testing import CliRunner

from portal import cli, cli_common, db
from portal.models import Project, ProjectStatus
from portal.services import tokens
from tests.conftest import PASSWORD, csrf_from
from tests.unit.projects.conftest import job, put_jobs


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _post(client, path, **data):
    token = csrf_from(client.get("/settings/").get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=True)


def test_cards_show_usage_against_quota_from_the_cache(client, auth, project):
    put_jobs([job(11, user="bin", tres="cpu=6,mem=12G,gres/gpu=3"),
              job(12, user="daemon", state="queued", reason="QOSGrpGRES")])
    auth.login("max", PASSWORD)
    page = client.get("/projects/").get_data(as_text=True)
    assert 'data-project="tproj"' in page and "Test Project" in page
    assert 'data-testid="used-gpus">3<' in page and 'data-testid="limit-gpus">4<' in page
    assert 'data-testid="used-cpus">6<' in page and 'data-testid="used-mem_gb">12.0<' in page
    assert "1 running, 1 pending jobs" in page
    assert 'href="/projects/"' in page  # the menu item


def test_detail_explains_pending_jobs_and_why_a_project_is_blocked(client, auth, project):
    put_jobs([job(12, user="daemon", state="queued", reason="QOSGrpGRES")])
    p = db.session.get(Project, project)
    p.status, p.blocked_reason = ProjectStatus.EXPIRED, "The project ended on 2020-01-01."
    db.session.commit()
    auth.login("mia", PASSWORD)
    page = _text(client.get(f"/projects/{project}"))
    assert "The project's GPU quota is used up" in page and "(QOSGrpGRES)" in page
    assert "The project ended on 2020-01-01." in page
    auth.logout()
    auth.login("max", PASSWORD)  # a member does not see the manager's pending job
    assert 'data-job="12"' not in client.get(f"/projects/{project}").get_data(as_text=True)


def test_manager_edits_members_and_refusals_are_flashed(client, auth, project, people, fake):
    auth.login("mia", PASSWORD)
    page = _post(client, f"/projects/{project}/members", username="otto", role="member")
    assert "otto added." in page.get_data(as_text=True) and ("tproj", "sys") in fake.assocs
    page = _post(client, f"/projects/{project}/members/{people['mia'].id}/remove")
    assert "only manager" in _text(page)
    page = _post(client, f"/projects/{project}/members", username="ghost", role="member")
    assert "No user ghost." in page.get_data(as_text=True)
    fake.down = True
    page = _post(client, f"/projects/{project}/edit", name="Offline rename")
    assert "(slurmdbd) is not answering" in _text(page)
    assert db.session.get(Project, project).name == "Test Project"


def test_member_requests_an_extension_and_admin_approves(client, auth, project, fake):
    p = db.session.get(Project, project)
    p.end_date, p.status = date.today() - timedelta(days=2), ProjectStatus.EXPIRED
    db.session.commit()
    fake.modify_account("tproj", {"GrpJobs": 0, "GrpSubmitJobs": 0})
    auth.login("max", PASSWORD)
    page = _post(client, f"/projects/{project}/extensions", days="7", reason="deadline")
    assert "Extension requested" in page.get_data(as_text=True)
    auth.logout()
    auth.login("ada", PASSWORD)
    listing = client.get("/admin/projects/").get_data(as_text=True)
    assert "deadline" in listing
    request_id = db.session.get(Project, project).extension_requests[0].id
    page = _post(client, f"/admin/extensions/{request_id}/approve", message="fine")
    assert "Extension approved." in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Project, project).end_date == date.today() + timedelta(days=7)
    assert fake.assocs[("tproj", None)].grp_jobs is None


def test_admin_creates_projects_qos_and_users(client, auth, people, fake):
    auth.login("ada", PASSWORD)
    page = _post(client, "/admin/projects/", account="tnew", name="New one",
                 gpu_limit="2", managers="mia", members="max, otto").get_data(as_text=True)
    assert "Project tnew created." in page and fake.accts["tnew"].coordinators == ("daemon",)
    page = _post(client, "/admin/qos/", name="short", max_wall_minutes="60",
                 grp_gpus_by_model="a100=1").get_data(as_text=True)
    assert "QOS short created." in page and fake.qos_defs["short"].max_wall == 60
    page = _post(client, "/admin/qos/normal/delete").get_data(as_text=True)
    assert "still used by" in page and "normal" in fake.qos_defs
    page = _post(client, "/admin/users/", username="ghostly", unix_user="no-such-unix-user")
    assert "Unix account no-such-unix-user does not exist" in page.get_data(as_text=True)
    page = _post(client, "/admin/users/", username="nora", unix_user="nobody")
    text = page.get_data(as_text=True)
    assert 'data-testid="new-password"' in text and "User nora created." in text


@pytest.fixture
def bearer(people):
    made: dict = {}

    def make(name):
        if name not in made:
            made[name] = tokens.create_token(people[name], "cli")[1]
        return {"Authorization": f"Bearer {made[name]}"}

    return make


def test_api_projects_members_quota_usage(client, project, people, bearer, fake):
    put_jobs([job(11, user="bin", tres="cpu=2,mem=4G,gres/gpu=1")])
    [data] = client.get("/api/v1/projects", headers=bearer("max")).json
    assert data["account"] == "tproj" and data["role"] == "member"
    assert data["quota"]["gpus"] == 4 and data["usage"]["gpus"] == 1
    assert {m["username"] for m in data["members"]} == {"mia", "max"}
    assert client.get("/api/v1/projects", headers=bearer("otto")).json == []
    assert client.get(f"/api/v1/projects/{project}", headers=bearer("otto")).status_code == 404
    patch = client.patch(f"/api/v1/projects/{project}", json={"gpu_limit": 9},
                         headers=bearer("mia"))
    assert patch.status_code == 403
    ok = client.patch(f"/api/v1/projects/{project}", json={"gpu_limit": 9, "name": "API"},
                      headers=bearer("ada"))
    assert ok.status_code == 200 and ok.json["quota"]["gpus"] == 9 and ok.json["name"] == "API"
    bad = client.post("/api/v1/projects", json={"account": "Bad!", "name": "x"},
                      headers=bearer("ada"))
    assert bad.status_code == 400 and bad.json["error"]["code"] == "invalid_account"
    added = client.post(f"/api/v1/projects/{project}/members",
                        json={"username": "otto", "role": "manager"}, headers=bearer("mia"))
    assert added.status_code == 201 and "sys" in fake.accts["tproj"].coordinators
    ext = client.post(f"/api/v1/projects/{project}/extensions", json={"days": 5},
                      headers=bearer("max"))
    assert ext.status_code == 201 and ext.json["status"] == "pending"
    assert client.get("/api/v1/extensions", headers=bearer("mia")).status_code == 403
    done = client.post(f"/api/v1/extensions/{ext.json['id']}",
                       json={"decision": "reject", "message": "no"}, headers=bearer("ada"))
    assert done.json["status"] == "rejected"


def test_api_qos_is_for_admins(client, people, bearer, fake):
    assert client.get("/api/v1/qos", headers=bearer("mia")).status_code == 403
    made = client.post("/api/v1/qos", json={"name": "apiq", "grp_gpus": 2,
                                            "grp_gpus_by_model": {"a100": 1}},
                       headers=bearer("ada"))
    assert made.status_code == 201 and made.json["grp_gpus_by_model"] == {"a100": 1}
    qid = made.json["id"]
    changed = client.patch(f"/api/v1/qos/{qid}", json={"grp_gpus": None}, headers=bearer("ada"))
    assert changed.json["grp_gpus"] is None
    assert client.delete(f"/api/v1/qos/{qid}", headers=bearer("ada")).status_code == 204
    fake.down = True
    down = client.get("/api/v1/qos", headers=bearer("ada"))
    assert down.status_code == 503 and down.json["error"]["code"] == "slurm_unavailable"


def test_cli_project_and_accounts_verbs(app, monkeypatch, project, fake):
    monkeypatch.setattr(cli_common, "make_app", lambda: app)
    run = CliRunner().invoke
    listed = run(cli.main, ["project", "list"])
    assert listed.exit_code == 0 and "tproj" in listed.output and "mia*" in listed.output
    made = run(cli.main, ["project", "create", "tcli", "--name", "From CLI", "--gpus", "2",
                          "--manager", "mia"])
    assert made.exit_code == 0, made.output
    refused = run(cli.main, ["project", "create", "tcli", "--name", "Again"])
    assert refused.exit_code == 1 and "already exists" in refused.output
    assert run(cli.main, ["qos", "create", "cliq", "--gpus", "3"]).exit_code == 0
    assert run(cli.main, ["project", "set", "tcli", "--qos", "cliq"]).exit_code == 0
    assert fake.assocs[("tcli", None)].qos == ("p_tcli", "cliq")
    assert run(cli.main, ["accounts", "check"]).output.strip() == "the portal and Slurm agree"
    fake.add_user("sys", "tcli")
    check = run(cli.main, ["accounts", "check"])
    assert check.exit_code == 2 and "extra_member" in check.output
    assert run(cli.main, ["accounts", "check", "--fix"]).exit_code == 1  # which direction?
    dry = run(cli.main, ["accounts", "check", "--fix", "--from", "portal", "--dry-run"])
    assert "would run: remove_user sys tcli" in dry.output and ("tcli", "sys") in fake.assocs
    fake.noop = False
    fixed = run(cli.main, ["accounts", "check", "--fix", "--from", "portal"])
    assert "fixed" in fixed.output and ("tcli", "sys") not in fake.assocs
