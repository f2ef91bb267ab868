"""A project before its start date is blocked in Slurm, says why, and opens on that day."""

from __future__ import annotations

import html
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from portal import db
from portal.models import Project, ProjectStatus
from portal.services import project_expiry, project_settings, projects
from tests.conftest import PASSWORD
from tests.unit.projects.conftest import job

TODAY = date.today()


def _blocked(fake, account="tproj") -> bool:
    own = fake.assocs[(account, None)]
    return (own.grp_jobs, own.grp_submit) == (0, 0)


def _future(fake, people, start=TODAY + timedelta(days=3)) -> Project:
    return projects.create_project(
        people["ada"], account="tlater", name="Later", managers=["mia"],
        settings={"start_date": start.isoformat(), "end_date": "2099-12-31"})


def test_a_project_created_before_its_start_is_blocked_and_says_when(people, fake, ctx):
    start = TODAY + timedelta(days=3)
    p = _future(fake, people, start)
    assert p.status == ProjectStatus.NOT_STARTED and p.is_blocked
    assert _blocked(fake, "tlater")
    assert start.isoformat() in p.blocked_reason and "starts on" in p.blocked_reason
    assert project_expiry.enforce_expiry()["projects_not_started"] == 0  # nothing to do


def test_the_worker_opens_it_on_its_start_date(people, fake, ctx):
    start = TODAY + timedelta(days=3)
    p = _future(fake, people, start)
    assert project_expiry.enforce_expiry(start - timedelta(days=1))["projects_opened"] == 0
    summary = project_expiry.enforce_expiry(start)
    assert summary["projects_opened"] == 1 and not summary["expiry_errors"]
    assert p.status == ProjectStatus.ACTIVE and p.blocked_reason == "" and not p.is_blocked
    assert not _blocked(fake, "tlater")


def test_moving_the_start_date_blocks_and_unblocks_at_once(project, people, fake, ctx):
    later = (TODAY + timedelta(days=10)).isoformat()
    project_settings.update_settings(people["ada"], project, {"start_date": later})
    p = db.session.get(Project, project)
    assert p.status == ProjectStatus.NOT_STARTED and _blocked(fake)
    project_settings.update_settings(people["ada"], project,
                                     {"start_date": TODAY.isoformat()})
    assert p.status == ProjectStatus.ACTIVE and not _blocked(fake)


def test_not_started_page_says_why(app, client, auth, people, fake):
    start = TODAY + timedelta(days=3)
    with app.test_request_context("/"):
        pid = _future(fake, people, start).id
    auth.login("mia", PASSWORD)
    page = html.unescape(client.get(f"/projects/{pid}").get_data(as_text=True))
    assert 'data-testid="blocked-reason"' in page
    assert f"The project starts on {start.isoformat()}." in page
    assert "Not started" in client.get("/projects/").get_data(as_text=True)


def test_usage_counts_cpus_and_memory_of_login_node_jobs(app, ctx):
    from portal.services import project_usage as pu

    # squeue's tres-alloc for a job submitted from a shell: -c 2 --mem-per-cpu=300
    row = job(9, tres="cpu=2,mem=600M,node=1,billing=12,gres/gpu=1,gres/gpu:a100=1",
              gres="gpu:a100:1")
    usage = pu.usage_by_account([row, job(10, state="queued", tres="cpu=8,mem=4G")])["tproj"]
    assert (usage.gpus, usage.cpus, usage.mem_mb, usage.partial) == (1, 2, 600, False)
    assert usage.pending == 1


@given(start=st.one_of(st.none(), st.dates()), end=st.one_of(st.none(), st.dates()),
       on=st.dates())
def test_date_status_is_the_dates_inclusive(start, end, on):
    p = Project(account="x", name="x", start_date=start, end_date=end)
    status = project_expiry.date_status(p, on)
    inside = (start is None or start <= on) and (end is None or on <= end)
    assert (status == ProjectStatus.ACTIVE) == inside
    if start is not None and on < start:
        assert status == ProjectStatus.NOT_STARTED
