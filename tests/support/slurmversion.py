"""Which dev cluster the integration tests talk to: Slurm 22.05 (default) or 24.11.

`PORTAL_TEST_SLURM=2411` (`make test-2411`) points them at the Slurm 24.11 dev cluster
(`etc/devcluster/cluster.sh start-2411`), whose client commands are wrappers in BIN and
whose daemons see the file system of a Debian 13 root: the paths its daemons report
(pid files, logs) are under ROOT here.
"""

from __future__ import annotations

import os
from pathlib import Path

from adapters import runner

BASE = Path("/var/lib/slurm-gpu-portal-2411")
BIN = BASE / "bin"
ROOT = BASE / "root"
CLUSTER_2411 = "devcluster2411"


def is_2411() -> bool:
    return os.environ.get("PORTAL_TEST_SLURM") == "2411"


def use_2411() -> None:
    """Apps through SLURM_BIN_DIR, adapters built without an app and the tests' own
    commands (subprocess, runuser) through PATH: all of them run 24.11's clients."""
    os.environ["PORTAL_SLURM_BIN_DIR"] = str(BIN)
    os.environ["PORTAL_SLURM_CLUSTER"] = CLUSTER_2411
    if not os.environ.get("PATH", "").startswith(f"{BIN}:"):
        os.environ["PATH"] = f"{BIN}:{os.environ.get('PATH', runner.MINIMAL_PATH)}"
    runner.use_slurm_bin_dir(BIN)


def client_conf() -> Path:
    """The slurm.conf the tests' Slurm commands read (a test may copy and change it)."""
    return ROOT / "etc/slurm/client.conf" if is_2411() else Path("/etc/slurm/slurm.conf")


def daemon_path(path: str) -> Path:
    """A path a Slurm daemon reported (e.g. SlurmctldPidFile), as this host sees it."""
    return ROOT / path.lstrip("/") if is_2411() else Path(path)
