"""Issue #16 item 10: `portal` on a login node, as the user (alice), with her own token.

The client is downloaded from the portal as a user would, run by alice's Unix account with
no access to the portal's database, and drives a real Slurm job through the API."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import stat
import tempfile
import urllib.request

import pytest

from adapters.runner import CommandRunner
from portal.services import tokens
from tests.integration.jobs.jobhelpers import add_member
from tests.integration.sessions.sessionhelpers import LiveServer, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def login_node_home():
    """A folder of alice's where the client and its config live (the tests' own tmp_path is
    root's 0700, which alice cannot enter)."""
    home = tempfile.mkdtemp(prefix="portal-client-", dir="/tmp")
    shutil.chown(home, "alice", "alice")
    yield home
    shutil.rmtree(home, ignore_errors=True)


def test_alice_runs_lists_reads_and_cancels_a_job_from_a_login_node(
        cluster_ctx, prefix, slurm, login_node_home):
    alice = add_member("alice", "proja")
    _, token = tokens.create_token(alice, "login node", "write")
    server = LiveServer(cluster_ctx)
    try:
        client = os.path.join(login_node_home, "portal")
        with urllib.request.urlopen(f"{server.url}/client/portal") as response:
            assert response.headers["Content-Disposition"].endswith("filename=portal")
            with open(client, "wb") as fh:
                fh.write(response.read())
        shutil.chown(client, "alice", "alice")
        os.chmod(client, 0o755)
        config_home = os.path.join(login_node_home, "config")
        shell = CommandRunner(timeout=60)

        def portal(*args, stdin=None, check=True):
            return shell.run(["env", f"XDG_CONFIG_HOME={config_home}", "python3", client, *args],
                             as_user="alice", input=stdin, check=check)

        not_yet = portal("job", "list", check=False)
        assert not_yet.returncode == 1 and "Not logged in" in not_yet.stderr

        said = portal("login", "--url", server.url, "--token-stdin", stdin=token + "\n")
        assert "as alice" in said.stdout
        saved = os.path.join(config_home, "slurm-gpu-portal", "client.json")
        assert stat.S_IMODE(os.stat(saved).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(os.path.dirname(saved)).st_mode) == 0o700
        assert os.stat(saved).st_uid == pwd.getpwnam("alice").pw_uid

        ran = portal("job", "run", "--name", f"{prefix}-cli", "--cpus", "1", "--mem-gb", "1",
                     "--image", "base", "--command", "echo hello-from-the-login-node",
                     "--time", "2")
        job_id, slurm_id = re.search(r"^\s*(\d+)\s+\S+\s+\S+\s+slurm (\d+)", ran.stdout).groups()
        shown = shell.run(["scontrol", "show", "job", slurm_id]).stdout
        assert "UserId=alice(" in shown and "Account=proja" in shown

        assert f"{prefix}-cli" in portal("job", "list").stdout
        wait_for(lambda: "hello-from-the-login-node" in portal("job", "log", job_id,
                                                               check=False).stdout,
                 120, step=1, what="the job's log")

        again = portal("job", "run", "--name", f"{prefix}-bad", "--image", "base",
                       "--command", "true",
                       "--time", "two hours", check=False)
        assert again.returncode == 1 and "sbatch --time" in again.stderr

        os.chmod(saved, 0o644)  # others could read the token: the client refuses to use it
        open_file = portal("job", "list", check=False)
        assert open_file.returncode == 1 and f"chmod 600 {saved}" in open_file.stderr
        os.chmod(saved, 0o600)

        long_job = portal("job", "run", "--name", f"{prefix}-long", "--image", "base",
                          "--command", "sleep 300",
                          "--time", "10", "--json")
        long_id = re.search(r'"id": (\d+)', long_job.stdout).group(1)
        assert f"Job {long_id} cancelled." in portal("job", "cancel", long_id).stdout
        assert "Removed" in portal("logout").stdout and not os.path.exists(saved)
    finally:
        server.stop()
