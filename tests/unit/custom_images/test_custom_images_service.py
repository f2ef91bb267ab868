"""F4 rules: names and tags, commit refusals (stopping, not running, twice at once),
the build (a real mksquashfs on temporary directories: the sealed file, its digest, modes,
disk full and cleanup), the check before a start (issue #12), the images in the create
form, delete refused while sessions use an image."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.exc import IntegrityError

from portal import db
from portal.models import AuditEvent, CustomImage, Session
from portal.services import Forbidden, NotFound, ServiceError
from portal.services import custom_images as svc
from portal.services import sessions as sessionsvc
from portal.services.images import CUSTOM, available_images, get_image
from tests.unit.sessions.sessionfakes import make_member, session_data

NAME_CHARS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=1,
                     max_size=45)


@given(NAME_CHARS)
def test_name_rule_property(name):
    ok = (len(name) <= 40 and name[0].isalnum() and name[-1].isalnum())
    if ok:
        assert svc.valid_name(name) == name
    else:
        with pytest.raises(ServiceError) as err:
            svc.valid_name(name)
        assert err.value.code == "invalid_image_name" and "1–40" in err.value.message


@given(st.text(max_size=30))
def test_anything_accepted_as_a_name_or_tag_is_safe_in_a_path(text):
    for check in (svc.valid_name, svc.valid_tag):
        try:
            value = check(text)
        except ServiceError as exc:
            assert exc.code in ("invalid_image_name", "invalid_image_tag")
            continue
        assert "/" not in value and ":" not in value and value not in (".", "..")
        assert not value.startswith(("-", ".")) and value.isascii() and value.isprintable()


@pytest.mark.parametrize("name", ["", "A", "ab/c", "-x", "x-", "a b", "é", "a" * 41, None, 3])
def test_bad_names(name):
    with pytest.raises(ServiceError):
        svc.valid_name(name)


@pytest.mark.parametrize("tag,expected", [("", "latest"), (None, "latest"), ("v1.0", "v1.0"),
                                          ("_x", "_x")])
def test_tags(tag, expected):
    assert svc.valid_tag(tag) == expected


@pytest.mark.parametrize("tag", [".x", "-x", "a:b", "a/b", "x" * 21, " "])
def test_bad_tags(tag):
    with pytest.raises(ServiceError) as err:
        svc.valid_tag(tag)
    assert "1–20" in err.value.message


def _commit(running, **extra):
    return svc.commit(running["ursula"], running["session"].id,
                      {"name": "mytools", "tag": "v1", "display_name": "My tools", **extra})


def test_commit_queues_and_audits(running):
    image = _commit(running, services=["jupyter"])
    assert image.state == "queued" and image.key == "mytools:v1"
    assert image.building_session_id == running["session"].id
    assert image.services == ["jupyter"] and image.framework == "PyTorch 2"
    assert image.source_root == str(running["root"])
    event = db.session.query(AuditEvent).filter_by(action="image.commit").one()
    assert event.details["name"] == "mytools:v1"


def test_second_commit_of_the_same_session_is_refused(running):
    _commit(running)
    with pytest.raises(ServiceError) as err:
        _commit(running, name="other")
    assert err.value.code == "commit_in_progress" and err.value.status == 409


def test_the_database_itself_refuses_two_active_builds_of_one_session(running):
    first = _commit(running)
    db.session.add(CustomImage(project_id=first.project_id, owner_unix="nobody", name="b",
                               tag="t", building_session_id=first.building_session_id))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_same_name_and_tag_refused(running):
    image = _commit(running)
    image.state, image.building_session_id = "ready", None
    db.session.commit()
    with pytest.raises(ServiceError) as err:
        _commit(running)
    assert err.value.code == "image_exists"


def test_commit_while_stopping_or_not_running(running):
    session = running["session"]
    session.state = "deleting"
    db.session.commit()
    with pytest.raises(ServiceError) as err:
        _commit(running)
    assert err.value.code == "session_stopping" and "stopping" in err.value.message
    session.state = "pending"
    db.session.commit()
    with pytest.raises(ServiceError) as err:
        _commit(running)
    assert err.value.code == "session_not_running"
    assert db.session.query(CustomImage).count() == 0


def test_commit_of_someone_elses_session_is_not_found(running):
    other = make_member("otto")
    with pytest.raises(NotFound):
        svc.commit(other, running["session"].id, {"name": "x"})


def test_commit_without_a_writable_copy(running):
    import shutil

    shutil.rmtree(running["root"])
    with pytest.raises(ServiceError) as err:
        _commit(running)
    assert err.value.code == "not_writable"


def test_commit_of_a_session_without_kept_changes_is_refused(running):
    session = running["session"]
    session.writable = False
    db.session.commit()
    with pytest.raises(ServiceError) as err:
        _commit(running)
    assert err.value.code == "not_writable"
    assert "Keep changes to the container" in str(err.value.message)
    assert db.session.query(CustomImage).count() == 0


def test_commit_of_a_read_only_session_started_normally_is_refused(world, runner, store):
    ursula = world["ursula"]
    session = sessionsvc.create_session(ursula, session_data(name="plain"))
    assert session.writable is False
    session.state = "running"
    db.session.commit()
    with pytest.raises(ServiceError) as err:
        svc.commit(ursula, session.id, {"name": "x", "services": ["webterm"]})
    assert err.value.code == "not_writable" and "start a new session" in \
        str(err.value.message).lower()


def _unsquash(image_path: str, option: str, *files: str) -> str:
    return subprocess.run(["unsquashfs", option, image_path, *files], capture_output=True,
                          text=True, check=True).stdout


def test_build_makes_a_sealed_file_as_the_owner_and_shares_it(running, runner, store):
    image = _commit(running)
    svc.build(image.id)
    db.session.refresh(image)
    assert image.state == "ready", image.error
    assert image.progress == 100 and image.building_session_id is None
    assert image.path == str(store / "proja" / f"{image.id}-mytools-v1.sqfs")
    # the portal's read-only file in the portal's 0755 folders (issue #12)
    info = os.stat(image.path)
    assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o444
    assert info.st_uid == os.geteuid() and image.size_bytes == info.st_size
    for folder in (store, store / "proja"):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o755
        assert os.stat(folder).st_uid == os.geteuid()
    with open(image.path, "rb") as fh:
        assert image.digest == "sha256:" + hashlib.sha256(fh.read()).hexdigest()
    assert _unsquash(image.path, "-cat", "usr/local/hello.txt") == "hello from the session\n"
    # modes kept as they were: the 0600 file stays 0600 (issue #16 item 7)
    listing = _unsquash(image.path, "-lls")
    assert any(line.startswith("-rw------- ") and line.endswith("/etc/secret")
               for line in listing.splitlines()), listing
    assert sorted(os.listdir(store / "proja")) == [f"{image.id}-mytools-v1.sqfs"]
    assert not (running["root"].parent / f"image-build-{image.id}").exists()
    assert {user for _, user in runner.calls} == {"nobody"}  # every command as the owner
    mksquashfs = [c for c, _ in runner.calls if c[0] == "mksquashfs"]
    assert mksquashfs and mksquashfs[0][1] == str(running["root"])
    # the project's members see it in the create form, as a custom image
    keys = [i.key for i in available_images(running["ursula"], CUSTOM)]
    assert keys == ["mytools:v1"]
    assert get_image(running["mona"], "mytools:v1", CUSTOM).path == image.path
    assert svc.verify_for_start(image.project_id, "mytools:v1", image.path) == image


def test_a_changed_image_is_not_started(running, runner, store):
    image = _commit(running)
    svc.build(image.id)
    ursula = running["ursula"]
    os.chmod(image.path, 0o644)
    with open(image.path, "ab") as fh:  # root (here: the test) tampers with the file
        fh.write(b"#")
    os.chmod(image.path, 0o444)
    sessions_before = db.session.query(Session).count()
    with pytest.raises(ServiceError) as err:
        sessionsvc.create_session(ursula, session_data(name="tampered", image="mytools:v1",
                                                       image_type="custom"))
    assert err.value.code == "image_changed"
    assert "has changed since it was committed" in err.value.message
    assert "SHA-256" in err.value.message
    assert db.session.query(Session).count() == sessions_before  # nothing was submitted
    # write bits left on the file are refused too, before hashing
    os.chmod(image.path, 0o644)
    with pytest.raises(ServiceError) as err:
        svc.verify_for_start(image.project_id, image.key, image.path)
    assert err.value.code == "image_changed" and "not read-only" in err.value.message


def test_a_job_from_a_changed_image_is_not_submitted(running, runner, store, backend):
    from portal.models import Job
    from portal.services import jobs as jobsvc

    image = _commit(running)
    svc.build(image.id)
    data = {"name": "train-1", "cpus": "1", "mem_gb": "1", "image": "mytools:v1",
            "image_type": "custom", "command": "true"}
    job = jobsvc.create_job(running["ursula"], data, backend=backend)
    assert job.state == "pending"  # the sealed image: fine
    os.chmod(image.path, 0o644)
    with open(image.path, "r+b") as fh:
        fh.seek(100)
        fh.write(b"tampered")
    os.chmod(image.path, 0o444)
    jobs_before = db.session.query(Job).count()
    with pytest.raises(ServiceError) as err:
        jobsvc.create_job(running["ursula"], {**data, "name": "train-2"}, backend=backend)
    assert err.value.code == "image_changed"
    assert db.session.query(Job).count() == jobs_before


def test_an_image_from_before_sealing_is_not_started(running, runner, store):
    image = _commit(running)
    svc.build(image.id)
    image.digest = ""
    db.session.commit()
    with pytest.raises(ServiceError) as err:
        svc.verify_for_start(image.project_id, image.key, image.path)
    assert err.value.code == "image_unsealed" and "Commit it again" in err.value.message


def test_disk_full_cleans_up_and_keeps_the_session(running, runner, store):
    image = _commit(running)
    runner.fail_on = "mksquashfs"
    svc.build(image.id)
    db.session.refresh(image)
    assert image.state == "failed" and "ran out of disk space" in image.error
    assert image.building_session_id is None
    assert not (running["root"].parent / f"image-build-{image.id}").exists()
    assert (running["root"] / "usr/local/hello.txt").exists()
    assert running["session"].state == "running"
    assert available_images(running["ursula"], CUSTOM) == []
    # a new commit of the same session is possible after the failure
    assert _commit(running, name="again").state == "queued"


def test_store_full_leaves_nothing_half_stored(running, runner, store, monkeypatch):
    import errno

    from portal.services import image_store

    image = _commit(running)
    real = image_store.store_file

    def full(account, filename, fill, **kw):
        def failing_fill(sink):
            def write(chunk):
                sink(chunk[:10])
                raise OSError(errno.ENOSPC, "No space left on device")
            fill(write)
        return real(account, filename, failing_fill, **kw)

    monkeypatch.setattr(image_store, "store_file", full)
    svc.build(image.id)
    db.session.refresh(image)
    assert image.state == "failed" and "ran out of disk space" in image.error
    assert os.listdir(store / "proja") == []


def test_session_ended_during_the_build(running, runner, store):
    import shutil

    image = _commit(running)
    shutil.rmtree(running["root"])
    svc.build(image.id)
    db.session.refresh(image)
    assert image.state == "failed" and "session ended" in image.error


def test_worker_step_fails_stale_builds_and_starts_queued(running, monkeypatch):
    from datetime import timedelta

    started = []
    monkeypatch.setattr(svc, "start_build", lambda app, image_id: started.append(image_id))
    image = _commit(running)
    stale = CustomImage(project_id=image.project_id, owner_unix="nobody", name="stale",
                        tag="t", state="building",
                        heartbeat_at=db.utcnow() - timedelta(minutes=10))
    db.session.add(stale)
    db.session.commit()
    svc.worker_step()
    db.session.refresh(stale)
    assert stale.state == "failed" and "commit again" in stale.error
    assert started == [image.id]


def test_delete_refused_while_sessions_use_it(running, runner, store):
    image = _commit(running)
    svc.build(image.id)
    ursula = running["ursula"]
    used = sessionsvc.create_session(ursula, session_data(name="uses-it", image="mytools:v1",
                                                          image_type="custom"))
    assert used.image_path == image.path and used.image_type == "custom"
    with pytest.raises(ServiceError) as err:
        svc.delete(ursula, image.id)
    assert err.value.code == "image_in_use" and "uses-it" in err.value.message
    used.state = "ended"
    db.session.commit()
    with pytest.raises(Forbidden):  # another member: neither creator nor manager
        svc.delete(make_member("otto"), image.id)
    path = image.path
    svc.delete(ursula, image.id)
    assert not os.path.exists(path)
    assert db.session.query(AuditEvent).filter_by(action="image.delete").count() == 1


def test_wrong_image_type_is_said(running, runner, store):
    image = _commit(running)
    svc.build(image.id)
    with pytest.raises(ServiceError) as err:
        get_image(running["ursula"], "mytools:v1", "public")
    assert err.value.code == "image_type_mismatch"
    other_project = make_member("pat", account="projb")
    assert available_images(other_project, CUSTOM) == []  # shared within the project only


def test_a_queued_build_is_claimed_once_and_built_in_a_thread(running, runner, store, app):
    image = _commit(running)
    thread = svc.start_build(app, image.id)
    assert svc.start_build(app, image.id) is None  # already claimed
    thread.join(timeout=60)
    db.session.expire_all()
    assert db.session.get(CustomImage, image.id).state == "ready"
