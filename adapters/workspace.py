"""A user's workspace directory as the operator sees it (F11 cloud-platform activation).

`inspect` stats the path with the portal's own rights (it only reads metadata: no file is
opened, symlinks are not followed). `provision` creates the directory as root with
`install -d -o USER -g GID -m MODE` through the command runner (argv list, no shell), the
one operation here that needs the operator: a user cannot create their own home.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass

from adapters.runner import MINIMAL_PATH, CommandRunner, validate_user
from adapters.userfiles import check_path

MODE = 0o700  # what `provision` creates
UNSAFE_BITS = 0o022  # group/other write: anyone else could plant files in the workspace


@dataclass(frozen=True)
class WorkspaceState:
    path: str
    exists: bool
    is_dir: bool = False
    uid: int | None = None
    mode: int | None = None  # permission bits only

    def problem(self, uid: int) -> str | None:
        """Why the directory is not a proper workspace for `uid` (None: it is)."""
        if not self.exists:
            return "missing"
        if not self.is_dir:
            return "not_a_directory"
        if self.uid != uid:
            return "wrong_owner"
        if self.mode is not None and self.mode & UNSAFE_BITS:
            return "writable_by_others"
        return None


def inspect(path: str) -> WorkspaceState:
    """The path's type, owner and mode (lstat: a symlink is not a directory)."""
    check_path(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return WorkspaceState(path, False)
    except OSError:
        return WorkspaceState(path, False)
    return WorkspaceState(
        path, True, stat.S_ISDIR(info.st_mode), info.st_uid, stat.S_IMODE(info.st_mode)
    )


def provision(runner: CommandRunner, path: str, user: str, gid: int, mode: int = MODE) -> None:
    """Create `path` (and missing parents, root-owned) owned by `user`:`gid` with `mode`.

    An existing directory gets the owner and mode. Raises CommandFailed/CommandTimeout.
    """
    check_path(path)
    validate_user(user)
    install = shutil.which("install", path=MINIMAL_PATH) or "install"
    runner.run([install, "-d", "-o", user, "-g", str(int(gid)), "-m", f"{mode:o}", "--", path])
