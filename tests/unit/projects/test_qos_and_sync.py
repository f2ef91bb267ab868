"""Admin QOS management and `portal accounts check/fix` against a fake sacctmgr."""

from __future__ import annotations

import pytest

from portal import db
from portal.models import Project, ProjectRole, ProjectStatus
from portal.services import Forbidden, ServiceError, accounts_sync, project_settings
from portal.services import qos as qos_service


def test_qos_create_edit_delete(people, fake, ctx):
    admin = people["ada"]
    view = qos_service.create_qos(admin, "gpu-long", {
        "priority": "10", "grp_gpus": 8, "grp_gpus_by_model": "a100=2, v100=1",
        "grp_mem_gb": 100, "max_gpus_per_user": "2", "max_wall_minutes": 2880,
        "max_jobs_per_user": 3})
    record = fake.qos_defs["gpu-long"]
    assert record.grp_tres == {"gres/gpu": 8, "gres/gpu:a100": 2, "gres/gpu:v100": 1,
                               "mem": 102400}
    assert record.max_tres_per_user == {"gres/gpu": 2} and record.priority == 10
    assert view.grp_gpus_by_model == {"a100": 2, "v100": 1} and view.grp_mem_gb == 100
    view = qos_service.update_qos(admin, "gpu-long", {"grp_gpus_by_model": "a100=4",
                                                      "grp_mem_gb": "", "max_wall_minutes": ""})
    assert fake.qos_defs["gpu-long"].grp_tres == {"gres/gpu": 8, "gres/gpu:a100": 4}
    assert view.max_wall_minutes is None
    qos_service.delete_qos(admin, "gpu-long")
    assert "gpu-long" not in fake.qos_defs


def test_qos_refusals(project, people, fake, ctx):
    admin = people["ada"]
    with pytest.raises(Forbidden):
        qos_service.list_qos(people["mia"])
    for name in ("p_mine", "Bad", "x", "a,b", ""):
        with pytest.raises(ServiceError):
            qos_service.create_qos(admin, name, {})
    with pytest.raises(ServiceError, match="already exists"):
        qos_service.create_qos(admin, "normal", {})
    for data in ({"grp_gpus": -1}, {"priority": "high"}, {"grp_gpus_by_model": "a100"},
                 {"max_wall_minutes": 10**9}):
        with pytest.raises(ServiceError):
            qos_service.create_qos(admin, "tq", data)
    assert "tq" not in fake.qos_defs
    qos_service.create_qos(admin, "shared", {})
    project_settings.update_settings(admin, project, {}, extra_qos=["shared"])
    with pytest.raises(ServiceError) as caught:
        qos_service.delete_qos(admin, "shared")
    assert caught.value.code == "qos_in_use" and "tproj" in caught.value.message
    with pytest.raises(ServiceError, match="project"):
        qos_service.delete_qos(admin, "p_tproj")


def test_check_finds_hand_edits_and_fix_from_portal_undoes_them(project, fake, ctx):
    assert accounts_sync.check(fake) == []
    fake.add_user("carol", "tproj")
    fake.remove_coordinator("daemon", "tproj")
    fake.modify_qos("p_tproj", {"GrpTRES": {"gres/gpu": 99}})
    fake.modify_account("tproj", {"GrpJobs": 0, "GrpSubmitJobs": 0})
    fake.add_account("tmanual")
    kinds = {(d.account, d.kind) for d in accounts_sync.check(fake)}
    assert kinds == {("tproj", "extra_member"), ("tproj", "missing_coordinator"),
                     ("tproj", "qos_limits"), ("tproj", "blocked"),
                     ("tmanual", "unmanaged_account")}
    fixed = accounts_sync.fix(accounts_sync.check(fake), "portal", fake)
    assert {d.kind: d.outcome.split(":")[0] for d in fixed}["unmanaged_account"] == "left alone"
    assert [d.kind for d in accounts_sync.check(fake)] == ["unmanaged_account"]
    assert "tmanual" in fake.accts  # never removed


def test_fix_from_slurm_copies_slurm_into_the_portal(project, people, fake, ctx):
    fake.add_user("sys", "tproj")  # otto's Unix account
    fake.add_coordinator("bin", "tproj")  # max
    fake.modify_qos("p_tproj", {"GrpTRES": {"gres/gpu": 2}})
    fake.modify_account("tproj", {"GrpJobs": 0, "GrpSubmitJobs": 0})
    fake.add_account("tmanual")
    fake.add_user("daemon", "tmanual")
    accounts_sync.fix(accounts_sync.check(fake), "slurm", fake)
    p = db.session.get(Project, project)
    roles = {m.user.username: m.role for m in p.memberships}
    assert roles == {"mia": ProjectRole.MANAGER, "max": ProjectRole.MANAGER,
                     "otto": ProjectRole.MEMBER}
    assert p.gpu_limit == 2 and p.status == ProjectStatus.EXPIRED
    imported = db.session.query(Project).filter_by(account="tmanual").one()
    assert [m.user.username for m in imported.memberships] == ["mia"]
    assert accounts_sync.check(fake) == []


def test_check_with_slurmdbd_down_says_so(project, fake, ctx):
    from adapters.errors import SlurmUnreachable

    fake.down = True
    with pytest.raises(SlurmUnreachable):
        accounts_sync.check(fake)
