"""The custom-image store (issue #12): image files only the portal can write, checked again
before every start.

Layout: `<image_store>/` and `<image_store>/<account>/` are directories of the portal's own
Unix user (root on the dev cluster), mode 0755; a committed image is ONE file
`<account>/<id>-<name>-<tag><suffix>` (a SquashFS file under Charliecloud, a SIF under
Apptainer), the portal's, mode 0444. Its SHA-256 is recorded when it is stored
(`custom_images.digest`) and compared before a session or job starts from it.

Why: the store used to be mode 1777 holding the committer's directory trees. A user outside
a project could pre-create the project's folder, then swap a committed image for a copy with
an extra /etc/profile.d script that the next member's session ran as that member. Now:

* Every directory is opened one component at a time from `/` with O_NOFOLLOW (a symlink
  anywhere on the way is refused) and checked after opening (fstat, so there is no gap
  between check and use): the store and its project folders must be the portal's and
  writable by nobody else; the directories above them must be root's or the portal's and
  not writable by others unless sticky (like /tmp, where nobody else can rename what root
  made). A project folder that fails the check is never used; `check_store` (the worker,
  when it starts and whenever the configured store changes) makes a 1777 store 0755 and
  moves folders that are not the portal's out of the way.
* The image enters the store by being read AS its committer (`UserFiles.copy_out`): whatever
  the user plants at the source (symlinks, hard links, a FIFO, a directory swapped mid-copy)
  only bytes the user could read arrive, at most the size the file had; they go into a new
  file (O_CREAT|O_EXCL|O_NOFOLLOW) inside the checked folder, hashed as they are written,
  which is then made 0444 and renamed into place. Nothing of the user's tree is walked by
  the portal with its own rights.
* `verify` reopens the file the same way, checks it is a regular file of the portal's with no
  write bits and one link, and hashes all of it: 0.1-0.6 s (busy or not) for the 133 MB image
  committed from the 418 MB Jupyter copy on the 2-core dev machine, so no cache is kept.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import logging
import os
import re
import shutil
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l

from portal.config import VAR_DIR
from portal.services import ServiceError

log = logging.getLogger(__name__)

DIR_MODE = 0o755
FILE_MODE = 0o444
CHUNK = 1024 * 1024
INCOMING = ".incoming-"
UNTRUSTED = ".untrusted-"
# A Slurm account name as it becomes a folder: no '/', no leading '.', nothing odd.
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafeStore(ServiceError):
    """A store directory the portal does not own alone; nothing was read or written there."""

    def __init__(self, message):
        super().__init__(message, "image_store_unsafe")


class ImageChanged(ServiceError):
    """The stored image is not the file that was committed (digest, owner or mode)."""

    def __init__(self, message):
        super().__init__(message, "image_changed")


@dataclass(frozen=True)
class Stored:
    path: str
    digest: str  # "sha256:<hex>"
    size: int


def store_root() -> str:
    return str(current_app.config.get("IMAGE_STORE") or (VAR_DIR / "custom-images"))


def _owner_name(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _refuse(path: str, why) -> UnsafeStore:
    return UnsafeStore(_l("The image store folder %(path)s cannot be trusted (%(why)s): "
                          "nothing was read or written there. An admin must fix it (the "
                          "portal's worker moves such folders aside when it starts).",
                          path=path, why=why))


def _check_own(fd: int, path: str) -> os.stat_result:
    """The store or a project folder: a directory of the portal's, writable by nobody else."""
    st = os.fstat(fd)
    if not stat.S_ISDIR(st.st_mode):
        raise _refuse(path, _l("not a directory"))
    if st.st_uid != os.geteuid():
        raise _refuse(path, _l("it belongs to %(owner)s, not the portal",
                               owner=_owner_name(st.st_uid)))
    if st.st_mode & 0o022:
        raise _refuse(path, _l("other users may write in it (mode %(mode)s)",
                               mode=f"{stat.S_IMODE(st.st_mode):04o}"))
    return st


def _check_parent(fd: int, path: str) -> None:
    """A directory above the store: root's or the portal's; writable by others only if
    sticky (then nobody else can rename or remove what root made in it)."""
    st = os.fstat(fd)
    if st.st_uid not in (0, os.geteuid()):
        raise _refuse(path, _l("it belongs to %(owner)s", owner=_owner_name(st.st_uid)))
    if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
        raise _refuse(path, _l("other users may write in it (mode %(mode)s)",
                               mode=f"{stat.S_IMODE(st.st_mode):04o}"))


def _components(path: str) -> list[str]:
    if not isinstance(path, str) or not path.startswith("/") or os.path.normpath(path) != path \
            or "\x00" in path or path == "/":
        raise ValueError(f"not an absolute normalised path: {path!r}")
    return path.strip("/").split("/")


def _openat(parent: int, name: str, path: str, *, create: bool) -> int:
    """Open directory `name` in `parent` without following a symlink; make it first (mode
    0755 whatever the umask) when `create` and it is missing. A symlink is refused."""
    made = False
    try:
        fd = os.open(name, _OPEN_DIR, dir_fd=parent)
    except FileNotFoundError:
        if not create:
            raise
        try:
            os.mkdir(name, DIR_MODE, dir_fd=parent)
            made = True
        except FileExistsError:
            pass
        return _openat(parent, name, path, create=False) if not made else \
            _fresh(os.open(name, _OPEN_DIR, dir_fd=parent))
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            raise _refuse(path, _l("a symbolic link or not a directory")) from None
        raise
    return fd


def _fresh(fd: int) -> int:
    """A directory the portal just made: 0755 (the umask may have cut it)."""
    os.fchmod(fd, DIR_MODE)
    return fd


def _open_store(root: str, *, create: bool) -> int:
    """The store directory `root`, walked from / (see the module docstring)."""
    names = _components(root)
    fd = os.open("/", _OPEN_DIR)
    try:
        for depth, name in enumerate(names):
            here = "/" + "/".join(names[:depth + 1])
            _check_parent(fd, os.path.dirname(here))
            child = _openat(fd, name, here, create=create)
            os.close(fd)
            fd = child
            if depth == len(names) - 1:
                _check_own(fd, here)
        return fd
    except BaseException:
        os.close(fd)
        raise


def _open_project(root_fd: int, root: str, account: str, *, create: bool) -> int:
    if not _NAME.fullmatch(account or ""):
        raise ValueError(f"not a usable project folder name: {account!r}")
    path = os.path.join(root, account)
    fd = _openat(root_fd, account, path, create=create)
    try:
        _check_own(fd, path)
    except BaseException:
        os.close(fd)
        raise
    return fd


def image_path(account: str, filename: str) -> str:
    return os.path.join(store_root(), account, filename)


# --- storing ----------------------------------------------------------------------------


def store_file(account: str, filename: str, fill: Callable[[Callable[[bytes], None]], None],
               *, magic: tuple[int, bytes] = (0, b"")) -> Stored:
    """Make `<store>/<account>/<filename>` from what `fill(sink)` hands to `sink`.

    The file is new (a name that exists is refused), the portal's, mode 0444 once complete;
    `magic` (offset, bytes) must be where the file says it is an image of the runtime's
    kind. On any failure nothing is left behind. Raises UnsafeStore, OSError (ENOSPC…),
    ServiceError("image_not_an_image"), or whatever `fill` raises.
    """
    if not _NAME.fullmatch(filename) or filename.startswith("."):
        raise ValueError(f"not a usable image file name: {filename!r}")
    root = store_root()
    root_fd = _open_store(root, create=True)
    try:
        dir_fd = _open_project(root_fd, root, account, create=True)
    finally:
        os.close(root_fd)
    temp = INCOMING + filename
    digest, size, head = hashlib.sha256(), 0, bytearray()
    try:
        if _exists(dir_fd, filename):
            raise ServiceError(_l("The image store already has a file %(name)s.",
                                  name=filename), "image_exists", 409)
        _unlink(dir_fd, temp)  # left by a worker that died mid-copy
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600, dir_fd=dir_fd)
        try:
            def sink(chunk: bytes) -> None:
                nonlocal size
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
                digest.update(chunk)
                if len(head) < 64:
                    head.extend(chunk[:64 - len(head)])
                size += len(chunk)

            fill(sink)
            offset, expected = magic
            if expected and bytes(head[offset:offset + len(expected)]) != expected:
                raise ServiceError(_l("The build did not produce an image file (it does not "
                                      "start like one); nothing was stored."),
                                   "image_not_an_image")
            os.fsync(fd)
            os.fchmod(fd, FILE_MODE)
        finally:
            os.close(fd)
        os.rename(temp, filename, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        os.fsync(dir_fd)
    except BaseException:
        _unlink(dir_fd, temp)
        raise
    finally:
        os.close(dir_fd)
    return Stored(os.path.join(root, account, filename), "sha256:" + digest.hexdigest(), size)


def discard_incoming(account: str, filename: str) -> None:
    """Remove a half-copied `.incoming-` file of a build that died; never raises."""
    try:
        remove(image_path(account, INCOMING + filename))
    except (OSError, ValueError, ServiceError) as exc:
        log.warning("image store: could not remove %s%s: %s", INCOMING, filename, exc)


def _exists(dir_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        return True
    except FileNotFoundError:
        return False


def _unlink(dir_fd: int, name: str) -> None:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass


# --- reading, checking, removing -------------------------------------------------------


def _open_image(path: str) -> tuple[int, os.stat_result]:
    """The image file at `path` (`<store>/<account>/<file>`), opened without following a
    symlink anywhere; raises UnsafeStore for a folder and ImageChanged for a file that is
    not the portal's read-only regular file."""
    names = _components(path)
    if len(names) < 3:
        raise ValueError(f"not an image store path: {path!r}")
    store, account, name = os.path.dirname(os.path.dirname(path)), names[-2], names[-1]
    root_fd = _open_store(store, create=False)
    try:
        dir_fd = _open_project(root_fd, store, account, create=False)
    finally:
        os.close(root_fd)
    try:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                         dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOENT, errno.ENOTDIR):
                raise ImageChanged(_l("The image file %(path)s is missing or was replaced by "
                                      "a link.", path=path)) from None
            raise
    finally:
        os.close(dir_fd)
    st = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(st.st_mode):
        problem = _l("it is not a regular file")
    elif st.st_uid != os.geteuid():
        problem = _l("it belongs to %(owner)s, not the portal", owner=_owner_name(st.st_uid))
    elif st.st_mode & 0o7222:
        problem = _l("its mode is %(mode)s, not read-only",
                     mode=f"{stat.S_IMODE(st.st_mode):04o}")
    elif st.st_nlink != 1:
        problem = _l("it has %(n)s names", n=st.st_nlink)
    if problem is not None:
        os.close(fd)
        raise ImageChanged(_l("The image file %(path)s was changed after it was committed "
                              "(%(problem)s).", path=path, problem=problem))
    return fd, st


def file_digest(fd: int) -> str:
    digest = hashlib.sha256()
    while chunk := os.read(fd, CHUNK):
        digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def verify(path: str, expected: str) -> None:
    """Raise ImageChanged unless `path` is still the portal's read-only file whose SHA-256
    is `expected`; UnsafeStore when a folder on the way cannot be trusted."""
    fd, _ = _open_image(path)
    try:
        started = time.monotonic()
        actual = file_digest(fd)
    finally:
        os.close(fd)
    log.debug("image store: digest of %s in %.3f s", path, time.monotonic() - started)
    if not expected or not hmac.compare_digest(actual, expected):
        raise ImageChanged(_l("The image file %(path)s is not the one that was committed: "
                              "its SHA-256 digest is %(actual)s, %(expected)s was recorded.",
                              path=path, actual=actual[:19] + "…",
                              expected=(expected or "none")[:19] + "…"))


def remove(path: str) -> None:
    """Remove `path` from a project folder the portal owns (missing: fine): a stored file,
    or a committer's tree from before issue #12 (`shutil.rmtree` by descriptor, which never
    follows a symlink). Raises UnsafeStore for a folder it cannot trust, OSError."""
    names = _components(path)
    if len(names) < 3:
        raise ValueError(f"not an image store path: {path!r}")
    store, account = os.path.dirname(os.path.dirname(path)), names[-2]
    root_fd = _open_store(store, create=False)
    try:
        dir_fd = _open_project(root_fd, store, account, create=False)
    finally:
        os.close(root_fd)
    try:
        st = os.stat(names[-1], dir_fd=dir_fd, follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(names[-1], dir_fd=dir_fd)
        else:
            os.unlink(names[-1], dir_fd=dir_fd)
    except FileNotFoundError:
        pass
    finally:
        os.close(dir_fd)


# --- the store as a whole (worker start) ------------------------------------------------


def check_store(root: str | None = None) -> list[str]:
    """Make the store safe to use and say what was done or is wrong (one line each).

    Creates a missing store (0755, the portal's); makes a store or project folder of the
    portal's that others may write (the 1777 of before issue #12) 0755; moves a project
    folder that is not the portal's, or a symlink, aside to `.untrusted-<name>-<time>` (its
    files are kept for an admin to look at; the portal never reads them) so that the
    portal makes a fresh one. Refuses (raises UnsafeStore) a store it cannot trust itself.
    """
    root = root or store_root()
    notes: list[str] = []
    names = _components(root)
    parent = os.path.dirname(root)
    if parent != "/":
        parent_fd = _open_store_parent(parent)
    else:
        parent_fd = os.open("/", _OPEN_DIR)
    try:
        root_fd = _openat(parent_fd, names[-1], root, create=True)
    finally:
        os.close(parent_fd)
    try:
        st = os.fstat(root_fd)
        if st.st_uid == os.geteuid() and (st.st_mode & 0o7022 or
                                          stat.S_IMODE(st.st_mode) != DIR_MODE):
            os.fchmod(root_fd, DIR_MODE)
            notes.append(f"{root}: mode {stat.S_IMODE(st.st_mode):04o} -> 0755")
        _check_own(root_fd, root)
        for name in sorted(os.listdir(root_fd)):
            if name.startswith(UNTRUSTED):
                continue
            path = os.path.join(root, name)
            entry = os.stat(name, dir_fd=root_fd, follow_symlinks=False)
            if entry.st_uid == os.geteuid() and stat.S_ISDIR(entry.st_mode):
                if stat.S_IMODE(entry.st_mode) != DIR_MODE:
                    _chmod_dir(root_fd, name, path)
                    notes.append(f"{path}: mode {stat.S_IMODE(entry.st_mode):04o} -> 0755")
                notes += _legacy_entries(root_fd, name, path)
                continue
            aside = f"{UNTRUSTED}{name}-{time.strftime('%Y%m%d%H%M%S')}"
            os.rename(name, aside, src_dir_fd=root_fd, dst_dir_fd=root_fd)
            owner = _owner_name(entry.st_uid)
            kind = "symlink" if stat.S_ISLNK(entry.st_mode) else \
                "folder" if stat.S_ISDIR(entry.st_mode) else "file"
            notes.append(f"{path}: a {kind} of {owner}, not the portal's: moved to {aside}")
    finally:
        os.close(root_fd)
    for note in notes:
        log.warning("image store: %s", note)
    return notes


def _open_store_parent(parent: str) -> int:
    """The directory holding the store, walked like `_open_store` (parents' rules)."""
    names = _components(parent)
    fd = os.open("/", _OPEN_DIR)
    try:
        for depth, name in enumerate(names):
            here = "/" + "/".join(names[:depth + 1])
            _check_parent(fd, os.path.dirname(here))
            child = _openat(fd, name, here, create=True)
            os.close(fd)
            fd = child
        _check_parent(fd, parent)
        return fd
    except BaseException:
        os.close(fd)
        raise


def _chmod_dir(parent_fd: int, name: str, path: str) -> None:
    fd = _openat(parent_fd, name, path, create=False)
    try:
        os.fchmod(fd, DIR_MODE)
    finally:
        os.close(fd)


def _legacy_entries(root_fd: int, name: str, path: str) -> list[str]:
    """What in a project folder is not a stored image of the portal's (pre-#12 trees of a
    committer): reported, never started (they have no digest), removable by their owner."""
    notes = []
    fd = _openat(root_fd, name, path, create=False)
    try:
        for entry in sorted(os.listdir(fd)):
            st = os.stat(entry, dir_fd=fd, follow_symlinks=False)
            if st.st_uid != os.geteuid() or not stat.S_ISREG(st.st_mode):
                notes.append(f"{path}/{entry}: not a sealed image of the portal's (owner "
                             f"{_owner_name(st.st_uid)}); sessions cannot start from it")
    finally:
        os.close(fd)
    return notes
