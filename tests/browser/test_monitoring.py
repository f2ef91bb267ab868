"""F3 monitoring in a real browser: the session detail page draws its charts from the
metrics JSON (chart.js from our origin), in the light and in the dark theme; the GPU
charts say there is no GPU telemetry. The session row and its samples are made here (no
Slurm needed: what the sampler writes and the worker ingests is tested elsewhere)."""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest

from portal import db
from portal.db import utcnow
from portal.models import Session
from portal.services import monitoring
from tests.browser.steps import login
from tests.support.fakes import FakeFiles
from tests.support.members import add_member, ensure_project

pytestmark = pytest.mark.browser

# Counts the distinct colours of a PNG (a screenshot) by drawing it on a canvas.
COLOURS_JS = """async (b64) => {
  const img = new Image();
  img.src = "data:image/png;base64," + b64;
  await img.decode();
  const c = document.createElement("canvas");
  c.width = img.width; c.height = img.height;
  const ctx = c.getContext("2d");
  ctx.drawImage(img, 0, 0);
  const data = ctx.getImageData(0, 0, c.width, c.height).data;
  const seen = new Set();
  for (let i = 0; i < data.length; i += 4) {
    seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
  }
  return seen.size;
}"""
INK_JS = """(canvas) => {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let ink = 0;
  for (let i = 3; i < data.length; i += 4) { if (data[i] > 0) { ink++; } }
  return ink;
}"""


def _session_with_samples(app) -> int:
    with app.app_context():
        alice = add_member("alice", "proja")
        project = ensure_project("proja")
        now = utcnow()
        session = Session(uuid=uuid.uuid4().hex, user_id=alice.id, project_id=project.id,
                          name="charts", account="proja", image="jupyter", cpus=2, mem_gb=1,
                          gpu_model="a100", gpu_count=1, services=["jupyter"],
                          directory="/home/alice/portal-sessions/1-x", slurm_job_id="4242",
                          state="running", nodes="vm", started_at=now, ready_at=now,
                          # its app answers: the page does not reload itself under the charts
                          container_up_at=now, app_ready_at=now)
        db.session.add(session)
        db.session.commit()
        files, t0 = FakeFiles(), time.time() - 600
        lines = [json.dumps({
            "n": i + 1, "t": t0 + 10 * i, "src": "proc", "ncpu": 2,
            "cpu": 1.0 if 20 < i < 40 else 0.1, "mem": (200 + i) * 1024 ** 2,
            "mem_limit": 1024 ** 3, "node_cpu": 30.0, "disk_ws": 50 * 1024 ** 2 + i * 4096,
            "disk_scratch": 1024 ** 2, "net_rx": 2048.0 + i, "net_tx": 1024.0, "gpu": None,
            "gpu_note": "no GPU telemetry on this node"}) for i in range(60)]
        files.write("alice", f"{session.directory}/metrics.jsonl", "\n".join(lines) + "\n")
        monitoring.ingest(session, files)
        db.session.commit()
        session_id = session.id
        db.session.remove()
    return session_id


def _check_charts(page, shot):
    page.wait_for_selector("[data-testid=monitoring][data-points='60']", state="attached")
    for name in ("cpu", "mem", "disk", "net"):
        canvas = page.locator(f"[data-testid=chart-{name}]")
        assert canvas.evaluate(INK_JS) > 500, name
    png = page.locator("[data-testid=chart-cpu]").screenshot(path=shot)
    assert page.evaluate(COLOURS_JS, base64.b64encode(png).decode()) > 5
    assert page.inner_text("[data-testid=gpu-note]") == "no GPU telemetry on this node"
    assert not page.is_visible("[data-testid=chart-gpu]")
    # the chart's text follows the theme's --text colour
    text = page.evaluate("getComputedStyle(document.documentElement)"
                         ".getPropertyValue('--text').trim()")
    legend = page.evaluate("Chart.getChart(document.querySelector('[data-chart=cpu]'))"
                           ".options.plugins.legend.labels.color")
    assert legend == text


def test_charts_render_in_light_and_dark_theme(app, live_server, page, tmp_path):
    session_id = _session_with_samples(app)
    login(page, live_server, "alice")
    page.goto(f"{live_server}/sessions/{session_id}")
    assert page.get_attribute("html", "data-theme") == "light"
    _check_charts(page, str(tmp_path / "charts-light.png"))

    page.click("[data-testid=range-lifetime]")
    page.wait_for_selector("[data-testid=monitoring][data-points]:not([data-points='60'])",
                           state="attached")
    assert page.locator("[data-testid=chart-cpu]").evaluate(INK_JS) > 500

    page.click("[data-testid=theme-toggle]")
    page.wait_for_selector("html[data-theme=dark]")
    page.goto(f"{live_server}/sessions/{session_id}")
    _check_charts(page, str(tmp_path / "charts-dark.png"))
    page.screenshot(path=str(tmp_path / "detail-dark.png"), full_page=True)
