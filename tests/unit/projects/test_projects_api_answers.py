"""The project API's answers that its typed schemas describe (issue #18 item 4): archiving a
project and deactivating a user answer what was done besides the project or the user
(tests/unit/conftest.py checks each answer against ArchivedProject, DeactivatedUser and
UserStatus), and a create with managers or members that are not lists of usernames keeps
its answer now that ProjectInput checks them."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from adapters.scheduler.base import JobInfo, JobState
from portal.services import jobs as jobsvc
from portal.services import tokens


class Squeue:
    """The two calls archive and deactivate make of Slurm: squeue and an operator scancel."""

    def __init__(self, *jobs: JobInfo):
        self.jobs = {job.id: job for job in jobs}

    def info_all(self, **_where) -> list[JobInfo]:
        return list(self.jobs.values())

    def operator_cancel(self, job_id) -> None:
        self.jobs[job_id].state = JobState.CANCELLED


@pytest.fixture
def admin(people) -> dict:
    return {"Authorization": f"Bearer {tokens.create_token(people['ada'], 'cli')[1]}"}


@pytest.fixture
def slurm(monkeypatch) -> Squeue:
    """A running job of max (Unix user bin) in tproj, for archive and deactivate to cancel."""
    scheduler = Squeue(JobInfo(id="77", name="train", user="bin", state=JobState.RUNNING,
                               slurm_state="RUNNING", account="tproj"))
    monkeypatch.setattr(jobsvc, "get_backend", lambda: SimpleNamespace(scheduler=scheduler))
    return scheduler


def test_archive_answers_the_project_with_what_it_cancelled_and_blocked(
        client, project, admin, slurm):
    done = client.post(f"/api/v1/projects/{project}/archive", json={"reason": "over"},
                       headers=admin)
    assert done.status_code == 200, done.json
    assert done.json["status"] == "archived" and done.json["account"] == "tproj"
    assert done.json["cancelled"] == ["77"] and "tproj" in done.json["blocked"]
    again = client.post(f"/api/v1/projects/{project}/archive", headers=admin)
    assert again.status_code == 409 and again.json["error"]["code"] == "already_archived"


def test_deactivate_and_reactivate_answer_the_user(client, project, people, admin, slurm):
    user_id = people["max"].id
    done = client.post(f"/api/v1/users/{user_id}/deactivate", headers=admin)
    assert done.status_code == 200, done.json
    assert done.json["username"] == "max" and done.json["active"] is False
    assert done.json["cancelled"] == ["77"] and done.json["removed_from"] == ["tproj"]
    back = client.post(f"/api/v1/users/{user_id}/reactivate", headers=admin)
    assert back.status_code == 200 and back.json == {
        "id": user_id, "username": "max", "unix_user": "bin", "active": True}


@pytest.mark.parametrize("names", [{"managers": "mia"}, {"members": ["max", 7]},
                                   {"members": {"max": "member"}}])
def test_managers_and_members_must_be_lists_of_usernames(client, people, admin, fake, names):
    refused = client.post("/api/v1/projects", json={"account": "tnew", "name": "New", **names},
                          headers=admin)
    assert refused.status_code == 400 and refused.json["error"] == {
        "code": "invalid_body", "message": "managers and members are lists of usernames."}
    assert "tnew" not in fake.accts


def test_null_managers_and_members_mean_none(client, people, admin, fake):
    made = client.post("/api/v1/projects", json={"account": "tnew", "name": "New",
                                                 "managers": None, "members": None},
                       headers=admin)
    assert made.status_code == 201, made.json
    assert made.json["account"] == "tnew" and made.json["members"] == []
