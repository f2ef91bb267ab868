"""The image store's own rules (issue #12), on temporary directories: folders the portal
owns alone, no symlink followed, a new file per image that is read-only and hashed, the
check of an old sticky store, and the copy that reads a file as its user."""

from __future__ import annotations

import hashlib
import os
import stat

import pytest

from adapters.runner import CommandRunner
from adapters.userfiles import UserFiles
from portal.services import ServiceError, image_store

SQFS = b"hsqs" + b"\0" * 60


@pytest.fixture
def store(app, tmp_path):
    root = tmp_path / "store"
    app.config["IMAGE_STORE"] = str(root)
    with app.app_context():
        yield root


def _fill(data: bytes):
    return lambda sink: sink(data)


def test_a_stored_image_is_a_new_read_only_file_in_folders_of_the_portal(store):
    stored = image_store.store_file("proja", "1-x-v1.sqfs", _fill(SQFS), magic=(0, b"hsqs"))
    assert stored.path == str(store / "proja" / "1-x-v1.sqfs") and stored.size == len(SQFS)
    assert stored.digest == "sha256:" + hashlib.sha256(SQFS).hexdigest()
    info = os.stat(stored.path)
    assert stat.S_IMODE(info.st_mode) == 0o444 and info.st_uid == os.geteuid()
    for folder in (store, store / "proja"):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o755
    image_store.verify(stored.path, stored.digest)
    with pytest.raises(ServiceError) as err:  # never over an existing image
        image_store.store_file("proja", "1-x-v1.sqfs", _fill(SQFS), magic=(0, b"hsqs"))
    assert err.value.code == "image_exists"
    image_store.remove(stored.path)
    assert os.listdir(store / "proja") == []


def test_what_is_not_an_image_is_not_kept(store):
    with pytest.raises(ServiceError) as err:
        image_store.store_file("proja", "2-x-v1.sqfs", _fill(b"#!/bin/sh\n"),
                               magic=(0, b"hsqs"))
    assert err.value.code == "image_not_an_image"
    assert os.listdir(store / "proja") == []


def test_a_project_folder_through_a_symlink_is_refused(store, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o755)
    store.mkdir(mode=0o755)
    (store / "proja").symlink_to(elsewhere)
    with pytest.raises(image_store.UnsafeStore) as err:
        image_store.store_file("proja", "1-x-v1.sqfs", _fill(SQFS))
    assert "symbolic link" in err.value.message and str(store / "proja") in err.value.message
    assert os.listdir(elsewhere) == []


def test_a_store_below_a_symlink_is_refused(app, tmp_path):
    (tmp_path / "real").mkdir(mode=0o755)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    app.config["IMAGE_STORE"] = str(tmp_path / "link" / "store")
    with app.app_context(), pytest.raises(image_store.UnsafeStore):
        image_store.store_file("proja", "1-x-v1.sqfs", _fill(SQFS))
    assert os.listdir(tmp_path / "real") == []


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a folder of another user")
def test_a_project_folder_of_another_user_or_writable_by_others_is_refused(store):
    store.mkdir(mode=0o755)
    (store / "projb").mkdir()
    os.chown(store / "projb", 65534, 65534)  # "carol" made it first
    with pytest.raises(image_store.UnsafeStore) as err:
        image_store.store_file("projb", "1-x-v1.sqfs", _fill(SQFS))
    assert "not the portal" in err.value.message
    os.chown(store / "projb", 0, 0)
    os.chmod(store / "projb", 0o1777)  # the layout of before issue #12
    with pytest.raises(image_store.UnsafeStore) as err:
        image_store.store_file("projb", "1-x-v1.sqfs", _fill(SQFS))
    assert "other users may write" in err.value.message
    assert os.listdir(store / "projb") == []


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a folder of another user")
def test_check_store_makes_an_old_sticky_store_safe(store):
    store.mkdir()
    os.chmod(store, 0o1777)
    (store / "proja").mkdir()
    os.chmod(store / "proja", 0o1777)
    (store / "proja" / "3-old-v1").mkdir()
    os.chown(store / "proja" / "3-old-v1", 65534, 65534)
    (store / "projb").mkdir()
    os.chown(store / "projb", 65534, 65534)
    notes = image_store.check_store()
    assert stat.S_IMODE(os.stat(store).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(store / "proja").st_mode) == 0o755
    assert not (store / "projb").exists()  # moved aside, its files kept for an admin
    aside = [n for n in os.listdir(store) if n.startswith(".untrusted-projb-")]
    assert len(aside) == 1
    text = "\n".join(notes)
    assert "0755" in text and "moved to" in text and "3-old-v1" in text
    # the portal makes a fresh folder of its own
    image_store.store_file("projb", "1-x-v1.sqfs", _fill(SQFS))
    assert os.stat(store / "projb").st_uid == os.geteuid()
    assert image_store.check_store() == [f"{store}/proja/3-old-v1: not a sealed image of "
                                         "the portal's (owner nobody); sessions cannot start "
                                         "from it"]


def test_verify_says_what_changed(store):
    stored = image_store.store_file("proja", "1-x-v1.sqfs", _fill(SQFS))
    with pytest.raises(image_store.ImageChanged) as err:
        image_store.verify(stored.path, "sha256:" + "0" * 64)
    assert "SHA-256" in err.value.message
    os.unlink(stored.path)
    os.symlink("/etc/passwd", stored.path)
    with pytest.raises(image_store.ImageChanged) as err:
        image_store.verify(stored.path, stored.digest)
    assert "replaced by a link" in err.value.message


def test_copy_out_reads_the_whole_file_and_reports_failures(tmp_path):
    source = tmp_path / "image.sqfs"
    source.write_bytes(b"x" * 3_000_000)
    files = UserFiles(CommandRunner(run_as_prefix=[]))
    chunks = []
    assert files.copy_out("nobody", str(source), chunks.append) == 3_000_000
    assert b"".join(chunks) == source.read_bytes()
    from adapters.errors import CommandFailed

    with pytest.raises(CommandFailed):
        files.copy_out("nobody", str(tmp_path / "missing"), chunks.append)
