"""The one command runner: deadlines, environment, identity, redaction, typed errors."""

from __future__ import annotations

import logging
import os
import time

import pytest

from adapters.errors import (
    AdapterError,
    CommandFailed,
    CommandNotFound,
    CommandTimeout,
    SlurmUnreachable,
)
from adapters.runner import BASE_ENV, CommandRunner, default_run_as_prefix, validate_user

# A stand-in for `runuser -u {user} --` that needs no privileges: it records the user.
FAKE_PREFIX = ["env", "AS_USER={user}"]


def test_runs_argv_and_captures_output():
    result = CommandRunner().run(["echo", "hello", "$HOME", "a b"])
    assert result.returncode == 0
    assert result.stdout == "hello $HOME a b\n"  # no shell: nothing expanded or split
    assert result.argv == ["echo", "hello", "$HOME", "a b"]


def test_timeout_kills_and_raises_quickly():
    started = time.monotonic()
    with pytest.raises(CommandTimeout, match="within 0.3s"):
        CommandRunner().run(["sleep", "30"], timeout=0.3)
    assert time.monotonic() - started < 3


def test_timeout_escalates_to_sigkill_for_a_child_ignoring_sigterm():
    started = time.monotonic()
    with pytest.raises(CommandTimeout):
        CommandRunner().run(["bash", "-c", "trap '' TERM; sleep 30"], timeout=0.3)
    assert time.monotonic() - started < 5


def test_timeout_kills_grandchildren_too(tmp_path):
    pid_file = tmp_path / "pid"
    script = f"sleep 30 & echo $! > {pid_file}; wait"
    with pytest.raises(CommandTimeout):
        CommandRunner().run(["bash", "-c", script], timeout=0.5)
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_every_call_has_a_timeout():
    with pytest.raises(ValueError):
        CommandRunner(timeout=0)
    with pytest.raises(ValueError):
        CommandRunner().run(["true"], timeout=-1)


def test_missing_program_is_command_not_found():
    with pytest.raises(CommandNotFound):
        CommandRunner().run(["no-such-program-xyz"])


def test_missing_program_behind_the_run_as_helper_is_command_not_found():
    runner = CommandRunner(run_as_prefix=FAKE_PREFIX)
    with pytest.raises(CommandNotFound):
        runner.run(["/no/such/program"], as_user="alice")


def test_missing_run_as_helper_is_command_not_found():
    runner = CommandRunner(run_as_prefix=["no-such-helper", "{user}"])
    with pytest.raises(CommandNotFound):
        runner.run(["true"], as_user="alice")


def test_environment_is_minimal():
    os.environ["PORTAL_SECRET_SHOULD_NOT_LEAK"] = "x"
    try:
        out = CommandRunner().run(["env"]).stdout
    finally:
        del os.environ["PORTAL_SECRET_SHOULD_NOT_LEAK"]
    assert dict(line.split("=", 1) for line in out.splitlines()) == BASE_ENV


def test_explicit_environment_is_added():
    out = CommandRunner(env={"SLURM_CONF": "/etc/slurm/x.conf"}).run(["env"]).stdout
    assert "SLURM_CONF=/etc/slurm/x.conf" in out.splitlines()


def test_no_tty_and_no_stdin_unless_given():
    runner = CommandRunner()
    assert runner.run(["test", "-t", "1"], check=False).returncode == 1
    assert runner.run(["test", "-t", "0"], check=False).returncode == 1
    assert runner.run(["cat"], timeout=5).stdout == ""  # EOF at once, no hang
    assert runner.run(["cat"], input="script\n").stdout == "script\n"
    assert runner.run(["cat"], input=b"\x00\xff").raw_stdout == b"\x00\xff"


def test_default_cwd_is_root_not_the_portals():
    assert CommandRunner().run(["pwd"]).stdout == "/\n"


def test_missing_cwd_is_an_adapter_error():
    with pytest.raises(AdapterError, match="could not start"):
        CommandRunner().run(["pwd"], cwd="/no/such/dir")


def test_non_utf8_output_is_replaced_not_fatal():
    result = CommandRunner().run(["printf", r"job-\377\376-caf\303\251"])
    assert result.stdout == "job-\ufffd\ufffd-café"
    assert result.raw_stdout == b"job-\xff\xfe-caf\xc3\xa9"


def test_as_user_uses_the_prefix():
    runner = CommandRunner(run_as_prefix=FAKE_PREFIX)
    result = runner.run(["printenv", "AS_USER"], as_user="alice")
    assert result.stdout == "alice\n"
    assert result.argv[:2] == ["env", "AS_USER=alice"]


@pytest.mark.parametrize(
    "name", ["", "-u", "root; rm -rf /", "Alice", "al ice", "a" * 40, "../x", "x\n", None, 7]
)
def test_bad_user_names_are_refused(name):
    with pytest.raises(ValueError):
        validate_user(name)
    if name is not None:  # None means "as the portal itself"
        with pytest.raises(ValueError):
            CommandRunner(run_as_prefix=FAKE_PREFIX).run(["true"], as_user=name)


@pytest.mark.parametrize("name", ["alice", "bob", "c_arol", "svc.portal", "user-1", "_x"])
def test_good_user_names_pass(name):
    assert validate_user(name) == name


def test_default_prefix_matches_privileges():
    prefix = default_run_as_prefix()
    expected = "runuser" if os.geteuid() == 0 else "sudo"
    assert prefix[0] == expected and "{user}" in prefix and prefix[-1] == "--"


@pytest.mark.parametrize("argv", ["echo hi", b"echo", [], ["echo", None], ["echo", "a\x00b"]])
def test_shell_strings_and_bad_argv_are_refused(argv):
    with pytest.raises(ValueError):
        CommandRunner().run(argv)


def test_secrets_are_redacted_from_logs_and_errors(caplog):
    runner = CommandRunner(redact=["hunter2"])
    with caplog.at_level(logging.DEBUG):
        runner.run(["echo", "token=hunter2"])
        with pytest.raises(CommandFailed) as caught:
            runner.run(["bash", "-c", "echo bad hunter2 >&2; exit 3", "hunter2"])
    assert "hunter2" not in caplog.text
    assert "token=***" in caplog.text
    assert "hunter2" not in " ".join(caught.value.argv) + caught.value.stderr
    assert caught.value.returncode == 3


def test_each_call_is_logged_at_debug(caplog):
    with caplog.at_level(logging.DEBUG, logger="adapters.runner"):
        CommandRunner().run(["true"])
    assert any(r.levelno == logging.DEBUG and "rc=0" in r.getMessage() for r in caplog.records)


def test_nonzero_exit_is_command_failed_with_the_message():
    script = (
        "echo 'scancel: error: Kill job error on job id 5: Access/permission denied' >&2; exit 1"
    )
    with pytest.raises(CommandFailed) as caught:
        CommandRunner().run(["bash", "-c", script])
    assert caught.value.message == "Kill job error on job id 5: Access/permission denied"
    assert not isinstance(caught.value, SlurmUnreachable)


def test_unreachable_controller_is_its_own_error():
    script = "echo 'slurm_load_jobs error: Unable to contact slurm controller' >&2; exit 1"
    with pytest.raises(SlurmUnreachable):
        CommandRunner().run(["bash", "-c", script])


def test_check_false_returns_the_failure():
    result = CommandRunner().run(["bash", "-c", "echo out; echo err >&2; exit 4"], check=False)
    assert (result.returncode, result.stdout, result.stderr) == (4, "out\n", "err\n")
