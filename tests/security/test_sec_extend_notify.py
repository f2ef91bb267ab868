"""Issue #17 trust boundaries: extending a job, and the webhooks the worker calls.

Extend. The attacks, on the real dev cluster: the owner raises their running portal job's
TimeLimit from the shell (`scontrol update JobId=… TimeLimit=…`) to run past MaxWall and the
wallet; another member (bob) does it to alice's job, or asks the portal's API to extend it.
What stops them: Slurm lets users only lower a limit and job_submit.lua refuses any user
change to a portal job, so only the operator raises it, and the portal's operator path
extends only the owner's own running job within MaxWall and the wallet (portal/services/
extend.py).

Webhooks. The attack: a user points their webhook at the portal host's own services
(loopback, the metadata address, private networks) so the worker POSTs there for them —
also by a host name that resolved to a public address when saved and to 127.0.0.1 later.
What stops it: the address is checked when saved and again, resolved, at every send; a
private one is refused, the row records why, nothing is sent.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from adapters.runner import CommandRunner
from portal import db
from portal.models import Job, NotificationSent, NotificationSetting, WalletTransaction
from portal.services import jobs as jobsvc
from portal.services import notify, tokens
from tests.integration.jobs.jobhelpers import add_member, cycle, wait_for
from tests.support.receivers import http_receiver

pytestmark = [pytest.mark.integration]
RUN = CommandRunner(timeout=30)


def _time_limit(job_id: str) -> str:
    shown = RUN.run(["scontrol", "show", "job", job_id]).stdout
    return re.search(r"TimeLimit=(\S+)", shown).group(1)


def test_nobody_but_the_operator_path_raises_a_portal_jobs_time_limit(app):
    with app.test_request_context():
        cycle(app)
        alice, bob = add_member("alice", "proja"), add_member("bob", "proja")
        project = alice.memberships[0].project
        project.max_wall_minutes = 120
        db.session.add(WalletTransaction(project_id=project.id, account="proja",
                                         kind="topup", amount=Decimal("5"),
                                         occurred_at=db.utcnow()))
        db.session.commit()
        job = jobsvc.create_job(alice, {"name": "secext", "cpus": 1, "mem_gb": 1,
                                        "image": "base", "command": "sleep 600",
                                        "time_limit": "0:10:00"})
        job_id, slurm_id = job.id, job.slurm_job_id
        try:
            wait_for(lambda: db.session.get(Job, job_id).state == "running", 90,
                     cycle_app=app, what="the job to run")
            for user in ("alice", "bob"):
                for value in ("UNLIMITED", "600", "2-00:00:00"):
                    tried = RUN.run(["scontrol", "update", f"JobId={slurm_id}",
                                     f"TimeLimit={value}"], as_user=user, check=False)
                    assert tried.returncode != 0, (user, value, tried.stdout)
            assert _time_limit(slurm_id) == "00:10:00"

            _, bob_token = tokens.create_token(bob, "t")
            client = app.test_client()
            other = client.post(f"/api/v1/jobs/{job_id}/extend", json={"hours": 1},
                                headers={"Authorization": f"Bearer {bob_token}"})
            assert other.status_code == 404
            _, alice_token = tokens.create_token(alice, "t")
            over = client.post(f"/api/v1/jobs/{job_id}/extend", json={"hours": 2},
                               headers={"Authorization": f"Bearer {alice_token}"})
            assert over.status_code == 409
            assert over.json["error"]["code"] == "extend_over_max_wall"
            assert _time_limit(slurm_id) == "00:10:00"
            ok = client.post(f"/api/v1/jobs/{job_id}/extend", json={"hours": 1},
                             headers={"Authorization": f"Bearer {alice_token}"})
            assert ok.status_code == 200 and _time_limit(slurm_id) == "01:10:00"
        finally:
            RUN.run(["scancel", "--", slurm_id], check=False)


@pytest.fixture
def internal_service():
    """A service on the portal host's loopback that must never be called for a user."""
    with http_receiver(status=200) as (port, calls):
        yield port, calls


def test_a_webhook_cannot_make_the_worker_call_the_portal_hosts_services(app,
                                                                       internal_service):
    port, calls = internal_service
    app.config["NOTIFY_WEBHOOK_ALLOW_PRIVATE"] = False
    with app.test_request_context():
        alice = add_member("alice", "proja")
        for url in (f"http://127.0.0.1:{port}/admin", f"http://localhost:{port}/x",
                    "http://169.254.169.254/latest/meta-data", "http://10.0.0.1/",
                    f"http://[::1]:{port}/"):
            with pytest.raises(Exception) as err:
                notify.save_settings(alice, ["project_ending"], False, url)
            assert getattr(err.value, "code", "") == "invalid_webhook", url
        # Saved while its name pointed elsewhere (or written before the check): the send
        # checks again.
        db.session.add(NotificationSetting(user_id=alice.id, kinds=["project_ending"],
                                           email=False, webhook_secret="s",
                                           webhook_url=f"http://localhost:{port}/admin"))
        db.session.commit()
        event = notify.Event(alice, "project_ending", "project:1:end:x",
                             {"project_name": "P", "end_date": "x", "days": 1, "url": "/"})
        assert notify.deliver(event) == "failed"
        row = db.session.query(NotificationSent).one()
        assert "private or local network" in row.webhook_status
    assert calls == []
