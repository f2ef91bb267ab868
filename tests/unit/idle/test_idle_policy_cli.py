"""The idle-reclaim policy from a shell (`portal idle-policy show|set`): admins only,
audited, a bad value is refused in words and changes nothing."""

from __future__ import annotations

import json

from click.testing import CliRunner

from portal import cli, cli_common, cli_projects, db
from portal.models import AuditEvent


def test_cli_show_and_set(app, monkeypatch, project, policy_state):
    monkeypatch.setattr(cli_common, "make_app", lambda: app)
    run = CliRunner().invoke
    shown = run(cli.main, ["idle-policy", "show", "tproj"])
    assert shown.exit_code == 0 and shown.output.strip() == "tproj: idle reclaim off"
    done = run(cli.main, ["idle-policy", "set", "tproj", "--limit-minutes", "120",
                          "--warn-minutes", "60,105"])
    assert done.exit_code == 0, done.output
    assert done.output.strip() == ("tproj: end after 120 idle minutes; warn at 60, 105 "
                                   "minutes; GPU sessions idle under 5 % use")
    data = json.loads(run(cli.main, ["idle-policy", "show", "tproj", "--json"]).output)
    assert (data["limit_s"], data["warn_s"]) == (7200, [3600, 6300])
    with app.app_context():
        event = db.session.query(AuditEvent).filter_by(action="project.idle_policy").one()
        assert event.details["limit_s"] == 7200
    for argv, words in ((["--limit-minutes", "soon"], "not a number of minutes"),
                        (["--limit-minutes", "60", "--warn-minutes", "90"],
                         "Warning points are"),
                        (["--limit-minutes", "60", "--gpu-threshold", "200"], "percentage")):
        bad = run(cli.main, ["idle-policy", "set", "tproj", *argv])
        assert bad.exit_code != 0 and words in bad.output, bad.output
    policy, audits = policy_state(project)
    assert policy["limit_s"] == 7200 and audits == 1
    assert run(cli.main, ["idle-policy", "show", "nope"]).exit_code == 1


def test_cli_refuses_a_non_admin(app, monkeypatch, project, policy_state):
    monkeypatch.setattr(cli_common, "make_app", lambda: app)
    monkeypatch.setattr(cli_projects.os, "geteuid", lambda: 1)
    monkeypatch.setattr(cli_projects, "invoking_unix_user", lambda: "daemon")  # mia, manager
    run = CliRunner().invoke
    refused = run(cli.main, ["idle-policy", "set", "tproj", "--limit-minutes", "60"])
    assert refused.exit_code == 1 and "Only platform administrators" in refused.output
    assert run(cli.main, ["idle-policy", "show", "tproj"]).exit_code == 1
    assert policy_state(project)[0]["enabled"] is False
