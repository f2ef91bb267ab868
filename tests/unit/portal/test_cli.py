"""The `portal` command: user and token verbs, with clear refusals."""

import pytest
from click.testing import CliRunner

from portal import cli, cli_common


@pytest.fixture
def runner(app, monkeypatch):
    monkeypatch.setattr(cli_common, "make_app", lambda: app)
    return CliRunner()


def test_user_create_prints_generated_password(runner):
    result = runner.invoke(cli.main, ["user", "create", "ursula", "--unix-user", "nobody"])
    assert result.exit_code == 0, result.output
    assert "created ursula (unix: nobody)" in result.output and "password: " in result.output


def test_user_create_refuses_missing_unix_account(runner):
    result = runner.invoke(cli.main, ["user", "create", "ghost-user-x"])
    assert result.exit_code == 1
    assert "Unix account ghost-user-x does not exist" in result.output


def test_user_create_refuses_bad_name_and_duplicate(runner):
    assert "A username is" in runner.invoke(cli.main, ["user", "create", "Bad Name"]).output
    runner.invoke(cli.main, ["user", "create", "ursula", "--unix-user", "nobody"])
    again = runner.invoke(cli.main, ["user", "create", "ursula", "--unix-user", "nobody"])
    assert again.exit_code == 1 and "already exists" in again.output


def test_token_create_for_user(runner, client):
    runner.invoke(cli.main, ["user", "create", "ursula", "--unix-user", "nobody"])
    result = runner.invoke(cli.main, ["token", "create", "ursula", "--name", "ci"])
    token = result.output.strip()
    assert token.startswith("gpp_")
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    missing = runner.invoke(cli.main, ["token", "create", "nobody-at-all"])
    assert missing.exit_code == 1 and "No user nobody-at-all" in missing.output
