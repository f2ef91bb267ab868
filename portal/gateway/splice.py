"""A body moved socket to socket by the kernel: os.splice through a pipe (Linux).

The gateway's relay of a large download (portal/gateway/bodyrelay.py) received every
piece into Python and sent it again: two copies across the kernel boundary and a round
of the event loop per piece, on the 2-core dev cluster a third of the CPU a relay costs
there. splice(2) moves the socket's pages into a pipe and from the pipe to the other
socket without them ever reaching this process, so the gateway's cost per download is a
few system calls per pipeful (the pipe is sized to the read-ahead) and the kernel's TCP
work, which any relay pays (bench/gateway_capacity.py: 20-39 ms of CPU per 100 MB against
39-46 ms copying, socat 28-35 ms).

The sockets belong to asyncio transports, and the loop refuses add_reader/add_writer on a
transport's descriptor; this works on duplicates of the two descriptors (the same sockets),
waiting on them with the loop's own reader/writer callbacks, and closes its duplicates
when it ends, so closing the transports then closes the sockets. A kernel or socket that
cannot splice answers EINVAL (or the like) before any byte moved: Unsupported carries what
is still to send, and the caller goes on the ordinary way.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os

_splice = getattr(os, "splice", None)  # Linux, Python 3.10+
_FLAGS = getattr(os, "SPLICE_F_MOVE", 1) | getattr(os, "SPLICE_F_NONBLOCK", 2)
_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)
# What a descriptor that cannot splice answers (a kernel without it, a socket type or a
# file system that does not support it).
_UNSUPPORTED = frozenset({errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP})
# A user over fs/pipe-user-pages-soft (64 MiB of pipes: the gateway's user with some 64
# downloads at once) gets 8 KiB pipes: so many system calls per MiB that the one-buffer
# copy is cheaper. Under this, the caller copies.
MIN_PIPE = 64 << 10


def available() -> bool:
    return _splice is not None


class Unsupported(Exception):
    """splice refused a descriptor: `pending` (bytes already taken from the source) and
    `remaining` (still in the source) are the caller's to send."""

    def __init__(self, pending: bytes, remaining: int):
        super().__init__("splice is not supported here")
        self.pending, self.remaining = pending, remaining


class Splicer:
    """Moves a known number of bytes from one socket to another through a pipe.

    `stop(exc)` (from a callback: a connection closed under it) ends `run` with `exc`.
    """

    def __init__(self, source_fd: int, sink_fd: int, limit: int):
        self.loop = asyncio.get_running_loop()
        self.limit = limit
        self.error: BaseException | None = None
        self.waiter: asyncio.Future | None = None
        self.fds: list[int] = []
        try:
            self.source = self._keep(os.dup(source_fd))
            self.sink = self._keep(os.dup(sink_fd))
            self.out, self.into = (self._keep(fd) for fd in
                                   os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC))
            try:  # one pipeful per round: the read-ahead (more than the default 64 KiB)
                fcntl.fcntl(self.into, _SETPIPE_SZ, limit)
            except OSError:
                pass
            self.capacity = fcntl.fcntl(self.into, _GETPIPE_SZ)
        except BaseException:
            self.close()
            raise

    def _keep(self, fd: int) -> int:
        self.fds.append(fd)
        return fd

    def stop(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def run(self, remaining: int, sink_gone=lambda: False) -> None:
        """Move `remaining` bytes; raises ConnectionError when either side goes away
        first (`sink_gone()`: the sink's transport knows its peer left), Unsupported when
        splice refuses a descriptor or the pipe is too small to be worth it."""
        if self.capacity < MIN_PIPE:
            raise Unsupported(b"", remaining)
        in_pipe = 0
        moved_since_yield = 0
        while remaining > 0 or in_pipe > 0:
            if self.error is not None:
                raise self.error
            if sink_gone():
                raise ConnectionResetError("the client went away")
            progress = 0
            if remaining > 0 and in_pipe < self.capacity:
                got = self._move(self.source, self.into,
                                 min(remaining, self.capacity - in_pipe), in_pipe, remaining)
                if got == 0:
                    raise ConnectionResetError("the session closed the body early")
                if got is not None:
                    remaining -= got
                    in_pipe += got
                    progress += got
            if in_pipe > 0:
                sent = self._move(self.out, self.sink, in_pipe, in_pipe, remaining)
                if sent is not None:
                    in_pipe -= sent
                    progress += sent
            if progress:
                moved_since_yield += progress
                if moved_since_yield >= self.limit:  # let the loop's other work run
                    moved_since_yield = 0
                    await asyncio.sleep(0)
                continue
            await self._wait(read=remaining > 0 and in_pipe < self.capacity,
                             write=in_pipe > 0)
        if self.error is not None:
            raise self.error

    def _move(self, src: int, dst: int, count: int, in_pipe: int,
              remaining: int) -> int | None:
        """One splice: bytes moved, 0 at end of file, None when it would block."""
        try:
            return _splice(src, dst, count, flags=_FLAGS)
        except BlockingIOError:
            return None
        except OSError as exc:
            if exc.errno in _UNSUPPORTED:
                raise Unsupported(self._take_pipe(in_pipe), remaining) from exc
            if isinstance(exc, ConnectionError):
                raise
            raise ConnectionResetError(f"the connection failed: {exc}") from exc

    def _take_pipe(self, in_pipe: int) -> bytes:
        """What is already in the pipe, read out for a caller that goes on without it."""
        data = bytearray()
        while len(data) < in_pipe:
            try:
                chunk = os.read(self.out, in_pipe - len(data))
            except BlockingIOError:
                break
            if not chunk:
                break
            data += chunk
        return bytes(data)

    async def _wait(self, read: bool, write: bool) -> None:
        self.waiter = self.loop.create_future()
        if read:
            self.loop.add_reader(self.source, self._wake)
        if write:
            self.loop.add_writer(self.sink, self._wake)
        try:
            await self.waiter
        finally:
            self.waiter = None
            if read:
                self.loop.remove_reader(self.source)
            if write:
                self.loop.remove_writer(self.sink)

    def close(self) -> None:
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = []
