"""The session script, the runtimes' service argv (Apptainer's documented CLI and ch-run),
the terminal's srun argv and pty, and the connection file parser."""

from __future__ import annotations

import json
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.pty import TerminalProcess, srun_attach_argv
from adapters.runner import CommandRunner
from adapters.runtime import Bind, make_runtime
from portal.services import sessionconn
from portal.services import sessionscript as scripts


def _input(**extra) -> scripts.SessionScriptInput:
    fields = dict(session_id=7, tag="portal-session-abc", name="lab-1", user="alice",
                  home="/home/alice", workspace="/home/alice", image_key="jupyter",
                  directory="/home/alice/portal-sessions/7-abc", image_path="/img/jupyter",
                  services=("jupyter", "ssh", "webterm"), base_url="/s/7/")
    return scripts.SessionScriptInput(**{**fields, **extra})


def test_script_starts_each_service_and_writes_a_private_connection_file():
    text = scripts.render(_input(), ["--parsable", "--job-name=lab-1", "--comment=x"])
    assert text.startswith("#!/bin/bash\n") and "umask 077" in text
    assert "ch-run --home --set-env=PATH=" in text and "/img/jupyter -- jupyter server" in text
    assert "--ServerApp.base_url=/s/7/" in text and '--ServerApp.port="$JUPYTER_PORT"' in text
    assert "/usr/sbin/sshd -D -e -f /home/alice/portal-sessions/7-abc/ssh/sshd_config" in text
    assert '-p "$SSH_PORT"' in text and "sbatch --job-name=lab-1 " in text
    assert "--comment" not in text.split("sbatch", 1)[1].split("\n")[0]
    subprocess.run(["bash", "-n"], input=text, text=True, check=True)


def test_secret_goes_through_the_environment_not_argv():
    text = scripts.render(_input(), [])
    start = text.index("PORTAL_JUPYTER_SECRET=$TOKEN ")
    command = text[start:text.index(" &\n", start)].removeprefix("PORTAL_JUPYTER_SECRET=$TOKEN ")
    assert "jupyter server" in command and "$TOKEN" not in command
    assert "--config=/home/alice/portal-sessions/7-abc/jupyter_portal_config.py" in command
    assert '--ServerApp.ip="$HOST"' in command and "0.0.0.0" not in command


def test_webterm_only_session_just_holds_the_allocation():
    text = scripts.render(_input(services=("webterm",)), [])
    assert "jupyter server" not in text and "sshd" not in text.split("set -u")[1]
    assert "sleep infinity" in text
    subprocess.run(["bash", "-n"], input=text, text=True, check=True)


def test_hostile_name_stays_quoted():
    text = scripts.render(_input(name="x'; rm -rf / #"), [])
    assert "'x'\"'\"'; rm -rf / #'" in text
    subprocess.run(["bash", "-n"], input=text, text=True, check=True)


def test_sshd_config_turns_strict_modes_off_only_under_charliecloud():
    assert "StrictModes no" in scripts.sshd_config(_input())
    assert "StrictModes yes" in scripts.sshd_config(_input(runtime="apptainer"))


def test_apptainer_service_argv_uses_its_documented_flags():
    argv = make_runtime("apptainer").service_argv(
        "/images/torch.sif", ["jupyter", "server"], binds=[Bind("/home/a", "/home/a")],
        env={"PATH": "/opt/venv/bin:/usr/bin"}, workdir="/home/a", gpus=2)
    assert argv == ["apptainer", "exec", "--nv", "--bind=/home/a:/home/a",
                    "--env=PATH=/opt/venv/bin:/usr/bin", "--pwd=/home/a", "--writable-tmpfs",
                    "/images/torch.sif", "jupyter", "server"]


def test_charliecloud_service_argv_keeps_the_image_read_only():
    argv = make_runtime("charliecloud", home="/home/a").service_argv(
        "/img", ["bash", "-l"], binds=[Bind("/home/a", "/home/a")], workdir="/home/a")
    assert argv == ["ch-run", "--home", "--cd=/home/a", "/img", "--", "bash", "-l"]
    assert "--write" not in argv


def test_terminal_argv_is_a_login_shell_in_the_workspace():
    argv = srun_attach_argv("42", scripts.terminal_argv(_input()), bin_dir="/opt/slurm/bin")
    assert argv[:5] == ["/opt/slurm/bin/srun", "--jobid=42", "--overlap", "--pty", "--quiet"]
    assert argv[-3:] == ["--", "/bin/bash", "-l"] and "--cd=/home/alice" in argv
    assert "--set-env=TERM=xterm-256color" in argv


@pytest.mark.parametrize("job_id", ["42;rm", "", "-1", "4 2", None])
def test_srun_attach_refuses_odd_job_ids(job_id):
    with pytest.raises(ValueError):
        srun_attach_argv(job_id, ["bash"])


def test_pty_process_gets_a_terminal_of_the_asked_size():
    runner = CommandRunner(run_as_prefix=[])
    proc = TerminalProcess(runner, ["/bin/sh", "-c", "stty size; tty; read x; echo got-$x"],
                           user="nobody", rows=33, cols=101)
    try:
        output = b""
        while b"/dev/pts" not in output:
            chunk = proc.read(5)
            assert chunk, output
            output += chunk
        assert b"33 101" in output
        proc.write(b"hello\r")
        while b"got-hello" not in output:
            chunk = proc.read(5)
            assert chunk is not None, output
            output += chunk
    finally:
        proc.close()
    assert not proc.running


def test_connection_file_is_parsed_and_checked():
    conn = sessionconn.parse_conn(json.dumps({"host": "gpu01", "jupyter_port": 40000,
                                              "ssh_port": None, "token": "0f" * 20}))
    assert conn == {"host": "gpu01", "jupyter_port": 40000, "ssh_port": None,
                    "token": "0f" * 20}
    for bad in ({"host": "a b"}, {"host": "x", "jupyter_port": 22, "token": "ab" * 10},
                {"host": "x", "jupyter_port": 40000}, {"host": "x", "token": "ZZ" * 10},
                ["x"]):
        with pytest.raises(ValueError):
            sessionconn.parse_conn(json.dumps(bad))


@given(st.one_of(st.text(max_size=200), st.binary(max_size=200),
                 st.dictionaries(st.sampled_from(["host", "jupyter_port", "ssh_port", "token"]),
                                 st.one_of(st.none(), st.integers(), st.text(max_size=20),
                                           st.booleans()))))
def test_connection_parser_only_ever_raises_value_error(data):
    text = json.dumps(data) if isinstance(data, dict) else data
    try:
        conn = sessionconn.parse_conn(text)
    except ValueError:
        return
    assert set(conn) == {"host", "jupyter_port", "ssh_port", "token"}
