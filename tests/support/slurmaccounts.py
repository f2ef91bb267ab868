"""The throw-away Slurm accounts that cluster tests make: a check that slurmdbd answers
first, and their clean-up: their jobs cancelled,
the accounts removed (slurmdbd refuses while cancelled jobs still count as active, so the
removal is tried again for a while) and, where the portal made one, their QOS."""

from __future__ import annotations

import time

import pytest

from adapters.accounts import SlurmAccounts
from adapters.errors import AdapterError, SlurmRejected
from adapters.runner import CommandRunner


def require_slurmdbd() -> None:
    """Fail the test at once, saying how to start it, when slurmdbd does not answer."""
    try:
        CommandRunner(timeout=20).run(["sacctmgr", "--noheader", "show", "cluster"])
    except AdapterError as exc:
        pytest.fail(f"slurmdbd does not answer ({exc.message}); start the dev cluster with: "
                    "sudo etc/devcluster/cluster.sh start", pytrace=False)


def drop_accounts(*names: str, qos: str | None = None, sacct: SlurmAccounts | None = None,
                  tries: int = 50, step: float = 0.2) -> None:
    """Cancel the jobs of accounts `names` and remove them, then QOS `qos` if given."""
    sacct = sacct or SlurmAccounts()
    for name in names:
        CommandRunner().run(["scancel", f"--account={name}"], check=False)
    for name in names:
        for _ in range(tries):
            try:
                sacct.remove_account(name)
                break
            except SlurmRejected:
                time.sleep(step)
    if qos:
        sacct.remove_qos(qos)
