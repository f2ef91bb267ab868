"""Issue #17 item 5 on the dev cluster: a real Jupyter session, watched through its owner's
page as a browser would, records queued → started → container up → app answering once
each and in order; the API shows the same stages, and Jupyter answers through the proxy
from the moment the page says it does. Once deleted, its page and JSON show what it used
(item 6)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from portal import db
from portal.models import Session
from portal.services import sessions
from portal.services import users as usersvc
from portal.services.sessiondisplay import session_json
from tests.integration.sessions.sessionhelpers import Browser, cycle, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sessions-stages")]


def _row(app, session_id: int) -> dict:
    with app.test_request_context():
        row = db.session.get(Session, session_id)
        out = {"state": row.state, "times": [row.created_at, row.submitted_at, row.started_at,
                                             row.container_up_at, row.app_ready_at],
               "ready_at": row.ready_at, "json": session_json(row)}
        db.session.remove()
    return out


def test_a_real_session_records_its_four_stages_in_order(portal):
    app = portal.app
    with app.test_request_context():
        created = sessions.create_session(usersvc.get_user("alice"), {
            "name": f"{portal.prefix}-stages", "image": "jupyter", "end": "hours",
            "hours": 1, "cpus": 1, "mem_gb": 1, "ssh_auth": "none", "allow_all": True})
        session_id = created.id
        db.session.remove()
    browser = Browser(portal.server.url)
    browser.login("alice")
    try:
        def app_answers():  # the owner's page, as its one-second refresh asks it
            status, _, body = browser.request(f"/sessions/{session_id}")
            assert status == 200
            return 'data-testid="stage-app" data-reached="true"' in body.decode()

        wait_for(app_answers, 120, step=0.3, what="the page to show the app answering")
        row = _row(app, session_id)
        created_at, queued, started, container, app_ready = row["times"]
        assert row["state"] == "running"
        assert None not in row["times"]
        # Slurm's StartTime has whole seconds (it may read before sbatch returned);
        # everything else is in order as recorded.
        assert created_at <= queued and started <= container <= app_ready
        assert queued - started < timedelta(seconds=1)
        # The page looked while it came up: the portal noticed the ready file promptly.
        assert (row["ready_at"] - container).total_seconds() < 5, row
        stages = row["json"]["stages"]
        assert [s["stage"] for s in stages] == ["queued", "started", "container", "app"]
        ats = [s["at"] for s in stages]
        assert None not in ats and ats == sorted(ats)
        assert all(s["seconds"] >= 0 for s in stages)
        status, _, body = browser.request(f"/s/{session_id}/api/status")
        assert status == 200 and "started" in json.loads(body)

        before = _row(app, session_id)["times"]
        cycle(app)  # a later worker cycle changes no stage
        assert _row(app, session_id)["times"] == before
    finally:
        with app.test_request_context():
            sessions.delete_session(usersvc.get_user("alice"), session_id)
            db.session.remove()
    wait_for(lambda: cycle(app) and _row(app, session_id)["json"]["efficiency"], 120,
             step=0.5, what="the ended session's efficiency (issue #17 item 6)")
    used = _row(app, session_id)["json"]["efficiency"]
    assert used["cpus"] == 1 and used["elapsed_s"] >= 1 and used["cpu_percent"] is not None
    status, _, body = browser.request(f"/sessions/{session_id}")
    assert status == 200 and 'data-testid="efficiency-cpu"' in body.decode()
