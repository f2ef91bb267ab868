"""An unprivileged sshd for one user, started the way sessions start it (F3, F9, F10).

A session's sshd runs as the session's owner (no root, no PAM, no privilege separation),
on a port picked on the node, from a directory the owner owns:

    DIR/sshd_config          rendered by `render_config`
    DIR/authorized_keys      one line per key, `from="<cidrs>" TYPE BASE64`
    DIR/ssh_host_ed25519_key generated once by ssh-keygen, as the user

and is started as `sshd -D -e -f DIR/sshd_config` (`sshd_argv`): in the foreground, logging
to stderr — inside a session's container later, directly here. Files are written as the
user through `adapters.userfiles` (the kernel applies the user's rights; sshd's StrictModes
then accepts them), and the process is started through the runner's run-as prefix.

`SshdProcess` is the one long-running child here: a Popen wrapper that collects sshd's log
lines (so callers can wait for "Server listening" instead of sleeping) and ends the whole
process group on `stop()`. `ssh_probe` runs the OpenSSH client once, e.g. from a chosen
source address to check what a whitelist admits.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from adapters.errors import AdapterError, CommandNotFound, CommandTimeout
from adapters.runner import CommandResult, CommandRunner, validate_user
from adapters.userfiles import UserFiles, check_path

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "/usr/bin/ssh-keygen"
SSH = "/usr/bin/ssh"
READY_LINE = "Server listening on"
STOP_GRACE = 5.0
# sshd closes a connection that has not logged in within LOGIN_GRACE_S, so the session's
# sampler counts a connection older than that as a login (idle reclaim, issue #17); a
# client that stops answering is dropped after CLIENT_ALIVE_S × CLIENT_ALIVE_COUNT.
LOGIN_GRACE_S = 30
CLIENT_ALIVE_S = 60
CLIENT_ALIVE_COUNT = 3


@dataclass(frozen=True)
class SshdSpec:
    """Where and how one sshd listens. Raises ValueError for an unusable value."""

    directory: str
    port: int
    listen: str = "0.0.0.0"
    log_level: str = "VERBOSE"

    def __post_init__(self):
        check_path(self.directory)
        # sshd_config has no quoting we want to rely on, and expands %-tokens in paths.
        if any(ch in self.directory for ch in ' \t"\'%#\\'):
            raise ValueError(f"unusable sshd directory: {self.directory!r}")
        if not isinstance(self.port, int) or not 1024 <= self.port <= 65535:
            raise ValueError(f"an unprivileged sshd needs a port 1024-65535, not {self.port!r}")
        ipaddress.ip_address(self.listen)
        if self.log_level not in ("QUIET", "FATAL", "ERROR", "INFO", "VERBOSE", "DEBUG"):
            raise ValueError(f"unknown sshd log level: {self.log_level!r}")

    @property
    def config_path(self) -> str:
        return f"{self.directory}/sshd_config"

    @property
    def authorized_keys_path(self) -> str:
        return f"{self.directory}/authorized_keys"

    @property
    def host_key_path(self) -> str:
        return f"{self.directory}/ssh_host_ed25519_key"


def render_config(spec: SshdSpec, user: str, *, strict_modes: bool = True) -> str:
    """The sshd_config of a session: public keys only, this user only, no PAM.

    `strict_modes=False` is for runtimes where sshd cannot judge ownership (Charliecloud:
    directories above the user's files appear owned by `nobody`, /home is world-writable);
    the session directory is still 0700 and written only as the user.
    Raises ValueError for an unusable user name.
    """
    return "\n".join(
        [
            "# Written by the GPU portal: an unprivileged sshd for one session.",
            f"Port {spec.port}",
            f"ListenAddress {spec.listen}",
            f"HostKey {spec.host_key_path}",
            "PidFile none",
            f"AuthorizedKeysFile {spec.authorized_keys_path}",
            "AuthenticationMethods publickey",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "HostbasedAuthentication no",
            "PermitRootLogin no",
            "PermitUserEnvironment no",
            "PermitTunnel no",
            "X11Forwarding no",
            "UsePAM no",
            f"StrictModes {'yes' if strict_modes else 'no'}",
            f"AllowUsers {validate_user(user)}",
            f"LogLevel {spec.log_level}",
            f"LoginGraceTime {LOGIN_GRACE_S}",
            f"ClientAliveInterval {CLIENT_ALIVE_S}",
            f"ClientAliveCountMax {CLIENT_ALIVE_COUNT}",
            "",
        ]
    )


def render_authorized_keys(lines: Iterable[str]) -> str:
    """The authorized_keys text; raises ValueError for a line that could smuggle another."""
    checked = []
    for line in lines:
        if not line or any(ch in line for ch in "\r\n\x00"):
            raise ValueError("an authorized_keys line must be one non-empty line")
        checked.append(line)
    return "".join(f"{line}\n" for line in checked)


def sshd_argv(spec: SshdSpec) -> list[str]:
    """Foreground (-D), log to stderr (-e), our config only (-f)."""
    return [SSHD, "-D", "-e", "-f", spec.config_path]


class Sshd:
    """Prepares a session directory and starts sshd in it, as the given user."""

    def __init__(self, runner: CommandRunner | None = None, files: UserFiles | None = None):
        self.runner = runner or CommandRunner()
        self.files = files or UserFiles(self.runner)

    def prepare(self, user: str, spec: SshdSpec, authorized_keys: Iterable[str]) -> None:
        """Create the directory (0700), a host key once, authorized_keys and sshd_config.

        Raises ValueError (bad lines), CommandFailed or CommandTimeout.
        """
        text = render_authorized_keys(authorized_keys)
        self.files.make_dirs(user, spec.directory, mode=0o700)
        if self.files.size(user, spec.host_key_path) is None:
            keygen = [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", "session-host"]
            self.runner.run([*keygen, "-f", spec.host_key_path], as_user=user)
        self.files.write(user, spec.authorized_keys_path, text)
        self.files.write(user, spec.config_path, render_config(spec, user))

    def start(self, user: str, spec: SshdSpec, ready_timeout: float = 10.0) -> SshdProcess:
        """Start `sshd -D -e -f CONFIG` as `user` and wait until it listens.

        Raises AdapterError (sshd exited, e.g. port in use; its log is in `.stderr`),
        CommandTimeout (not listening within `ready_timeout`) or CommandNotFound.
        """
        prefix = [p.replace("{user}", validate_user(user)) for p in self.runner.run_as_prefix]
        process = SshdProcess([*prefix, *sshd_argv(spec)], dict(self.runner.env))
        try:
            process.wait_for_log(READY_LINE, ready_timeout, raise_on_exit=True)
        except BaseException:
            process.stop()
            raise
        return process


class SshdProcess:
    """A running sshd: its log lines as they come, and `stop()` for its process group."""

    def __init__(self, argv: list[str], env: dict):
        self.argv = argv
        self.lines: list[str] = []
        self._changed = threading.Condition()
        try:
            self._proc = subprocess.Popen(  # argv list, no shell; see the module docstring
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=env,
                cwd="/",
                close_fds=True,
                start_new_session=True,
            )
        except OSError as exc:
            raise CommandNotFound(f"cannot start {argv[0]}: {exc.strerror}", argv) from None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc.poll() is None

    def _read(self) -> None:
        assert self._proc.stderr is not None
        for raw in self._proc.stderr:
            with self._changed:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\r\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for_log(
        self, text: str, timeout: float, *, raise_on_exit: bool = False
    ) -> str | None:
        """The first log line containing `text`, waiting up to `timeout` seconds for it.

        Returns None at the deadline (or when sshd exits, unless `raise_on_exit`: then
        AdapterError with the log, or CommandTimeout at the deadline).
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = next((line for line in self.lines if text in line), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                exited = not self._reader.is_alive()
                if exited or left <= 0:
                    break
                self._changed.wait(min(left, 0.5))
        if not raise_on_exit:
            return None
        log = "\n".join(self.lines)
        if exited:
            raise AdapterError(f"sshd exited: {log.strip() or 'no output'}", self.argv, log)
        raise CommandTimeout(f"sshd did not log {text!r} within {timeout:g}s", self.argv)

    def stop(self) -> None:
        """SIGTERM the process group (runuser/sudo relay it), SIGKILL what is left."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self._proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self._proc.wait(timeout=STOP_GRACE)
                break
            except subprocess.TimeoutExpired:
                continue
        self._reader.join(timeout=STOP_GRACE)
        if self._proc.stderr is not None:
            self._proc.stderr.close()

    def __enter__(self) -> SshdProcess:
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()


def ssh_probe(
    runner: CommandRunner,
    *,
    host: str,
    port: int,
    login: str,
    identity_file: str,
    source: str | None = None,
    command: tuple[str, ...] = ("true",),
    timeout: float = 20.0,
) -> CommandResult:
    """Run `command` over ssh once, with only `identity_file`, binding to `source` if given.

    Host keys are not checked (a session's host key is new each time). Returns the result
    whatever the exit status (255: ssh itself failed, e.g. "Permission denied").
    """
    options = ["BatchMode=yes", "StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null",
               "IdentitiesOnly=yes", "ConnectTimeout=5", "LogLevel=ERROR"]
    argv = [SSH, "-F", "/dev/null", "-i", check_path(identity_file), "-p", str(int(port))]
    for option in options:
        argv += ["-o", option]
    if source:
        argv += ["-b", str(ipaddress.ip_address(source))]
    argv += ["-l", validate_user(login), "--", str(ipaddress.ip_address(host)), *command]
    return runner.run(argv, timeout=timeout, check=False)
