"""Issue #17, item 1, against the dev cluster: a running job extended through the API and
the CLI gets the new TimeLimit in Slurm (read back from `scontrol show job`), while the
owner's own `scontrol update` cannot raise it; MaxWall and the wallet cap it in words."""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal

from click.testing import CliRunner

from adapters.runner import CommandRunner
from portal import cli, cli_common, db
from portal.models import AuditEvent, Job, WalletTransaction
from portal.services import extend, tokens
from tests.integration.jobs.jobhelpers import add_member, wait_for


def _time_limit(job_id: str) -> str:
    shown = CommandRunner().run(["scontrol", "show", "job", job_id]).stdout
    return re.search(r"TimeLimit=(\S+)", shown).group(1)


def _balance_to(project, amount: str) -> None:
    """Make the project's balance `amount` (one top-up or charge row)."""
    from portal.services import wallet

    diff = Decimal(amount) - wallet.balance(project.id)
    if diff:
        db.session.add(WalletTransaction(project_id=project.id, account=project.account,
                                         kind="topup", amount=diff, occurred_at=db.utcnow(),
                                         note="extend test"))
        db.session.commit()


def test_extend_a_running_job_raises_its_slurm_time_limit(cluster_ctx, prefix, slurm,
                                                          monkeypatch):
    alice = add_member("alice", "proja")
    project = alice.memberships[0].project
    project.max_wall_minutes = None
    db.session.commit()
    _balance_to(project, "5.00")
    _, token = tokens.create_token(alice, "t")
    client = cluster_ctx.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    made = client.post("/api/v1/jobs", headers=auth, json={
        "cpus": 1, "mem_gb": 1, "image": "base", "command": "sleep 600",
        "name": f"{prefix}-x", "time_limit": "0:10:00"})
    assert made.status_code == 201, made.json
    job_id, slurm_id = made.json["id"], made.json["slurm_job_id"]
    wait_for(lambda: db.session.get(Job, job_id).state == "running", 90, cycle_app=cluster_ctx,
             what="the job to run")
    assert _time_limit(slurm_id) == "00:10:00"

    # The owner cannot raise it from the shell (Slurm, and job_submit.lua for portal jobs).
    own = CommandRunner().run(["scontrol", "update", f"JobId={slurm_id}", "TimeLimit=120"],
                              as_user="alice", check=False)
    assert own.returncode != 0 and _time_limit(slurm_id) == "00:10:00"

    answer = client.post(f"/api/v1/jobs/{job_id}/extend", headers={
        **auth, "Idempotency-Key": f"{prefix}-1"}, json={"hours": 1})
    assert answer.status_code == 200, answer.json
    assert answer.json["time_limit_min"] == 70 and answer.json["ends_at"]
    assert _time_limit(slurm_id) == "01:10:00"
    again = client.post(f"/api/v1/jobs/{job_id}/extend", headers={
        **auth, "Idempotency-Key": f"{prefix}-1"}, json={"hours": 1})
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert _time_limit(slurm_id) == "01:10:00"  # the same key did it once
    assert db.session.query(AuditEvent).filter_by(action="job.extend",
                                                  target=f"job:{job_id}").count() == 1

    monkeypatch.setattr(cli_common, "make_app", lambda: cluster_ctx)
    result = CliRunner().invoke(cli.main, ["job", "extend", str(job_id), "--hours", "2",
                                           "--user", "alice"])
    assert result.exit_code == 0, result.output
    assert "time limit now 190 min" in result.output
    assert _time_limit(slurm_id) == "03:10:00"

    # MaxWall: 4 h allows 50 minutes more, i.e. no whole hour.
    db.session.expire_all()
    project = db.session.get(Job, job_id).project
    project.max_wall_minutes = 240
    db.session.commit()
    refused = client.post(f"/api/v1/jobs/{job_id}/extend", headers=auth, json={"hours": 1})
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "extend_over_max_wall"
    assert refused.json["error"]["most_hours"] == 0
    assert "MaxWall" in refused.json["error"]["message"]
    assert _time_limit(slurm_id) == "03:10:00"

    # The wallet: the balance is set to what the running work of proja holds (its time
    # limits × billing, this job's 3 h 10 min included) plus 1.5 h of this job: 1 h more
    # fits, 2 h do not.
    project.max_wall_minutes = None
    db.session.commit()
    units = int(extend.billing_of(slurm.info(slurm_id).tres))
    held = sum(int(extend.billing_of(j.tres) or 0) * (j.time_limit or 0)
               for j in slurm.info_all(account="proja", states=["running"]))
    _balance_to(project, str((Decimal(held + units * 90) / 6000)
                             .quantize(Decimal("0.0001"), ROUND_CEILING)))
    refused = client.post(f"/api/v1/jobs/{job_id}/extend", headers=auth, json={"hours": 2})
    assert refused.status_code == 409, refused.json
    assert refused.json["error"]["code"] == "extend_over_wallet"
    assert refused.json["error"]["most_hours"] == 1
    assert "wallet" in refused.json["error"]["message"]
    assert _time_limit(slurm_id) == "03:10:00"
    _balance_to(project, "5.00")
