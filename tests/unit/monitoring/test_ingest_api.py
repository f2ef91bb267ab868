"""Ingestion of the sampler's file into metric buckets (downsampling, rotation, bad lines),
and the series through the API and the page's JSON with the session detail's permissions."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal import db
from portal.models import ProjectRole, Session, SessionMetric
from portal.models.monitoring import SERIES
from portal.services import monitoring, tokens
from tests.unit.sessions.sessionfakes import make_member, register_jupyter, start_running

T0 = 1_800_000_000.0  # a bucket boundary for 10, 60 and 300 s
FORM = {"name": "lab-1", "image": "jupyter", "cpus": "2", "mem_gb": "4", "end": "hours",
        "hours": "2", "allow_all": True, "start": "now", "ssh_auth": "none"}


def sample(n, t, cpu=0.5, **extra):
    return {"n": n, "t": t, "dt": 10, "src": "proc", "cpu": cpu, "ncpu": 2, "mem": 1000 * n,
            "mem_limit": 4 * 1024 ** 3, "node_cpu": 10.0, "disk_ws": 5, "disk_scratch": 0,
            "net_rx": 1.0, "net_tx": 2.0, "gpu": None,
            "gpu_note": "no GPU telemetry on this node", **extra}


def lines(samples) -> bytes:
    return b"".join(json.dumps(s).encode() + b"\n" for s in samples)


# ---- pure ----

finite = st.floats(0, 1e6, allow_nan=False)


@given(st.lists(st.tuples(st.integers(0, 3600), finite), min_size=1, max_size=60),
       st.integers(1, 5))
def test_downsampled_bucket_is_the_mean_of_its_samples(points, parts):
    samples = [sample(i + 1, T0 + dt, cpu=v) for i, (dt, v) in enumerate(points)]
    for resolution in monitoring.RESOLUTIONS:
        buckets = monitoring.downsample(samples, resolution)
        assert sum(n for n, _ in buckets.values()) == len(samples)
        for at, (n, means) in buckets.items():
            start = (at - monitoring.bucket_start(0, 1)).total_seconds()
            members = [s["cpu"] for s in samples if start <= s["t"] < start + resolution]
            assert n == len(members)
            assert means["cpu"] == pytest.approx(sum(members) / len(members), rel=1e-9, abs=1e-9)


@given(st.binary(max_size=300), st.lists(st.integers(1, 10**6), max_size=5))
def test_parse_lines_keeps_partial_lines_for_later(junk, numbers):
    good = lines([sample(n, T0 + n) for n in numbers])
    data = good + junk.replace(b"\n", b"")
    samples, used = monitoring.parse_lines(data)
    assert used == len(good) and [s["n"] for s in samples] == numbers
    samples, used = monitoring.parse_lines(junk)
    assert used == junk.rfind(b"\n") + 1


def test_sample_values_of_gpus():
    values = monitoring.sample_values(sample(1, T0, gpu=[
        {"i": 0, "util": 50, "mem": 100, "mem_total": 1000},
        {"i": 1, "util": None, "mem": 300, "mem_total": 1000}]))
    assert values["gpu_util"] == 50 and values["gpu_mem"] == 400
    assert values["gpu_mem_total"] == 2000
    assert set(values) == set(SERIES)


# ---- ingestion with the fake workspace ----

@pytest.fixture
def running(image_app, backend):
    with image_app.test_request_context():
        make_member("ursula")
        make_member("mona", role=ProjectRole.MANAGER)
        make_member("olga", account="projb")
        register_jupyter()
        from portal.services import users

        session = start_running(backend, users.get_user("ursula"), FORM)
        session_id, path = session.id, f"{session.directory}/metrics.jsonl"
        db.session.remove()
    return session_id, path


def _ingest(app, backend, session_id):
    with app.app_context():
        count = monitoring.ingest(db.session.get(Session, session_id), backend.files)
        db.session.commit()
        return count


def test_the_session_script_starts_the_sampler(image_app, backend, running):
    session_id, path = running
    directory = path.rsplit("/", 1)[0]
    script = backend.files.files[f"{directory}/session.sh"].decode()
    assert "session_monitor.py" in script and "metrics.jsonl" in script
    assert backend.files.files[f"{directory}/session_monitor.py"].startswith(b"#!")


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(1, 40), min_size=1, max_size=6))
def test_chunked_ingestion_equals_downsampling_at_once(image_app, backend, running, chunks):
    session_id, path = running
    with image_app.app_context():
        db.session.query(SessionMetric).delete()
        from portal.models import SessionMetricCursor

        db.session.query(SessionMetricCursor).delete()
        db.session.commit()
    backend.files.files[path] = b""
    samples, n = [], 0
    for size in chunks:
        batch = [sample(n + i + 1, T0 + 7 * (n + i), cpu=(n + i) % 3) for i in range(size)]
        n += size
        samples += batch
        data = lines(batch)
        backend.files.files[path] += data[:-5]  # a partial line waits for the next cycle
        _ingest(image_app, backend, session_id)
        backend.files.files[path] += data[-5:]
    _ingest(image_app, backend, session_id)
    with image_app.app_context():
        rows = db.session.query(SessionMetric).filter_by(resolution=60).order_by(
            SessionMetric.at).all()
        expected = monitoring.downsample(samples, 60)
        assert [r.at for r in rows] == sorted(expected)
        for row in rows:
            count, means = expected[row.at]
            assert row.n == count and row.cpu == pytest.approx(means["cpu"])


def test_rotation_loses_nothing(image_app, backend, running):
    session_id, path = running
    backend.files.files[path] = lines([sample(i, T0 + 10 * i) for i in range(1, 6)])
    assert _ingest(image_app, backend, session_id) == 5
    # more samples, then the sampler rotates and starts a new file
    backend.files.files[path] += lines([sample(i, T0 + 10 * i) for i in range(6, 9)])
    backend.files.files[path + ".1"] = backend.files.files.pop(path)
    backend.files.files[path] = lines([sample(i, T0 + 10 * i) for i in range(9, 11)])
    assert _ingest(image_app, backend, session_id) == 5
    with image_app.app_context():
        assert db.session.query(SessionMetric).filter_by(resolution=10).count() == 10


def test_old_fine_buckets_are_pruned(image_app, backend, running):
    session_id, path = running
    backend.files.files[path] = lines([sample(i, T0 + 600 * i) for i in range(1, 20)])
    _ingest(image_app, backend, session_id)
    with image_app.app_context():
        fine = db.session.query(SessionMetric).filter_by(resolution=10).all()
        newest = max(r.at for r in fine)
        assert all(newest - r.at <= timedelta(hours=1) for r in fine)
        assert db.session.query(SessionMetric).filter_by(resolution=300).count() == 19


def test_worker_step_reads_running_sessions_only(image_app, backend, running):
    session_id, path = running
    backend.files.files[path] = lines([sample(1, T0), sample(2, T0 + 10)])
    with image_app.app_context():
        assert monitoring.worker_step(backend.files) == {"metrics_ingested": 2}
        assert monitoring.worker_step(backend.files) == {"metrics_ingested": 0}


# ---- API and page JSON ----

_NAMES = iter(range(10**6))


def _token(app, username):
    with app.app_context():
        from portal.services import users

        return tokens.create_token(users.get_user(username), f"t{next(_NAMES)}")[1]


def test_api_series_and_permissions(image_app, client, backend, running):
    session_id, path = running
    backend.files.files[path] = lines([sample(i, T0 + 10 * i, cpu=i / 10) for i in range(1, 7)])
    _ingest(image_app, backend, session_id)
    url = f"/api/v1/sessions/{session_id}/metrics"
    for user, status in (("ursula", 200), ("mona", 200), ("olga", 404)):
        response = client.get(url, headers={"Authorization": f"Bearer {_token(image_app, user)}"})
        assert response.status_code == status, user
    body = client.get(url, headers={"Authorization": f"Bearer {_token(image_app, 'ursula')}"}).json
    assert body["cpu"] == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6] and len(body["t"]) == 6
    assert body["live"] is True and body["resolution_s"] == 10
    assert body["gpu"] == {"available": False, "note": "no GPU telemetry on this node"}
    life = client.get(url + "?range=lifetime",
                      headers={"Authorization": f"Bearer {_token(image_app, 'ursula')}"}).json
    assert life["resolution_s"] == 60 and life["cpu"] == [0.3, 0.6]
    bad = client.get(url + "?range=1y",
                     headers={"Authorization": f"Bearer {_token(image_app, 'ursula')}"})
    assert bad.status_code == 400 and bad.json["error"]["code"] == "bad_range"
    assert client.get(url).status_code == 401
    spec = client.get("/api/v1/openapi.json").json
    assert "/sessions/{session_id}/metrics" in spec["paths"]


def test_detail_page_has_the_charts_and_its_json(image_app, client, auth, backend, running):
    session_id, path = running
    backend.files.files[path] = lines([sample(1, T0)])
    _ingest(image_app, backend, session_id)
    auth.login("ursula")
    html = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert 'data-testid="monitoring"' in html and "/monitoring/vendor/chart.js" in html
    assert 'data-testid="chart-cpu"' in html
    assert client.get(f"/monitoring/sessions/{session_id}.json").json["cpu"] == [0.5]
    assert client.get("/monitoring/vendor/chart.js").status_code == 200
    auth.logout()
    auth.login("olga")
    assert client.get(f"/monitoring/sessions/{session_id}.json").status_code == 404
