"""Projects created and removed at the same moment from several portal threads keep Slurm's
association tree whole (adapters/dbdlock.py).

Without the host-wide lock, three such loops on Slurm 22.05 left one account's sub-account
inside another account's lft/rgt range within seconds: `show account withcoord` then named
the other project's manager as a coordinator, `show assoc` missed members, and slurmdbd
crashed on the next read. The real dev cluster; unique account names, removed at the end.
"""

from __future__ import annotations

import os
import secrets
import threading

import pytest

from adapters.accounts import SlurmAccounts
from adapters.runner import CommandRunner

pytestmark = pytest.mark.integration
ROUNDS = 2
# The one-node dev cluster; slurmdbd may keep a second one (cluster.sh start-multi), where
# an adapter without a cluster would add (and list) every association twice.
CLUSTER = os.environ.get("PORTAL_SLURM_CLUSTER") or None


def _project_round(prefix: str, problems: list[str]) -> None:
    accounts = SlurmAccounts(runner=CommandRunner(timeout=60), cluster=CLUSTER)
    for i in range(ROUNDS):
        account = f"{prefix}{i}"
        approved = f"{account}_approved"
        try:
            accounts.add_account(account, {"Description": "parallel", "Organization": "it"})
            accounts.add_user("alice", account)
            accounts.add_user("bob", account)
            accounts.add_coordinator("alice", account)
            accounts.add_account(approved, {"Description": "parallel", "Organization": "it"},
                                 parent=account)
            accounts.add_user("bob", approved)
            users = sorted(a.user or "" for a in accounts.associations(account))
            [record] = accounts.accounts([account])
            if users != ["", "alice", "bob"] or record.coordinators != ("alice",):
                problems.append(f"{account}: associations {users}, "
                                f"coordinators {record.coordinators}")
        except Exception as exc:  # noqa: BLE001 - every failure is reported by the test
            problems.append(f"{account}: {exc!r}")
        finally:
            for name in (approved, account):
                try:
                    accounts.remove_account(name)
                except Exception as exc:  # noqa: BLE001
                    problems.append(f"removing {name}: {exc!r}")


def test_parallel_project_changes_keep_every_account_whole(slurm_up):
    problems: list[str] = []
    prefixes = [f"zp{secrets.token_hex(3)}{n}" for n in range(3)]
    threads = [threading.Thread(target=_project_round, args=(p, problems)) for p in prefixes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not problems, problems
    # The tree: every association of proja and projb is still where it was.
    left = SlurmAccounts(cluster=CLUSTER).associations()
    assert {(a.account, a.user) for a in left if a.account in ("proja", "projb")} >= {
        ("proja", None), ("proja", "alice"), ("projb", None), ("projb", "bob")}
    assert not [a for a in left if any(a.account.startswith(p) for p in prefixes)]
