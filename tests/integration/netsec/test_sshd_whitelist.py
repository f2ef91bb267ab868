"""F9 + F10 for real: an sshd started the way sessions start it (unprivileged, as the session's
owner, `sshd -D -e -f CFG`, keys with `from="<cidrs>"` from the whitelist services) admits a
client from an allowed address and refuses one from another.

Two client addresses on one machine: every 127.0.0.0/8 address is local on Linux, so the
client binds 127.0.0.1 or 127.0.0.2 (`ssh -b`) and sshd sees that as the source. The last
test runs the same sshd inside a Slurm job on the dev cluster's node, as sessions will.
"""

from __future__ import annotations

import os
import shlex
import socket
import time
import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from adapters.errors import AdapterError
from adapters.runner import CommandRunner
from adapters.sshd import Sshd, SshdSpec, ssh_probe, sshd_argv
from portal.services import keys, whitelists

pytestmark = pytest.mark.integration
UNIX_USER = "alice"
ALLOWED, OTHER = "127.0.0.1", "127.0.0.2"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def sshd() -> Sshd:
    return Sshd(CommandRunner(timeout=30))


@pytest.fixture
def session_dir(sshd):
    path = f"/home/{UNIX_USER}/.portal-it-{uuid.uuid4().hex[:12]}"
    yield path
    sshd.files.remove_tree(UNIX_USER, path)


@pytest.fixture
def owner(make_user, app):
    user = make_user("alice", unix_user=UNIX_USER)
    with app.app_context():
        yield user


def _identity(tmp_path, private_pem: str) -> str:
    path = tmp_path / "id_session"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(private_pem)
    return str(path)


def _start(sshd: Sshd, directory: str, lines: list[str]):
    """Prepare and start on a free port; retry if another test took the port meanwhile."""
    for _attempt in range(3):
        spec = SshdSpec(directory, _free_port(), ALLOWED)
        sshd.prepare(UNIX_USER, spec, lines)
        try:
            return spec, sshd.start(UNIX_USER, spec)
        except AdapterError as exc:
            if "Address already in use" not in exc.stderr:
                raise
    raise AssertionError("no free port for sshd")


def _probe(spec, identity, source):
    return ssh_probe(CommandRunner(timeout=30), host=ALLOWED, port=spec.port, login=UNIX_USER,
                     identity_file=identity, source=source, command=("id", "-un"))


def test_generated_key_with_whitelist_admits_one_address_and_refuses_another(
    owner, sshd, session_dir, tmp_path
):
    key, private_pem = keys.create_key(owner, "it-laptop")
    office, _ = whitelists.create_whitelist(owner, "it-office", f"{ALLOWED}/32 tcp 22")
    line = keys.authorized_keys_line(key, whitelists.sshd_from_option([office]))
    assert line.startswith(f'from="{ALLOWED}/32" ssh-ed25519 ')
    identity = _identity(tmp_path, private_pem)

    spec, process = _start(sshd, session_dir, [line])
    with process:
        allowed = _probe(spec, identity, ALLOWED)
        assert allowed.returncode == 0 and allowed.stdout.strip() == UNIX_USER
        refused = _probe(spec, identity, OTHER)
        assert refused.returncode == 255 and "Permission denied" in refused.stderr
        why = process.wait_for_log("not from a permitted host", 10)
        assert why is not None and f"ip={OTHER}" in why
        assert process.wait_for_log(f"Accepted publickey for {UNIX_USER} from {ALLOWED}", 5)


@pytest.mark.parametrize(
    "rules, allow_all, admitted, refused",
    [
        ("127.0.0.0/30 tcp 22", False, "127.0.0.2", "127.0.0.5"),  # a real CIDR range
        ("127.0.0.4/30\n127.0.0.2/31 tcp 20-30", False, "127.0.0.3", "127.0.0.1"),
        ("", True, "127.0.0.9", None),  # "allow all incoming": no from= at all
    ],
)
def test_imported_key_and_cidr_ranges(owner, sshd, session_dir, tmp_path, rules, allow_all,
                                      admitted, refused):
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                               serialization.PublicFormat.OpenSSH).decode()
    key = keys.import_key(owner, "it-imported", f"{public} me@laptop")
    chosen = [whitelists.create_whitelist(owner, "it-range", rules)[0]] if rules else []
    line = keys.authorized_keys_line(key, whitelists.sshd_from_option(chosen,
                                                                       allow_all=allow_all))
    assert "me@laptop" not in line
    identity = _identity(tmp_path, private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption()).decode())

    spec, process = _start(sshd, session_dir, [line])
    with process:
        assert _probe(spec, identity, admitted).returncode == 0
        assert whitelists.admits(chosen, admitted, whitelists.SSH_PORT, allow_all=allow_all)
        if refused:
            assert _probe(spec, identity, refused).returncode == 255
            assert not whitelists.admits(chosen, refused, whitelists.SSH_PORT)
            assert process.wait_for_log(f"ip={refused}", 10)


def _wait_listening(port: int, deadline: float) -> bool:
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(1)
            if sock.connect_ex((ALLOWED, port)) == 0:
                return True
        time.sleep(0.2)
    return False


def test_same_sshd_inside_a_slurm_job_on_the_dev_cluster(owner, sshd, session_dir, tmp_path):
    runner = CommandRunner(timeout=30)
    try:
        runner.run(["sinfo", "--noheader"])
    except AdapterError as exc:
        pytest.fail(f"the dev cluster does not answer ({exc.message}); start it with: "
                    "sudo etc/devcluster/cluster.sh start", pytrace=False)
    key, private_pem = keys.create_key(owner, "it-job")
    office, _ = whitelists.create_whitelist(owner, "it-job", f"{ALLOWED}/32")
    spec = SshdSpec(session_dir, _free_port(), ALLOWED)
    sshd.prepare(UNIX_USER, spec, [keys.authorized_keys_line(
        key, whitelists.sshd_from_option([office]))])
    job_id = runner.run(
        ["sbatch", "--parsable", "-A", "proja", "-p", "cpu", "-n", "1", "-c", "1",
         "--mem=256M", "-t", "3", "-J", f"it-sshd-{uuid.uuid4().hex[:8]}",
         "-o", f"{session_dir}/job.out", "--wrap", shlex.join(sshd_argv(spec))],
        as_user=UNIX_USER,
    ).stdout.strip().split(";")[0]
    try:
        assert _wait_listening(spec.port, time.monotonic() + 90), "sshd job never listened"
        identity = _identity(tmp_path, private_pem)
        allowed = _probe(spec, identity, ALLOWED)
        assert allowed.returncode == 0 and allowed.stdout.strip() == UNIX_USER
        assert _probe(spec, identity, OTHER).returncode == 255
    finally:
        runner.run(["scancel", job_id], check=False)
