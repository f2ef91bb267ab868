"""A live portal on a free loopback port and Debian's chromium driven by Playwright."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from portal import worker
from portal.models import ProjectRole
from tests.support.members import add_member

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags chromium keeps dialling out of a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, tmp_path):
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def running_worker(app):
    """The portal worker, cycling every second while the test runs."""
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            try:
                worker.run_cycle(app)
            except Exception:  # noqa: BLE001 - a failed cycle is retried, as in production
                pass
            stop.wait(1.0)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=120)


@pytest.fixture
def alice(app):
    """Portal user alice, manager of project proja (her current project); her id."""
    with app.app_context():
        return add_member("alice", "proja", ProjectRole.MANAGER).id
