"""The login-node client's own rules (issue #16 item 10): where the token is kept and how,
what it refuses, and that any answer from a server turns into words, never a traceback."""

from __future__ import annotations

import io
import json
import os
import stat
import urllib.error

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.client import portal_client as client


@pytest.fixture
def config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.delenv("PORTAL_URL", raising=False)
    monkeypatch.delenv("PORTAL_TOKEN", raising=False)
    return tmp_path / "cfg"


def test_login_is_kept_private_and_read_back(config_home):
    path = client.save_login("https://portal.example", "tok-123")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert client.load_login() == ("https://portal.example", "tok-123")


def test_a_token_others_could_read_is_refused_with_the_fix(config_home):
    path = client.save_login("https://portal.example", "tok-123")
    os.chmod(path, 0o640)
    with pytest.raises(client.ClientError, match=f"chmod 600 {path}"):
        client.load_login()


def test_a_config_folder_that_is_a_symlink_is_refused(config_home, tmp_path):
    config_home.mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", config_home / "slurm-gpu-portal")
    with pytest.raises(client.ClientError, match="symbolic link"):
        client.save_login("https://portal.example", "tok")
    assert os.listdir(tmp_path / "elsewhere") == []


def test_a_token_file_that_is_a_symlink_is_not_followed(config_home, tmp_path):
    folder = config_home / "slurm-gpu-portal"
    folder.mkdir(parents=True)
    (tmp_path / "other.json").write_text(json.dumps({"url": "http://x", "token": "t"}))
    os.symlink(tmp_path / "other.json", folder / "client.json")
    with pytest.raises(client.ClientError, match="cannot read"):
        client.load_login()


def test_not_logged_in_says_how(config_home, capsys):
    assert client.main(["job", "list"]) == 1
    assert "portal login --url" in capsys.readouterr().err


def test_environment_overrides_the_file(config_home, monkeypatch):
    monkeypatch.setenv("PORTAL_URL", "https://p")
    monkeypatch.setenv("PORTAL_TOKEN", "env-token")
    assert client.load_login() == ("https://p", "env-token")


def test_a_bad_address_is_refused():
    with pytest.raises(client.ClientError, match="not a portal address"):
        client.Api("portal.example", "t")


def test_job_run_needs_a_command(config_home, monkeypatch, capsys):
    monkeypatch.setenv("PORTAL_URL", "https://p")
    monkeypatch.setenv("PORTAL_TOKEN", "t")
    assert client.main(["job", "run", "--image", "base"]) == 1
    assert "--command TEXT or --command-file FILE" in capsys.readouterr().err


def _http_error(code: int, body: bytes) -> urllib.error.HTTPError:
    return urllib.error.HTTPError("http://p/api/v1/jobs", code, "Reason", {}, io.BytesIO(body))


def test_api_errors_are_shown_in_the_portals_words():
    body = json.dumps({"error": {"code": "time_over_limit", "message": "At most 1 hours."}})
    assert client._error_text(_http_error(400, body.encode())) == \
        "At most 1 hours. (HTTP 400, time_over_limit)"
    assert "log in again" in client._error_text(_http_error(401, b"{}"))


@given(st.integers(min_value=400, max_value=599), st.binary(max_size=200))
def test_any_error_body_becomes_one_line_of_text(code, body):
    text = client._error_text(_http_error(code, body))
    assert isinstance(text, str) and f"HTTP {code}" in text


def test_the_portal_serves_the_client_and_the_profile_page_shows_how_to_install_it(
        client, make_user, auth):
    download = client.get("/client/portal")  # no login: the file holds no secret
    assert download.status_code == 200
    assert download.headers["Content-Disposition"] == "attachment; filename=portal"
    assert b"def main(" in download.data and download.data.startswith(b"#!/usr/bin/env python3")
    make_user("ursula")
    auth.login("ursula")
    page = client.get("/settings/profile").get_data(as_text=True)
    assert "curl -fsS http://localhost/client/portal -o ~/.local/bin/portal" in page
    assert "portal login --url http://localhost</code>" in page
