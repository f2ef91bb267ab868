"""F5 in a real browser: the GPU rental chart renders (a non-empty canvas with the bars'
colour and the peak shading) in the light and the dark theme."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import db
from portal.models import AccountingRecord, User
from portal.services import projects
from tests.browser.steps import login
from tests.unit.projects.fake_accounts import FakeAccounts

pytestmark = pytest.mark.browser

# Pixels of the canvas: how many are painted, how many have the first model's colour
# (#3b82f6) and how many the peak shading (orange, translucent).
PIXELS = """(canvas) => {
  const {data} = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
  let painted = 0, bars = 0, peak = 0;
  for (let i = 0; i < data.length; i += 4) {
    const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
    if (a) painted++;
    if (Math.abs(r - 0x3b) < 8 && Math.abs(g - 0x82) < 8 && Math.abs(b - 0xf6) < 8) bars++;
    if (a && r > g && g > b && r - b > 60) peak++;
  }
  return {painted, bars, peak, total: data.length / 4};
}"""


@pytest.fixture
def usage(app, make_user):
    app.extensions["accounts"] = FakeAccounts()
    ada = make_user("ada", admin=True)
    make_user("mia", unix_user="daemon")
    with app.test_request_context("/"):
        projects.create_project(ada, account="tproj", name="Chart Project", managers=["mia"])
        now = db.utcnow()
        for i in range(30):  # one 2-GPU job every 5 hours, 1.5 h long
            start = now - timedelta(hours=5 * i + 2)
            db.session.add(AccountingRecord(
                job_id=str(1000 + i), user="daemon", account="tproj", state="COMPLETED",
                start_at=start, end_at=start + timedelta(minutes=90), alloc_gpus=2,
                gpu_model="a100"))
        db.session.commit()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_chart_renders_in_both_themes(app, usage, live_server, page, theme, tmp_path):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "mia"))
        user.theme = theme
        db.session.commit()
    login(page, live_server, "mia")
    page.click("[data-menu=gpu-rental]")
    page.wait_for_selector(f"html[data-theme={theme}]")
    canvas = page.wait_for_selector("#gpu-usage-chart[data-rendered='1']")
    shot = canvas.screenshot(path=str(tmp_path / f"gpu-usage-{theme}.png"))
    assert len(shot) > 2000  # a PNG with content, not a blank box
    pixels = page.evaluate(PIXELS, canvas)
    assert pixels["painted"] > pixels["total"] * 0.02, pixels
    assert pixels["bars"] > 50 and pixels["peak"] > 50, pixels
    assert "Peak hours:" in page.inner_text("[data-testid=peak-legend]")
    assert page.locator("[data-testid=hour-of-day] tbody tr").count() == 24
