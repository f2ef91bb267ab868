"""The one command runner (ARCHITECTURE.md decision 2).

Every external program the portal uses is started here, so the rules hold everywhere:
argv lists only (never a shell string), a timeout on every call, a minimal environment,
no tty, stdin only when given, secrets redacted from logs, and failures turned into the
typed errors of `adapters.errors`. Work done *for* a user runs *as* that user through a
configurable prefix (decision 1): `runuser -u {user} --` when the portal runs as root
(dev cluster), `sudo -n -u {user} --` otherwise.

Processes are started with the standard library's `subprocess` (vfork/exec done in C: no
Python code runs in the child), not with the `sh` package that decision 2 names. `sh`
would need its defaults baked away (pty, no timeout, whole environment) and was measured
here: it forks the whole interpreter, runs Python in the child and starts four threads per
call, which cost ~5 ms per call on the dev machine (15 ms with a 100 MB heap) against
~1 ms, made an adapter submission 1.48x a raw sbatch (bench/submit_overhead.py, target
1.3), and fork() with Python code in the child is unsafe in threaded servers. With sh's
own `_timeout` (a timeout on every call is mandatory) a call to /bin/true took 107 ms
against 1.4 ms: its timeout thread polls in 0.1 s steps.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from adapters.errors import (
    AdapterError,
    CommandNotFound,
    CommandTimeout,
    classify_failure,
    looks_not_found,
)

log = logging.getLogger(__name__)

MINIMAL_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
BASE_ENV = {"PATH": MINIMAL_PATH, "LANG": "C.UTF-8"}
# Conservative POSIX-ish login names (Debian's NAME_REGEX plus "_" and "."): nothing that
# could be read as an option or carry shell metacharacters into sudo/runuser.
USER_NAME = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
# Process-wide additions to every runner's environment: SLURM_CONF where the portal talks
# to a cluster whose slurm.conf is not /etc/slurm/slurm.conf (a second cluster, e.g. the
# multi-node dev cluster). Set by create_app from config (see use_slurm_conf), like the
# sacctmgr lock (adapters/dbdlock.py), so that every adapter built in the process, also
# those built without an app, talks to the same cluster.
_process_env: dict[str, str] = {}
# After a timeout the process group gets SIGTERM (runuser/sudo relay it to the child);
# whatever is still alive this many seconds later gets SIGKILL.
KILL_GRACE = 1.0


@dataclass(frozen=True)
class CommandResult:
    """What a finished command printed; output is UTF-8 decoded with errors='replace'."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    # The undecoded bytes, for callers that must see exactly what was printed.
    raw_stdout: bytes = field(default=b"", repr=False)
    raw_stderr: bytes = field(default=b"", repr=False)


def default_run_as_prefix() -> list[str]:
    """`runuser` when we are root (dev cluster), `sudo -n` otherwise (production)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "{user}", "--"]
    return ["sudo", "-n", "-u", "{user}", "--"]


def use_slurm_conf(path: str | os.PathLike | None) -> None:
    """Pass SLURM_CONF=`path` to every command of runners made from now on (None: unset)."""
    if path:
        _process_env["SLURM_CONF"] = os.fspath(path)
    else:
        _process_env.pop("SLURM_CONF", None)


def use_slurm_bin_dir(path: str | os.PathLike | None) -> None:
    """Find commands in `path` before the system's, for every runner made from now on.

    For a cluster whose clients are not the ones in /usr/bin (None: unset), e.g. Slurm
    24.11's wrappers on a 22.05 host (etc/devcluster/slurm2411.sh): commands named without
    a directory (also by a run-as helper such as runuser, which keeps PATH) are 24.11's.
    """
    if path:
        _process_env["PATH"] = f"{os.fspath(path)}:{MINIMAL_PATH}"
    else:
        _process_env.pop("PATH", None)


def command_path() -> str:
    """The PATH in which adapters look up a command named without a directory."""
    return _process_env.get("PATH", MINIMAL_PATH)


def find_command(name: str, bin_dir: str | os.PathLike | None = None) -> str:
    """The path a Slurm client (or other program) is run from: `bin_dir`/`name` when a
    directory is configured (SLURM_BIN_DIR, e.g. Slurm 24.11's wrappers), else the first
    `name` on command_path(), else the bare name (the runner then raises CommandNotFound).

    The one lookup every adapter uses, so a configured directory means the same thing to
    sbatch, sacct, sacctmgr, scontrol and srun alike."""
    if bin_dir:
        return os.path.join(bin_dir, name)
    return shutil.which(name, path=command_path()) or name


def system_command(name: str) -> str:
    """Absolute path of a system program (coreutils, setsid) on the minimal PATH only, never
    in SLURM_BIN_DIR, so a sudoers rule can name it exactly."""
    return shutil.which(name, path=MINIMAL_PATH) or name


def validate_user(user: str) -> str:
    """Return `user` if it is a plausible login name; raise ValueError otherwise."""
    if not isinstance(user, str) or not USER_NAME.fullmatch(user):
        raise ValueError(f"invalid user name: {user!r}")
    return user


class CommandRunner:
    """Runs argv lists with a deadline, a minimal environment and no tty.

    `env` adds variables to the minimal environment (e.g. SLURM_CONF); `redact` lists
    secret strings that are replaced by `***` wherever a command line is logged or put
    into an error.
    """

    def __init__(
        self,
        run_as_prefix: list[str] | None = None,
        timeout: float = 30.0,
        env: dict | None = None,
        redact: Iterable[str] = (),
    ):
        self.run_as_prefix = (
            list(run_as_prefix) if run_as_prefix is not None else default_run_as_prefix()
        )
        self.timeout = _check_timeout(timeout)
        self.env = {**BASE_ENV, **_process_env}
        for key, value in (env or {}).items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ValueError(f"environment entries must be strings: {key!r}")
            self.env[key] = value
        self._secrets = [s for s in redact if s]

    def run(
        self,
        argv: Sequence[str],
        *,
        as_user: str | None = None,
        input: str | bytes | None = None,
        timeout: float | None = None,
        cwd: str | None = None,
        check: bool = True,
    ) -> CommandResult:
        """Run `argv` (as `as_user` when given) and return its result.

        Raises ValueError (bad argv or user name), CommandNotFound (program or run-as
        helper missing), CommandTimeout (killed at the deadline), and, when `check` is
        true and the status is non-zero, SlurmUnreachable or CommandFailed carrying the
        program's own message.
        """
        full = self._full_argv(argv, as_user)
        limit = self.timeout if timeout is None else _check_timeout(timeout)
        data = input.encode() if isinstance(input, str) else input
        started = time.monotonic()
        rc: object = "-"
        try:
            rc, out, err = self._execute(full, data, limit, cwd or "/")
        finally:
            log.debug(
                "run %s as=%s rc=%s in %.3fs",
                self.redact(shlex.join(full)),
                as_user or "-",
                rc,
                time.monotonic() - started,
            )
        result = CommandResult(full, rc, _decode(out), _decode(err), out, err)
        if check and rc != 0:
            raise self._failure(result, via_helper=as_user is not None)
        return result

    def redact(self, text: str) -> str:
        """`text` with every configured secret replaced by `***`."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _full_argv(self, argv: Sequence[str], as_user: str | None) -> list[str]:
        if isinstance(argv, str | bytes) or not argv:
            raise ValueError("argv must be a non-empty list of strings, never a shell string")
        args = list(argv)
        if not all(isinstance(a, str) and "\x00" not in a for a in args):
            raise ValueError("every argv element must be a string without NUL bytes")
        if as_user is None:
            return args
        user = validate_user(as_user)
        return [part.replace("{user}", user) for part in self.run_as_prefix] + args

    def _execute(
        self, argv: list[str], data: bytes | None, limit: float, cwd: str
    ) -> tuple[int, bytes, bytes]:
        """Start, wait with a deadline, and return (status, stdout, stderr) bytes.

        The child leads a new session (no controlling tty, and its pid is the process
        group to signal); it inherits no file descriptors beyond the three pipes.
        """
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL if data is None else subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self.env,
                cwd=cwd,
                close_fds=True,
                start_new_session=True,
            )
        except OSError as exc:
            if exc.filename == cwd and cwd != argv[0]:
                raise AdapterError(
                    f"could not start {argv[0]} in {cwd}", self._redacted(argv)
                ) from None
            raise CommandNotFound(
                f"program not found: {argv[0]} ({exc.strerror})", self._redacted(argv)
            ) from None
        try:
            out, err = proc.communicate(data, timeout=limit)
        except subprocess.TimeoutExpired:
            _end_group(proc)
            raise CommandTimeout(
                f"{os.path.basename(argv[0])} did not finish within {limit:g}s",
                self._redacted(argv),
            ) from None
        except BaseException:  # e.g. KeyboardInterrupt: leave no process behind
            _end_group(proc)
            raise
        return proc.returncode, out, err

    def _failure(self, result: CommandResult, via_helper: bool) -> AdapterError:
        argv = self._redacted(result.argv)
        helper = os.path.basename(self.run_as_prefix[0]) if self.run_as_prefix else ""
        if via_helper and helper and looks_not_found(result.returncode, result.stderr, helper):
            stderr = self.redact(result.stderr)
            return CommandNotFound(stderr.strip(), argv, stderr)
        return classify_failure(argv, result.returncode, self.redact(result.stderr))

    def _redacted(self, argv: Sequence[str]) -> list[str]:
        return [self.redact(a) for a in argv]


def _end_group(proc: subprocess.Popen) -> None:
    """SIGTERM the child's process group (runuser and sudo relay it), SIGKILL what is left.

    Grandchildren die with it, so nothing keeps the pipes open; the child is reaped.
    """
    for sig, grace in ((signal.SIGTERM, KILL_GRACE), (signal.SIGKILL, KILL_GRACE)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.communicate(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()
    proc.wait()


def _check_timeout(value: float | None) -> float:
    if value is None or not value > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {value!r}")
    return float(value)


def _decode(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", errors="replace")
