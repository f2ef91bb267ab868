"""Project rules on both sides: the portal database and (a fake) sacctmgr change together,
or neither does."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal import db
from portal.models import AuditEvent, Membership, Project, ProjectRole
from portal.services import Forbidden, NotFound, ServiceError, projects
from tests.unit.projects.conftest import job, put_jobs


def _project(pid) -> Project:
    return db.session.get(Project, pid)


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_project_is_an_account_with_its_qos_users_and_coordinators(project, fake, ctx):
    p = _project(project)
    assert p.qos_name == "p_tproj"
    qos = fake.qos_defs["p_tproj"]
    assert qos.grp_tres == {"gres/gpu": 4, "cpu": 16, "mem": 64 * 1024}
    assert qos.max_tres_per_user == {"gres/gpu": 2}
    own = fake.assocs[("tproj", None)]
    assert own.qos == ("p_tproj",) and own.default_qos == "p_tproj"
    assert {("tproj", "daemon"), ("tproj", "bin")} <= set(fake.assocs)
    assert fake.accts["tproj"].coordinators == ("daemon",)
    assert fake.accts["tproj"].description == "Test Project"
    roles = {m.user.username: m.role for m in p.memberships}
    assert roles == {"mia": ProjectRole.MANAGER, "max": ProjectRole.MEMBER}
    assert db.session.scalar(select(AuditEvent.action).where(
        AuditEvent.action == "project.create")) == "project.create"


BAD_ACCOUNTS = [("tproj", "duplicate"), ("Bad Name", "invalid_account"),
                ("UPPER", "invalid_account"), ("a", "invalid_account"),
                ("root", "invalid_account"), ("x" * 33, "invalid_account"),
                ("proj;rm", "invalid_account"), ("", "invalid_account")]


def test_bad_or_duplicate_account_names_are_refused_before_slurm(project, people, fake, ctx):
    before = len(fake.calls)
    for account, code in BAD_ACCOUNTS:
        with pytest.raises(ServiceError) as caught:
            projects.create_project(people["ada"], account=account, name="Another")
        assert caught.value.code == code, account
    assert _count(Project) == 1 and not [c for c in fake.calls[before:] if c.startswith("add")]


def test_duplicate_title_and_existing_slurm_account_are_refused(project, people, fake, ctx):
    with pytest.raises(ServiceError, match="already exists"):
        projects.create_project(people["ada"], account="tother", name="test project")
    fake.add_account("tmanual")
    with pytest.raises(ServiceError) as caught:
        projects.create_project(people["ada"], account="tmanual", name="Manual")
    assert caught.value.code == "duplicate" and "does not manage" in caught.value.message


BAD_SETTINGS = [{"gpu_limit": -1}, {"gpu_limit": 10**9}, {"cpu_limit": 0},
                {"mem_limit_gb": "lots"}, {"gpu_limit": 2, "gpu_per_user": 3},
                {"end_date": "31/12/2099"}, {"start_date": "2030-01-02", "end_date": "2030-01-01"},
                {"max_wall_minutes": 2.5}, {"gpu_limit": True}]


def test_negative_or_absurd_limits_are_refused(people, fake, ctx):
    for settings in BAD_SETTINGS:
        with pytest.raises(ServiceError) as caught:
            projects.create_project(people["ada"], account="tlim", name="Limits",
                                    settings=settings)
        assert caught.value.code in ("invalid_limit", "invalid_date"), settings
    assert "tlim" not in fake.accts and _count(Project) == 0


def test_only_admins_create_projects(people, fake, ctx):
    with pytest.raises(Forbidden):
        projects.create_project(people["mia"], account="tnope", name="Nope")


def test_slurmdbd_down_changes_nothing_on_either_side(people, fake, ctx):
    """The QOS and account are made, then adding a user fails as if slurmdbd went down:
    what was made is undone and the database keeps no project."""
    fake.fail_on = {"add_user"}
    before = fake.snapshot()
    with pytest.raises(ServiceError) as caught:
        projects.create_project(people["ada"], account="thalf", name="Half",
                                managers=["mia"])
    assert caught.value.code == "slurm_unavailable" and "slurmdbd" in caught.value.message
    assert fake.snapshot() == before
    assert _count(Project) == 0 and _count(Membership) == 0


def test_manager_edits_name_and_description_on_both_sides(project, people, fake, ctx):
    projects.update_details(people["mia"], project, name="Renamed", description="new words")
    p = _project(project)
    assert (p.name, p.description) == ("Renamed", "new words")
    assert fake.accts["tproj"].description == "Renamed"


def test_member_may_not_edit_and_outsider_does_not_see(project, people, ctx):
    with pytest.raises(Forbidden):
        projects.update_details(people["max"], project, name="Mine now")
    with pytest.raises(NotFound):
        projects.get_project(people["otto"], project)
    with pytest.raises(NotFound):
        projects.add_member(people["otto"], project, "otto")


def test_members_come_and_go_with_their_associations(project, people, fake, ctx):
    projects.add_member(people["mia"], project, "otto", "manager")
    assert ("tproj", "sys") in fake.assocs and "sys" in fake.accts["tproj"].coordinators
    with pytest.raises(ServiceError, match="already a member"):
        projects.add_member(people["mia"], project, "otto")
    with pytest.raises(ServiceError) as caught:
        projects.add_member(people["mia"], project, "nobody-such")
    assert caught.value.code == "unknown_user"
    projects.remove_member(people["mia"], project, people["otto"].id)
    assert ("tproj", "sys") not in fake.assocs and "sys" not in fake.accts["tproj"].coordinators


def test_the_last_manager_stays(project, people, fake, ctx):
    mia = people["mia"].id
    for action in (lambda: projects.remove_member(people["ada"], project, mia),
                   lambda: projects.set_role(people["ada"], project, mia, "member")):
        with pytest.raises(ServiceError) as caught:
            action()
        assert caught.value.code == "last_manager"
    projects.set_role(people["mia"], project, people["max"].id, "manager")
    projects.set_role(people["max"], project, mia, "member")
    assert fake.accts["tproj"].coordinators == ("bin",)


def test_a_member_with_active_jobs_is_not_removed(project, people, fake, ctx):
    put_jobs([job(7, user="bin"), job(8, user="bin", state="queued")])
    with pytest.raises(ServiceError) as caught:
        projects.remove_member(people["mia"], project, people["max"].id)
    assert caught.value.code == "active_jobs" and "7, 8" in caught.value.message
    assert ("tproj", "bin") in fake.assocs


def test_slurm_refusing_a_removal_leaves_the_member(project, people, fake, ctx):
    """The cache may be a cycle behind: Slurm's own refusal is explained the same way."""
    fake.busy.add(("bin", "tproj"))
    with pytest.raises(ServiceError) as caught:
        projects.remove_member(people["mia"], project, people["max"].id)
    assert caught.value.code == "active_jobs"
    assert projects.role_of(people["max"], _project(project)) == ProjectRole.MEMBER


def test_a_user_without_unix_account_cannot_join(project, people, ctx):
    from portal.services import users

    users.create_user("webonly", require_unix=False, password="correct horse battery")
    with pytest.raises(ServiceError) as caught:
        projects.add_member(people["ada"], project, "webonly")
    assert caught.value.code == "no_unix_user"


def test_visible_projects(project, people, ctx):
    assert [p.account for p in projects.visible_projects(people["ada"])] == ["tproj"]
    assert [p.account for p in projects.visible_projects(people["max"])] == ["tproj"]
    assert projects.visible_projects(people["otto"]) == []
