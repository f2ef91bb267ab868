"""A portal host as `make run` sets it up, in a scratch `var/`: the real `portal` CLI and a
real gunicorn (several worker processes), without TESTING, so the start-up checks, the
log settings and the database-backed limits run exactly as in production.

The scratch tree lives in a world-traversable directory like the repository's `var/`
(pytest's own tmp_path is 0700 and would hide everything from other users by itself).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from portal.config import REPO_ROOT

BIN = REPO_ROOT / ".venv" / "bin"


class PortalHost:
    """`root/var` (0755, like the repository's) with the portal's state in `var/portal`."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="sec-portal-host-", dir="/tmp"))
        os.chmod(self.root, 0o755)
        self.var = self.root / "var"
        self.var.mkdir(mode=0o755)
        os.chmod(self.var, 0o755)
        self.state = self.var / "portal"
        self.tmpdir = self.root / "tmp"  # TMPDIR of every portal process: must stay empty
        self.tmpdir.mkdir()
        os.chmod(self.tmpdir, 0o1777)
        self.servers: list[subprocess.Popen] = []

    @property
    def db(self) -> Path:
        return self.state / "portal.db"

    @property
    def url(self) -> str:
        return f"sqlite:///{self.db}"

    def env(self, **extra) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
        env.update({"PORTAL_VAR_DIR": str(self.var), "PORTAL_CONFIG": str(self.root / "none"),
                    "PORTAL_SESSION_COOKIE_SECURE": "false", "TMPDIR": str(self.tmpdir)})
        env.update({f"PORTAL_{k}": str(v) for k, v in extra.items()})
        return env

    def portal(self, *args, stdin: str | None = None, **extra) -> subprocess.CompletedProcess:
        """`portal ARGS…` as root (the portal's account), with this host's state."""
        return subprocess.run([sys.executable, "-m", "portal.cli", *args], cwd=REPO_ROOT,
                              env=self.env(**extra), input=stdin, capture_output=True,
                              text=True, timeout=120)

    def init(self) -> None:
        done = self.portal("init")
        assert done.returncode == 0, done.stderr

    def gunicorn(self, *, workers: int = 2, access_format: str | None = None, **extra) -> str:
        """Start gunicorn as `make run` does; returns its base URL once /login answers."""
        port = _free_port()
        argv = [str(BIN / "gunicorn"), "-c", "python:portal.gunicorn_conf",
                "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", "4",
                "--access-logfile", str(self.state / "access.log"),
                "--error-logfile", str(self.state / "gunicorn.log")]
        if access_format:
            argv += ["--access-logformat", access_format]
        proc = subprocess.Popen(argv + ["portal.wsgi:app"], cwd=REPO_ROOT, env=self.env(**extra),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.servers.append(proc)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/login", timeout=5) as resp:
                    if resp.status == 200:
                        return base
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if proc.poll() is not None:
                raise AssertionError(f"gunicorn exited: {proc.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                raise AssertionError("gunicorn did not answer within 60 s")
            time.sleep(0.2)

    def stop(self) -> None:
        for proc in self.servers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stderr:
                proc.stderr.close()
        self.servers.clear()
        shutil.rmtree(self.root, ignore_errors=True)


def as_user(user: str, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", user, "--", *argv], capture_output=True, text=True,
                          timeout=60)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
