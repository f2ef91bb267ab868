"""F4 through the runtime adapters: the session's kept writable layer (Charliecloud: a
private copy run with ch-run --write; Apptainer: --overlay DIR), the session script that
makes it, and the commit plans (Apptainer by argv only: it is not installed here)."""

from __future__ import annotations

import subprocess

import pytest

from adapters.runtime import Bind, make_runtime
from portal.services import sessionscript as scripts
from portal.services.jobscript import container_argv

ROOT = "/home/alice/portal-sessions/7-abc/rootfs"


def _input(**extra) -> scripts.SessionScriptInput:
    fields = dict(session_id=7, tag="portal-session-abc", name="lab-1", user="alice",
                  home="/home/alice", workspace="/home/alice", image_key="jupyter",
                  directory="/home/alice/portal-sessions/7-abc", image_path="/img/jupyter",
                  services=("jupyter", "ssh", "webterm"), base_url="/s/7/", writable=True)
    return scripts.SessionScriptInput(**{**fields, **extra})


def test_charliecloud_services_run_the_private_copy_writable():
    argv = make_runtime("charliecloud", home="/home/alice").service_argv(
        "/img/jupyter", ["jupyter"], binds=[Bind("/home/alice", "/home/alice")], root=ROOT)
    assert "--write" in argv and argv[argv.index("--") - 1] == ROOT
    assert "/img/jupyter" not in argv


def test_charliecloud_copy_and_commit_plan():
    runtime = make_runtime("charliecloud")
    assert runtime.writable_root_argv("/img/jupyter", ROOT) == [
        "cp", "-a", "--no-target-directory", "--", "/img/jupyter", ROOT]
    # a committed custom image is a SquashFS file: the writable copy unpacks it
    assert runtime.writable_root_argv("/store/proja/3-x-v1.sqfs", ROOT) == [
        "unsquashfs", "-no-progress", "-quiet", "-no-xattrs", "-dest", ROOT,
        "/store/proja/3-x-v1.sqfs"]
    work = "/home/alice/portal-sessions/7-abc/image-build-3"
    plan = runtime.commit_plan("/img/jupyter", ROOT, work)
    assert plan.steps == (("mksquashfs", ROOT, f"{work}/image.sqfs", "-noappend",
                           "-no-progress", "-quiet", "-no-xattrs", "-all-root",
                           "-one-file-system", "-comp", "zstd", "-Xcompression-level", "1"),)
    assert plan.output == f"{work}/image.sqfs" and plan.progress_dir == work
    assert plan.expected_from == (ROOT,) and runtime.image_suffix == ".sqfs"
    assert runtime.image_magic == (0, b"hsqs")


def test_charliecloud_starts_squashfs_files(tmp_path):
    image = tmp_path / "3-x-v1.sqfs"
    image.write_bytes(b"hsqs")
    runtime = make_runtime("charliecloud")
    assert runtime.image_exists(str(image))
    assert not runtime.image_exists(str(tmp_path / "nothing.sqfs"))
    argv = runtime.service_argv(str(image), ["jupyter"])
    assert argv[argv.index("--") - 1] == str(image) and "--write" not in argv


def test_a_squashfs_image_is_mounted_in_the_owners_own_folder():
    """Not ch-run's default /var/tmp/$USER.ch/mnt, which another user can make first (then
    ch-run fails: "can't mkdir: /var/tmp/bob.ch/mnt: Permission denied")."""
    data = _input(writable=False, image_path="/store/proja/3-x-v1.sqfs")
    argv = container_argv(data, ["true"], service=True)
    assert "--mount=/home/alice/portal-sessions/7-abc/.image-mount" in argv
    assert not any(a.startswith("--mount") for a in container_argv(
        _input(writable=False), ["true"], service=True))  # a directory image: no mount


def test_apptainer_overlay_and_build_plan():
    runtime = make_runtime("apptainer")
    argv = runtime.service_argv("/img/x.sif", ["jupyter"], root=ROOT)
    assert f"--overlay={ROOT}" in argv and "--writable-tmpfs" not in argv
    assert runtime.service_argv("/img/x.sif", ["jupyter"]).count("--writable-tmpfs") == 1
    assert runtime.writable_root_argv("/img/x.sif", ROOT) == ["mkdir", "-p", "-m", "700", "--",
                                                              ROOT]
    plan = runtime.commit_plan("/img/x.sif", ROOT, "/store/p/.build-3")
    assert plan.steps == (
        ("apptainer", "build", "--sandbox", "/store/p/.build-3/sandbox", "/img/x.sif"),
        ("cp", "-a", "--", f"{ROOT}/.", "/store/p/.build-3/sandbox/"),
        ("apptainer", "build", "/store/p/.build-3/image.sif", "/store/p/.build-3/sandbox"),
    )
    assert plan.output.endswith(".sif") and runtime.image_suffix == ".sif"


@pytest.mark.parametrize("bad", ["relative", "/a/../b", "/a\nb", "/x/"])
def test_paths_are_checked(bad):
    for name in ("charliecloud", "apptainer"):
        runtime = make_runtime(name)
        with pytest.raises(ValueError):
            runtime.writable_root_argv("/img/x", bad)
        with pytest.raises(ValueError):
            runtime.commit_plan("/img/x", ROOT, bad)


def test_session_script_makes_the_copy_first_and_removes_it_at_the_end():
    text = scripts.render(_input(), [])
    copy = text.index("cp -a --no-target-directory -- /img/jupyter " + ROOT)
    assert copy < text.index("jupyter server")
    assert f"ROOT={ROOT}" in text and "trap 'stop_all; rm -rf -- \"$ROOT\"' EXIT" in text
    assert text.count("--write") >= 2  # jupyter and sshd run the copy
    subprocess.run(["bash", "-n"], input=text, text=True, check=True)
    # the web terminal runs in the same copy
    assert ROOT in scripts.terminal_argv(_input())


def test_without_writable_nothing_is_copied():
    text = scripts.render(_input(writable=False), [])
    assert "rootfs" not in text and "--write" not in text
    subprocess.run(["bash", "-n"], input=text, text=True, check=True)
