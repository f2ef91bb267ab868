"""The worker's one-call-per-cycle cluster cache, read by the API and the home page."""

import pytest
from click.testing import CliRunner

from portal import cli, cli_common, worker
from portal.services import tokens

pytestmark = pytest.mark.integration


def test_worker_cycle_fills_cluster_view(app, make_user, client, auth):
    summary = worker.run_cycle(app)
    assert summary["cluster_ok"] is True and summary["error"] is None
    user = make_user("ursula")
    with app.app_context():
        _, token = tokens.create_token(user, "t")
    body = client.get("/api/v1/cluster", headers={"Authorization": f"Bearer {token}"}).json
    assert body["available"] and not body["stale"] and body["error"] is None
    a100 = [g for g in body["gpu_models"] if g["model"] == "a100"]
    assert a100 and a100[0]["total"] == 4 and 0 <= a100[0]["free"] <= 4
    assert {p["name"] for p in body["partitions"]} >= {"gpu", "cpu"}
    assert body["slurm_version"].split(".")[0] in ("22", "23", "24", "25")
    auth.login()
    page = client.get("/").get_data(as_text=True)
    assert 'data-testid="gpu-table"' in page and "a100" in page


def test_cluster_status_command(app, monkeypatch):
    monkeypatch.setattr(cli_common, "make_app", lambda: app)
    result = CliRunner().invoke(cli.main, ["cluster", "status"])
    assert result.exit_code == 0, result.output
    assert "partition gpu (default)" in result.output
    assert "gpu a100:" in result.output and "of 4" in result.output
