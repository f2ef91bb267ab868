"""The container runtime adapters: the argv a job script runs (Charliecloud, Apptainer)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.runtime import Apptainer, Bind, Charliecloud, make_runtime


def test_charliecloud_binds_home_with_home_flag_and_runs_command_after_dashdash():
    runtime = Charliecloud(home="/home/alice")
    argv = runtime.exec_argv(
        "/images/base", ["/bin/bash", "/home/alice/portal-jobs/1/command.sh"],
        binds=[Bind("/home/alice", "/home/alice"), Bind("/data/shared", "/mnt")],
        env={"PIP_CERT": "/etc/ssl/a$b,c"}, workdir="/home/alice", gpus=2, shm_size=1024,
    )
    assert argv == [
        "ch-run", "--home", "--bind=/data/shared:/mnt", "--set-env=PIP_CERT=/etc/ssl/a$b,c",
        "--env-no-expand", "--cd=/home/alice", "/images/base", "--",
        "/bin/bash", "/home/alice/portal-jobs/1/command.sh",
    ]


def test_charliecloud_writable_and_plain_binds():
    argv = Charliecloud().exec_argv("/img", ["true"], binds=[Bind("/home/alice", "/home/alice")],
                                    writable=True)
    assert argv == ["ch-run", "--bind=/home/alice:/home/alice", "--write", "/img", "--", "true"]


def test_apptainer_argv_follows_its_documented_cli():
    runtime = Apptainer()
    argv = runtime.exec_argv(
        "/images/pytorch.sif", ["/bin/bash", "/w/job/command.sh"],
        binds=[Bind("/home/alice", "/home/alice"), Bind("/datasets", "/datasets", read_only=True)],
        env={"LANG": "C.UTF-8"}, workdir="/home/alice", gpus=1, writable=True,
    )
    assert argv == [
        "apptainer", "exec", "--nv", "--bind=/home/alice:/home/alice",
        "--bind=/datasets:/datasets:ro", "--env=LANG=C.UTF-8", "--pwd=/home/alice",
        "--writable-tmpfs", "/images/pytorch.sif", "/bin/bash", "/w/job/command.sh",
    ]


def test_apptainer_without_gpus_has_no_nv():
    assert "--nv" not in Apptainer().exec_argv("/i.sif", ["true"], gpus=0)


@pytest.mark.parametrize("bad", [
    dict(image="relative/image"),
    dict(image="/img/../etc"),
    dict(command_argv=[]),
    dict(command_argv="echo hi"),
    dict(command_argv=["a\x00b"]),
    dict(workdir="/tmp\nrm"),
    dict(env={"BAD NAME": "x"}),
    dict(env={"OK": "two\nlines"}),
    dict(gpus=-1),
    dict(shm_size=True),
])
@pytest.mark.parametrize("runtime", [Charliecloud(), Apptainer()])
def test_values_that_could_be_misread_are_refused(runtime, bad):
    args = {"image": "/img", "command_argv": ["true"], **bad}
    image, command = args.pop("image"), args.pop("command_argv")
    with pytest.raises(ValueError):
        runtime.exec_argv(image, command, **args)


@pytest.mark.parametrize("source,target", [("/a:b", "/c"), ("/a", "/b,c"), ("rel", "/x"),
                                           ("/a", "/b/")])
def test_bind_paths_are_checked(source, target):
    with pytest.raises(ValueError):
        Bind(source, target)


def test_apptainer_refuses_commas_in_env_and_option_like_commands():
    with pytest.raises(ValueError):
        Apptainer().exec_argv("/i.sif", ["true"], env={"A": "1,2"})
    with pytest.raises(ValueError):
        Apptainer().exec_argv("/i.sif", ["--help"])


def test_make_runtime_and_image_checks(tmp_path):
    assert isinstance(make_runtime("apptainer"), Apptainer)
    assert isinstance(make_runtime(None), Charliecloud)
    with pytest.raises(ValueError):
        make_runtime("docker")
    image = tmp_path / "img"
    assert not Charliecloud().image_exists(str(image))
    for entry in ("bin", "etc", "usr"):
        (image / entry).mkdir(parents=True)
    assert Charliecloud().image_exists(str(image))
    assert Apptainer().image_exists(str(image))
    assert not Apptainer().image_exists(str(tmp_path / "x.sif"))


@given(st.text(max_size=40), st.text(max_size=40))
def test_env_values_either_pass_through_unchanged_or_are_refused(name, value):
    for runtime in (Charliecloud(), Apptainer()):
        try:
            argv = runtime.exec_argv("/img", ["true"], env={name: value})
        except ValueError:
            continue
        assert any(a.endswith(f"={name}={value}") for a in argv)
        assert argv[-1] == "true"


@given(st.lists(st.text(min_size=1, max_size=20).filter(lambda s: "\x00" not in s),
                min_size=1, max_size=5))
def test_command_argv_is_passed_verbatim_at_the_end(command):
    if command[0].startswith("-"):
        command = ["cmd", *command]
    for runtime in (Charliecloud(), Apptainer()):
        assert runtime.exec_argv("/img", command)[-len(command):] == command
