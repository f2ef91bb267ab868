"""Files in a user's workspace, created and read AS that user (ARCHITECTURE.md decision 1).

The portal never opens a user's files with its own rights: every operation runs a small
coreutils program through the run-as prefix of the command runner (`runuser -u USER --`
on the dev cluster, `sudo -n -u USER --` in production), so the kernel applies the
user's own permissions and a symlink planted in the workspace can only lead where the
user could go anyway. Paths come from the portal's database, never from a URL; each is
checked to be absolute and normalised before use.

`stream_range` is the one place that reads a child's output incrementally (a 50 MB log
must not be held in memory); it uses the runner's prefix, environment and user check.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator

from adapters.errors import AdapterError, CommandFailed, CommandNotFound, CommandTimeout
from adapters.runner import CommandRunner, system_command, validate_user

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
MAX_READ = 4 * 1024 * 1024  # read_range is for small pieces; downloads use stream_range
STREAM_TIMEOUT = 3600.0


def check_path(path: str) -> str:
    """An absolute, normalised path on one line, at least two levels deep.

    Raises ValueError otherwise (defence in depth: callers build these paths themselves).
    """
    if not isinstance(path, str) or not path.startswith("/") or os.path.normpath(path) != path:
        raise ValueError(f"not an absolute normalised path: {path!r}")
    if any(ch in path for ch in "\x00\n\r") or path.count("/") < 2:
        raise ValueError(f"refusing path {path!r}")
    return path


class UserFiles:
    """Create, write and read files as a given Unix user through `runner`."""

    def __init__(self, runner: CommandRunner | None = None):
        self.runner = runner or CommandRunner()

    def make_dirs(self, user: str, *paths: str, mode: int = 0o700) -> None:
        """`mkdir -p -m MODE` each path as `user` (existing ones are kept as they are).

        Raises CommandFailed (e.g. permission denied) or CommandTimeout.
        """
        checked = [check_path(p) for p in paths]
        self.runner.run([system_command("mkdir"), "-p", "-m", f"{mode:o}", "--", *checked],
                        as_user=user)

    def write(self, user: str, path: str, data: bytes | str) -> None:
        """Create or replace `path` with `data`, as `user` (the file gets the user's umask).

        Raises CommandFailed or CommandTimeout.
        """
        payload = data.encode() if isinstance(data, str) else data
        argv = [system_command("dd"), f"of={check_path(path)}", "status=none"]
        self.runner.run(argv, as_user=user, input=payload)

    def size(self, user: str, path: str) -> int | None:
        """The file's size in bytes, or None when it does not exist (yet).

        Raises CommandFailed for other failures (e.g. permission denied).
        """
        argv = [system_command("stat"), "--format=%s", "--", check_path(path)]
        try:
            result = self.runner.run(argv, as_user=user)
        except CommandFailed as exc:
            if "no such file" in exc.stderr.lower():
                return None
            raise
        try:
            return int(result.stdout.strip())
        except ValueError:
            raise AdapterError(f"stat printed no size for {path}", result.argv) from None

    def kinds(self, user: str, paths: list[str]) -> dict[str, tuple[str, int]]:
        """{path: (kind, size)} as `stat` (not following a final symlink) tells `user`;
        kind is stat's %F ("regular file", "directory", "symbolic link"…). Paths that do
        not exist (or lie under a non-directory) are left out.

        Raises CommandFailed for other failures (e.g. permission denied).
        """
        checked = [check_path(p) for p in paths]
        argv = [system_command("stat"), "--format=%F|%s|%n", "--", *checked]
        result = self.runner.run(argv, as_user=user, check=False)
        found = {}
        for line in result.stdout.splitlines():
            kind, _, rest = line.partition("|")
            size, _, name = rest.partition("|")
            if name in checked and size.isdigit():
                found[name] = (kind, int(size))
        problems = [line for line in result.stderr.splitlines() if line.strip()
                    and "no such file" not in line.lower()
                    and "not a directory" not in line.lower()]
        if result.returncode != 0 and problems:
            raise CommandFailed(problems[0], argv, result.stderr, result.returncode)
        return found

    def read_range(self, user: str, path: str, offset: int, length: int, *,
                   nofollow: bool = False) -> bytes:
        """Up to `length` bytes of `path` from `offset` (fewer at the end of the file).

        `nofollow`: refuse (CommandFailed) when `path` itself is a symlink (O_NOFOLLOW).
        """
        if offset < 0 or length < 0 or length > MAX_READ:
            raise ValueError("offset and length must be >= 0 and length at most 4 MiB")
        if length == 0:
            return b""
        argv = _dd_read(check_path(path), offset, length, nofollow=nofollow)
        result = self.runner.run(argv, as_user=user)
        return result.raw_stdout

    def remove_tree(self, user: str, path: str) -> None:
        """`rm -rf` a directory the portal created for `user`, as `user`."""
        path = check_path(path)
        if path.count("/") < 3:
            raise ValueError(f"refusing to remove a shallow path: {path!r}")
        self.runner.run([system_command("rm"), "-rf", "--", path], as_user=user)

    def copy_out(self, user: str, path: str, sink, *, timeout: float = STREAM_TIMEOUT) -> int:
        """Read all of `path` AS `user` and hand each chunk to `sink(chunk)`; return the byte
        count. The portal takes a user's file this way into a place only it can write (a
        committed custom image): whatever the user puts at `path` (a symlink, a hard link),
        only what the user may read arrives. Raises CommandFailed with dd's message when the
        read fails, CommandTimeout past `timeout`; what `sink` raises ends the child."""
        argv = _dd_read(check_path(path), 0, None)
        full = [p.replace("{user}", validate_user(user)) for p in self.runner.run_as_prefix]
        try:
            proc = subprocess.Popen(  # noqa: S603 - argv list, no shell; see module docstring
                [*full, *argv], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, env=dict(self.runner.env), cwd="/",
                start_new_session=True)
        except OSError as exc:
            raise CommandNotFound(f"program not found: {exc.filename} ({exc.strerror})",
                                  argv) from None
        expired = threading.Event()

        def _kill() -> None:  # a FIFO or a stalled disk must not hold the build forever
            expired.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

        timer = threading.Timer(timeout, _kill)
        timer.daemon = True
        timer.start()
        total, ok = 0, False
        try:
            assert proc.stdout is not None
            while chunk := proc.stdout.read1(1024 * 1024):
                sink(chunk)
                total += len(chunk)
            ok = True
        finally:
            timer.cancel()
            if not ok:
                _kill()
            proc.stdout.close()
            stderr = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
            if proc.stderr:
                proc.stderr.close()
            proc.wait()
        if expired.is_set():
            raise CommandTimeout(f"reading {path} as {user} took over {timeout:g}s", argv)
        if proc.returncode != 0:
            raise CommandFailed(f"could not read {path} as {user}: {stderr.strip()}", argv,
                                stderr, proc.returncode)
        return total

    def stream_range(
        self, user: str, path: str, offset: int = 0, length: int | None = None, *,
        nofollow: bool = False,
    ) -> Iterator[bytes]:
        """Yield `path`'s bytes from `offset` (`length` of them, or to the end) in chunks.

        Reads as `user` through the runner's prefix and minimal environment. Closing the
        generator (a client that went away) ends the child; so does STREAM_TIMEOUT.
        Raises ValueError for a bad range; a read failure ends the stream early.
        """
        if offset < 0 or (length is not None and length < 0):
            raise ValueError("offset and length must be >= 0")
        argv = _dd_read(check_path(path), offset, length, nofollow=nofollow)
        full = [p.replace("{user}", validate_user(user)) for p in self.runner.run_as_prefix]
        return _stream([*full, *argv], dict(self.runner.env))


def _dd_read(path: str, offset: int, length: int | None, *, nofollow: bool = False
             ) -> list[str]:
    argv = [system_command("dd"), f"if={path}", f"bs={CHUNK}", "status=none"]
    flags = ["nofollow"] if nofollow else []
    if offset:
        argv.append(f"skip={offset}")
        flags.append("skip_bytes")
    if length is not None:
        argv.append(f"count={length}")
        flags.append("count_bytes")
    if flags:
        argv.append("iflag=" + ",".join(flags))
    return argv


def _stream(argv: list[str], env: dict) -> Iterator[bytes]:
    proc = subprocess.Popen(  # noqa: S603 - argv list, no shell; see module docstring
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd="/",
        start_new_session=True,
    )
    deadline = time.monotonic() + STREAM_TIMEOUT
    try:
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            chunk = proc.stdout.read1(CHUNK)
            if not chunk:
                break
            yield chunk
    finally:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
        proc.stdout.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.returncode not in (0, -signal.SIGTERM):
            log.warning("streaming %s ended with status %s", argv[-4:], proc.returncode)
