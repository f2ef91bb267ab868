"""Issue #13: the worker's monitoring step reads each session's metrics file as its owner
(file commands) with no database write open — a new cursor row stays unflushed until the
samples are read (tests/support/txguard.py watches the fake files)."""

from __future__ import annotations

from portal.services import monitoring
from tests.support.txguard import TxGuard
from tests.unit.monitoring.test_ingest_api import T0, lines, running, sample  # noqa: F401


def test_ingestion_reads_files_outside_a_write(image_app, backend, running, monkeypatch):  # noqa: F811
    _session_id, path = running
    backend.files.files[path] = lines([sample(1, T0), sample(2, T0 + 10)])
    guard = TxGuard(image_app, monkeypatch).watch(backend.files)
    with image_app.app_context():
        assert monitoring.worker_step(backend.files) == {"metrics_ingested": 2}
    assert "FakeFiles.read_range" in guard.calls
    guard.assert_clean()
