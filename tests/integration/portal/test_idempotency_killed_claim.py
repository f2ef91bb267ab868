"""Issue #13 on the dev cluster: a gunicorn worker SIGKILLed in the middle of a create
leaves its Idempotency-Key claim "in progress". The client's retry with the same key must
not wait SUBMIT_INFLIGHT_SECONDS (150 s, production's value here) for a 409 to end: the
claim names its process, that process is gone, so the retry takes over at once and gets
the job the killed request recorded — never submitted twice. What then becomes of the job
depends on where the kill landed, and both outcomes are checked against what really ran:

- inside sbatch: the orphaned sbatch still submits; Slurm ends up with exactly one job for
  it, adopted by its tag;
- before sbatch had the job's script (while the job was planned, its files written, or
  sbatch was starting — the flake of the first version of this test: it killed right
  after the job was recorded and expected the first outcome, but under load about half
  of those kills land here): Slurm never gets it; the job becomes "failed", saying it
  never reached Slurm, within the settle time — not after SUBMIT_INFLIGHT_SECONDS + SETTLE.

The portal is a real install (gunicorn and the worker under etc/supervise.sh, its own
SQLite database; tests/support/chaos.py). Its SLURM_BIN_DIR holds the real Slurm commands
and an sbatch that, once it has the job's script, leaves a mark named by the job's tag (so
the test knows whether Slurm will get the job), then waits SBATCH_DELAY seconds before
running the real one — a slow controller, without freezing the shared slurmctld. Its
run-as helper (RUN_AS_PREFIX) is runuser behind a gate: while the test holds the gate, a
`mkdir` (the job's directory, written before sbatch) marks that it started and waits, so
a kill lands before sbatch for certain.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.support import chaos
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

SBATCH_DELAY = 6
SLURM_COMMANDS = ("sacct", "sacctmgr", "salloc", "sattach", "sbcast", "scancel", "scontrol",
                  "sdiag", "sinfo", "sprio", "squeue", "sreport", "srun", "sshare", "sstat",
                  "strigger")
NEVER_REACHED = "never reached Slurm"


def _slow_sbatch_dir(marks: Path) -> Path:
    """Slurm's clients, with an sbatch that reads its script, marks `marks/<tag>` and
    waits before running the real one (world-readable, and `marks` world-writable: sbatch
    runs as alice through runuser). The mark means "Slurm will get this job": sbatch
    reads the script from the portal's pipe, so a kill before the portal wrote it leaves
    sbatch an empty script and Slurm nothing (no mark then)."""
    real = Path(shutil.which("sbatch")).parent
    bin_dir = Path(tempfile.mkdtemp(prefix="portal-slow-sbatch-"))
    bin_dir.chmod(0o755)
    for name in SLURM_COMMANDS:
        if (real / name).exists():
            (bin_dir / name).symlink_to(real / name)
    sbatch = bin_dir / "sbatch"
    sbatch.write_text(
        "#!/bin/sh\n"
        'script=$(mktemp) || exit 1\n'
        'cat > "$script"\n'
        'if [ -s "$script" ]; then\n'
        '  for arg in "$@"; do\n'
        f'    case "$arg" in --comment=*) : > "{marks}/${{arg#--comment=}}" ;; esac\n'
        "  done\n"
        "fi\n"
        f"sleep {SBATCH_DELAY}\n"
        f'{real / "sbatch"} "$@" < "$script"\n'
        'status=$?\n'
        'rm -f "$script"\n'
        'exit $status\n')
    sbatch.chmod(0o755 | stat.S_IXUSR)
    return bin_dir


def _gated_runuser(marks: Path) -> Path:
    """`runuser -u USER -- ...`, except that a mkdir waits while `marks/hold` exists
    (after leaving `marks/mkdir`): the job's files are being written, sbatch not yet."""
    helper = marks / "runas"
    helper.write_text(
        "#!/bin/sh\n"
        'user=$1; shift\n'
        'case "$1" in\n'
        f'  */mkdir) if [ -e "{marks}/hold" ]; then\n'
        f'      : > "{marks}/mkdir"\n'
        f'      while [ -e "{marks}/hold" ]; do sleep 0.1; done\n'
        "    fi ;;\n"
        "esac\n"
        f'exec {shutil.which("runuser")} -u "$user" -- "$@"\n')
    helper.chmod(0o755)
    return helper


class SlowSbatchPortal(chaos.ChaosPortal):
    bin_dir: Path | None = None
    marks: Path | None = None

    def env(self) -> dict:
        return {**super().env(), "PORTAL_SLURM_BIN_DIR": str(self.bin_dir)}

    def setup(self) -> None:
        super().setup()
        (self.root / "none.toml").write_text(
            f'run_as_prefix = ["{_gated_runuser(self.marks)}", "{{user}}"]\n')


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    root = tmp_path_factory.mktemp("killed-claim")
    marks = Path(tempfile.mkdtemp(prefix="portal-sbatch-marks-"))
    marks.chmod(0o1777)
    portal = SlowSbatchPortal(root, interval=2.0, command_timeout=20.0, settle_seconds=20.0,
                              inflight_seconds=150.0)
    portal.marks = marks
    portal.bin_dir = _slow_sbatch_dir(marks)
    portal.setup()
    try:
        portal.start()
        yield portal
    finally:
        chaos.cancel_all(portal)
        portal.stop()
        shutil.rmtree(portal.bin_dir, ignore_errors=True)
        shutil.rmtree(marks, ignore_errors=True)


def _claim(portal, key: str):
    rows = portal.query("SELECT status, owner_pid, resource FROM idempotency_keys "
                        "WHERE key = :key", key=key)
    return rows[0] if rows else None


def _tag(portal, job_id: int) -> str:
    (uuid_,), = portal.query("SELECT uuid FROM jobs WHERE id = :id", id=job_id)
    return f"portal-job-{uuid_}"


def _body() -> dict:
    return {"name": f"idk-{uuid.uuid4().hex[:6]}", "cpus": 1, "mem_gb": 1, "image": "base",
            "command": "sleep 120", "time_limit": 5}  # in squeue until cancelled


def _create_and_kill(portal, body: dict, headers: dict, *, inside_sbatch: bool) -> int:
    """POST the create; SIGKILL the gunicorn worker handling it once sbatch has the job's
    script (`inside_sbatch`), else while the job's files are written (the gate held).
    Returns the job's id."""
    first: dict = {}
    hold = portal.marks / "hold"
    if not inside_sbatch:
        hold.touch()

    def post():
        try:
            first["answer"] = portal.request("POST", "/api/v1/jobs", body=body,
                                             headers=headers, timeout=60)
        except OSError as exc:  # the worker handling it is killed: no answer
            first["error"] = str(exc)

    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    # The claim is held and names the job: the job is recorded, nothing answered yet.
    _, holder, resource = wait_for(
        lambda: (c := _claim(portal, headers["Idempotency-Key"])) and c[0] is None
        and c[2] and c, 30, 0.02, "the create to record its job")
    job_id = int(resource.split(":")[1])
    if inside_sbatch:
        mark = portal.marks / _tag(portal, job_id)
        wait_for(mark.exists, 30, 0.05, "sbatch to have the job's script")
    else:
        wait_for((portal.marks / "mkdir").exists, 30, 0.05, "the job's files to be written")
    assert holder in portal.web_workers()
    os.kill(holder, signal.SIGKILL)
    hold.unlink(missing_ok=True)
    thread.join(30)
    assert "error" in first, first  # the client got no answer
    return job_id


def _retry(portal, body: dict, headers: dict, job_id: int) -> dict:
    """The client's retry with the same key: answered at once with the recorded job."""
    started, tries = time.monotonic(), []

    def answered():
        try:
            status, answer, reply = portal.request("POST", "/api/v1/jobs", body=body,
                                                   headers=headers, timeout=60)
        except OSError:
            status, answer, reply = None, None, {}  # gunicorn is replacing the worker
        tries.append(status)
        return status not in (None, 409) and (status, answer, reply)

    status, answer, reply = wait_for(answered, 60, 0.2, "the retry to be answered")
    latency = time.monotonic() - started
    print(f"\nretry after the kill answered {status} in {latency:.2f} s ({len(tries)} "
          f"attempts, {tries.count(409)} answered 409; before the takeover: 409 for up to "
          f"{portal.inflight_seconds:.0f} s)")
    assert status == 200 and reply["Idempotent-Replayed"] == "true", answer
    assert answer["id"] == job_id
    assert latency < 10 and 409 not in tries
    return answer


def _job(portal, job_id: int) -> dict:
    status, answer, _ = portal.get(f"/api/v1/jobs/{job_id}")
    assert status == 200, answer
    return answer


def _decided(portal, job_id: int):
    job = _job(portal, job_id)
    return (job["slurm_job_id"] or job["state"] == "failed") and job


def _assert_adopted_once(portal, job: dict, tag: str, body: dict, headers: dict) -> None:
    assert job["slurm_job_id"] and job["state"] != "failed", job
    assert [j.id for j in chaos.slurm_jobs_by_tag(portal).get(tag, [])] == [
        job["slurm_job_id"]]
    again = portal.request("POST", "/api/v1/jobs", body=body, headers=headers)
    assert again[0] == 200 and again[1]["slurm_job_id"] == job["slurm_job_id"]


def _headers(portal) -> dict:
    return {"Authorization": f"Bearer {portal.token}",
            "Idempotency-Key": f"kill-{uuid.uuid4().hex[:12]}"}


def test_a_worker_killed_inside_sbatch_its_retry_gets_the_job_adopted_once(portal):
    body, headers = _body(), _headers(portal)
    job_id = _create_and_kill(portal, body, headers, inside_sbatch=True)
    _retry(portal, body, headers, job_id)
    # The orphaned sbatch still submits: the job is adopted by its tag, once.
    job = wait_for(lambda: _decided(portal, job_id), SBATCH_DELAY + 60, 0.3,
                   "the job to be adopted by its tag")
    _assert_adopted_once(portal, job, _tag(portal, job_id), body, headers)


def test_a_worker_killed_before_sbatch_ran_its_job_fails_as_never_submitted(portal):
    """Killed while the job's files were written: nothing will run sbatch for it. Its
    retry gets it at once, and it is "failed" within the settle time (the time rule alone
    said 150 s + 20 s); Slurm never had a job with its tag."""
    body, headers = _body(), _headers(portal)
    job_id = _create_and_kill(portal, body, headers, inside_sbatch=False)
    _retry(portal, body, headers, job_id)
    limit = portal.command_timeout + portal.settle_seconds + 30
    job = wait_for(lambda: _decided(portal, job_id), limit, 0.3,
                   "the job to be failed as never submitted")
    assert job["state"] == "failed" and NEVER_REACHED in job["error"], job
    tag = _tag(portal, job_id)
    assert not (portal.marks / tag).exists()  # sbatch never had its script
    assert not chaos.slurm_jobs_by_tag(portal).get(tag)
    again = portal.request("POST", "/api/v1/jobs", body=body, headers=headers)
    assert again[0] == 200 and again[1]["state"] == "failed"
