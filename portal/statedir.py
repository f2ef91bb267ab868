"""The portal's private state: its database, secret key, credentials, logs and pid files.

They live in one directory, `var/portal/` by default (`STATE_DIR`, env `PORTAL_STATE_DIR`),
mode 0700 and owned by the account the portal runs as; the files in it are 0600. The rest
of `var/` stays readable on purpose: `var/images` and the custom-image store hold container
images that jobs read as their users (ch-run runs as the user).

Before issue #12 finding 4, `var/portal.db` (with its -wal/-shm) and `var/access.log` were
0644: any local user or job could read every password hash, token hash and the audit log,
and tokens sent in query strings. Now `check()` runs when the app starts (gunicorn, worker,
CLI; not under TESTING) and refuses to start when any of it is open to group or others,
saying which `chmod` fixes it. The portal does not set a process-wide umask 077 instead:
every command it runs inherits its umask, and Slurm hands the submitter's umask to the job
(SLURM_UMASK), so users' job files would change mode. Its own files are private by where
they are (the 0700 directory) and by how they are created (0600, see `create_private`).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

# Files that go with an SQLite database and hold the same data.
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
# What `portal init` moves from the old layout (everything directly in var/) into STATE_DIR.
LEGACY_FILES = ("portal.db", "portal.db-wal", "portal.db-shm", "portal.db-journal",
                "secret_key", "admin-credentials", "access.log", "gunicorn.log", "worker.log")


def sqlite_path(url: str) -> Path | None:
    """The database file of an SQLite URL (None: another database, or in memory)."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _mode(path: Path) -> int | None:
    """Permission bits of `path`; None when it does not exist. PermissionError propagates."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None


def problems(app) -> list[str]:
    """Every way the portal's state is open to others or closed to this process."""
    found: list[str] = []
    dirs: list[Path] = []
    files: list[Path] = []
    # The directory is what keeps logs and credentials private (a rotated log may come back
    # 0644 inside it); the database and the secret key are checked file by file as well.
    state = app.config.get("STATE_DIR")
    if state:
        dirs.append(Path(state))
    db_file = sqlite_path(app.config["DATABASE_URL"])
    if db_file is not None:
        dirs.append(db_file.parent)
        files += [db_file] + [Path(f"{db_file}{side}") for side in SQLITE_SIDE_FILES]
    secret = app.config.get("SECRET_KEY_FILE")
    if secret:
        files.append(Path(secret))
    seen: set[Path] = set()
    for path, wanted in [(d, "700") for d in dirs] + [(f, "600") for f in files]:
        path = Path(os.path.abspath(path))
        if path in seen:
            continue
        seen.add(path)
        try:
            mode = _mode(path)
        except PermissionError:
            found.append(f"{path} cannot be read by uid {os.geteuid()}: it belongs to the "
                         "portal's account. Run this as that account (the portal's API with "
                         "a personal access token works for everyone else).")
            continue
        if mode is not None and mode & 0o077:
            found.append(f"{path} is mode {mode:04o}, open to group or others: "
                         f"chmod {wanted} {path}")
    found += _config_file_problems()
    return found


def _config_file_problems() -> list[str]:
    """The config file may hold the secret key or the database password: then nobody but
    the portal's account (and its group) may read it."""
    import tomllib

    from portal.config import config_path

    path = config_path()
    try:
        mode = _mode(path)
        if mode is None or not mode & 0o007:
            return []
        with path.open("rb") as fh:
            data = {key.lower(): value for key, value in tomllib.load(fh).items()}
    except (PermissionError, tomllib.TOMLDecodeError):
        return []  # unreadable here means private enough; a bad file fails elsewhere
    url = data.get("database_url")
    has_password = bool(url) and make_url(str(url)).password is not None
    if data.get("secret_key") or has_password:
        return [f"{path} holds a secret (secret_key or the database password) and is mode "
                f"{mode:04o}, readable by others: chmod 640 {path}"]
    return []


def check(app) -> None:
    """Raise RuntimeError, listing each problem and its fix, when the state is not private."""
    found = problems(app)
    if found:
        raise RuntimeError(
            "Refusing to start: the portal's database, secret key, logs and credentials "
            "must be private to the account it runs as.\n  "
            + "\n  ".join(found))


def make_private_dir(path: Path) -> None:
    """Create `path` (and parents) with the directory itself 0700 from the start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        return
    os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask; this is exact


def create_private(path: Path) -> None:
    """Create an empty 0600 file unless it exists (e.g. the SQLite file before the schema,
    whose -wal and -shm then get the same mode from SQLite)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def move_legacy_state(var_dir: Path, state_dir: Path) -> list[str]:
    """Move the old layout's files (var/portal.db, var/secret_key, …) into `state_dir`,
    0600 each; nothing is moved over a file that already exists there. Returns the names."""
    moved = []
    candidates = list(LEGACY_FILES) + sorted(
        p.name for p in var_dir.glob("demo-credentials-*") if p.is_file())
    for name in candidates:
        old, new = var_dir / name, state_dir / name
        if old.is_file() and not new.exists():
            os.chmod(old, 0o600)
            os.replace(old, new)
            moved.append(name)
    return moved
