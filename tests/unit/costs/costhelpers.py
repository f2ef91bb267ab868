"""Accounting records for the cost tests."""

from __future__ import annotations

from datetime import datetime, timedelta

from portal import db
from portal.models import AccountingRecord


def add_record(job_id, *, account="tproj", user="bin", billing=10, elapsed=3600,
               end=datetime(2026, 3, 10, 12, 0), service="job", gpus=0, model=None, cpus=1):
    db.session.add(AccountingRecord(
        job_id=str(job_id), user=user, account=account, partition="gpu", qos="normal",
        state="COMPLETED", start_at=end - timedelta(seconds=elapsed), end_at=end,
        elapsed_s=elapsed, alloc_cpus=cpus, alloc_gpus=gpus, gpu_model=model,
        billing=billing, comment="", service=service))
