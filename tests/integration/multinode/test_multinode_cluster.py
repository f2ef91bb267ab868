"""The portal on a real-shaped cluster (issue #15): the multi-node dev cluster `devmulti`
(`cluster.sh start-multi`), whose nodes gpu1, gpu2 and cpu1 each run their slurmd in their
own network namespace with their own address, apart from this host (10.250.15.1), where
the portal and devmulti's slurmctld run.

The portal is pointed at it the way a site points it at its cluster: SLURM_CONF (every
Slurm command gets it) and SLURM_CLUSTER (accounts). A `-N 2` job shows both nodes and both
nodes' output; a portal job's log is what its node wrote; a session on gpu2 answers 1+1
through the proxy (the app's and the session gateway's), which reaches gpu2's own address
(Slurm's NodeAddr, not loopback, not a name this host resolves); the web terminal's
`srun --overlap --pty` lands on gpu2; SSH to gpu2's address admits the whitelisted source
address only; the session's sampler runs in gpu2's namespace and its samples reach the
portal; a custom image committed from gpu2's session starts a session on gpu1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from adapters import runner as runner_mod
from adapters.factory import make_scheduler
from adapters.runner import CommandRunner
from adapters.scheduler import JobSpec
from adapters.sshd import ssh_probe
from portal import db
from portal.gateway.server import Background, gateway_for
from portal.models import CustomImage, Job, Session, Whitelist
from portal.services import (
    custom_images,
    joblog,
    keys,
    monitoring,
    public_images,
    sessions,
    whitelists,
)
from portal.services import jobs as jobsvc
from portal.services import users as usersvc
from tests.integration.sessions.sessionhelpers import (
    JUPYTER_IMAGE,
    USER_AGENT,
    Browser,
    LiveServer,
    add_member,
    cycle,
    in_container,
    make_app,
    remove_session_dirs,
    session_row,
    wait_for,
    ws_connect,
)
from tests.integration.sessions.sessionhelpers import kernel_execute as _execute

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("multinode")]

REPO = Path(__file__).resolve().parents[3]
CLUSTER_SH = REPO / "etc" / "devcluster" / "cluster.sh"
SLURM_CONF = Path("/etc/slurm-devmulti/slurm.conf")  # one devmulti per machine
GPU2_ADDR = "10.250.15.12"
HOST_ADDR = "10.250.15.1"  # this host on the nodes' bridge
ROOT = CommandRunner(timeout=60)


def _multi(argv: list[str], **kw):
    """A Slurm command as root against devmulti."""
    return CommandRunner(timeout=30, env={"SLURM_CONF": str(SLURM_CONF)}).run(argv, **kw)


@pytest.fixture(scope="module")
def devmulti():
    """devmulti up: started (~5.5 s, registering it with slurmdbd) if it is not running,
    and then stopped again afterwards (~2.5 s), which takes it out of slurmdbd, so other
    checkouts testing against the shared slurmdbd meanwhile see one cluster again."""
    cluster_sh = CommandRunner(timeout=300)
    was_up = cluster_sh.run(["bash", str(CLUSTER_SH), "status-multi"],
                            check=False).returncode == 0
    started = time.monotonic()
    result = cluster_sh.run(["bash", str(CLUSTER_SH), "start-multi"], check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    print(f"start-multi: {time.monotonic() - started:.1f}s (was up: {was_up})")
    yield
    if not was_up:
        cluster_sh.run(["bash", str(CLUSTER_SH), "stop-multi"], check=False)


@pytest.fixture(scope="module")
def portal(devmulti, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("multinode")
    app = make_app(tmp / "portal.db", SLURM_CONF=str(SLURM_CONF), SLURM_CLUSTER="devmulti")
    prefix = "mn" + uuid.uuid4().hex[:6]
    summary = cycle(app)
    assert summary.get("cluster_ok"), f"devmulti must answer: {summary}"
    with app.app_context():
        add_member("alice", "proja")
        public_images.register_image("jupyter", JUPYTER_IMAGE, framework="Python 3 / Jupyter")
        alice = usersvc.get_user("alice")
        _, private = keys.create_key(alice, "laptop")
        # The browser of these tests comes from loopback; SSH is admitted from this host's
        # address on the nodes' network only (what gpu2's sshd sees as the source).
        whitelists.create_whitelist(alice, "loopback", "127.0.0.1/32 tcp")
        whitelists.create_whitelist(alice, "portal-host", f"{HOST_ADDR}/32 tcp")
        db.session.remove()
    key_path = tmp / "id_alice"
    key_path.write_text(private)
    key_path.chmod(0o600)
    server = LiveServer(app)
    app.config["TEST_KEY_PATH"] = str(key_path)
    yield app, server, prefix
    server.stop()
    remove_session_dirs(app)
    for job in make_scheduler(app.config).info_all():
        if (job.name or "").startswith(prefix) and not job.state.is_terminal:
            _multi(["scancel", "--", job.id], check=False)
    runner_mod.use_slurm_conf(None)  # the next app of this process talks to devcluster


def test_a_two_node_job_lists_both_nodes_and_both_outputs(portal, tmp_path):
    app, _, prefix = portal
    out = Path("/home/alice") / f".{prefix}-n2.out"
    script = ("#!/bin/bash\n#SBATCH --nodes=2\n#SBATCH --ntasks-per-node=1\n"
              "srun bash -c 'echo \"node=$(hostname) addr=$(hostname -I)\"'\n")
    scheduler = make_scheduler(app.config)
    job_id = scheduler.submit(JobSpec(script=script, job_name=f"{prefix}-n2", account="proja",
                                      time=2, output=str(out)), as_user="alice")
    try:
        job = wait_for(lambda: (j := scheduler.info(job_id)).state.is_terminal and j, 90,
                       what="the 2-node job to end")
        assert job.state.value == "completed", job
        assert sorted(job.nodes) == ["gpu1", "gpu2"]
        lines = sorted(ln.strip() for ln in out.read_text().splitlines())
        assert [ln for ln in lines if ln] == ["node=gpu1 addr=10.250.15.11",
                                             "node=gpu2 addr=10.250.15.12"]
    finally:
        out.unlink(missing_ok=True)


def test_a_portal_job_runs_on_a_node_and_its_log_is_read_back(portal):
    """A portal batch job (its container, its log file in alice's home) on a compute node:
    the log the portal shows is what the node wrote, and the node is recorded."""
    app, _, prefix = portal
    with app.test_request_context():
        job = jobsvc.create_job(usersvc.get_user("alice"), {
            "name": f"{prefix}-job", "cpus": 1, "mem_gb": 1, "image": "base",
            "command": "echo ran-on-$(hostname)"})
        job_id = job.id
        db.session.remove()

    def finished():
        cycle(app)
        with app.test_request_context():
            row = db.session.get(Job, job_id)
            if row.state not in jobsvc.TERMINAL:
                db.session.remove()
                return None
            out = (row.state, row.exit_code, joblog.tail(row, jobsvc.get_backend()).text,
                   [e.details.get("node") for e in row.events if e.kind == "started"])
            db.session.remove()
            return out

    state, code, text, started_on = wait_for(finished, 90, step=1, what="the job to end")
    assert (state, code) == ("completed", 0)
    assert started_on and started_on[0] in ("cpu1", "gpu1", "gpu2")  # a CPU job: cpu1
    assert text.strip() == f"ran-on-{started_on[0]}"


@pytest.fixture(scope="module")
def on_gpu2(portal):
    """alice's Jupyter session with the web terminal, started on gpu2 (gpu1 drained for
    the moment of the start, so Slurm has nowhere else to put it)."""
    app, server, prefix = portal
    _multi(["scontrol", "update", "nodename=gpu1", "state=drain", "reason=multinode-test"])
    try:
        with app.test_request_context():
            alice = usersvc.get_user("alice")
            created = sessions.create_session(alice, {
                "name": f"{prefix}-s", "image": "jupyter", "end": "hours", "hours": 1,
                "cpus": 1, "mem_gb": 1, "gpu_model": "a100", "gpu_count": 1,
                "ssh_auth": "key", "ssh_key_ids": [keys.list_keys(alice)[0].id],
                "whitelist_ids": [w.id for w in db.session.query(Whitelist)]})
            session_id = created.id
            db.session.remove()
        wait_for(lambda: cycle(app) is not None and session_row(app, session_id).state == "running",
                 120, step=1, what="the session on gpu2 to run")
    finally:
        _multi(["scontrol", "update", "nodename=gpu1", "state=resume"], check=False)
    browser = Browser(server.url)
    browser.login("alice")
    yield session_id, browser
    with app.test_request_context():
        sessions.delete_session(usersvc.get_user("alice"), session_id)
        db.session.remove()


def test_session_on_gpu2_answers_through_the_proxy_at_gpu2s_address(portal, on_gpu2):
    app, server, _ = portal
    session_id, browser = on_gpu2
    row = session_row(app, session_id)
    assert row.host == "gpu2" and row.nodes == "gpu2"
    # Jupyter listens on gpu2's own address only: nothing answers on this host's loopback.
    ROOT.run(["bash", "-c", f"exec 3<>/dev/tcp/{GPU2_ADDR}/{row.jupyter_port}"])
    assert ROOT.run(["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{row.jupyter_port}"],
                    check=False).returncode != 0
    assert _kernel_1_plus_1(server.host, server.url, browser, session_id) == "2"


def _terminal_host_and_uid(front_host: str, front_url: str, browser, session_id: int):
    """What `hostname; id -u` prints in the session's web terminal behind `front_host`."""
    ws = ws_connect(f"ws://{front_host}/terminal/{session_id}/ws?rows=30&cols=100",
                    {"Cookie": browser.cookie_header(), "Origin": front_url,
                     "User-Agent": USER_AGENT})
    output = b""
    pattern = rb"M42K\s+(\S+)\s+(\d+)"
    try:
        ws.send(json.dumps({"t": "i", "d": "echo M$((6*7))K; hostname; id -u\r"}))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not re.search(pattern, output):
            chunk = ws.receive(timeout=1)
            output += chunk if isinstance(chunk, bytes) else (chunk or "").encode()
    finally:
        ws.close()
    match = re.search(pattern, output)
    assert match, output[-2000:]
    return match.group(1).decode(), int(match.group(2))


def _kernel_1_plus_1(front_host: str, front_url: str, browser, session_id: int) -> str:
    status, _, body = browser.json(f"/s/{session_id}/api/kernels", method="POST", body={})
    assert status == 201, body
    kernel_id = json.loads(body)["id"]
    ws = ws_connect(f"ws://{front_host}/s/{session_id}/api/kernels/{kernel_id}/channels",
                    {"Cookie": browser.cookie_header(), "Origin": front_url,
                     "User-Agent": USER_AGENT})
    try:
        return _execute(ws, "1+1")
    finally:
        ws.close()


def test_web_terminal_runs_on_gpu2(portal, on_gpu2):
    _, server, _ = portal
    session_id, browser = on_gpu2
    assert _terminal_host_and_uid(server.host, server.url, browser, session_id) == ("gpu2", 2001)


def test_the_session_gateway_reaches_gpu2_too(portal, on_gpu2):
    """`make run` puts the gateway in front (issue #14): its proxy and its terminal pty
    reach gpu2 from the app's decision as well."""
    app, server, _ = portal
    session_id, _ = on_gpu2
    front = Background(gateway_for(app, server.url))
    try:
        browser = Browser(front.url)
        browser.login("alice")
        assert _kernel_1_plus_1(front.host, front.url, browser, session_id) == "2"
        assert _terminal_host_and_uid(front.host, front.url, browser, session_id) == (
            "gpu2", 2001)
    finally:
        front.stop()


def test_monitoring_samples_come_from_gpu2(portal, on_gpu2):
    app, _, _ = portal
    session_id, _ = on_gpu2
    row = session_row(app, session_id)
    metrics = f"{row.directory}/metrics"
    # The sampler is a process of the job: it lives in gpu2's network namespace.
    in_gpu2 = set(ROOT.run(["ip", "netns", "pids", "devmulti-gpu2"]).stdout.split())
    samplers = [p for p in in_gpu2 if "session_monitor" in _cmdline(p)]
    assert samplers, "no sampler among gpu2's processes"

    def samples():
        cycle(app)
        with app.app_context():
            data = monitoring.series(db.session.get(Session, session_id), "1h")
            db.session.remove()
        return len(data["t"]) >= 1 and data

    data = wait_for(samples, 90, step=1, what="samples from gpu2")
    assert data["mem"][-1] > 0 and data["net_rx"][-1] is not None, (metrics, data)


def _start_on(app, node: str, name: str, **fields) -> int:
    """A session of alice's started on `node` (the other GPU node drained meanwhile)."""
    other = {"gpu1": "gpu2", "gpu2": "gpu1"}[node]
    _multi(["scontrol", "update", f"nodename={other}", "state=drain", "reason=multinode-test"])
    try:
        with app.test_request_context():
            created = sessions.create_session(usersvc.get_user("alice"), {
                "name": name, "end": "hours", "hours": 1, "cpus": 1, "mem_gb": 1,
                "allow_all": True, **fields})
            session_id = created.id
            db.session.remove()
        wait_for(lambda: cycle(app) is not None and session_row(app, session_id).state == "running",
                 120, step=1, what=f"the session on {node} to run")
    finally:
        _multi(["scontrol", "update", f"nodename={other}", "state=resume"], check=False)
    assert session_row(app, session_id).host == node
    return session_id


def test_custom_image_committed_on_gpu2_runs_on_gpu1(portal):
    """The commit reads gpu2's session copy over the shared file system; the image it makes
    starts a session on another node."""
    app, _, prefix = portal
    store = tempfile.mkdtemp(prefix="portal-images-")
    os.chmod(store, 0o755)  # the build runs as alice, and the nodes read it as alice
    app.config["IMAGE_STORE"] = os.path.join(store, "images")
    marker = "/usr/local/share/multinode-marker.txt"
    first = _start_on(app, "gpu2", f"{prefix}-src", image="base", writable=True)
    second = None
    try:
        in_container(app, first, f"hostname > {marker}")
        with app.test_request_context():
            image = custom_images.commit(usersvc.get_user("alice"), first, {
                "name": f"{prefix}-img", "tag": "v1", "services": "webterm"})
            image_id = image.id
            db.session.remove()

        def ready():
            cycle(app)
            with app.app_context():
                row = db.session.get(CustomImage, image_id)
                state, error = row.state, row.error
                db.session.remove()
            assert state != "failed", error
            return state == "ready"

        wait_for(ready, 240, step=1, what="the image to be built")
        second = _start_on(app, "gpu1", f"{prefix}-from", image=f"{prefix}-img:v1",
                           image_type="custom")
        assert in_container(app, second, f"cat {marker}; hostname").split() == ["gpu2", "gpu1"]
    finally:
        with app.test_request_context():
            for session_id in (first, second):
                if session_id is not None:
                    sessions.delete_session(usersvc.get_user("alice"), session_id)
            db.session.remove()
        shutil.rmtree(store, ignore_errors=True)


class _FromGpu1(CommandRunner):
    """Runs commands inside gpu1's network namespace: they come from 10.250.15.11."""

    def run(self, argv, **kw):
        return super().run(["ip", "netns", "exec", "devmulti-gpu1", *argv], **kw)


def test_ssh_to_gpu2_admits_the_whitelisted_source_address_only(portal, on_gpu2):
    app, _, _ = portal
    session_id, _ = on_gpu2
    row = session_row(app, session_id)
    probe = {"host": GPU2_ADDR, "port": row.ssh_port, "login": "alice",
             "identity_file": app.config["TEST_KEY_PATH"], "command": ("hostname",)}
    admitted = ssh_probe(CommandRunner(), **probe)  # from this host: 10.250.15.1
    assert admitted.returncode == 0 and admitted.stdout.strip() == "gpu2", admitted.stderr
    refused = ssh_probe(_FromGpu1(timeout=30), **probe)
    assert refused.returncode == 255 and "Permission denied" in refused.stderr


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


