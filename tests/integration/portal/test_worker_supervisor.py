"""A `portal worker` killed with SIGKILL under etc/supervise.sh (what `make run` uses) comes
back on its own and beats again; once it is stopped, `portal cluster status` says it is
late (issue #13). Real processes, the real dev cluster's Slurm (read only)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from portal.config import REPO_ROOT
from portal.migrate import upgrade
from tests.integration.sessions.sessionhelpers import wait_for

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
SUPERVISE = REPO_ROOT / "etc" / "supervise.sh"


@pytest.fixture
def portal_env(tmp_path):
    """The environment of a separate portal install: its own database and var directory;
    nothing in it changes Slurm (no billing weights, no budgets, no projects). Its state is
    private (0700 directory, 0600 database), or the worker refuses to start (portal.statedir)."""
    tmp_path.chmod(0o700)
    url = f"sqlite:///{tmp_path / 'portal.db'}"
    upgrade(url)
    (tmp_path / "portal.db").chmod(0o600)
    env = {
        **os.environ,
        "PORTAL_DATABASE_URL": url,
        "PORTAL_VAR_DIR": str(tmp_path),
        "PORTAL_CONFIG": str(tmp_path / "none.toml"),
        "PORTAL_SECRET_KEY": "supervisor-test-secret",
        "PORTAL_BILLING_WEIGHTS_APPLY": "false",
        "PORTAL_WALLET_ENFORCE": "false",
        "SUPERVISE_MAX_DELAY": "2",
    }
    return env, url


def _beat(url: str) -> tuple[int, str] | None:
    """(pid, beat_at) of the stored heartbeat, read as another process would."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT pid, beat_at FROM worker_heartbeats")).first()
    finally:
        engine.dispose()
    return (row[0], str(row[1])) if row else None


def _child(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def test_killed_worker_is_restarted_and_a_stopped_one_reported_late(portal_env, tmp_path):
    env, url = portal_env
    pidfile, log = tmp_path / "worker-child.pid", tmp_path / "worker.log"
    with log.open("ab") as out:
        supervisor = subprocess.Popen(
            ["bash", str(SUPERVISE), "--name", "worker", "--child-pidfile", str(pidfile), "--",
             str(BIN / "portal"), "worker", "--interval", "0.5"],
            env=env, stdout=out, stderr=out, start_new_session=True)
    try:
        first = wait_for(lambda: _child(pidfile), 30, what="the worker to start")
        wait_for(lambda: (_beat(url) or (0,))[0] == first, 60, what="its first heartbeat")
        killed_at = time.monotonic()
        os.kill(first, signal.SIGKILL)

        second = wait_for(lambda: (p := _child(pidfile)) and p != first and p, 30,
                          what="the supervisor to start a new worker")
        wait_for(lambda: (_beat(url) or (0,))[0] == second, 60,
                 what="the new worker's heartbeat")
        restarted_in = time.monotonic() - killed_at
        text_log = log.read_text()
        assert "worker exited (status 137, signal 9); restarting in 1 s" in text_log
        assert f"worker started (pid {second})" in text_log
        assert re.search(r"\n\d{4}-\d\d-\d\dT[\d:.]+Z INFO portal\.worker\[\d+\]: cycle 1 took ",
                         text_log), text_log
        print(f"restart to a new heartbeat: {restarted_in:.2f} s")

        supervisor.send_signal(signal.SIGTERM)  # a stop, as `etc/run-portal.sh stop` does
        assert supervisor.wait(timeout=30) == 0
        wait_for(lambda: _child(pidfile) is None and not pidfile.exists(), 10,
                 what="the worker to stop with its supervisor")
        assert "worker stopped (status 0)" in log.read_text()

        # Nobody beats any more: `portal cluster status` flags the worker within
        # 3 intervals (+ the last cycle's duration).
        def late_output():
            result = subprocess.run([str(BIN / "portal"), "cluster", "status"], env=env,
                                    capture_output=True, text=True, timeout=60)
            return result.stdout if "worker: LATE: last cycle ended" in result.stdout else None

        output = wait_for(late_output, 30, step=0.5, what="cluster status to say LATE")
        assert f"(pid {second} on " in output and "every 0.5 s" in output
    finally:
        if supervisor.poll() is None:
            os.killpg(supervisor.pid, signal.SIGKILL)
            supervisor.wait()
