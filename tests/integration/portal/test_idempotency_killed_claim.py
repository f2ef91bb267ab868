"""Issue #13 on the dev cluster: a gunicorn worker SIGKILLed in the middle of a create
(inside sbatch) leaves its Idempotency-Key claim "in progress". The client's retry with the
same key must not wait SUBMIT_INFLIGHT_SECONDS (150 s, production's value here) for a 409
to end: the claim names its process, that process is gone, so the retry takes over at once
and gets the job the killed request recorded — and Slurm ends up with exactly one job for
it (the orphaned sbatch's), adopted by its tag, never submitted twice.

The portal is a real install (gunicorn and the worker under etc/supervise.sh, its own
SQLite database; tests/support/chaos.py). To be sure the kill lands inside sbatch, its
SLURM_BIN_DIR holds the real Slurm commands and an sbatch that waits SBATCH_DELAY seconds
before running the real one — a slow controller, without freezing the shared slurmctld.
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

pytestmark = pytest.mark.integration

SBATCH_DELAY = 6
SLURM_COMMANDS = ("sacct", "sacctmgr", "salloc", "sattach", "sbcast", "scancel", "scontrol",
                  "sdiag", "sinfo", "sprio", "squeue", "sreport", "srun", "sshare", "sstat",
                  "strigger")


def _slow_sbatch_dir() -> Path:
    """Slurm's clients, with an sbatch that waits first (world-readable: sbatch runs as
    alice through runuser)."""
    real = Path(shutil.which("sbatch")).parent
    bin_dir = Path(tempfile.mkdtemp(prefix="portal-slow-sbatch-"))
    bin_dir.chmod(0o755)
    for name in SLURM_COMMANDS:
        if (real / name).exists():
            (bin_dir / name).symlink_to(real / name)
    sbatch = bin_dir / "sbatch"
    sbatch.write_text(f"#!/bin/sh\nsleep {SBATCH_DELAY}\nexec {real / 'sbatch'} \"$@\"\n")
    sbatch.chmod(0o755 | stat.S_IXUSR)
    return bin_dir


class SlowSbatchPortal(chaos.ChaosPortal):
    bin_dir: Path | None = None

    def env(self) -> dict:
        return {**super().env(), "PORTAL_SLURM_BIN_DIR": str(self.bin_dir)}


def _claim(portal, key: str):
    rows = portal.query("SELECT status, owner_pid, resource FROM idempotency_keys "
                        "WHERE key = :key", key=key)
    return rows[0] if rows else None


def test_a_retry_after_the_claiming_worker_was_killed_is_answered_at_once(tmp_path):
    portal = SlowSbatchPortal(tmp_path, interval=2.0, command_timeout=30.0,
                              settle_seconds=20.0, inflight_seconds=150.0)
    portal.bin_dir = _slow_sbatch_dir()
    portal.setup()
    portal.start()
    key = f"kill-{uuid.uuid4().hex[:12]}"
    headers = {"Authorization": f"Bearer {portal.token}", "Idempotency-Key": key}
    body = {"name": f"idk-{uuid.uuid4().hex[:6]}", "cpus": 1, "mem_gb": 1, "image": "base",
            "command": "sleep 120", "time_limit": 5}  # in squeue until adopted (cancelled)
    first: dict = {}

    def post():
        try:
            first["answer"] = portal.request("POST", "/api/v1/jobs", body=body,
                                             headers=headers, timeout=60)
        except OSError as exc:  # the worker handling it is killed: no answer
            first["error"] = str(exc)

    try:
        thread = threading.Thread(target=post, daemon=True)
        thread.start()
        # The claim is held and the job recorded "submitting": the request is inside sbatch.
        claim = chaos.wait_until(
            lambda: (c := _claim(portal, key)) and c[0] is None and c[2] and c, 30,
            "the create to be inside sbatch")
        _, holder, resource = claim
        assert holder in portal.web_workers()
        os.kill(holder, signal.SIGKILL)
        thread.join(30)
        assert "error" in first, first  # the client got no answer

        started, attempts, conflicts = time.monotonic(), 0, 0
        while True:
            attempts += 1
            try:
                status, answer, reply_headers = portal.request(
                    "POST", "/api/v1/jobs", body=body, headers=headers, timeout=60)
            except OSError:
                status = None  # gunicorn is replacing the worker
            if status not in (None, 409):
                break
            conflicts += status == 409
            assert time.monotonic() - started < 60, "the retry was answered 409 for 60 s"
            time.sleep(0.2)
        latency = time.monotonic() - started
        print(f"\nretry after the kill answered {status} in {latency:.2f} s "
              f"({attempts} attempts, {conflicts} answered 409; before this change: 409 "
              f"for up to {portal.inflight_seconds:.0f} s)")
        assert status == 200 and reply_headers["Idempotent-Replayed"] == "true", answer
        assert f"job:{answer['id']}" == resource
        assert latency < 10 and conflicts == 0

        # The orphaned sbatch still submits; the job is adopted by its tag, once.
        def adopted():
            jobs = chaos.portal_jobs(portal)
            return len(jobs) == 1 and jobs[0]["slurm_job_id"] and jobs[0]
        job = chaos.wait_until(adopted, 60, "the job to be adopted by its tag")
        tag = f"portal-job-{job['uuid']}"
        assert [j.id for j in chaos.slurm_jobs_by_tag(portal).get(tag, [])] == [
            job["slurm_job_id"]]
        again = portal.request("POST", "/api/v1/jobs", body=body, headers=headers)
        assert again[0] == 200 and again[1]["slurm_job_id"] == job["slurm_job_id"]
    finally:
        chaos.cancel_all(portal)
        portal.stop()
        shutil.rmtree(portal.bin_dir, ignore_errors=True)
