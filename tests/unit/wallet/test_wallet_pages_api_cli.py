"""The wallet as people see it: the page with filters and the admins' top-up form, the
JSON API (and its OpenAPI entry) and `portal wallet` — all on the same service."""

from __future__ import annotations

import html

from click.testing import CliRunner

from portal import cli, cli_common
from portal.services import tokens
from portal.services import wallet as svc
from tests.conftest import PASSWORD, csrf_from
from tests.unit.projects.conftest import job, put_jobs
from tests.unit.wallet.conftest import record


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _post(client, path, **data):
    token = csrf_from(client.get("/settings/").get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=True)


def _charges(app, project):
    with app.test_request_context("/"):
        record(101, service="job")
        record(102, service="session", billing=20, elapsed=1800)
        svc.charge_finished()


def test_members_see_balance_and_filter_transactions(app, client, auth, project):
    _charges(app, project)
    auth.login("max", PASSWORD)
    page = _text(client.get(f"/wallet/{project}"))
    assert 'data-testid="balance" class="negative">-0.20' in page
    assert 'data-job="101"' in page and 'data-job="102"' in page
    assert "topup-form" not in page  # members do not top up
    only = _text(client.get(f"/wallet/{project}?service=session"))
    assert 'data-job="102"' in only and 'data-job="101"' not in only
    none = _text(client.get(f"/wallet/{project}?type=topup"))
    assert "No transactions match." in none
    bad = _text(client.get(f"/wallet/{project}?from=2025-02-01&to=2025-01-01"))
    assert "The start date is after the end date." in bad
    assert client.get("/wallet/").status_code == 302  # one project: straight to it
    assert client.get(f"/wallet/{project + 1}").status_code == 404


def test_outsiders_see_nothing(app, client, auth, project):
    auth.login("otto", PASSWORD)
    assert client.get(f"/wallet/{project}").status_code == 404
    assert "tproj" not in _text(client.get("/wallet/"))


def test_admin_tops_up_and_bad_amounts_are_refused(app, client, auth, project):
    auth.login("ada", PASSWORD)
    assert 'data-project="tproj"' in _text(client.get("/wallet/"))
    page = _text(_post(client, f"/wallet/{project}/topups", amount="abc"))
    assert "The amount must be a number" in page and "No transactions match." in page
    page = _text(_post(client, f"/wallet/{project}/topups", amount="-3"))
    assert "A top-up must be a positive amount." in page
    page = _text(_post(client, f"/wallet/{project}/topups", amount="12.50", note="grant"))
    assert "Top-up recorded." in page and 'data-testid="balance" class="">12.50' in page
    assert "ada: grant" in page


def test_non_admin_top_up_is_forbidden(app, client, auth, project):
    auth.login("mia", PASSWORD)
    assert _post(client, f"/wallet/{project}/topups", amount="5").status_code == 403


def test_page_says_why_jobs_wait_for_budget(app, client, auth, project, budget):
    with app.test_request_context("/"):
        budget.qos["p_tproj"] = [None, 0]
        svc.worker_step()
        put_jobs([job(77, state="queued", reason="QOSGrpBillingMinutes")])
    auth.login("max", PASSWORD)
    page = _text(client.get(f"/wallet/{project}"))
    assert 'data-testid="budget-empty"' in page and "Waiting for the budget" in page
    assert 'data-testid="budget-waiting"' in page and "<code>77</code>" in page
    assert "0 billing-minutes left" in page


def _bearer(app, name):
    from portal.services import users

    with app.test_request_context("/"):
        _token, plain = tokens.create_token(users.get_user(name), "t")
    return {"Authorization": f"Bearer {plain}"}


def test_api_wallet(app, client, project):
    _charges(app, project)
    ada, max_ = _bearer(app, "ada"), _bearer(app, "max")
    listed = client.get("/api/v1/wallet", headers=max_).json
    assert listed == [{"project_id": project, "account": "tproj", "name": "Test Project",
                       "balance": "-0.2000", "budget": listed[0]["budget"]}]
    assert listed[0]["budget"]["enforced"] is False
    one = client.get(f"/api/v1/wallet/{project}?type=charge&service=job", headers=max_).json
    assert [t["job_id"] for t in one["transactions"]] == ["101"]
    assert one["totals"] == {"count": 1, "topups": "0.0000", "charges": "0.1000"}
    bad = client.get(f"/api/v1/wallet/{project}?from=x", headers=max_)
    assert bad.status_code == 400 and bad.json["error"]["code"] == "invalid_date"
    refused = client.post(f"/api/v1/wallet/{project}/topups", json={"amount": 5}, headers=max_)
    assert refused.status_code == 403
    for body in ({"amount": "x"}, {"amount": -1}, {"amount": None}, {}):
        answer = client.post(f"/api/v1/wallet/{project}/topups", json=body, headers=ada)
        assert answer.status_code == 400 and answer.json["error"]["code"] == "invalid_amount"
    made = client.post(f"/api/v1/wallet/{project}/topups", json={"amount": 7.5, "note": "n"},
                       headers=ada)
    assert made.status_code == 201 and made.json["amount"] == "7.5000"
    assert made.json["by"] == "ada" and made.json["type"] == "topup"
    assert client.get(f"/api/v1/wallet/{project}", headers=ada).json["balance"] == "7.3000"
    spec = client.get("/api/v1/openapi.json").json
    assert {"/wallet", "/wallet/{project_id}", "/wallet/{project_id}/topups"} <= set(
        spec["paths"])


def test_cli_wallet(app, monkeypatch, project):
    _charges(app, project)
    monkeypatch.setattr(cli_common, "make_app", lambda: app)
    run = CliRunner().invoke
    bad = run(cli.main, ["wallet", "topup", "tproj", "ten"])
    assert bad.exit_code == 1 and "must be a number" in bad.output
    assert run(cli.main, ["wallet", "topup", "tproj", "-5"]).exit_code != 0
    done = run(cli.main, ["wallet", "topup", "tproj", "10", "--note", "from cli"])
    assert done.exit_code == 0 and "balance 9.8000" in done.output, done.output
    shown = run(cli.main, ["wallet", "show", "tproj", "--type", "charge"])
    assert shown.exit_code == 0 and "job 102 (session" in shown.output
    assert "2 transactions" in shown.output
    listed = run(cli.main, ["wallet", "list"])
    assert "tproj" in listed.output and "9.8000" in listed.output
    assert run(cli.main, ["wallet", "show", "nope"]).exit_code == 1
    with app.test_request_context("/"):
        from sqlalchemy import select

        from portal import db
        from portal.models import AuditEvent

        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "wallet.topup"))
        # audited as the Unix user who ran the command, from "cli" (issue #18 item 3)
        assert (event.source_ip, event.actor_name) == ("cli", cli_common.invoking_unix_user())
        assert event.details["run_by"] == cli_common.invoking_unix_user()


def test_charges_link_to_their_order(app, client, auth, project, people):
    from portal import db, models

    order_model = getattr(models, "Order", None)
    if order_model is None:  # the orders feature is not there: nothing to link
        return
    with app.test_request_context("/"):
        order = order_model(kind="job", ref_id=1, user_id=people["max"].id,
                            project_id=project, account="tproj", slurm_job_id="101")
        db.session.add(order)
        db.session.commit()
        order_id = order.id
    _charges(app, project)
    auth.login("max", PASSWORD)
    page = _text(client.get(f"/wallet/{project}"))
    assert f"order {order_id}" in page
    with app.test_request_context("/"):
        from sqlalchemy import select

        from portal.models import WalletTransaction

        linked = dict(db.session.execute(select(WalletTransaction.job_id,
                                                WalletTransaction.order_id)).all())
    assert linked == {"101": order_id, "102": None}
