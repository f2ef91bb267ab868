"""Issue #16 item 9 as an admin does it, against the dev cluster: on Admin → Projects she
archives a project (its job is cancelled, Slurm refuses new ones, the project stays listed
as archived) and unarchives it; on Admin → Users she deactivates bob (his job cancelled,
his association gone, his login refused) and reactivates him. The same through the API
(admin-scoped token) and the `portal` CLI. Own account per test; proja/projb untouched."""

from __future__ import annotations

import json
import secrets
import urllib.request

import pytest
from click.testing import CliRunner

from adapters.accounts import SlurmAccounts
from adapters.errors import SlurmRejected
from adapters.runner import CommandRunner
from portal import cli, cli_common, db
from portal.services import projects, tokens, users
from portal.services.projects import OPERATOR
from tests.conftest import PASSWORD
from tests.integration.projects.test_projects_cluster import _submit
from tests.support.slurmaccounts import drop_accounts
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture
def world(app):
    account = "t" + secrets.token_hex(5)
    with app.test_request_context("/"):
        for name in ("alice", "bob"):
            users.create_user(name, password=PASSWORD)
        users.create_user("carol", password=PASSWORD, is_admin=True)
        project = projects.create_project(OPERATOR, account=account, name=f"Arch {account}",
                                          managers=["alice"], members=["bob"])
        _record, token = tokens.create_token(users.get_user("carol"), "t", "admin")
        ids = {"account": account, "project": project.id, "token": token,
               "bob": users.get_user("bob").id}
        db.session.remove()
    yield ids
    drop_accounts(account, qos=f"p_{account}")


def _live(job_id: str) -> bool:
    out = CommandRunner().run(["squeue", "-h", "-j", job_id, "-o", "%T"], check=False)
    return out.stdout.strip() in ("PENDING", "RUNNING", "CONFIGURING")


def _own(account):
    return next(a for a in SlurmAccounts().associations(account) if a.user is None)


def _login(page, live_server, name, password=PASSWORD):
    page.context.clear_cookies()
    page.goto(f"{live_server}/login")
    page.fill("#username", name)
    page.fill("#password", password)
    page.click("[data-testid=login-submit]")


def _api(live_server, token, path):
    req = urllib.request.Request(f"{live_server}/api/v1{path}", data=b"{}", method="POST",
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def test_admin_archives_a_project_and_deactivates_a_user(app, world, live_server, page,
                                                         monkeypatch):
    account = world["account"]
    job = _submit(account, "bob")
    _login(page, live_server, "carol")
    page.wait_for_selector("[data-testid=current-user]")

    # Archive on the page: the job is cancelled, Slurm blocks the account, the row stays.
    page.goto(f"{live_server}/admin/projects/")
    row = page.locator(f"tr[data-project='{account}']")
    row.locator("[data-testid=archive-box] summary").click()
    row.locator("[data-testid=archive-reason]").fill("course over")
    row.locator("[data-testid=archive-confirm]").check()
    row.locator("[data-testid=archive]").click()
    body = page.inner_text("body")
    assert f"Project {account} archived" in body and "1 job(s) cancelled" in body
    assert row.locator("[data-testid=project-state]").inner_text() == "archived"
    wait_for(lambda: not _live(job), what="the project's job to be cancelled", timeout=30)
    assert (_own(account).grp_jobs, _own(account).grp_submit) == (0, 0)
    with pytest.raises(SlurmRejected):
        _submit(account, "alice", hold=True)
    row.locator("[data-testid=unarchive]").click()
    assert row.locator("[data-testid=project-state]").inner_text() == "active"
    assert (_own(account).grp_jobs, _own(account).grp_submit) == (None, None)

    # The API (admin token) and the CLI do the same.
    out = _api(live_server, world["token"], f"/projects/{world['project']}/archive")
    assert out["status"] == "archived" and account in out["blocked"]
    assert _api(live_server, world["token"],
                f"/projects/{world['project']}/unarchive")["status"] == "active"
    monkeypatch.setattr(cli_common, "make_app", lambda: app)
    result = CliRunner().invoke(cli.main, ["project", "archive", account, "--reason", "cli"])
    assert result.exit_code == 0 and f"archived {account}" in result.output, result.output
    result = CliRunner().invoke(cli.main, ["project", "unarchive", account])
    assert result.exit_code == 0 and f"unarchived {account}: active" in result.output

    # Deactivate bob on the page: his job ends, his association goes, his login fails.
    job = _submit(account, "bob")
    page.goto(f"{live_server}/admin/users/")
    row = page.locator("tr[data-user='bob']")
    row.locator("[data-testid=deactivate-box] summary").click()
    row.locator("[data-testid=deactivate-confirm]").check()
    row.locator("[data-testid=deactivate]").click()
    assert "bob deactivated: 1 job(s) cancelled" in page.inner_text("body")
    assert "deactivated" in row.locator("[data-testid=user-state]").inner_text()
    assert not _live(job)
    assert {a.user for a in SlurmAccounts().associations(account)} == {None, "alice"}
    _login(page, live_server, "bob")
    assert page.locator("[data-testid=current-user]").count() == 0

    _login(page, live_server, "carol")
    page.goto(f"{live_server}/admin/users/")
    page.locator("tr[data-user='bob'] [data-testid=reactivate]").click()
    assert "bob reactivated" in page.inner_text("body")
    assert {a.user for a in SlurmAccounts().associations(account)} == {None, "alice", "bob"}
    _login(page, live_server, "bob")
    page.wait_for_selector("[data-testid=current-user]")

    # The API and the CLI deactivate and reactivate too.
    out = _api(live_server, world["token"], f"/users/{world['bob']}/deactivate")
    assert out["active"] is False and out["removed_from"] == [account]
    assert _api(live_server, world["token"],
                f"/users/{world['bob']}/reactivate")["active"] is True
    result = CliRunner().invoke(cli.main, ["user", "deactivate", "bob"])
    assert result.exit_code == 0 and "deactivated bob" in result.output, result.output
    result = CliRunner().invoke(cli.main, ["user", "reactivate", "bob"])
    assert result.exit_code == 0 and "reactivated bob" in result.output
    assert {a.user for a in SlurmAccounts().associations(account)} == {None, "alice", "bob"}
