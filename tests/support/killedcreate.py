"""What the Idempotency-Key takeover tests share (issue #13): an API token's headers with a
key, and a job or session row made to look as a create killed mid-submission left it."""

from __future__ import annotations

from portal.services import tokens


def key_headers(app, user, key: str) -> dict:
    """Bearer-token headers for `user` with Idempotency-Key `key`."""
    with app.app_context():
        _, token = tokens.create_token(user, "t")
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": key}


def as_killed_mid_create(row, *, attempt_started: bool) -> None:
    """"submitting" without a Slurm id and with no recorded end of its sbatch attempt; not
    `attempt_started`: killed before its sbatch began."""
    row.slurm_job_id, row.state, row.submitted_at = None, "submitting", None
    row.submit_ended_at = None
    if not attempt_started:
        row.submit_started_at = None
