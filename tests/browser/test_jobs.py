"""F6–F8 in a real browser against the dev cluster: run a job and watch its log live,
run a template, create a schedule (trigger in words, next five runs, upcoming run)."""

import uuid

import pytest

from portal.services import jobtemplates, users
from tests.browser.steps import login

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture
def name():
    return "br" + uuid.uuid4().hex[:8]


def _cancel_all(app, prefix):
    from adapters.factory import make_scheduler
    from adapters.runner import CommandRunner

    for job in make_scheduler(app.config).info_all(user="alice"):
        if (job.name or "").startswith(prefix) and not job.state.is_terminal:
            CommandRunner().run(["scancel", "--", job.id], as_user="alice", check=False)


def test_run_job_and_watch_its_log_live(app, alice, running_worker, live_server, page, name):
    try:
        login(page, live_server, "alice")
        page.click("nav.sidemenu >> text=Run job")
        page.fill("[data-testid=job-name]", name)
        page.fill("[data-testid=cpus]", "1")
        page.fill("[data-testid=mem]", "1")
        page.fill("[data-testid=command]",
                  'for i in 1 2 3 4 5 6; do echo "step $i of 6 — 中文"; sleep 1; done')
        page.click("[data-testid=submit-job]")
        page.wait_for_selector("[data-testid=slurm-job-id]")
        assert name in page.inner_text("h1")
        assert "1 CPU cores" in page.inner_text("[data-testid=job-hardware]")
        page.wait_for_selector("#job-log:has-text('step 6 of 6 — 中文')", timeout=90_000)
        text = page.inner_text("[data-testid=job-log]")
        assert text.count("step") == 6
        page.wait_for_selector("#job-log[data-done=true]", state="attached", timeout=30_000)
        page.reload()
        assert "completed" in page.inner_text("[data-testid=job-state]")
        assert "Started on" in page.inner_text("[data-testid=job-events]")
        href = page.get_attribute("[data-testid=download-log]", "href")
        download = page.request.get(f"{live_server}{href}")
        assert download.status == 200 and download.text().count("step") == 6
        page.click("nav.sidemenu >> text=Job list")
        assert name in page.inner_text("[data-testid=job-table]")
    finally:
        _cancel_all(app, name)


def test_template_run_names_the_job(app, alice, running_worker, live_server, page, name):
    try:
        login(page, live_server, "alice")
        page.click("nav.sidemenu >> text=Create template")
        page.fill("[data-testid=template-name]", name)
        page.fill("[data-testid=cpus]", "1")
        page.fill("[data-testid=mem]", "1")
        page.fill("[data-testid=command]", "echo from template")
        page.click("[data-testid=save-template]")
        page.wait_for_selector(f"tr[data-template={name}]")
        page.click(f"tr[data-template={name}] [data-testid=run-template]")
        assert page.input_value("[data-testid=job-name]") == f"{name}-1"
        page.click("[data-testid=submit-job]")
        page.wait_for_selector("[data-testid=slurm-job-id]")
        assert f"{name}-1" in page.inner_text("h1")
        page.goto(f"{live_server}/templates/")
        page.click(f"tr[data-template={name}] [data-testid=run-template]")
        assert page.input_value("[data-testid=job-name]") == f"{name}-2"
    finally:
        _cancel_all(app, name)


def test_create_a_schedule(app, alice, running_worker, live_server, page, name):
    with app.test_request_context():
        user = users.get_user("alice")
        jobtemplates.create_template(user, {"name": f"{name}t", "cpus": 1, "mem_gb": 1,
                                            "image": "base", "command": "date"})
    try:
        login(page, live_server, "alice")
        page.click("nav.sidemenu >> text=Schedules")
        page.click("[data-testid=new-schedule]")
        page.fill("[data-testid=schedule-name]", name)
        page.fill("[data-testid=timezone]", "Asia/Taipei")
        page.fill("[data-testid=cron]", "30 4 * * 1-5")
        page.wait_for_selector(
            "[data-testid=cron-words]:text-is('At 04:30, Monday through Friday')")
        runs = page.locator("#schedule-preview [data-testid=next-runs] li")
        assert runs.count() == 5 and "04:30:00+08:00" in runs.first.inner_text()
        page.fill("[data-testid=cron]", "61 * * * *")
        page.wait_for_selector("#schedule-preview .flash.error")
        page.fill("[data-testid=cron]", "30 4 * * 1-5")
        page.select_option("[data-testid=schedule-template]", label=f"{name}t")
        page.click("[data-testid=save-schedule]")
        page.wait_for_selector("[data-testid=upcoming-run]")
        upcoming = page.inner_text("[data-testid=upcoming-run]")
        assert f"{name}-1" in upcoming and "04:30" in upcoming
        page.click("[data-testid=upcoming-run] a")
        assert page.inner_text("[data-testid=slurm-job-id]").strip().isdigit()
        page.go_back()
        page.click("[data-testid=delete-schedule]")
        page.wait_for_selector("[data-testid=schedule-table]")
        assert name not in page.inner_text("[data-testid=schedule-table]")
    finally:
        _cancel_all(app, name)
