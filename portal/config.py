"""Configuration: defaults -> etc/portal.toml (or $PORTAL_CONFIG) -> PORTAL_* env -> test mapping.

Secrets never have a usable default: outside tests the app refuses to start without one.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PORTAL_VAR_DIR", REPO_ROOT / "var"))
# The portal's private state (database, secret key, credentials, logs): 0700, see
# portal/statedir.py. The rest of var/ (container images) is readable by jobs on purpose.
STATE_DIR = Path(os.environ.get("PORTAL_STATE_DIR", VAR_DIR / "portal"))
INSECURE_SECRET = "insecure-default-secret-do-not-use"  # noqa: S105 - a marker, refused at start


class Defaults:
    """Values that are safe for a developer machine; production overrides them in etc/."""

    SECRET_KEY = INSECURE_SECRET
    SECRET_KEY_FILE = str(STATE_DIR / "secret_key")
    DATABASE_URL = f"sqlite:///{STATE_DIR / 'portal.db'}"
    # Every sacctmgr change from any portal process on this host waits for this lock
    # (adapters/dbdlock.py: Slurm 22.05 corrupts its association tree under parallel changes).
    SLURMDBD_LOCK_FILE = str(STATE_DIR / "slurmdbd-changes.lock")
    STATE_DIR = str(STATE_DIR)  # last: the lines above use the module's Path
    # Cookies: HttpOnly and SameSite always; Secure unless the deployment is plain-http loopback.
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_DURATION = 0
    PERMANENT_SESSION_LIFETIME = 8 * 3600
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    # Failed logins, counted in the database (shared by every worker): per client address
    # and per account name, sliding windows (portal/services/login_limit.py).
    LOGIN_RATE_LIMIT = "10 per minute"
    LOGIN_ACCOUNT_RATE_LIMIT = "10 per 15 minutes"
    # Flask-Limiter's storage, for route limits other than the login's (none today).
    RATELIMIT_STORAGE_URI = "memory://"
    # An API token's "last used" is written at most this often (seconds): reads stay reads.
    TOKEN_LAST_USED_INTERVAL = 300
    RATELIMIT_HEADERS_ENABLED = True
    LANGUAGES = ["en", "zh_TW"]
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_TRANSLATION_DIRECTORIES = str(REPO_ROOT / "portal" / "translations")
    # Client address: taken from X-Forwarded-For only behind a configured trusted proxy.
    TRUSTED_PROXY_COUNT = 0
    # True when the session gateway (`portal gateway`, portal/gateway) is in front of the app
    # (make run, etc/systemd/portal-gateway.service): it counts as one more trusted proxy.
    # Only set it when the app listens where nothing but the gateway can reach it.
    BEHIND_GATEWAY = False
    # Slurm and commands (see adapters/).
    SLURM_BIN_DIR = None
    # The slurm.conf of the cluster the portal drives, passed to every Slurm command as
    # SLURM_CONF (None: Slurm's default, /etc/slurm/slurm.conf). SLURM_CLUSTER (None) names
    # that cluster where slurmdbd keeps several: account changes are made on it only.
    SLURM_CONF = None
    COMMAND_TIMEOUT = 30.0
    RUN_AS_PREFIX = None  # None: `runuser -u {user} --` as root, else `sudo -n -u {user} --`
    WORKER_INTERVAL = 10.0
    # Submissions whose sbatch got no answer (issue #13, portal/services/submission.py):
    # never resubmitted until the controller has answered for this long since (a request
    # queued in a frozen slurmctld was processed 16 ms after it woke; MessageTimeout is
    # 10 s), and an attempt with no recorded end counts as in flight for this long.
    SUBMIT_SETTLE_SECONDS = 60.0
    SUBMIT_INFLIGHT_SECONDS = 150.0
    # API/CLI Idempotency-Key answers are kept this long.
    IDEMPOTENCY_KEEP_HOURS = 24.0
    CLUSTER_CACHE_MAX_AGE = 120.0
    # GPU rental overview (F5): peak hours, in the portal's timezone (`default_timezone`,
    # else UTC). Weekdays 0 = Monday; hours from start (inclusive) to end (exclusive).
    GPU_PEAK_WEEKDAYS = (0, 1, 2, 3, 4)
    GPU_PEAK_START_HOUR = 9
    GPU_PEAK_END_HOUR = 18


def config_path() -> Path:
    return Path(os.environ.get("PORTAL_CONFIG", REPO_ROOT / "etc" / "portal.toml"))


def load_file(app) -> None:
    """Merge the TOML config file, if any. Keys are upper-cased (`database_url` -> DATABASE_URL)."""
    path = config_path()
    if path.is_file():
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        app.config.update({key.upper(): value for key, value in data.items()})


def load_secret(app) -> None:
    """Read the secret key from its file when the config still holds the insecure marker.

    Raises RuntimeError outside tests when no real secret is available.
    """
    if app.config["SECRET_KEY"] == INSECURE_SECRET:
        secret_file = Path(app.config["SECRET_KEY_FILE"])
        if secret_file.is_file():
            app.config["SECRET_KEY"] = secret_file.read_text().strip()
    if app.config["SECRET_KEY"] in (INSECURE_SECRET, "", None) and not app.testing:
        raise RuntimeError(
            "Refusing to start with the default secret key: run `portal init` "
            "(writes var/portal/secret_key) or set PORTAL_SECRET_KEY."
        )
