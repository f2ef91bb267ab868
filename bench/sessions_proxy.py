"""Sessions (F3) on the dev cluster: start-up overhead and the reverse proxy's cost.

    .venv/bin/python bench/sessions_proxy.py [--size-mb 100] [--requests 200] [--json]

Runs the portal under gunicorn exactly as `make run` does (gthread workers), on its own
temporary database, creates one Jupyter session as alice and reports, in one run:
- start-up: seconds from the moment Slurm started the job script (its own clock, written
  to the connection file) to the first 200 from Jupyter *through the proxy*, polled by a
  client every 50 ms: the portal's and the image's share (target <= 3 s). The time Slurm
  took to schedule the job is printed apart and not counted;
- throughput: a file of --size-mb downloaded from the session's Jupyter directly and
  through the proxy (best of 3 each, with curl): ratio proxy/direct (target >= 0.5);
- latency: --requests GETs of /api/status over keep-alive connections, directly and
  through the proxy, interleaved: p50 difference (target <= 5 ms).
Needs root (runuser) and the dev cluster up; cancels its session at the end.
Like bench/submit_overhead.py, the baselines are measured without the portal's adapters.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.userfiles import UserFiles  # noqa: E402
from portal import create_app, db, worker  # noqa: E402
from portal.migrate import upgrade  # noqa: E402
from portal.models import Membership, Project, Session  # noqa: E402
from portal.services import public_images, sessionconn, sessions, users  # noqa: E402

PASSWORD = "bench horse battery staple"
AGENT = "portal-bench"
SECRET = "bench-secret-" + os.urandom(8).hex()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def setup(db_url: str):
    upgrade(db_url)
    app = create_app({"SECRET_KEY": SECRET, "DATABASE_URL": db_url, "TESTING": True})
    with app.app_context():
        alice, _ = users.create_user("alice", password=PASSWORD)
        project = Project(account="proja", name="Project A")
        db.session.add(project)
        db.session.commit()
        db.session.add(Membership(user_id=alice.id, project_id=project.id))
        db.session.commit()
        public_images.register_image("jupyter", str(ROOT / "var/images/jupyter"),
                                     framework="JupyterLab")
        db.session.remove()
    worker.run_cycle(app)
    return app


def start_gunicorn(db_url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "PORTAL_DATABASE_URL": db_url, "PORTAL_SECRET_KEY": SECRET,
           "PORTAL_SESSION_COOKIE_SECURE": "false", "PORTAL_LOGIN_RATE_LIMIT": "100/minute"}
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "--threads", "32", "--log-level", "warning", "portal.wsgi:app"],
        cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("gunicorn did not start")


def login(base: str) -> str:
    jar = urllib.request.HTTPCookieProcessor()
    opener = urllib.request.build_opener(jar)
    opener.addheaders = [("User-Agent", AGENT)]
    page = opener.open(base + "/login").read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"username": "alice", "password": PASSWORD,
                                   "csrf_token": token, "next": ""}).encode()
    opener.open(base + "/login", data=body).read()
    return "; ".join(f"{c.name}={c.value}" for c in jar.cookiejar)


@contextlib.contextmanager
def portal_under_gunicorn(prefix: str):
    """The benches' portal: its own database in a new temporary folder, alice in proja, the
    Jupyter image registered, one worker cycle done, gunicorn serving it as `make run`
    does; yields (app, port, alice's login cookie) and stops gunicorn at the end."""
    os.umask(0o077)  # the portal refuses a database others could read
    tmp = tempfile.mkdtemp(prefix=prefix)
    db_url = f"sqlite:///{tmp}/portal.db"
    app = setup(db_url)
    port = free_port()
    gunicorn = start_gunicorn(db_url, port)
    try:
        yield app, port, login(f"http://127.0.0.1:{port}")
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=10)


def get_status(host: str, port: int, path: str, headers: dict) -> int:
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError:
        return 0
    finally:
        conn.close()


def start_session(app, port: int, cookie: str) -> tuple[int, dict]:
    with app.test_request_context():
        submitted = time.time()
        created = sessions.create_session(users.get_user("alice"), {
            "name": "bench-proxy", "image": "jupyter", "allow_all": True, "end": "hours",
            "hours": 1, "cpus": 2, "mem_gb": 2})
        session_id, directory = created.id, created.directory
        db.session.remove()
    headers = {"Cookie": cookie, "User-Agent": AGENT}
    deadline = time.monotonic() + 120
    while get_status("127.0.0.1", port, f"/s/{session_id}/api/status", headers) != 200:
        if time.monotonic() > deadline:
            raise SystemExit("Jupyter never answered through the proxy")
        time.sleep(0.05)
    ready = time.time()
    conn = json.loads(Path(directory, "connection.json").read_text())
    return session_id, {"submitted": submitted, "started": conn["started"], "ready": ready,
                        "directory": directory}


def curl_seconds(url: str, headers: dict) -> float:
    argv = ["curl", "-sf", "-o", "/dev/null", "-w", "%{time_total}"]
    for key, value in headers.items():
        argv += ["-H", f"{key}: {value}"]
    return float(subprocess.run([*argv, url], capture_output=True, text=True,
                                check=True).stdout)


def latencies(host: str, port: int, path: str, headers: dict, n: int) -> list[float]:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        out.append(time.perf_counter() - t0)
        if response.getheader("Connection", "").lower() == "close":
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    session_id, directory = None, None
    big = f"/home/alice/portal-bench-{os.getpid()}.bin"
    with portal_under_gunicorn("portal-bench-") as (app, port, cookie):
        try:
            session_id, times = start_session(app, port, cookie)
            directory = times.pop("directory")
            with app.app_context():
                row = db.session.get(Session, session_id)
                host, jport, token = row.host, row.jupyter_port, sessionconn.decrypt_token(row)
                db.session.remove()
            subprocess.run(["runuser", "-u", "alice", "--", "dd", "if=/dev/urandom",
                            f"of={big}", "bs=1M", f"count={args.size_mb}", "status=none"],
                           check=True)
            name = os.path.basename(big)
            direct_url = f"http://{host}:{jport}/s/{session_id}/files/{name}"
            proxy_url = f"http://127.0.0.1:{port}/s/{session_id}/files/{name}"
            direct_h = {"Authorization": f"token {token}"}
            proxy_h = {"Cookie": cookie, "User-Agent": AGENT}
            direct_s = min(curl_seconds(direct_url, direct_h) for _ in range(3))
            proxy_s = min(curl_seconds(proxy_url, proxy_h) for _ in range(3))
            path = f"/s/{session_id}/api/status"
            direct_l, proxy_l = [], []
            for _ in range(4):  # interleaved rounds, so both see the same machine load
                direct_l += latencies(host, jport, path, direct_h, args.requests // 4)
                proxy_l += latencies("127.0.0.1", port, path, proxy_h, args.requests // 4)
            report(args, times, direct_s, proxy_s, direct_l, proxy_l)
        finally:
            if session_id is not None:
                with app.test_request_context():
                    sessions.delete_session(users.get_user("alice"), session_id)
                    db.session.remove()
            if os.path.exists(big):
                os.remove(big)
            if directory:
                UserFiles().remove_tree("alice", directory)


def report(args, times, direct_s, proxy_s, direct_l, proxy_l) -> None:
    mb = args.size_mb
    startup = times["ready"] - times["started"]
    p50_direct, p50_proxy = statistics.median(direct_l), statistics.median(proxy_l)
    result = {
        "slurm_start_s": round(times["started"] - times["submitted"], 3),
        "startup_after_slurm_s": round(startup, 3),
        "direct_MBps": round(mb / direct_s, 1), "proxy_MBps": round(mb / proxy_s, 1),
        "throughput_ratio": round(direct_s / proxy_s, 3),
        "p50_direct_ms": round(p50_direct * 1000, 2), "p50_proxy_ms": round(p50_proxy * 1000, 2),
        "p50_overhead_ms": round((p50_proxy - p50_direct) * 1000, 2),
    }
    result["ok"] = (startup <= 3.0 and result["throughput_ratio"] >= 0.5
                    and result["p50_overhead_ms"] <= 5.0)
    if args.json:
        print(json.dumps(result))
        return
    print(f"Slurm took {result['slurm_start_s']} s to start the job (not counted)")
    print(f"start-up after Slurm started it: {result['startup_after_slurm_s']} s (target <= 3)")
    print(f"{mb} MB: direct {result['direct_MBps']} MB/s, proxy {result['proxy_MBps']} MB/s, "
          f"ratio {result['throughput_ratio']} (target >= 0.5)")
    print(f"p50 latency: direct {result['p50_direct_ms']} ms, proxy {result['p50_proxy_ms']} "
          f"ms, overhead {result['p50_overhead_ms']} ms (target <= 5)")
    print("OK" if result["ok"] else "OVER TARGET")


if __name__ == "__main__":
    threading.stack_size(0)
    main()
