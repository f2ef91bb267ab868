"""Session gateway (issue #14): page loads while N websockets are open, and its throughput.

    .venv/bin/python bench/gateway_capacity.py [--n 1000] [--pages 100] [--size-mb 100]

Runs the portal as `make run` does: gunicorn (2 workers x 32 threads) on a private unix
socket behind `portal gateway` (a separate process, so its memory can be read), on its own
temporary database; starts one JupyterLab session as alice in a real Slurm job and prints:
- pages: p50/p95 of page loads (/, /jobs/, /sessions/, each on a new connection, as a
  browser opening a page) with no websocket open, then while N websockets are open
  through the gateway to the session's Jupyter (`/s/<id>/api/events/subscribe`, the kind
  JupyterLab keeps open), then idle again; ratio p95 with N open / p95 idle (target <= 1.5);
- errors: websockets that failed to open or were closed before the end, pages not 200
  (target 0);
- memory: the gateway process's RSS growth while the N are open, divided by N;
- throughput: a --size-mb file from the session's Jupyter via the gateway, directly, via
  the app's own WSGI proxy (gunicorn, for reference) and, where socat is installed, via
  `socat -b 1M` in the gateway's place (a C relay: the yardstick for what any proxy
  process costs on this machine) (curl, --repeat rounds, each round one download each
  way back to back, the order rotated every round, so all see the same machine load):
  per round direct time / gateway time, its median, min and max over rounds (target
  median >= 0.9), best / best, the same for socat, the relay process's CPU time per
  download (less at the mercy of the load than the times are), and the machine's load
  while it ran (1-minute load average, share of CPU time busy). --throughput-only skips
  the websocket and page phases.
Needs root (runuser) and the dev cluster up; cancels its session at the end. A benchmark:
it prints ratios, it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sessions_proxy import (  # noqa: E402 - the session bench's set-up, reused
    AGENT,
    SECRET,
    free_port,
    login,
    setup,
    start_session,
)

from portal import db  # noqa: E402
from portal.models import Session  # noqa: E402
from portal.services import sessionconn, sessions, users  # noqa: E402

PAGES = ("/", "/jobs/", "/sessions/")


def raise_open_files(n: int) -> None:
    """Each held websocket is a descriptor here (and two in the gateway)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 2 * n + 1024)) if hard != resource.RLIM_INFINITY else 2 * n + 1024
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def step(text: str) -> None:
    """Progress on stderr (the results go to stdout)."""
    print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def env(db_url: str) -> dict:
    return {**os.environ, "PORTAL_DATABASE_URL": db_url, "PORTAL_SECRET_KEY": SECRET,
            "PORTAL_SESSION_COOKIE_SECURE": "false", "PORTAL_LOGIN_RATE_LIMIT": "100/minute",
            "PORTAL_BEHIND_GATEWAY": "true"}


def wait_up(port: int, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited ({proc.returncode})")
        if page_status(port, "/login") == 200:
            return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not answer within 60 s")


def page_status(port: int, path: str, headers: dict | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except OSError:
        return 0
    finally:
        conn.close()


def time_pages(port: int, cookie: str, count: int) -> tuple[list[float], int]:
    headers = {"Cookie": cookie, "User-Agent": AGENT}
    times, errors = [], 0
    for i in range(count):
        t0 = time.perf_counter()
        status = page_status(port, PAGES[i % len(PAGES)], headers)
        times.append(time.perf_counter() - t0)
        errors += status != 200
    return times, errors


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Holder:
    """N websockets held open on an event loop in a thread."""

    def __init__(self, url: str, headers: dict, n: int, batch: int = 100):
        self.url, self.headers, self.n, self.batch = url, headers, n, batch
        self.loop = asyncio.new_event_loop()
        self.sockets: list = []
        self.failed = 0
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def _run(self, coro, timeout=600):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def open(self) -> float:
        async def go():
            self.client = aiohttp.ClientSession(headers=self.headers,
                                                connector=aiohttp.TCPConnector(limit=0))
            t0 = time.perf_counter()
            for start in range(0, self.n, self.batch):
                count = min(self.batch, self.n - start)
                got = await asyncio.gather(*[self.client.ws_connect(self.url)
                                             for _ in range(count)], return_exceptions=True)
                for item in got:
                    if isinstance(item, BaseException):
                        self.failed += 1
                    else:
                        self.sockets.append(item)
            return time.perf_counter() - t0
        return self._run(go())

    def closed_early(self) -> int:
        async def count():
            return sum(1 for ws in self.sockets if ws.closed)
        return self._run(count())

    def close(self) -> None:
        async def go():
            await asyncio.gather(*[ws.close() for ws in self.sockets], return_exceptions=True)
            await self.client.close()
        self._run(go())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000, help="websockets held open")
    parser.add_argument("--pages", type=int, default=100, help="page loads per phase")
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5, help="downloads each way")
    parser.add_argument("--throughput-only", action="store_true",
                        help="only the download comparison")
    parser.add_argument("--no-socat", action="store_true",
                        help="no socat yardstick in the download comparison")
    args = parser.parse_args()
    raise_open_files(args.n)
    tmp = tempfile.mkdtemp(prefix="portal-gwbench-")
    db_url = f"sqlite:///{tmp}/portal.db"
    app = setup(db_url)
    for name in os.listdir(tmp):  # the app refuses a database others can read
        os.chmod(os.path.join(tmp, name), 0o600)
    sock, port = f"{tmp}/app.sock", free_port()
    procs = []
    session_id, big = None, f"/home/alice/portal-gwbench-{os.getpid()}.bin"
    try:
        procs.append(subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "-c", "python:portal.gunicorn_conf",
             "--bind", f"unix:{sock}", "--workers", "2", "--threads", "32",
             "--log-level", "warning", "portal.wsgi:app"], cwd=ROOT, env=env(db_url)))
        gateway = subprocess.Popen(
            [str(ROOT / ".venv/bin/portal"), "gateway", "--bind", f"127.0.0.1:{port}",
             "--app", f"unix:{sock}"], cwd=ROOT, env=env(db_url),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(gateway)
        wait_up(port, gateway, "the gateway")
        base = f"http://127.0.0.1:{port}"
        cookie = login(base)
        step("starting a JupyterLab session in Slurm")
        session_id, _ = start_session(app, port, cookie)
        step(f"session {session_id} answers; timing idle pages")
        with app.app_context():
            row = db.session.get(Session, session_id)
            host, jport, token = row.host, row.jupyter_port, sessionconn.decrypt_token(row)
            db.session.remove()

        if not args.throughput_only:
            capacity(args, port, cookie, base, session_id, gateway.pid)
        step("downloads")
        subprocess.run(["runuser", "-u", "alice", "--", "dd", "if=/dev/urandom", f"of={big}",
                        "bs=1M", f"count={args.size_mb}", "status=none"], check=True)
        direct_h = {"Authorization": f"token {token}"}
        socat = None
        if shutil.which("socat") and not args.no_socat:
            socat_port = free_port()
            socat_proc = subprocess.Popen(
                ["socat", "-b", str(1 << 20), f"TCP-LISTEN:{socat_port},bind=127.0.0.1,"
                 "reuseaddr,fork", f"TCP:{host}:{jport}"], stderr=subprocess.DEVNULL)
            procs.append(socat_proc)
            wait_port(socat_port)
            socat = (f"http://127.0.0.1:{socat_port}", {**direct_h, "Host": f"{host}:{jport}"},
                     socat_proc.pid)
        throughput(args, f"/s/{session_id}/files/{os.path.basename(big)}",
                   direct=(f"http://{host}:{jport}", direct_h),
                   gateway=(base, {"Cookie": cookie, "User-Agent": AGENT}, gateway.pid),
                   sock=sock, socat=socat)
    finally:
        if session_id is not None:
            with app.test_request_context():
                sessions.delete_session(users.get_user("alice"), session_id)
                db.session.remove()
        subprocess.run(["runuser", "-u", "alice", "--", "rm", "-f", big], check=False)
        stop_all(procs)
        shutil.rmtree(tmp, ignore_errors=True)


def stop_all(procs) -> None:
    """SIGTERM each process still running, SIGKILL what has not ended 20 s later."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def capacity(args, port: int, cookie: str, base: str, session_id: int, gateway_pid: int):
    """Page loads idle, with N websockets open through the gateway, and idle again."""
    time_pages(port, cookie, 10)  # warm both processes
    idle, idle_err = time_pages(port, cookie, args.pages)
    rss0 = rss_kb(gateway_pid)
    holder = Holder(f"ws://127.0.0.1:{port}/s/{session_id}/api/events/subscribe",
                    {"Cookie": cookie, "Origin": base, "User-Agent": AGENT}, args.n)
    step(f"opening {args.n} websockets")
    open_s = holder.open()
    step(f"{len(holder.sockets)} open; timing pages")
    time.sleep(3)  # a re-check round with all of them open
    rss1 = rss_kb(gateway_pid)
    held, held_err = time_pages(port, cookie, args.pages)
    early = holder.closed_early()
    holder.close()
    after, after_err = time_pages(port, cookie, args.pages)
    idle_all = idle + after
    print(f"gateway capacity: {args.n} websockets through the gateway to one Jupyter "
          f"(session {session_id}), {args.pages} page loads per phase, "
          f"{os.cpu_count()} CPUs")
    print(f"  opened {len(holder.sockets)}/{args.n} in {open_s:.1f} s")
    print(f"  pages idle:      p50 {pct(idle_all, 50) * 1000:6.1f} ms  "
          f"p95 {pct(idle_all, 95) * 1000:6.1f} ms  (before {pct(idle, 95) * 1000:.1f}, "
          f"after {pct(after, 95) * 1000:.1f})")
    print(f"  pages {args.n} open: p50 {pct(held, 50) * 1000:6.1f} ms  "
          f"p95 {pct(held, 95) * 1000:6.1f} ms")
    print(f"  page p95 with {args.n} open / idle p95: "
          f"{pct(held, 95) / pct(idle_all, 95):.2f}  (target <= 1.5)")
    errors = holder.failed + early + idle_err + held_err + after_err
    print(f"  errors: {errors} (websockets failed {holder.failed}, closed early {early}; "
          f"pages not 200: {idle_err + held_err + after_err})")
    print(f"  gateway RSS: {rss0 / 1024:.1f} MiB idle, {rss1 / 1024:.1f} MiB with "
          f"{args.n} open: {(rss1 - rss0) / max(1, len(holder.sockets)):.1f} KiB per "
          "open websocket", flush=True)


def throughput(args, path: str, direct: tuple, gateway: tuple, sock: str,
               socat: tuple | None = None) -> None:
    """The same file directly from Jupyter, through the gateway (and the others), in
    rounds: each round every way once, the order rotated, so load hits all alike."""
    size, mb = args.size_mb << 20, args.size_mb
    curl_seconds(gateway[0] + path, gateway[1], size)  # warm: the decision, the page cache
    # The app's own WSGI proxy (what served /s/ before the gateway), as the gateway
    # calls it: on its unix socket, with the client's address in X-Forwarded-For.
    wsgi_h = {**gateway[1], "X-Forwarded-For": "127.0.0.1"}
    ways = {"direct": lambda: curl_seconds(direct[0] + path, direct[1], size),
            "gateway": lambda: curl_seconds(gateway[0] + path, gateway[1], size),
            "wsgi": lambda: curl_seconds(f"http://127.0.0.1{path}", wsgi_h, size,
                                         unix=sock)}
    if socat is not None:
        ways["socat"] = lambda: curl_seconds(socat[0] + path, socat[1], size)
    times: dict[str, list[float]] = {way: [] for way in ways}
    names = list(ways)
    relays = {"gateway": gateway[2], **({"socat": socat[2]} if socat else {})}
    loads, cpu0 = [load_average()], cpu_times()
    used0 = {way: process_cpu(pid) for way, pid in relays.items()}
    for i in range(args.repeat):
        for way in names[i % len(names):] + names[:i % len(names)]:
            times[way].append(ways[way]())
        loads.append(load_average())
    busy = cpu_busy(cpu0, cpu_times())
    used = {way: (process_cpu(pid) - used0[way]) / args.repeat for way, pid in relays.items()}
    rate = {way: mb / statistics.median(values) for way, values in times.items()}
    print(f"  {mb} MB download, {args.repeat} rounds: "
          + ", ".join(f"{way} {rate[way]:.0f} MB/s" for way in names) + " (medians)")
    print(f"  load while downloading: 1-min load average {min(loads):.2f}-{max(loads):.2f} "
          f"(median {statistics.median(loads):.2f}) on {os.cpu_count()} CPUs, "
          f"CPU busy {busy:.0%}")
    for way, target in (("gateway", "  (target >= 0.9)"), ("socat", "  (yardstick)")):
        if way not in times:
            continue
        ratios = [d / t for d, t in zip(times["direct"], times[way], strict=True)]
        print(f"  throughput {way} / direct: median {statistics.median(ratios):.2f}, "
              f"min {min(ratios):.2f}, max {max(ratios):.2f} over rounds "
              f"({' '.join(f'{r:.2f}' for r in ratios)}), best/best "
              f"{min(times['direct']) / min(times[way]):.2f}{target}; the relay process's CPU "
              f"{used[way] * 1000:.0f} ms per download")
    print(f"  the app's WSGI proxy / direct: {rate['wsgi'] / rate['direct']:.2f} (curl on its "
          "unix socket: no second TCP hop, so not comparable)", flush=True)


def load_average() -> float:
    return os.getloadavg()[0]


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def process_cpu(pid: int) -> float:
    """CPU seconds a process and its reaped children used (socat forks per connection)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def cpu_busy(before: tuple[int, int], after: tuple[int, int]) -> float:
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total else 0.0


def wait_port(port: int) -> None:
    """Until something listens on 127.0.0.1:`port` (socat, just started)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def curl_seconds(url: str, headers: dict, size: int, unix: str | None = None) -> float:
    """One download with curl (fails unless 200 and the whole body came)."""
    argv = ["curl", "-sf", "-o", "/dev/null", "-w", "%{time_total} %{http_code} %{size_download}"]
    if unix:
        argv += ["--unix-socket", unix]
    for key, value in headers.items():
        argv += ["-H", f"{key}: {value}"]
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    seconds, code, got = out.split()
    if code != "200" or int(got) != size:
        raise SystemExit(f"{url}: HTTP {code}, {got} of {size} bytes")
    return float(seconds)


if __name__ == "__main__":
    main()
