"""Record real sacctmgr output for the accounts adapter's replay tests.

Run as root on a machine whose dev cluster is up (etc/devcluster/cluster.sh status):

    .venv/bin/python tests/data/slurm/record_accounts.py

It drives the real `SlurmAccounts` through a recording runner and writes one file per
call, tests/data/slurm/<major.minor>/sacctmgr_<capture>.txt: a JSON header line with the
argv, the user it ran as and the exit status, then the exact stdout and stderr between
marker lines. It works on its own account and QOS (`tportalrec`, `p_tportalrec`),
removes them first and last, submits one held job as alice (cancelled at once) and never
touches proja/projb.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from adapters import runner as runner_mod  # noqa: E402
from adapters.accounts import SlurmAccounts  # noqa: E402
from adapters.errors import AdapterError  # noqa: E402
from adapters.runner import CommandRunner  # noqa: E402

ACCOUNT, QOS = "tportalrec", "p_tportalrec"
OUT_MARK, ERR_MARK = "----- stdout -----", "----- stderr -----"


class RecordingRunner(CommandRunner):
    def __init__(self, out: Path, **kwargs):
        super().__init__(**kwargs)
        self.out, self.name = out, None

    def run(self, argv, *, as_user=None, check=True, **kwargs):
        result = super().run(argv, as_user=as_user, check=False, **kwargs)
        if self.name:
            head = {"argv": result.argv, "as_user": as_user, "returncode": result.returncode}
            text = (json.dumps(head) + "\n" + OUT_MARK + "\n" + result.stdout + ERR_MARK
                    + "\n" + result.stderr)
            (self.out / f"sacctmgr_{self.name}.txt").write_text(text)
            self.name = None
        if check and result.returncode:
            raise self._failure(result, via_helper=as_user is not None)
        return result


def capture(runner, name, call):
    runner.name = name
    try:
        print(f"{name}: {call()!r}")
    except AdapterError as exc:
        print(f"{name}: {type(exc).__name__}: {exc.message}")


def scenario(acc: SlurmAccounts, runner: RecordingRunner) -> None:
    limits = {"GrpTRES": {"gres/gpu": 2, "cpu": 4, "mem": 8192},
              "MaxTRESPerUser": {"gres/gpu": 1}, "MaxWall": 120}
    capture(runner, "add_qos", lambda: acc.add_qos(QOS, limits))
    capture(runner, "add_qos_again", lambda: acc.add_qos(QOS, limits))
    settings = {"Description": "Recorded project", "Organization": "portal", "QOS": [QOS],
                "DefaultQOS": QOS}
    capture(runner, "add_account", lambda: acc.add_account(ACCOUNT, settings))
    capture(runner, "add_account_again", lambda: acc.add_account(ACCOUNT, settings))
    capture(runner, "add_user", lambda: acc.add_user("alice", ACCOUNT))
    capture(runner, "add_user_again", lambda: acc.add_user("alice", ACCOUNT))
    capture(runner, "add_coordinator", lambda: acc.add_coordinator("alice", ACCOUNT))
    capture(runner, "block", lambda: acc.modify_account(ACCOUNT, {"GrpJobs": 0,
                                                                  "GrpSubmitJobs": 0}))
    capture(runner, "show_assoc", lambda: acc.associations(ACCOUNT))
    capture(runner, "show_account", lambda: acc.accounts([ACCOUNT]))
    capture(runner, "show_qos", lambda: acc.qos([QOS]))
    capture(runner, "unblock", lambda: acc.modify_account(ACCOUNT, {"GrpJobs": None,
                                                                    "GrpSubmitJobs": None}))
    capture(runner, "modify_qos", lambda: acc.modify_qos(QOS, {"GrpTRES": {"cpu": None,
                                                                           "mem": None}}))
    capture(runner, "modify_qos_unknown", lambda: acc.modify_qos("tportalnoqos",
                                                                 {"Priority": 1}))
    capture(runner, "remove_qos_in_use", lambda: acc.remove_qos(QOS))
    capture(runner, "add_user_unknown_account", lambda: acc.add_user("alice", "tportalnone"))
    job = subprocess.run(
        ["runuser", "-u", "alice", "--", "sbatch", "--parsable", "--hold", "-A", ACCOUNT,
         "-D", "/tmp", "-t", "5", "--wrap", "sleep 60"],
        capture_output=True, text=True, check=True).stdout.strip()
    try:
        _until_in_accounting(job)  # slurmdbd checks its own job table, filled a bit later
        capture(runner, "remove_user_active", lambda: acc.remove_user("alice", ACCOUNT))
    finally:
        subprocess.run(["scancel", job], check=False)
    as_carol = SlurmAccounts(runner=runner, operator="carol")
    capture(runner, "add_user_denied", lambda: as_carol.add_user("bob", ACCOUNT))
    capture(runner, "remove_coordinator", lambda: acc.remove_coordinator("alice", ACCOUNT))


def unreachable(out: Path) -> None:
    """Clients pointed at a closed slurmdbd port: what "slurmdbd is down" looks like."""
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "slurm.conf"
        lines = Path(os.environ.get("SLURM_CONF", "/etc/slurm/slurm.conf")).read_text().splitlines()
        conf.write_text("\n".join("AccountingStoragePort=9" if ln.startswith(
            "AccountingStoragePort=") else ln for ln in lines) + "\n")
        runner = RecordingRunner(out, env={"SLURM_CONF": str(conf)})
        acc = SlurmAccounts(runner=runner)
        capture(runner, "unreachable_show", lambda: acc.accounts([ACCOUNT]))
        capture(runner, "unreachable_add", lambda: acc.add_user("alice", ACCOUNT))


def main() -> None:
    # Another Slurm's commands (24.11 on a 22.05 host): BIN_DIR=/var/lib/slurm-gpu-portal-2411/bin
    # and SLURM_CONF=its client.conf in the environment.
    bin_dir = os.environ.get("BIN_DIR")
    runner_mod.use_slurm_bin_dir(bin_dir)
    if bin_dir:
        os.environ["PATH"] = f"{bin_dir}:{os.environ['PATH']}"
    version = subprocess.run(["sacctmgr", "--version"], capture_output=True, text=True,
                             check=True).stdout.split()[-1]
    out = HERE / ".".join(version.split(".")[:2])
    out.mkdir(exist_ok=True)
    runner = RecordingRunner(out)
    acc = SlurmAccounts(runner=runner)
    cleanup = SlurmAccounts()
    cleanup.remove_account(ACCOUNT)
    cleanup.remove_qos(QOS)
    try:
        scenario(acc, runner)
        unreachable(out)
        # Wait until slurmctld forgets the cancelled job, so the account can go.
        capture(runner, "remove_user", lambda: _retry(lambda: acc.remove_user("alice",
                                                                              ACCOUNT)))
        capture(runner, "remove_user_again", lambda: acc.remove_user("alice", ACCOUNT))
    finally:
        _retry(lambda: cleanup.remove_account(ACCOUNT))
        cleanup.remove_qos(QOS)
    capture(runner, "remove_qos_again", lambda: acc.remove_qos(QOS))
    print(f"written to {out} (as {os.getuid()})")


def _until_in_accounting(job: str, tries: int = 100) -> None:
    import time

    for _ in range(tries):
        out = subprocess.run(["sacct", "-n", "-X", "-P", "-j", job, "--format=JobID"],
                             capture_output=True, text=True, check=False).stdout
        if job in out:
            return
        time.sleep(0.2)


def _retry(call, tries: int = 60):
    import time

    for _ in range(tries):
        try:
            return call()
        except AdapterError as exc:
            if "active" not in exc.message.lower():
                raise
            time.sleep(1)
    return call()


if __name__ == "__main__":
    main()
