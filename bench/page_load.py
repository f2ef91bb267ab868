"""Page loads as a class of users makes them (issue #14): latency percentiles, and the
slurmctld RPCs each page view costs.

    .venv/bin/python bench/page_load.py [--users 200] [--think 10] [--duration 60]

Runs the portal as `make run` does (gunicorn, 2 workers x 32 threads, on a private unix
socket behind `portal gateway`), on its own temporary database with --accounts logged-in
accounts in one project (alice, bob, carol and more on their Unix accounts), --jobs ended
jobs each in the database and a read-only API token each. Then --users simulated users
browse for --duration seconds, open loop: each user's page views are scheduled in advance
(a random start, then exponentially distributed think times of mean --think s) and sent at
their time whether or not the previous one has been answered, so a slow portal meets the
same arrivals instead of being given a rest. A user shares its account's login with the
other users of that account (a person with several tabs). Each view is one of the pages
people use (dashboard, jobs list and a job, sessions, projects and a project, orders,
wallet) or an API list call (jobs, sessions, projects, with the token).

Prints p50/p95/p99 over all views (time from the view's scheduled moment to its last
byte) and per page, errors (not 200 or no answer in 30 s, target 0), and controller RPCs
per page view: slurmctld's RPC counters (`sdiag`, adapters/sdiag.py) before and after the
views, less sdiag's own, divided by the views. The dev cluster is shared, so another
process (a worker, a test) may talk to slurmctld meanwhile: the bench also reads the
counters over an idle window of --idle s first and subtracts that background rate, and
counts exactly the Slurm commands the portal under test ran while serving (its Slurm
clients are wrappers that log each call). Target 0: pages read the worker's cached state.
No worker runs during the views (one cycle fills the caches first).
Needs root (Unix accounts) and the dev cluster up. A benchmark: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from gateway_capacity import (  # noqa: E402
    env,
    pct,
    raise_open_files,
    step,
    stop_all,
    wait_up,
)
from sessions_proxy import AGENT, PASSWORD, free_port, setup  # noqa: E402

from adapters.runner import CommandRunner  # noqa: E402
from adapters.sdiag import RpcCounts, read_rpc_counts  # noqa: E402
from portal import db  # noqa: E402
from portal.models import Job, Membership, Project  # noqa: E402
from portal.services import NotFound, tokens, users  # noqa: E402

UNIX_USERS = ("alice", "bob", "carol")
SLURM_COMMANDS = ("sacct", "sacctmgr", "salloc", "sattach", "sbatch", "sbcast", "scancel",
                  "scontrol", "sdiag", "sinfo", "sprio", "squeue", "sreport", "srun", "sshare",
                  "sstat", "strigger")
SDIAG_OWN = "REQUEST_STATS_INFO"  # each sdiag reading is itself one RPC
# (weight, kind, path template): what people open, roughly how often.
VIEWS = (
    (15, "dashboard", "/"),
    (20, "jobs", "/jobs/"),
    (8, "job", "/jobs/{job}"),
    (15, "sessions", "/sessions/"),
    (5, "projects", "/projects/"),
    (5, "project", "/projects/{project}"),
    (4, "orders", "/orders/"),
    (4, "keys", "/keys/"),
    (12, "api jobs", "/api/v1/jobs"),
    (6, "api sessions", "/api/v1/sessions"),
    (6, "api projects", "/api/v1/projects"),
)


class Account:
    """A logged-in portal account: its cookie, its API token, one of its jobs."""

    def __init__(self, name: str, cookie: str, token: str, job_id: int):
        self.name, self.cookie, self.token, self.job_id = name, cookie, token, job_id

    def headers(self, path: str) -> dict:
        if path.startswith("/api/"):
            return {"Authorization": f"Bearer {self.token}", "User-Agent": AGENT}
        return {"Cookie": self.cookie, "User-Agent": AGENT}


def seed(app, count: int, jobs: int) -> list[tuple[str, str, int]]:
    """`count` accounts in proja with `jobs` ended jobs and a read token each:
    [(name, token, a job id)] (alice exists already: setup made her)."""
    out = []
    rng = random.Random(5)
    with app.test_request_context():
        project = db.session.query(Project).filter_by(account="proja").one()
        now = db.utcnow()
        for i in range(count):
            unix = UNIX_USERS[i % len(UNIX_USERS)]
            name = unix if i < len(UNIX_USERS) else f"{unix}{i:02d}"
            try:
                user = users.get_user(name)
            except NotFound:
                user, _ = users.create_user(name, unix_user=unix, password=PASSWORD)
                db.session.add(Membership(user_id=user.id, project_id=project.id))
                db.session.commit()
            rows = []
            for n in range(jobs):
                created = now - timedelta(minutes=rng.randrange(10, 30 * 24 * 60))
                rows.append(Job(
                    uuid=uuid.uuid4().hex, user_id=user.id, project_id=project.id,
                    name=f"train-{n}", account="proja", directory=f"/home/{unix}/jobs/{n}",
                    script="#!/bin/bash\npython train.py\n", sbatch_args=[],
                    slurm_job_id=str(9_000_000 + i * 1000 + n),
                    state=rng.choice(("completed", "completed", "failed", "cancelled")),
                    image="jupyter", command="python train.py", cpus=2, mem_gb=4,
                    gpu_model="a100", gpu_count=rng.choice((0, 1, 2)),
                    nodes="vm", exit_code=0, created_at=created, submitted_at=created,
                    started_at=created + timedelta(minutes=1),
                    ended_at=created + timedelta(minutes=rng.randrange(2, 600))))
            db.session.add_all(rows)
            db.session.commit()
            _, token = tokens.create_token(user, "page-load bench", "read")
            out.append((name, token, rows[0].id))
        db.session.remove()
    return out


def login(base: str, username: str) -> str:
    """Log in through the login form (as a browser does); the Cookie header it got."""
    jar = urllib.request.HTTPCookieProcessor()
    opener = urllib.request.build_opener(jar)
    opener.addheaders = [("User-Agent", AGENT)]
    page = opener.open(base + "/login").read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"username": username, "password": PASSWORD,
                                   "csrf_token": token, "next": ""}).encode()
    opener.open(base + "/login", data=body).read()
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar.cookiejar)
    if "session" not in cookie and "remember" not in cookie:
        raise SystemExit(f"could not log in as {username}")
    return cookie


def slurm_wrappers() -> tuple[str, str]:
    """A directory of Slurm clients that log every call, then run the real one
    (PORTAL_SLURM_BIN_DIR for the portal under test): (dir, log). World-readable: the
    portal runs some commands as the users."""
    tmp = tempfile.mkdtemp(prefix="portal-pageload-slurm-")
    bin_dir = os.path.join(tmp, "bin")
    os.makedirs(bin_dir)
    log = os.path.join(tmp, "calls.log")
    Path(log).touch()
    os.chmod(tmp, 0o755)
    os.chmod(log, 0o666)
    for name in SLURM_COMMANDS:
        real = shutil.which(name)
        if real is None:
            continue
        path = os.path.join(bin_dir, name)
        Path(path).write_text(f'#!/bin/sh\necho "{name} $*" >>{log}\nexec {real} "$@"\n')
        os.chmod(path, 0o755)
    return bin_dir, log


def schedule(users: int, think: float, duration: float, accounts: int, seed: int):
    """Every page view of the run, decided before it starts: [(at, account, kind, path)]."""
    rng = random.Random(seed)
    weights = [w for w, _, _ in VIEWS]
    plan = []
    for user in range(users):
        at = rng.uniform(0, think)
        while at < duration:
            _, kind, path = rng.choices(VIEWS, weights)[0]
            plan.append((at, user % accounts, kind, path))
            at += rng.expovariate(1 / think)
    plan.sort()
    return plan


async def browse(base: str, accounts: list[Account], plan, project_id: int):
    """Send each view at its time (not after the previous answer); [(kind, seconds from
    its scheduled moment to its last byte, ok)]."""
    results: list[tuple[str, float, bool]] = []
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout,
                                     cookie_jar=aiohttp.DummyCookieJar()) as client:
        loop = asyncio.get_running_loop()

        async def view(due: float, account: Account, kind: str, path: str):
            ok = False
            try:
                async with client.get(base + path, headers=account.headers(path),
                                      allow_redirects=False) as resp:
                    await resp.read()
                    ok = resp.status == 200
            except (TimeoutError, aiohttp.ClientError):
                pass
            results.append((kind, loop.time() - due, ok))

        start = loop.time() + 0.5
        tasks = []
        for at, index, kind, template in plan:
            account = accounts[index]
            path = template.format(job=account.job_id, project=project_id)
            due = start + at
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(view(due, account, kind, path)))
        await asyncio.gather(*tasks)
    return results


def controller_rpcs(runner: CommandRunner, earlier: RpcCounts | None = None):
    now = read_rpc_counts(runner)
    if earlier is None:
        return now
    spent = now.since(earlier)
    return now, spent.total - spent.by_type.get(SDIAG_OWN, 0), spent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--think", type=float, default=10.0,
                        help="mean seconds between one user's page views")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--accounts", type=int, default=12)
    parser.add_argument("--jobs", type=int, default=30, help="ended jobs per account")
    parser.add_argument("--idle", type=float, default=15.0,
                        help="seconds of controller background measured first")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    raise_open_files(args.users)
    tmp = tempfile.mkdtemp(prefix="portal-pageload-")
    db_url = f"sqlite:///{tmp}/portal.db"
    app = setup(db_url)
    with app.app_context():
        project_id = db.session.query(Project).filter_by(account="proja").one().id
        db.session.remove()
    made = seed(app, args.accounts, args.jobs)
    for name in os.listdir(tmp):  # the app refuses a database others can read
        os.chmod(os.path.join(tmp, name), 0o600)
    bin_dir, call_log = slurm_wrappers()
    sock, port = f"{tmp}/app.sock", free_port()
    run_env = {**env(db_url), "PORTAL_SLURM_BIN_DIR": bin_dir}
    procs = []
    runner = CommandRunner()
    try:
        procs.append(subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "-c", "python:portal.gunicorn_conf",
             "--bind", f"unix:{sock}", "--workers", "2", "--threads", "32",
             "--log-level", "warning", "portal.wsgi:app"], cwd=ROOT, env=run_env))
        gateway = subprocess.Popen(
            [str(ROOT / ".venv/bin/portal"), "gateway", "--bind", f"127.0.0.1:{port}",
             "--app", f"unix:{sock}"], cwd=ROOT, env=run_env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(gateway)
        wait_up(port, gateway, "the gateway")
        base = f"http://127.0.0.1:{port}"
        step(f"logging in {len(made)} accounts")
        accounts = [Account(name, login(base, name), token, job)
                    for name, token, job in made]
        step("warming every page once per account")
        warm = [(0.0, i, kind, path) for i in range(len(accounts)) for _, kind, path in VIEWS]
        refused = {kind for kind, _, ok in asyncio.run(
            browse(base, accounts, warm, project_id)) if not ok}
        if refused:
            raise SystemExit(f"pages not answering 200 before the run: {sorted(refused)}")
        plan = schedule(args.users, args.think, args.duration, len(accounts), args.seed)

        step(f"controller background over {args.idle:.0f} s")
        before_idle = controller_rpcs(runner)
        t0 = time.monotonic()
        time.sleep(args.idle)
        before, idle_rpcs, _ = controller_rpcs(runner, before_idle)
        background = idle_rpcs / (time.monotonic() - t0)
        calls_before = len(Path(call_log).read_text().splitlines())

        step(f"{len(plan)} page views by {args.users} users over {args.duration:.0f} s")
        t1 = time.monotonic()
        results = asyncio.run(browse(base, accounts, plan, project_id))
        elapsed = time.monotonic() - t1
        _, rpcs, spent = controller_rpcs(runner, before)
        calls = Path(call_log).read_text().splitlines()[calls_before:]
        report(args, results, elapsed, rpcs, background, spent, calls)
    finally:
        stop_all(procs)
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(os.path.dirname(bin_dir), ignore_errors=True)


def report(args, results, elapsed, rpcs, background, spent, calls) -> None:
    views = len(results)
    times = [seconds for _, seconds, _ in results]
    errors = sum(1 for _, _, ok in results if not ok)
    print(f"page load: {args.users} users, think time {args.think:g} s (open loop), "
          f"{views} views in {elapsed:.0f} s ({views / elapsed:.1f}/s), "
          f"{os.cpu_count()} CPUs, through the gateway")
    print(f"  all views: p50 {pct(times, 50) * 1000:6.1f} ms  p95 {pct(times, 95) * 1000:6.1f} "
          f"ms  p99 {pct(times, 99) * 1000:6.1f} ms  (from each view's scheduled moment)")
    for _, kind, _ in VIEWS:
        mine = [s for k, s, _ in results if k == kind]
        if len(mine) > 1:
            print(f"    {kind:13} {len(mine):5d} views  p50 {statistics.median(mine) * 1000:6.1f}"
                  f" ms  p95 {pct(mine, 95) * 1000:6.1f} ms")
    print(f"  errors: {errors} (not 200 or no answer in 30 s)")
    corrected = max(0.0, rpcs - background * elapsed)
    types = {name: n for name, n in sorted(spent.by_type.items()) if name != SDIAG_OWN}
    print(f"  slurmctld RPCs during the views (all clients of the shared cluster, less "
          f"sdiag's own): {rpcs} {types} by {spent.by_user}")
    print(f"  slurmctld RPCs per page view: {rpcs / max(views, 1):.3f} raw, "
          f"{corrected / max(views, 1):.3f} less the background measured idle "
          f"({background:.2f}/s)  (target 0)")
    print(f"  Slurm commands the portal under test ran while serving them: {len(calls)} "
          f"({len(calls) / max(views, 1):.3f} per view){': ' if calls else ''}"
          f"{', '.join(sorted({c.split(' ', 1)[0] for c in calls}))}")

if __name__ == "__main__":
    main()
