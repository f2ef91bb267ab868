"""The web terminal's process: `srun --jobid=<id> --overlap --pty <container shell>` in a pty.

Decision 6: the browser's xterm.js talks over a websocket to this pty; the process runs
as the session's owner through the runner's run-as prefix (`runuser -u USER --` on the
dev cluster, `sudo -n -u USER --` in production), so Slurm itself checks that the owner
may attach a step to the job. `setsid -c` makes the pty the controlling terminal of a new
session (so window-size changes reach srun as SIGWINCH) without Python code in the
child; the environment is the runner's minimal one plus TERM.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Sequence

from adapters.errors import CommandNotFound
from adapters.runner import CommandRunner, find_command, validate_user

_JOB_ID = re.compile(r"^[0-9]+$")
READ_CHUNK = 64 * 1024
STOP_GRACE = 3.0


def srun_attach_argv(job_id: str, inner: Sequence[str], *, bin_dir: str | None = None) -> list[str]:
    """`srun --jobid=ID --overlap --pty INNER...`: a new step in a running job, in a pty.

    Raises ValueError for a job id that is not a plain number or an empty command.
    """
    if not isinstance(job_id, str) or not _JOB_ID.fullmatch(job_id):
        raise ValueError(f"invalid job id: {job_id!r}")
    if isinstance(inner, str | bytes) or not inner:
        raise ValueError("the command inside the step must be a non-empty argv list")
    return [find_command("srun", bin_dir), f"--jobid={job_id}", "--overlap", "--pty", "--quiet",
            *inner]


def _winsize(fd: int, rows: int, cols: int) -> None:
    rows = max(1, min(int(rows), 1000))
    cols = max(1, min(int(cols), 1000))
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class TerminalProcess:
    """A command running as `user` on the slave side of a new pty; the master is ours."""

    def __init__(self, runner: CommandRunner, argv: Sequence[str], *, user: str,
                 rows: int = 24, cols: int = 80, term: str = "xterm-256color"):
        prefix = [p.replace("{user}", validate_user(user)) for p in runner.run_as_prefix]
        full = [find_command("setsid"), "-c", *prefix, *argv]
        master, slave = pty.openpty()
        _winsize(slave, rows, cols)
        env = {**runner.env, "TERM": term}
        try:
            self._proc = subprocess.Popen(  # argv list, no shell; see the module docstring
                full, stdin=slave, stdout=slave, stderr=slave, env=env, cwd="/",
                close_fds=True,
            )
        except OSError as exc:
            os.close(master)
            raise CommandNotFound(f"cannot start {full[0]}: {exc.strerror}", full) from None
        finally:
            os.close(slave)
        self.fd = master
        self.argv = full

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc.poll() is None

    def read(self, timeout: float = 0.1) -> bytes | None:
        """Output available within `timeout` (b"" when none yet); None once the pty closed."""
        try:
            ready, _, _ = select.select([self.fd], [], [], timeout)
            if not ready:
                return b""
            data = os.read(self.fd, READ_CHUNK)
        except OSError:  # EIO: every process on the slave side has gone
            return None
        return data or None

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]

    def resize(self, rows: int, cols: int) -> None:
        _winsize(self.fd, rows, cols)

    def close(self) -> None:
        """Hang up: SIGHUP then SIGTERM the session (srun ends its step), SIGKILL last."""
        for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGKILL):
            if self._proc.poll() is not None:
                break
            try:
                os.killpg(self._proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
            deadline = time.monotonic() + STOP_GRACE
            while self._proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
        try:
            self._proc.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.close(self.fd)
        except OSError:
            pass


def exec_attach(runner: CommandRunner, argv: Sequence[str], user: str | None) -> None:
    """Replace this process with `argv` on the caller's own terminal (`portal session
    connect --terminal` on a login node), as `user` through the run-as prefix when given.
    Never returns; raises CommandNotFound when the program cannot be started."""
    full = list(argv)
    if user is not None:
        full = [p.replace("{user}", validate_user(user)) for p in runner.run_as_prefix] + full
    env = {**runner.env, "TERM": os.environ.get("TERM", "xterm-256color")}
    try:
        os.execve(full[0] if os.path.isabs(full[0]) else find_command(full[0]), full, env)
    except OSError as exc:
        raise CommandNotFound(f"cannot start {full[0]}: {exc.strerror}", full) from None
