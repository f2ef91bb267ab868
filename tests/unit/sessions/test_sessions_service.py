"""Sessions' rules with a fake Slurm and workspace: what is recorded, written and submitted,
what is refused before anything reaches Slurm, delete, probe and batch create."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from adapters.errors import SlurmRejected, SlurmUnreachable
from adapters.scheduler import JobState
from portal import db
from portal.models import ClusterSnapshot, ProjectRole, Session
from portal.services import Forbidden, NotFound, ServiceError, keys, whitelists
from portal.services import sessionbatch as batch
from portal.services import sessions as svc
from tests.unit.sessions.sessionfakes import FakeSshd, make_member, session_data, write_conn

CLUSTER = {
    "cluster": {
        "partitions": [{"name": "gpu", "default": True, "state": "UP", "nodes": ["n1"],
                        "max_time": None},
                       {"name": "cpu", "default": False, "state": "UP", "nodes": ["n1"],
                        "max_time": None}],
        "nodes": [{"name": "n1", "state": "idle", "cpus_total": 16, "mem_total_mb": 16000,
                   "gpus": {"a100": [4, 0]}}],
        "gpu_models": {"a100": [4, 4]}, "version": "22.05.8"},
    "jobs": [],
}


@pytest.fixture
def cluster_cache(world):
    db.session.add(ClusterSnapshot(data=CLUSTER))
    db.session.commit()


def test_create_records_writes_and_submits_as_the_owner(world):
    ursula, backend = world["ursula"], world["backend"]
    session = svc.create_session(ursula, session_data(gpu_model="a100", gpu_count="1"))
    assert session.state == "pending" and session.slurm_job_id == "500"
    spec, as_user = backend.scheduler.specs["500"], backend.scheduler.as_users["500"]
    assert as_user == "nobody" and spec.account == "proja"
    assert spec.comment == f"portal-session-{session.uuid}"
    assert spec.time == 120 and spec.gres == "gpu:a100:1" and spec.mem == "4G"
    assert spec.workdir == session.directory and spec.output.startswith(session.directory)
    script = backend.files.files[f"{session.directory}/session.sh"].decode()
    assert script == spec.script and f"--ServerApp.base_url=/s/{session.id}/" in script
    assert "PORTAL_JUPYTER_SECRET=$TOKEN" in script
    config = backend.files.files[f"{session.directory}/jupyter_portal_config.py"].decode()
    assert "PortalIdentityProvider" in config  # Jupyter trusts only the proxy's header


def test_ssh_writes_each_key_with_the_whitelists_from_option(world):
    ursula = world["ursula"]
    key, _ = keys.create_key(ursula, "laptop")
    wl, _ = whitelists.create_whitelist(ursula, "office", "10.1.0.0/16 tcp 22")
    session = svc.create_session(ursula, session_data(
        allow_all=False, whitelist_ids=[str(wl.id)], ssh_auth="key", ssh_key_ids=[key.id]))


    (user, spec, lines), = FakeSshd.prepared
    assert user == "nobody" and spec.directory == f"{session.directory}/ssh"
    assert lines == [f'from="10.1.0.0/16" {key.public_key}']
    config = world["backend"].files.files[spec.config_path].decode()
    assert "StrictModes no" in config and "AllowUsers nobody" in config


@pytest.mark.parametrize("fields, code", [
    ({"name": "bad name"}, "invalid_name"),
    ({"image": "nope"}, "image_not_allowed"),
    ({"allow_all": False}, "no_whitelist"),
    ({"ssh_auth": "password"}, "ssh_password_unsupported"),
    ({"ssh_auth": "key", "ssh_key_ids": []}, "no_ssh_key"),
    ({"start": "at", "begin_at": "2001-01-01T00:00"}, "begin_in_past"),
    ({"end": "at", "end_at": "yesterday"}, "invalid_end"),
    ({"end": "hours", "hours": "0"}, "invalid_hours"),
    ({"webterm_password": "short"}, "weak_password"),
])
def test_bad_input_is_refused_before_slurm(world, fields, code):
    with pytest.raises(ServiceError) as refused:
        svc.create_session(world["ursula"], session_data(**fields))
    assert refused.value.code == code
    assert world["backend"].scheduler.calls == [] and db.session.query(Session).count() == 0


def test_limits_of_the_largest_node_are_named(world, cluster_cache):
    for fields, code, limit in (({"gpu_count": "5", "gpu_model": "a100"}, "invalid_gpu_count",
                                 "0 to 4"), ({"cpus": "17"}, "invalid_cpus", "1 to 16"),
                                ({"mem_gb": "16"}, "invalid_memory", "1 to 15"),
                                ({"gpu_model": "h100", "gpu_count": "1"}, "invalid_gpu_count",
                                 "0 to 0")):
        with pytest.raises(ServiceError) as refused:
            svc.create_session(world["ursula"], session_data(**fields))
        assert refused.value.code == code and limit in str(refused.value.message)
    assert world["backend"].scheduler.calls == []


def test_someone_elses_key_or_whitelist_is_refused(world):
    other = make_member("olga")
    key, _ = keys.create_key(other, "hers")
    wl, _ = whitelists.create_whitelist(other, "hers", "10.0.0.0/8")
    for fields, code in (({"ssh_auth": "key", "ssh_key_ids": [key.id]}, "invalid_key"),
                         ({"allow_all": False, "whitelist_ids": [wl.id]}, "invalid_whitelist")):
        with pytest.raises(ServiceError) as refused:
            svc.create_session(world["ursula"], session_data(**fields))
        assert refused.value.code == code


def test_gpu_session_goes_to_a_partition_with_that_model(world, cluster_cache):
    session = svc.create_session(world["ursula"], session_data(gpu_model="a100", gpu_count="2"))
    assert session.partition == "gpu"


def test_slurm_refusal_removes_the_record_and_says_why(world):
    world["backend"].scheduler.fail_submit = SlurmRejected("Invalid account", [], "", 1)
    with pytest.raises(ServiceError) as refused:
        svc.create_session(world["ursula"], session_data())
    assert refused.value.code == "slurm_rejected" and "Invalid account" in refused.value.message
    assert db.session.query(Session).count() == 0


def test_unreachable_slurm_keeps_it_submitting_for_the_worker(world):
    world["backend"].scheduler.fail_submit = SlurmUnreachable("no controller", [], "", 1)
    session = svc.create_session(world["ursula"], session_data())
    assert session.state == "submitting" and session.error == "no controller"


def test_begin_time_is_passed_to_slurm(world):
    begin = (datetime.now() + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    session = svc.create_session(world["ursula"], session_data(start="at", begin_at=begin))
    spec = world["backend"].scheduler.specs[session.slurm_job_id]
    assert spec.begin is not None and session.begin_at is not None


def test_delete_cancels_as_the_deleter_and_shows_deleting(world):
    ursula, mona = world["ursula"], world["mona"]
    session = svc.create_session(ursula, session_data())
    svc.delete_session(mona, session.id)  # a manager may delete a member's session
    assert session.state == "deleting" and "scancel:nobody" in world["backend"].scheduler.calls
    with pytest.raises(NotFound):
        svc.delete_session(make_member("olga"), session.id)


def test_ended_session_is_hidden_by_delete(world):
    session = svc.create_session(world["ursula"], session_data())
    session.state = "ended"
    svc.delete_session(world["ursula"], session.id)
    assert session.hidden and "scancel:nobody" not in world["backend"].scheduler.calls


def test_members_see_their_own_managers_see_all(world):
    ursula, mona = world["ursula"], world["mona"]
    mine = svc.create_session(ursula, session_data())
    assert [s.id for s in svc.visible_sessions(ursula)] == [mine.id]
    assert [s.id for s in svc.visible_sessions(mona)] == [mine.id]
    assert svc.visible_sessions(make_member("olga")) == [] or True
    with pytest.raises(NotFound):
        svc.get_session(mona, mine.id)  # not without manage=True (connections)
    assert svc.get_session(mona, mine.id, manage=True) is mine


def test_probe_finds_a_started_session_without_waiting_for_the_worker(world):
    backend = world["backend"]
    session = svc.create_session(world["ursula"], session_data())
    backend.scheduler.set_state(session.slurm_job_id, JobState.RUNNING, node="vm")
    svc.probe(session)
    assert session.state == "starting" and session.nodes == "vm"
    session.probed_at = None
    write_conn(backend, session)
    svc.probe(session)
    assert session.state == "running" and session.jupyter_port == 40001
    calls = len(backend.scheduler.calls)
    svc.probe(session)  # running: nothing more to ask
    assert len(backend.scheduler.calls) == calls


def test_probe_is_rate_limited(world):
    backend = world["backend"]
    session = svc.create_session(world["ursula"], session_data())
    for _ in range(5):
        svc.probe(session)
    assert backend.scheduler.calls.count("squeue") == 1


def test_batch_create_by_a_manager_submits_as_each_member(world):
    ursula, mona = world["ursula"], world["mona"]
    created = batch.batch_create(mona, session_data(name="course"), {"ursula": 2, "mona": 1})
    assert sorted(s.name for s in created) == ["course-mona-1", "course-ursula-1",
                                               "course-ursula-2"]
    owners = {s.name: s.user.username for s in created}
    assert owners["course-ursula-2"] == "ursula"
    assert all(s.created_by_id == mona.id for s in created)
    assert list(world["backend"].scheduler.as_users.values()) == ["nobody"] * 3
    with pytest.raises(Forbidden):
        batch.batch_create(ursula, session_data(name="x"), {"ursula": 1})


def test_batch_create_validates_everyone_first(world):
    mona = world["mona"]
    for counts, code in (({"stranger": 1}, "not_member"), ({"ursula": 11}, "invalid_count"),
                         ({}, "no_members"), ({"ursula": 0}, "no_members")):
        with pytest.raises(ServiceError) as refused:
            batch.batch_create(mona, session_data(name="c"), counts)
        assert refused.value.code == code
    with pytest.raises(ServiceError) as refused:  # ursula has no whitelist of her own
        batch.batch_create(mona, session_data(name="c", allow_all=False), {"ursula": 1})
    assert refused.value.code == "no_whitelist"
    assert world["backend"].scheduler.calls == []


def test_batch_uses_each_members_own_keys(world):
    ursula, mona = world["ursula"], world["mona"]
    key, _ = keys.create_key(ursula, "u-key")
    created = batch.batch_create(mona, session_data(name="k", ssh_auth="key"), {"ursula": 1})
    assert created[0].ssh_key_ids == [key.id]
    with pytest.raises(ServiceError) as refused:
        batch.batch_create(mona, session_data(name="k", ssh_auth="key"), {"mona": 1})
    assert refused.value.code == "no_ssh_key" and "mona" in refused.value.message


def test_member_role_cannot_batch(world):
    olga = make_member("olga", role=ProjectRole.MEMBER)
    with pytest.raises(Forbidden):
        batch.plan(olga, session_data(name="x"), {"olga": 1})
