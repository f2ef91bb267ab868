"""Job input validation and the rendered sbatch script (F6; ARCHITECTURE decision 2)."""

import shlex
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.services import ServiceError
from portal.services import jobscript as scripts
from portal.services.jobspec import parse_request, validate_command, validate_name

NASTY = "echo \"it's\" $(id) `id` ; rm -rf / && echo 中文 ünï\n\tsecond line \\ $HOME '"


@pytest.mark.parametrize("name", ["train-1", "A.b_c", "x" * 64, "9lives"])
def test_good_names(name):
    assert validate_name(name) == name


@pytest.mark.parametrize("name", ["", "-rf", "a b", "a;b", "$(id)", "a`b`", "名字", "x" * 65,
                                  "a/b", "a\nb", ".hidden", "a'b", 'a"b', "a|b", "a>b"])
def test_names_with_shell_metacharacters_are_refused(name):
    with pytest.raises(ServiceError) as err:
        validate_name(name)
    assert err.value.code == "invalid_name"


def test_template_and_schedule_names_leave_room_for_the_run_number():
    assert validate_name("x" * 48, "template")
    with pytest.raises(ServiceError):
        validate_name("x" * 49, "schedule")


@given(st.text(max_size=80))
@settings(max_examples=300)
def test_name_validator_accepts_only_the_safe_set(text):
    try:
        name = validate_name(text)
    except ServiceError:
        return
    assert shlex.quote(name) == name and not name.startswith("-")


def test_command_is_kept_exactly_except_windows_line_ends():
    assert validate_command(NASTY) == NASTY
    assert validate_command("a\r\nb") == "a\nb"


@pytest.mark.parametrize("bad", ["", "   \n", "a\x00b", "a\x1bb", "a\rb", 7, None,
                                 "x" * (64 * 1024 + 1), "\ud800"])
def test_bad_commands_are_refused(bad):
    with pytest.raises(ServiceError) as err:
        validate_command(bad)
    assert err.value.code == "invalid_command"


@given(st.text(min_size=1, max_size=200))
@settings(max_examples=300)
def test_any_printable_command_is_accepted_verbatim(text):
    try:
        command = validate_command(text)
    except ServiceError:
        return
    assert command == text.replace("\r\n", "\n")


@pytest.mark.parametrize("field,value,code", [
    ("cpus", "0", "invalid_cpus"), ("cpus", "1.5", "invalid_cpus"), ("cpus", "abc", "invalid_cpus"),
    ("mem_gb", "-1", "invalid_memory"), ("shm_gb", "9", "invalid_shm"),
    ("gpu_count", "2", "invalid_gpu_count"), ("image", "docker://evil", "image_not_allowed"),
    ("image_type", "registry", "invalid_image_type"),
    ("image_type", "custom", "image_type_mismatch"),
])
def test_bad_hardware_and_images_are_refused(app, field, value, code):
    view = {"available": True, "nodes": [{"cpus_total": 16, "mem_total_mb": 16000,
                                          "gpus": {"a100": [4, 0]}}]}
    data = {"cpus": "1", "mem_gb": "8", "image": "base", "command": "true", field: value}
    if field == "gpu_count":
        data.update(gpu_model="h100")
    with app.test_request_context(), pytest.raises(ServiceError) as err:
        parse_request(None, data, view)
    assert err.value.code == code


def test_gpu_request_against_the_cluster(app):
    view = {"available": True, "nodes": [{"cpus_total": 16, "mem_total_mb": 16000,
                                          "gpus": {"a100": [4, 1]}}]}
    with app.test_request_context():
        spec = parse_request(None, {"gpu_model": "a100", "gpu_count": 4, "cpus": 16,
                                    "mem_gb": 15, "image": "base", "command": "x"}, view)
        assert (spec.gpu_model, spec.gpu_count, spec.framework) == ("a100", 4, "Python 3")
        with pytest.raises(ServiceError):
            parse_request(None, {"gpu_model": "a100", "gpu_count": 5, "image": "base",
                                 "command": "x"}, view)


def _input(**changes):
    base = dict(job_id=7, tag="portal-job-abc", name="train-1", user="alice",
                home="/home/alice", workspace="/home/alice",
                directory="/home/alice/portal-jobs/7-abc", image_path="/var/images/base",
                image_key="base", shell="/bin/bash", gpus=1, shm_gb=2)
    base.update(changes)
    return scripts.ScriptInput(**base)


def test_script_runs_the_command_file_in_the_container_and_never_contains_the_command():
    data = _input()
    args = ["--parsable", "--job-name=train-1", "--account=proja", "--comment=portal-job-abc",
            "--chdir=/home/alice/portal-jobs/7-abc"]
    script = scripts.render(data, args)
    assert script.startswith("#!/bin/bash\n")
    assert not [ln for ln in script.split("\n") if ln.startswith("#SBATCH")]
    exec_line = [ln for ln in script.split("\n") if ln.startswith("exec ")][0]
    assert shlex.split(exec_line)[1:] == scripts.runtime_argv(data)
    assert shlex.split(exec_line)[-2:] == ["/bin/bash", data.command_file]
    assert "--comment" not in script and "--parsable" not in script
    assert "sbatch --job-name=train-1 --account=proja" in script
    subprocess.run(["bash", "-n"], input=script.encode(), check=True)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               min_size=1, max_size=30))
@settings(max_examples=100, deadline=None)
def test_any_interpolated_value_stays_one_shell_word(value):
    path = "/home/u/" + value.replace("/", "_").replace(":", "_").replace(",", "_")
    try:
        data = _input(name=value, user=value, directory=path.replace("\n", "_"))
        script = scripts.render(data, [f"--job-name={value}"])
    except ValueError:
        return  # a path the runtime refuses (control characters, not normalised)
    checked = subprocess.run(["bash", "-n"], input=script.encode(), capture_output=True)
    assert checked.returncode == 0, checked.stderr
    exec_line = [ln for ln in script.split("\n") if ln.startswith("exec ")][0]
    assert shlex.split(exec_line)[1:] == scripts.runtime_argv(data)
