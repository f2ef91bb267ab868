"""SSH logins as idle-reclaim activity (issue #17 item 2): the sampler counts connections
to the session's sshd port from recorded /proc/net/tcp{,6} (tests/data/proc), and the
worker's ingestion records a sample with a login as the session's "ssh" activity."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.sshd import LOGIN_GRACE_S, SshdSpec, render_config
from portal import db
from portal.models import Session, SessionIdle
from portal.services import idle, monitoring

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data" / "proc"
PORT = 42222
_spec = importlib.util.spec_from_file_location("session_monitor_ssh",
                                              ROOT / "jobscripts" / "session_monitor.py")
mon = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mon)


def _proc(tmp_path, tcp6: bool = True) -> str:
    net = tmp_path / "net"
    net.mkdir(exist_ok=True)
    (net / "tcp").write_text((DATA / "ssh_login_tcp.txt").read_text())
    text = (DATA / "ssh_login_tcp6.txt").read_text()
    if not tcp6:  # sshd dropped the bare connection at LoginGraceTime
        text = "\n".join(line for line in text.splitlines() if ":B1A4" not in line) + "\n"
    (net / "tcp6").write_text(text)
    return str(tmp_path)


def test_recorded_tables_hold_two_connections_to_sshd_and_no_listener_or_client_side():
    v4 = mon.parse_proc_net_tcp((DATA / "ssh_login_tcp.txt").read_text(), PORT)
    v6 = mon.parse_proc_net_tcp((DATA / "ssh_login_tcp6.txt").read_text(), PORT)
    assert v4 == {("0100007F:CD72", "2209474")}
    assert v6 == {("00000000000000000000000001000000:B1A4", "2209504")}
    assert mon.parse_proc_net_tcp((DATA / "ssh_login_tcp.txt").read_text(), 22) == set()


def test_only_connections_that_outlive_the_login_grace_count(tmp_path):
    watch = mon.SshWatch(PORT, LOGIN_GRACE_S, proc=_proc(tmp_path))
    assert watch.count(100.0) == 0  # both new: not yet known to be logins
    assert watch.count(100.0 + LOGIN_GRACE_S) == 0
    _proc(tmp_path, tcp6=False)  # the bare TCP connection was dropped by sshd
    assert watch.count(101.0 + LOGIN_GRACE_S) == 1  # the logged-in one stays
    (tmp_path / "net" / "tcp").write_text((DATA / "ssh_login_tcp.txt").read_text()
                                         .split("\n 106:")[0] + "\n")
    assert watch.count(200.0) == 0  # logged out
    assert watch.first_seen == {}


def test_without_an_sshd_port_the_series_is_null(tmp_path):
    assert mon.SshWatch(None, 30, proc=_proc(tmp_path)).count(1e9) is None


@settings(deadline=None, max_examples=50)
@given(st.text(max_size=400), st.integers(1, 65535))
def test_garbage_tables_never_raise(text, port):
    assert isinstance(mon.parse_proc_net_tcp(text, port), set)


def test_sshd_drops_unauthenticated_connections_at_the_grace_the_sampler_uses():
    lines = render_config(SshdSpec("/home/alice/s/ssh", PORT), "alice").splitlines()
    assert f"LoginGraceTime {LOGIN_GRACE_S}" in lines
    assert any(line.startswith("ClientAliveInterval ") for line in lines)


def test_the_session_script_passes_the_ssh_port_to_the_sampler():
    from portal.services import sessionscript
    from tests.unit.sessions.test_sessions_script_runtime import _input

    text = sessionscript.render(_input(), ["--x"])
    assert f'--ssh-port "$PORT_B" --ssh-grace {LOGIN_GRACE_S}' in text
    assert text.index("free_ports) &&") < text.index("session_monitor.py --out")


# ---- ingestion: a sample with a login is SSH activity ----

T0 = 1_800_000_000.0


def _sample(n, t, ssh):
    return {"n": n, "t": t, "dt": 10, "src": "proc", "cpu": 0.0, "ncpu": 2, "mem": 1,
            "mem_limit": None, "node_cpu": 1.0, "disk_ws": 0, "disk_scratch": 0,
            "net_rx": 0.0, "net_tx": 0.0, "gpu": None, "gpu_note": "no GPUs in this session",
            "ssh": ssh}


def test_ssh_seen_at_is_the_last_sample_with_a_login_cut_at_now():
    now = datetime.fromtimestamp(T0 + 100, UTC).replace(tzinfo=None)
    samples = [_sample(1, T0, 1), _sample(2, T0 + 10, 0), _sample(3, T0 + 20, None)]
    assert monitoring.ssh_seen_at(samples, now) == datetime.fromtimestamp(
        T0, UTC).replace(tzinfo=None)
    assert monitoring.ssh_seen_at([_sample(1, T0, 0), _sample(2, T0, True)], now) is None
    assert monitoring.ssh_seen_at([_sample(1, T0 + 999, 2)], now) == now  # node clock ahead


def test_ingestion_records_ssh_activity(image_app, backend):
    from tests.unit.monitoring.test_ingest_api import FORM, lines
    from tests.unit.sessions.sessionfakes import make_member, register_jupyter, start_running

    with image_app.test_request_context():
        user = make_member("ursula")
        register_jupyter()
        session = start_running(backend, user, FORM)
        session_id, path = session.id, f"{session.directory}/metrics.jsonl"
        db.session.remove()
    now = datetime.fromtimestamp(T0 + 300, UTC).replace(tzinfo=None)

    def ingest(samples):
        backend.files.files[path] = backend.files.files.get(path, b"") + lines(samples)
        with image_app.app_context():
            monitoring.ingest(db.session.get(Session, session_id), backend.files, now)
            db.session.commit()
            row = db.session.get(SessionIdle, session_id)
            return row and (row.last_activity_at, row.last_activity_kind)

    assert ingest([_sample(1, T0, 0), _sample(2, T0 + 10, None)]) is None
    login = datetime.fromtimestamp(T0 + 30, UTC).replace(tzinfo=None)
    assert ingest([_sample(3, T0 + 20, 1), _sample(4, T0 + 30, 1),
                   _sample(5, T0 + 40, 0)]) == (login, "ssh")
    # an older login read later never moves the activity back
    with image_app.app_context():
        assert not idle.note_activity(session_id, "ssh", login.replace(year=2020))
        assert db.session.get(SessionIdle, session_id).last_activity_at == login
