"""The one command runner (ARCHITECTURE.md decision 2).

Every external program the portal uses is started here, so the rules hold everywhere:
argv lists only (never a shell string), a timeout on every call, a minimal environment,
no tty, stdin only when given, secrets redacted from logs, and failures turned into the
typed errors of `adapters.errors`. Work done *for* a user runs *as* that user through a
configurable prefix (decision 1): `runuser -u {user} --` when the portal runs as root
(dev cluster), `sudo -n -u {user} --` otherwise.

Built on the `sh` package with its defaults baked away: `sh` would otherwise give the child
a pty, wait forever and pass the caller's whole environment.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import signal
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sh

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
# After a timeout the process group gets SIGTERM (runuser/sudo relay it to the child);
# whatever is still alive this many seconds later gets SIGKILL.
KILL_GRACE = 1.0
# Every exit status and every signal is "ok" for sh: we map statuses to errors ourselves.
_ALL_CODES = tuple(range(-64, 256))


@dataclass(frozen=True)
class CommandResult:
    """What a finished command printed; output is UTF-8 decoded with errors='replace'."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str


def default_run_as_prefix() -> list[str]:
    """`runuser` when we are root (dev cluster), `sudo -n` otherwise (production)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "{user}", "--"]
    return ["sudo", "-n", "-u", "{user}", "--"]


def validate_user(user: str) -> str:
    """Return `user` if it is a plausible login name; raise ValueError otherwise."""
    if not isinstance(user, str) or not USER_NAME.match(user):
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
        self.env = dict(BASE_ENV)
        for key, value in (env or {}).items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ValueError(f"environment entries must be strings: {key!r}")
            self.env[key] = value
        self._secrets = [s for s in redact if s]
        self._commands: dict[str, sh.Command] = {}
        self._lock = threading.Lock()

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
                self.redact(shlex.join(full)), as_user or "-", rc, time.monotonic() - started,
            )
        result = CommandResult(full, rc, _decode(out), _decode(err))
        if check and rc != 0:
            raise self._failure(result)
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

    def _command(self, program: str) -> sh.Command:
        """The baked `sh` command for `program`, looked up on the minimal PATH once."""
        with self._lock:
            cmd = self._commands.get(program)
            if cmd is None:
                found = sh.Command(program, search_paths=MINIMAL_PATH.split(":"))
                cmd = found.bake(
                    _tty_in=False,
                    _tty_out=False,
                    _env=self.env,
                    _ok_code=_ALL_CODES,
                    _return_cmd=True,
                    _new_session=True,
                    _bg=True,
                    _bg_exc=False,
                    _preexec_fn=_default_sighup,
                    _log_msg=self._sh_log_msg,
                )
                self._commands[program] = cmd
            return cmd

    def _execute(
        self, argv: list[str], data: bytes | None, limit: float, cwd: str
    ) -> tuple[int, bytes, bytes]:
        """Start, wait with a deadline, and return (status, stdout, stderr) bytes."""
        try:
            cmd = self._command(argv[0])
            proc = cmd(*argv[1:], _in=data, _cwd=cwd)
        except sh.CommandNotFound:
            raise CommandNotFound(f"program not found: {argv[0]}", self._redacted(argv)) from None
        except sh.ForkException:
            # The child could not chdir/exec before running anything (e.g. cwd missing).
            raise AdapterError(
                f"could not start {argv[0]} in {cwd}", self._redacted(argv)
            ) from None
        deadline = _Deadline(proc.pid, limit)
        try:
            proc.wait()
        finally:
            deadline.cancel()
        if deadline.expired:
            raise CommandTimeout(
                f"{os.path.basename(argv[0])} did not finish within {limit:g}s",
                self._redacted(argv),
            )
        return proc.exit_code, proc.stdout, proc.stderr

    def _failure(self, result: CommandResult) -> AdapterError:
        argv = self._redacted(result.argv)
        if looks_not_found(result.returncode, result.stderr):
            return CommandNotFound(result.stderr.strip(), argv, result.stderr)
        return classify_failure(argv, result.returncode, self.redact(result.stderr))

    def _redacted(self, argv: Sequence[str]) -> list[str]:
        return [self.redact(a) for a in argv]

    def _sh_log_msg(self, cmd, call_args, pid=None) -> str:
        # sh logs every start at INFO with the full command line: keep secrets out of it.
        return f"<Command {self.redact(str(cmd))!r}, pid {pid}>"


class _Deadline:
    """Ends the child's process group when the deadline passes.

    sh's own `_timeout` polls every 0.1 s, which would add that much to every call, so
    the deadline is a timer instead: SIGTERM first (runuser and sudo relay it to the
    program), SIGKILL after KILL_GRACE for anything left. The child leads its own
    session, so its pid is its process group id.
    """

    def __init__(self, pgid: int, seconds: float):
        self.expired = False
        self._pgid = pgid
        self._done = threading.Event()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        if self._done.is_set():
            return
        self.expired = True
        self._signal(signal.SIGTERM)
        if not self._done.wait(KILL_GRACE):
            self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self._pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def cancel(self) -> None:
        self._done.set()
        self._timer.cancel()


def _default_sighup() -> None:
    # sh makes background children ignore SIGHUP; ours should behave like any command.
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def _check_timeout(value: float | None) -> float:
    if value is None or not value > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {value!r}")
    return float(value)


def _decode(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", errors="replace")
