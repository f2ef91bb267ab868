"""Expiry blocks a project in Slurm, an approved extension restores it; admin settings."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from portal import db
from portal.models import ExtensionStatus, Project, ProjectStatus
from portal.services import Forbidden, ServiceError, project_expiry, project_settings


def _project(pid) -> Project:
    return db.session.get(Project, pid)


def test_expiry_blocks_new_jobs_and_an_approved_extension_restores(project, people, fake,
                                                                    ctx):
    p = _project(project)
    p.end_date = date.today() - timedelta(days=1)
    db.session.commit()
    assert project_expiry.enforce_expiry()["projects_expired"] == 1
    own = fake.assocs[("tproj", None)]
    assert (own.grp_jobs, own.grp_submit) == (0, 0)
    assert p.status == ProjectStatus.EXPIRED and "ended on" in p.blocked_reason
    assert project_expiry.enforce_expiry()["projects_expired"] == 0  # idempotent

    request = project_expiry.request_extension(people["max"], project, "30", "thesis")
    with pytest.raises(ServiceError, match="already waiting"):
        project_expiry.request_extension(people["mia"], project, 5)
    with pytest.raises(Forbidden):
        project_expiry.decide(people["mia"], request.id, True)
    project_expiry.decide(people["ada"], request.id, True, "ok")
    assert request.status == ExtensionStatus.APPROVED
    assert p.end_date == date.today() + timedelta(days=30)
    assert p.status == ProjectStatus.ACTIVE and p.blocked_reason == ""
    own = fake.assocs[("tproj", None)]
    assert (own.grp_jobs, own.grp_submit) == (None, None)


def test_rejection_needs_a_message_and_keeps_the_date(project, people, ctx):
    end = _project(project).end_date
    request = project_expiry.request_extension(people["max"], project, 10)
    with pytest.raises(ServiceError) as caught:
        project_expiry.decide(people["ada"], request.id, False, "")
    assert caught.value.code == "message_required"
    project_expiry.decide(people["ada"], request.id, False, "budget is over")
    assert request.status == ExtensionStatus.REJECTED and _project(project).end_date == end
    with pytest.raises(ServiceError, match="already been decided"):
        project_expiry.decide(people["ada"], request.id, True)
    for days in ("0", "-3", "366", "ten", None, True):
        with pytest.raises(ServiceError):
            project_expiry.request_extension(people["max"], project, days)


def test_expiry_survives_slurmdbd_down_and_retries(project, fake, ctx):
    p = _project(project)
    p.end_date = date.today() - timedelta(days=1)
    db.session.commit()
    fake.down = True
    summary = project_expiry.enforce_expiry()
    assert summary["projects_expired"] == 0 and "tproj" in summary["expiry_errors"][0]
    assert p.status == ProjectStatus.ACTIVE
    fake.down = False
    assert project_expiry.enforce_expiry()["projects_expired"] == 1


def test_admin_settings_reach_the_project_qos(project, people, fake, ctx):
    fake.add_qos("long", {"MaxWall": 10000})
    project_settings.update_settings(
        people["ada"], project, {"gpu_limit": 8, "cpu_limit": "", "max_wall_minutes": 480,
                                 "members_see_sessions": "on"}, extra_qos=["long"])
    qos = fake.qos_defs["p_tproj"]
    assert qos.grp_tres == {"gres/gpu": 8, "mem": 64 * 1024} and qos.max_wall == 480
    assert fake.assocs[("tproj", None)].qos == ("p_tproj", "long")
    p = _project(project)
    assert p.cpu_limit is None and p.members_see_sessions and p.extra_qos == ["long"]
    with pytest.raises(Forbidden):
        project_settings.update_settings(people["mia"], project, {"gpu_limit": 99})
    for bad in (["p_other"], ["nosuchqos"]):
        with pytest.raises(ServiceError):
            project_settings.update_settings(people["ada"], project, {}, extra_qos=bad)


def test_a_failed_qos_change_is_undone(project, people, fake, ctx):
    """The limits reach the QOS, then the account's QOS list cannot be changed: the limits
    go back and the database keeps the old values."""
    fake.add_qos("long")
    fake.fail_on = {"modify_account"}
    before = fake.snapshot()
    with pytest.raises(ServiceError):
        project_settings.update_settings(people["ada"], project, {"gpu_limit": 1},
                                         extra_qos=["long"])
    assert fake.snapshot() == before
    db.session.expire_all()
    assert _project(project).gpu_limit == 4 and _project(project).extra_qos == []


def test_moving_the_end_date_into_the_past_blocks_at_once(project, people, fake, ctx):
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    project_settings.update_settings(people["ada"], project, {"end_date": yesterday})
    assert _project(project).status == ProjectStatus.EXPIRED
    assert fake.assocs[("tproj", None)].grp_submit == 0
