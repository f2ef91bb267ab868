"""A job's log: the tail for the page, increments for live polling, a ranged download.

The log lives in the owner's job directory and is read AS the owner (decision 1); its
path comes from the job's row, never from the request. Nothing here reads a whole log
into memory: the page gets the last TAIL_BYTES, polls get at most CHUNK_BYTES, and the
download streams (HTTP Range supported, so a client can resume or fetch a part).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from adapters.errors import AdapterError
from portal.models import Job
from portal.services import ServiceError
from portal.services import jobscript as scripts
from portal.services.jobs import job_root

TAIL_BYTES = 64 * 1024
CHUNK_BYTES = 256 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(ServiceError):
    status = 416

    def __init__(self, size: int):
        super().__init__(_l("That part of the log does not exist."), "range_not_satisfiable")
        self.size = size


@dataclass(frozen=True)
class LogPiece:
    text: str
    start: int  # byte offset of the first byte of `text`
    end: int  # byte offset just after it: the next poll's `offset`
    size: int | None  # the file's size now (None: no log yet)


def log_path(job: Job) -> str:
    """The log of `job`, inside its own directory under the owner's job root.

    Raises ServiceError("no_log") for a job without a directory or one whose recorded
    directory is not where the portal puts job directories.
    """
    if not job.directory:
        raise ServiceError(_l("This job has no log."), "no_log")
    _home, root = job_root(job.user.unix_user)
    if not job.directory.startswith(root + "/") or "/../" in job.directory + "/":
        raise ServiceError(_l("This job has no log."), "no_log")
    return f"{job.directory}/{scripts.LOG_NAME}"


LINK = "symbolic link"
REGULAR = ("regular file", "regular empty file")


def _log_file(job: Job, backend) -> tuple[str, str, int | None]:
    """(path, owner, size) of the job's log, checked before anything is read.

    The job directory is the user's: they may replace the log (or the directory) with a
    symlink. Reading as the user leaks nothing, but a followed link is not the job's log,
    and `stat`'s size of the link would not match what the read returns (a download cut
    off half-way). So, asked as the owner, no component from the job root down to the log
    may be a symlink, and the log must be a regular file; the reads then use O_NOFOLLOW.
    Returns size None when there is no log yet. Raises ServiceError: no_log,
    log_symlink (409), log_not_a_file (409), log_unreadable.
    """
    path = log_path(job)
    user = job.user.unix_user
    _home, root = job_root(user)
    parts = path[len(root) + 1:].split("/")
    chain = [root] + [f"{root}/{'/'.join(parts[:n])}" for n in range(1, len(parts) + 1)]
    try:
        kinds = backend.files.kinds(user, chain)
    except AdapterError as exc:
        raise ServiceError(exc.message, "log_unreadable") from None
    for component in chain:
        kind, size = kinds.get(component, (None, None))
        if kind is None:
            return path, user, None  # not written yet
        if kind == LINK:
            raise ServiceError(
                _l("%(path)s is a symbolic link. The portal does not follow links in a job's "
                   "directory, so it cannot show or download this log; put the file itself "
                   "there.", path=component), "log_symlink", 409)
        if component != path and kind != "directory":
            raise ServiceError(_l("%(path)s is not a directory, so the job's log cannot be "
                                  "read.", path=component), "log_not_a_file", 409)
    if kind not in REGULAR:
        raise ServiceError(_l("The job's log %(path)s is not a regular file (it is a %(kind)s), "
                              "so it cannot be shown or downloaded.", path=path, kind=kind),
                           "log_not_a_file", 409)
    return path, user, size


def _utf8_end(data: bytes) -> int:
    """Length of `data` without a multi-byte UTF-8 character cut off at its end."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # the start of the last character (or ASCII)
            need = 1 if byte < 0x80 else 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) if back >= need else len(data) - back
    return len(data)


def _utf8_start(data: bytes) -> int:
    """Index of the first byte of `data` that starts a character (skip a cut-off one)."""
    for index in range(min(3, len(data))):
        if data[index] & 0xC0 != 0x80:
            return index
    return min(3, len(data))


def tail(job: Job, backend, max_bytes: int = TAIL_BYTES) -> LogPiece:
    """The last `max_bytes` of the log (starting at a character boundary)."""
    path, user, size = _log_file(job, backend)
    try:
        if not size:
            return LogPiece("", 0, 0, size)
        start = max(0, size - max_bytes)
        data = backend.files.read_range(user, path, start, size - start, nofollow=True)
    except AdapterError as exc:
        raise ServiceError(exc.message, "log_unreadable") from None
    skip = _utf8_start(data) if start else 0
    cut = _utf8_end(data)
    text = data[skip:cut].decode("utf-8", errors="replace")
    return LogPiece(text, start + skip, start + cut, size)


def since(job: Job, backend, offset: int, max_bytes: int = CHUNK_BYTES) -> LogPiece:
    """What the log gained after byte `offset` (at most `max_bytes`)."""
    if offset < 0:
        raise ServiceError(_l("The offset must not be negative."), "invalid_offset")
    path, user, size = _log_file(job, backend)
    try:
        if size is None or size <= offset:
            return LogPiece("", offset, min(offset, size or 0), size)
        data = backend.files.read_range(user, path, offset, min(max_bytes, size - offset),
                                        nofollow=True)
    except AdapterError as exc:
        raise ServiceError(exc.message, "log_unreadable") from None
    cut = _utf8_end(data)
    return LogPiece(data[:cut].decode("utf-8", errors="replace"), offset, offset + cut, size)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """An HTTP Range header (one byte range) as (first, last) inclusive; None = all.

    Raises RangeNotSatisfiable for a range outside the file; a header that is not a
    single byte range is ignored (RFC 9110 allows that), giving the whole file.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None
    first_text, last_text = match.groups()
    if not first_text:  # suffix: the last N bytes
        length = int(last_text)
        if length == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return max(0, size - length), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if first >= size or last < first:
        raise RangeNotSatisfiable(size)
    return first, min(last, size - 1)


def download(job: Job, backend, range_header: str | None):
    """(status, headers, byte iterator) for the log as a .txt download.

    Raises ServiceError("no_log") when there is no log yet, log_symlink or log_not_a_file
    before anything is sent, RangeNotSatisfiable.
    """
    path, user, size = _log_file(job, backend)
    if size is None:
        raise ServiceError(_l("The job has not written a log yet."), "no_log", 404)
    chosen = parse_range(range_header, size)
    first, last = chosen if chosen else (0, size - 1)
    length = max(0, last - first + 1)
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(length),
        "Content-Disposition": f'attachment; filename="job-{job.id}-log.txt"',
    }
    if chosen:
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    stream: Iterator[bytes] = (
        backend.files.stream_range(user, path, first, length, nofollow=True)
        if length else iter(())
    )
    return (206 if chosen else 200), headers, stream
