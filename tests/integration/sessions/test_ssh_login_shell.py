"""Issue #16 item 6 on the dev cluster: `ssh -p PORT alice@node`, as the session's page says,
lands in alice's workspace (her home here) with her login shell (bash, which the image
has), not in `/` with /bin/sh — both for a login without a command and for a command."""

from __future__ import annotations

import socket

import pytest

from adapters.runner import CommandRunner
from adapters.sshd import SSH, ssh_probe
from portal import db
from portal.models import Session
from tests.integration.sessions.test_sessions_connect import running  # noqa: F401 - fixture

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sessions-connect")]

SSH_OPTIONS = ["BatchMode=yes", "StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null",
               "IdentitiesOnly=yes", "ConnectTimeout=5", "LogLevel=ERROR"]


def _where(portal, session_id):
    with portal.app.app_context():
        row = db.session.get(Session, session_id)
        out = socket.gethostbyname(row.host), row.ssh_port
        db.session.remove()
    return out


def test_ssh_lands_in_the_workspace_with_the_login_shell(portal, running):  # noqa: F811
    session_id, _browser = running
    host, port = _where(portal, session_id)
    # A login without a command: sshd starts the login shell ("-bash") in the workspace.
    argv = [SSH, "-F", "/dev/null", "-T", "-i", str(portal.private_key_path), "-p", str(port)]
    for option in SSH_OPTIONS:
        argv += ["-o", option]
    argv += ["-l", "alice", host]
    result = CommandRunner().run(argv, input='echo "at=$(pwd) shell=$0 SHELL=$SHELL"\nexit\n',
                                 timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    assert "at=/home/alice shell=-bash SHELL=/bin/bash" in result.stdout
    # A command runs through the same shell, from the same directory.
    result = ssh_probe(CommandRunner(), host=host, port=port, login="alice",
                       identity_file=str(portal.private_key_path),
                       command=('echo "$(pwd) $0 $HOME"; test -x /opt/venv/bin/jupyter',))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["/home/alice", "bash", "/home/alice"]
