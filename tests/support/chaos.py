"""Chaos on the real dev cluster (issue #13): a portal of its own, load, outages, counts.

Used by tests/integration/portal/test_chaos_short.py (`make test`, marker `disruptive`)
and bench/chaos.py (the long form). What a user or an operator would check:

- `ChaosPortal`: a separate portal install, as `make run` starts it: gunicorn and the
  worker, each under etc/supervise.sh, with a private state directory and SQLite
  database. It changes nothing in Slurm's accounts (no billing weights, no budgets; the
  adopted demo project proja); its jobs run as alice in proja.
- `Load`: clients in threads — page readers (logged in through the real form), an API
  lister, a creator that sends each create with an Idempotency-Key and retries it with the
  same key after a dropped connection or a 5xx other than 503, as a careful client does.
- Outages that are ALWAYS undone in a `finally`: `frozen_slurmctld` (SIGSTOP/SIGCONT),
  `stopped_slurmdbd` and `stopped_mariadb` (stopped, then `cluster.sh start`).
- `verdict`: exactly one Slurm job per portal job (by its tag, squeue and sacct), keys
  that became one job each, charges per job, reads per phase, the worker's heartbeat.
"""

from __future__ import annotations

import http.client
import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from portal.config import REPO_ROOT, Defaults
from tests.support.waiting import wait_for

BIN = Path(sys.executable).parent
SUPERVISE = REPO_ROOT / "etc" / "supervise.sh"
CLUSTER_SH = REPO_ROOT / "etc" / "devcluster" / "cluster.sh"
USER, ACCOUNT = "alice", "proja"
PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def wait_until(predicate, limit: float, what: str, step: float = 0.2):
    return wait_for(predicate, limit, step, what)


# -- the portal -----------------------------------------------------------------------------


@dataclass
class ChaosPortal:
    root: Path
    interval: float = 2.0  # the worker's cycle
    command_timeout: float = 10.0
    settle_seconds: float = 20.0  # SUBMIT_SETTLE_SECONDS (production: 60)
    inflight_seconds: float = 40.0  # SUBMIT_INFLIGHT_SECONDS (production: 150)
    port: int = field(default_factory=free_port)
    procs: dict = field(default_factory=dict)
    token: str = ""
    started_at: datetime | None = None
    extra_env: dict = field(default_factory=dict)  # e.g. PORTAL_SLURM_CONF for devmulti

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def url(self) -> str:
        return f"sqlite:///{self.state / 'portal.db'}"

    def env(self) -> dict:
        return {
            **os.environ,
            "PORTAL_DATABASE_URL": self.url,
            "PORTAL_STATE_DIR": str(self.state),
            "PORTAL_CONFIG": str(self.root / "none.toml"),
            "PORTAL_SECRET_KEY": "chaos-" + uuid.uuid4().hex,
            "PORTAL_SESSION_COOKIE_SECURE": "false",
            "PORTAL_BILLING_WEIGHTS_APPLY": "false",
            "PORTAL_WALLET_ENFORCE": "false",
            "PORTAL_ACTIVATION_REQUIRED": "false",
            "PORTAL_COMMAND_TIMEOUT": str(self.command_timeout),
            "PORTAL_SUBMIT_SETTLE_SECONDS": str(self.settle_seconds),
            "PORTAL_SUBMIT_INFLIGHT_SECONDS": str(self.inflight_seconds),
            # sacctmgr changes of every portal on this host wait for one lock (none here)
            "PORTAL_SLURMDBD_LOCK_FILE": Defaults.SLURMDBD_LOCK_FILE,
            "SUPERVISE_MAX_DELAY": "2",
            **self.extra_env,
        }

    def setup(self) -> None:
        """The database, alice in proja with an API token (made here, as `portal` would)."""
        from portal import create_app, db
        from portal.migrate import upgrade
        from portal.services import tokens
        from tests.support.members import add_member

        self.state.mkdir(parents=True)
        self.state.chmod(0o700)
        upgrade(self.url)
        (self.state / "portal.db").chmod(0o600)
        app = create_app({"DATABASE_URL": self.url, "SECRET_KEY": "setup", "TESTING": True})
        with app.app_context():
            user = add_member(USER, ACCOUNT)
            _, self.token = tokens.create_token(user, "chaos")
            db.session.remove()
        app.extensions["db_engine"].dispose()
        self.started_at = datetime.now(UTC) - timedelta(seconds=5)

    def _supervise(self, name: str, *command: str) -> None:
        log = (self.state / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            ["bash", str(SUPERVISE), "--name", name, "--child-pidfile",
             str(self.state / f"{name}-child.pid"), "--", *command],
            env=self.env(), stdout=log, stderr=log, start_new_session=True, cwd=REPO_ROOT)

    def start(self) -> None:
        self._supervise("worker", str(BIN / "portal"), "worker", "--interval",
                        str(self.interval))
        self._supervise("web", str(BIN / "gunicorn"), "-c", "python:portal.gunicorn_conf",
                        "--bind", f"127.0.0.1:{self.port}", "--workers", "2", "--threads",
                        "16", "--graceful-timeout", "5", "portal.wsgi:app")
        wait_until(lambda: self.get("/api/v1/me")[0] == 200, 60, "gunicorn to answer")
        wait_until(self.heartbeat, 60, "the worker's first heartbeat")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        for name in ("worker", "web"):  # nothing of ours may outlive the test
            pid = self.child(name)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)

    def child(self, name: str) -> int | None:
        try:
            pid = int((self.state / f"{name}-child.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    def web_workers(self) -> list[int]:
        master = self.child("web")
        if not master:
            return []
        children = Path(f"/proc/{master}/task/{master}/children")
        try:
            return [int(p) for p in children.read_text().split()]
        except OSError:
            return []

    # -- reading its state (as another process would) --------------------------------------

    def query(self, sql: str, **params) -> list[tuple]:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(text(sql), params)]
        finally:
            engine.dispose()

    def heartbeat(self) -> dict | None:
        rows = self.query("SELECT pid, beat_at, cycle_started_at, cycles, steps "
                          "FROM worker_heartbeats")
        if not rows:
            return None
        pid, beat_at, started, cycles, steps = rows[0]
        steps = json.loads(steps) if isinstance(steps, str) else steps
        return {"pid": pid, "beat_at": _naive(beat_at), "cycle_started_at": _naive(started),
                "cycles": cycles, "steps": steps}

    # -- HTTP -------------------------------------------------------------------------------

    def request(self, method: str, path: str, *, body=None, headers=None, timeout=60.0,
                cookies: http.cookiejar.CookieJar | None = None, form=None):
        """(status, parsed JSON or text, headers); raises OSError on a dropped connection."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        head = dict(headers or {})
        data = None
        if body is not None:
            data, head["Content-Type"] = json.dumps(body), "application/json"
        elif form is not None:
            from urllib.parse import urlencode

            data, head["Content-Type"] = urlencode(form), "application/x-www-form-urlencoded"
        if cookies is not None and len(cookies):
            head["Cookie"] = "; ".join(f"{c.name}={c.value}" for c in cookies)
        try:
            conn.request(method, path, body=data, headers=head)
            response = conn.getresponse()
            raw = response.read()
            if cookies is not None:
                for value in response.headers.get_all("Set-Cookie") or []:
                    name, _, rest = value.partition("=")
                    cookies.set_cookie(_cookie(name, rest.split(";", 1)[0]))
        finally:
            conn.close()
        text = raw.decode("utf-8", "replace")
        if response.headers.get("Content-Type", "").startswith("application/json"):
            return response.status, json.loads(text or "null"), response.headers
        return response.status, text, response.headers

    def get(self, path: str, **kwargs):
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        try:
            return self.request("GET", path, headers=headers, **kwargs)
        except OSError as exc:
            return None, str(exc), {}

    def login(self) -> http.cookiejar.CookieJar:
        jar = http.cookiejar.CookieJar()
        _, page, _ = self.request("GET", "/login", cookies=jar)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        status, _, _ = self.request("POST", "/login", cookies=jar, form={
            "username": USER, "password": PASSWORD, "csrf_token": token, "next": ""})
        assert status == 302, f"login answered {status}"
        return jar


def _cookie(name: str, value: str) -> http.cookiejar.Cookie:
    return http.cookiejar.Cookie(0, name, value, None, False, "127.0.0.1", False, False, "/",
                                 True, False, None, False, None, None, {})


def _naive(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


# -- load -----------------------------------------------------------------------------------


@dataclass
class Read:
    at: float
    kind: str
    seconds: float
    status: int | None  # None: no answer (connection refused or dropped)


@dataclass
class Create:
    key: str
    started: float
    seconds: float = 0.0
    attempts: int = 0
    status: int | None = None
    code: str = ""
    outage: str = ""
    job_id: int | None = None
    errors: list = field(default_factory=list)


class Load:
    """Readers and creators in threads until `stop()`. `create_every` seconds between
    creates (each in its own thread, so a hung one does not delay the next)."""

    def __init__(self, portal: ChaosPortal, *, page_readers: int = 2, list_every: float = 1.0,
                 page_every: float = 0.5, create_every: float = 2.0, prefix: str = "chaos",
                 retry_for: float = 90.0):
        self.portal, self.prefix, self.retry_for = portal, prefix, retry_for
        self.page_readers, self.list_every = page_readers, list_every
        self.page_every, self.create_every = page_every, create_every
        self.reads: list[Read] = []
        self.creates: list[Create] = []
        self.posting = threading.Event()  # set while a create's request is in flight
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._creators: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.t0 = time.monotonic()

    def start(self) -> Load:
        jars = [self.portal.login() for _ in range(self.page_readers)]
        for jar in jars:
            self._thread(self._pages, jar)
        self._thread(self._lister)
        self._thread(self._creator)
        return self

    def _thread(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _read(self, kind: str, path: str, **kwargs) -> None:
        started = time.monotonic()
        try:
            status, _, _ = self.portal.request("GET", path, timeout=30, **kwargs)
        except OSError:
            status = None
        with self._lock:
            self.reads.append(Read(started - self.t0, kind, time.monotonic() - started, status))

    def _pages(self, jar) -> None:
        pages = ("/jobs/", "/", "/sessions/")
        i = 0
        while not self._stop.wait(self.page_every):
            self._read("page", pages[i % len(pages)], cookies=jar)
            i += 1

    def _lister(self) -> None:
        auth = {"Authorization": f"Bearer {self.portal.token}"}
        while not self._stop.wait(self.list_every):
            self._read("list", "/api/v1/jobs", headers=auth)

    def _creator(self) -> None:
        n = 0
        while not self._stop.wait(self.create_every):
            n += 1
            thread = threading.Thread(target=self._create, args=(n,), daemon=True)
            thread.start()
            self._creators.append(thread)

    def _create(self, n: int) -> None:
        record = Create(key=f"{self.prefix}-{uuid.uuid4().hex[:12]}",
                        started=time.monotonic() - self.t0)
        with self._lock:
            self.creates.append(record)
        headers = {"Authorization": f"Bearer {self.portal.token}", "Idempotency-Key": record.key}
        body = {"name": f"{self.prefix}-{n}", "cpus": 1, "mem_gb": 1, "image": "base",
                "command": "sleep 2", "time_limit": 5}
        deadline = time.monotonic() + self.retry_for
        began = time.monotonic()
        while True:
            record.attempts += 1
            self.posting.set()
            try:
                status, answer, _ = self.portal.request("POST", "/api/v1/jobs", body=body,
                                                        headers=headers, timeout=120)
            except OSError as exc:  # dropped (gunicorn killed): retry with the same key
                record.errors.append(f"no answer: {exc}")
                status, answer = None, None
            finally:
                self.posting.clear()
            if status is not None and (status < 500 or status == 503) and status != 409:
                break
            if status is not None:
                record.errors.append(f"{status}: {str(answer)[:120]}")
            if time.monotonic() > deadline:
                break
            time.sleep(1.0)
        record.seconds, record.status = time.monotonic() - began, status
        if isinstance(answer, dict):
            error = answer.get("error") or {}
            record.code, record.outage = error.get("code", ""), error.get("outage", "")
            record.job_id = answer.get("id") or error.get("job_id") or (
                answer.get("job") or {}).get("id")

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(40)
        for thread in self._creators:
            thread.join(self.retry_for + 130)


# -- outages (always undone) ----------------------------------------------------------------


def _pid_from(conf_key: str, program: str) -> int:
    out = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True,
                         timeout=30).stdout
    path = next(line.split("=", 1)[1].strip() for line in out.splitlines()
                if line.split("=", 1)[0].strip() == conf_key)
    pid = int(Path(path).read_text().split()[0])
    assert program.encode() in Path(f"/proc/{pid}/cmdline").read_bytes(), (pid, program)
    return pid


def slurmctld_pid() -> int:
    return _pid_from("SlurmctldPidFile", "slurmctld")


def slurmdbd_pid() -> int:
    for line in subprocess.run(["pgrep", "-x", "slurmdbd"], capture_output=True,
                               text=True).stdout.split():
        return int(line)
    raise AssertionError("slurmdbd is not running")


def cluster_start() -> float:
    """`cluster.sh start` (starts what is not running); returns its seconds."""
    started = time.monotonic()
    subprocess.run(["bash", str(CLUSTER_SH), "start"], capture_output=True, timeout=300,
                   check=False)
    return time.monotonic() - started


@contextmanager
def frozen_slurmctld() -> Iterator[int]:
    pid = slurmctld_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        yield pid
    finally:
        os.kill(pid, signal.SIGCONT)


@contextmanager
def stopped_slurmdbd() -> Iterator[int]:
    pid = slurmdbd_pid()
    try:
        os.kill(pid, signal.SIGTERM)
        wait_until(lambda: not _alive(pid), 30, "slurmdbd to stop")
        yield pid
    finally:
        cluster_start()


@contextmanager
def stopped_mariadb() -> Iterator[None]:
    try:
        subprocess.run(["mysqladmin", "-u", "root", "shutdown"], capture_output=True,
                       timeout=60, check=False)
        yield None
    finally:
        cluster_start()


# -- the verdict ------------------------------------------------------------------------------


def slurm_jobs_by_tag(portal: ChaosPortal) -> dict[str, list]:
    """Every Slurm job of alice since the portal started (squeue and sacct), by comment."""
    from adapters.scheduler import SlurmScheduler

    slurm = SlurmScheduler()
    found = {j.id: j for j in slurm.history(since=portal.started_at, user=USER)}
    found.update({j.id: j for j in slurm.info_all(user=USER)})
    by_tag: dict[str, list] = {}
    for job in found.values():
        if job.comment:
            by_tag.setdefault(job.comment, []).append(job)
    return by_tag


def portal_jobs(portal: ChaosPortal) -> list[dict]:
    rows = portal.query("SELECT id, uuid, state, slurm_job_id, error FROM jobs")
    return [dict(zip(("id", "uuid", "state", "slurm_job_id", "error"), r, strict=True))
            for r in rows]


def unresolved(portal: ChaosPortal) -> list[dict]:
    """Jobs whose sbatch got no answer and that the worker has not resolved yet."""
    return [j for j in portal_jobs(portal)
            if j["slurm_job_id"] is None and j["state"] == "submitting"]


def cancel_all(portal: ChaosPortal) -> None:
    """Cancel every live Slurm job this portal made (by its tags), as root."""
    tags = {f"portal-job-{j['uuid']}" for j in portal_jobs(portal)}
    from adapters.scheduler import SlurmScheduler

    for job in SlurmScheduler().info_all(user=USER):
        if job.comment in tags and not job.state.is_terminal:
            subprocess.run(["scancel", "--", job.id], capture_output=True, timeout=30)


def p95(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


@dataclass
class Verdict:
    portal_jobs: int
    slurm_jobs: int
    duplicates: list  # (portal job id, [slurm ids]) with more than one Slurm job
    missing: list  # portal jobs with a Slurm id that Slurm does not know by its tag
    ghosts: list  # "never reached Slurm" jobs that Slurm does know
    unresolved: list
    keys: int
    keys_without_one_job: list
    charges: int
    double_charged: list
    creates_by_status: dict
    read_errors: int
    read_p95: float
    reads: int

    def lines(self) -> list[str]:
        return [
            f"portal jobs {self.portal_jobs}, Slurm jobs with their tags {self.slurm_jobs}, "
            f"duplicates {len(self.duplicates)}, missing {len(self.missing)}, "
            f"ghosts {len(self.ghosts)}, unresolved {len(self.unresolved)}",
            f"creates {sum(self.creates_by_status.values())} by answer "
            f"{dict(sorted(self.creates_by_status.items()))}; keys not one job: "
            f"{len(self.keys_without_one_job)}",
            f"charges {self.charges}, portal jobs charged twice {len(self.double_charged)}",
            f"reads {self.reads}, errors {self.read_errors}, p95 {self.read_p95:.3f} s",
        ]


def verdict(portal: ChaosPortal, load: Load, reads: list[Read] | None = None) -> Verdict:
    jobs = portal_jobs(portal)
    by_tag = slurm_jobs_by_tag(portal)
    duplicates, missing, ghosts, slurm_ids = [], [], [], {}
    for job in jobs:
        carrying = sorted((j.id for j in by_tag.get(f"portal-job-{job['uuid']}", [])), key=int)
        slurm_ids[job["id"]] = carrying
        if len(carrying) > 1:
            duplicates.append((job["id"], carrying))
        if job["slurm_job_id"] and carrying != [job["slurm_job_id"]] and len(carrying) < 2:
            missing.append((job["id"], job["slurm_job_id"], carrying))
        if job["slurm_job_id"] is None and job["state"] == "failed" and carrying:
            ghosts.append((job["id"], carrying))
    # Idempotency keys: each create that got an answer names one job; a retried create
    # names the job of its first attempt.
    keys = portal.query("SELECT key, resource FROM idempotency_keys")
    by_key = {k: r for k, r in keys}
    wrong = [c.key for c in load.creates
             if c.status in (201, 503) and c.job_id is not None
             and by_key.get(c.key) not in (f"job:{c.job_id}", None)]
    charges = portal.query("SELECT job_id FROM wallet_transactions WHERE kind = 'charge'")
    charged = {str(r[0]) for r in charges}
    double = [(pid, ids) for pid, ids in slurm_ids.items()
              if sum(i in charged for i in ids) > 1]
    reads = load.reads if reads is None else reads
    statuses: dict = {}
    for create in load.creates:
        label = f"{create.status}{' ' + create.outage if create.outage else ''}"
        statuses[label] = statuses.get(label, 0) + 1
    return Verdict(
        portal_jobs=len(jobs), slurm_jobs=sum(len(v) for v in slurm_ids.values()),
        duplicates=duplicates, missing=missing, ghosts=ghosts, unresolved=unresolved(portal),
        keys=len(keys), keys_without_one_job=wrong,
        charges=sum(1 for ids in slurm_ids.values() for i in ids if i in charged),
        double_charged=double, creates_by_status=statuses,
        read_errors=sum(1 for r in reads if r.status is None or r.status >= 500),
        read_p95=p95([r.seconds for r in reads]), reads=len(reads))


def settled_verdict(portal: ChaosPortal, load: Load, limit: float) -> Verdict:
    """The verdict once Slurm's accounting knows every job the portal recorded (after a
    slurmdbd outage sacct catches up only when slurmctld has sent its backlog), or the
    last one after `limit` seconds."""
    deadline = time.monotonic() + limit
    while True:
        result = verdict(portal, load)
        if not result.missing or time.monotonic() > deadline:
            return result
        time.sleep(2.0)


def reads_between(load: Load, start: float, end: float) -> list[Read]:
    return [r for r in load.reads if start <= r.at <= end]
