"""Issue #17, item 1: the caps on extending a running session or job, and their words.

`decide` is the rule (MaxWall, the partition's MaxTime, what the wallet covers); the service
tests run the real service over a fake Slurm that records the operator's update."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from adapters.scheduler import JobInfo, JobState
from portal import db
from portal.models import AuditEvent, Job, WalletTransaction
from portal.services import ServiceError, extend
from tests.support.members import make_member


def test_parse_hours_whole_hours_only():
    assert extend.parse_hours(3) == 3
    assert extend.parse_hours(" 2 ") == 2
    for bad in (0, -1, "1.5", "two", True, None, extend.MAX_HOURS + 1, "١"):
        with pytest.raises(ServiceError) as err:
            extend.parse_hours(bad)
        assert err.value.code == "invalid_hours"


def test_billing_read_from_tres():
    assert extend.billing_of("cpu=2,mem=1G,node=1,billing=12,gres/gpu=1") == Decimal(12)
    assert extend.billing_of("billing=3") == Decimal(3)
    assert extend.billing_of("cpu=2,mem=1G") is None
    assert extend.billing_of(None) is None


def test_within_every_cap_adds_the_hours(app):
    limits = extend.Limits(max_wall=600, partition_max=1440, units=Decimal(12),
                           available=12 * 240)
    assert extend.decide("job", 120, 2, limits) == 240


def test_maxwall_refusal_names_the_cap_and_the_most(app):
    with app.test_request_context():
        limits = extend.Limits(max_wall=300)  # 5 h
        with pytest.raises(ServiceError) as err:
            extend.decide("session", 120, 4, limits)  # 2 h + 4 h > 5 h
        assert err.value.code == "extend_over_max_wall" and err.value.status == 409
        assert err.value.details == {"cap": "max_wall", "most_hours": 3}
        text = str(err.value.message)
        assert "MaxWall" in text and "5 h" in text and "2 h" in text and "3 h more" in text
        with pytest.raises(ServiceError) as err:
            extend.decide("session", 280, 1, limits)
        assert err.value.details["most_hours"] == 0 and "0 h more" in str(err.value.message)


def test_partition_maxtime_refusal(app):
    with app.test_request_context():
        limits = extend.Limits(partition="gpu", partition_max=480)
        with pytest.raises(ServiceError) as err:
            extend.decide("job", 240, 5, limits)
        assert err.value.details == {"cap": "partition", "most_hours": 4}
        assert "partition gpu" in str(err.value.message)
        assert "MaxTime" in str(err.value.message)


def test_wallet_refusal_says_price_left_and_most(app):
    with app.test_request_context():
        # 12 billing units = 0.12 an hour at the default scale (100); 30 billing-minutes
        # per hour is too little: 12 × 60 = 720 per hour, 1500 left covers 2 hours.
        limits = extend.Limits(units=Decimal("12.7"), available=1500, enforced=True)
        with pytest.raises(ServiceError) as err:
            extend.decide("job", 60, 3, limits)
        assert err.value.details == {"cap": "wallet", "most_hours": 2}
        text = str(err.value.message)
        assert "0.12 per hour" in text and "0.36" in text and "budget in Slurm" in text
        assert "2 h more" in text
        assert extend.decide("job", 60, 2, limits) == 180
        nothing = extend.Limits(units=Decimal(12), available=-50, enforced=False)
        with pytest.raises(ServiceError) as err:
            extend.decide("job", 60, 1, nothing)
        assert err.value.details["most_hours"] == 0
        assert "wallet's balance" in str(err.value.message)


def test_free_work_is_not_capped_by_the_wallet(app):
    assert extend.decide("job", 60, 5, extend.Limits(units=Decimal(0), available=0)) == 360


def test_ends_at_is_start_plus_limit_or_the_chosen_end():
    start = datetime(2026, 1, 1, 10, 0)
    row = type("Row", (), {"started_at": start, "time_limit_min": 90, "end_at": None})()
    assert extend.ends_at(row) == start + timedelta(minutes=90)
    row.end_at = start + timedelta(minutes=30)
    assert extend.ends_at(row) == row.end_at


class OperatorSlurm:
    """A running job whose TimeLimit only the operator's update changes."""

    def __init__(self, job_id="77", limit=60, tres="cpu=1,mem=1G,node=1,billing=12"):
        self.job = JobInfo(id=job_id, name="j", user="nobody", state=JobState.RUNNING,
                           slurm_state="RUNNING", account="proja", partition="cpu",
                           tres=tres, time_limit=limit,
                           start_time=datetime.now(UTC) - timedelta(minutes=10))
        self.updates: list[tuple[str, int]] = []
        self.others: list[JobInfo] = []

    def info(self, job_id, *, as_user=None):
        assert job_id == self.job.id
        return self.job

    def info_all(self, *, account=None, states=None, **_):
        return [self.job, *self.others]

    def operator_set_time_limit(self, job_id, minutes):
        self.updates.append((job_id, minutes))
        self.job.time_limit = minutes


def _running_job(user, slurm_id="77", limit=60) -> Job:
    job = Job(uuid="u" + slurm_id, user_id=user.id, project_id=user.memberships[0].project_id,
              name="j", account="proja", partition="cpu", directory="/tmp/x", image="base",
              command="true", state="running", slurm_job_id=slurm_id, time_limit_min=limit,
              started_at=db.utcnow() - timedelta(minutes=10), cpus=1, mem_gb=1)
    db.session.add(job)
    db.session.commit()
    return job


def _top_up(project_id, amount):
    db.session.add(WalletTransaction(project_id=project_id, account="proja", kind="topup",
                                     amount=Decimal(amount), occurred_at=db.utcnow()))
    db.session.commit()


def test_service_extends_through_the_operator_and_audits(app):
    with app.test_request_context():
        user = make_member("ursula")
        job = _running_job(user)
        _top_up(job.project_id, "10")  # 10.00 covers 12 units × many hours
        slurm = OperatorSlurm()
        done = extend.extend_job(user, job.id, "2", scheduler=slurm)
        assert slurm.updates == [("77", 180)]
        assert done.time_limit_min == 180
        assert extend.ends_at(done) == done.started_at + timedelta(minutes=180)
        event = db.session.query(AuditEvent).filter_by(action="job.extend").one()
        assert event.details["from_min"] == 60 and event.details["to_min"] == 180
        assert [e.kind for e in done.events][-1] == "extended"


def test_service_refusal_changes_nothing_and_is_audited(app):
    with app.test_request_context():
        user = make_member("ursula")
        job = _running_job(user)
        job.project.max_wall_minutes = 120
        db.session.commit()
        _top_up(job.project_id, "10")
        slurm = OperatorSlurm()
        with pytest.raises(ServiceError) as err:
            extend.extend_job(user, job.id, 2, scheduler=slurm)
        assert err.value.details == {"cap": "max_wall", "most_hours": 1}
        assert slurm.updates == [] and db.session.get(Job, job.id).time_limit_min == 60
        refused = db.session.query(AuditEvent).filter_by(action="job.extend_refused").one()
        assert refused.details["cap"] == "max_wall"


def test_service_counts_running_work_against_the_balance(app):
    with app.test_request_context():
        user = make_member("ursula")
        job = _running_job(user)
        # 12 units/h at 0.01 per unit-hour: 0.12 an hour. This job's 1 h limit holds 0.12,
        # another running job's 2 h limit 0.24: of 0.60, 0.24 is left, i.e. 2 h.
        _top_up(job.project_id, "0.60")
        slurm = OperatorSlurm()
        slurm.others.append(JobInfo(id="78", name="o", user="nobody", state=JobState.RUNNING,
                                    slurm_state="RUNNING", account="proja",
                                    tres="cpu=1,billing=12", time_limit=120))
        with pytest.raises(ServiceError) as err:
            extend.extend_job(user, job.id, 3, scheduler=slurm)
        assert err.value.details == {"cap": "wallet", "most_hours": 2}
        assert extend.extend_job(user, job.id, 2, scheduler=slurm).time_limit_min == 180


def test_only_the_owner_and_only_running(app):
    with app.test_request_context():
        owner, other = make_member("ursula"), make_member("victor")
        job = _running_job(owner)
        with pytest.raises(ServiceError) as err:
            extend.extend_job(other, job.id, 1, scheduler=OperatorSlurm())
        assert err.value.status == 404
        job.state = "pending"
        db.session.commit()
        with pytest.raises(ServiceError) as err:
            extend.extend_job(owner, job.id, 1, scheduler=OperatorSlurm())
        assert err.value.code == "not_running"


def test_session_api_and_page_extend(app, client, monkeypatch):
    """POST /api/v1/sessions/<id>/extend and the page's Extend button: the same service; a
    chosen end time moves with the extension; someone else's session is not found."""
    from adapters import factory
    from portal.models import Session
    from portal.services import tokens
    from tests.conftest import Auth, csrf_from

    fake = OperatorSlurm(job_id="88", limit=120)
    monkeypatch.setattr(factory, "make_scheduler", lambda config: fake)
    with app.test_request_context():
        user = make_member("ursula")
        make_member("victor")
        start = db.utcnow() - timedelta(minutes=10)
        session = Session(uuid="s88", user_id=user.id,
                          project_id=user.memberships[0].project_id, name="s",
                          account="proja", image="jupyter", state="running",
                          slurm_job_id="88", time_limit_min=120, started_at=start,
                          end_at=start + timedelta(minutes=120), cpus=1, mem_gb=1)
        db.session.add(session)
        db.session.commit()
        _top_up(session.project_id, "10")
        session_id = session.id
        _, token = tokens.create_token(user, "t")
        _, other = tokens.create_token(db.session.query(type(user)).filter_by(
            username="victor").one(), "t")
    answer = client.post(f"/api/v1/sessions/{session_id}/extend",
                         headers={"Authorization": f"Bearer {token}"}, json={"hours": 1})
    assert answer.status_code == 200, answer.json
    assert answer.json["time_limit_min"] == 180
    assert answer.json["ends_at"].startswith(
        (start + timedelta(minutes=180)).strftime("%Y-%m-%dT%H:%M"))
    assert client.post(f"/api/v1/sessions/{session_id}/extend",
                       headers={"Authorization": f"Bearer {other}"},
                       json={"hours": 1}).status_code == 404
    bad = client.post(f"/api/v1/sessions/{session_id}/extend",
                      headers={"Authorization": f"Bearer {token}"}, json={"hours": "x"})
    assert bad.status_code == 400 and bad.json["error"]["code"] == "invalid_hours"

    Auth(client).login("ursula")
    page = client.get(f"/sessions/{session_id}")
    assert 'data-testid="extend"' in page.text
    done = client.post(f"/sessions/{session_id}/extend", follow_redirects=True,
                       data={"hours": "2", "csrf_token": csrf_from(page.text)})
    assert "Extended by 2 h" in done.text and fake.updates[-1] == ("88", 300)
    with app.app_context():
        row = db.session.get(Session, session_id)
        assert row.end_at == start + timedelta(minutes=300)

