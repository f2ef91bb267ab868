"""Time to ready per stage (issue #17 item 5): the portal's own part against what Slurm
and the app take.

    .venv/bin/python bench/session_ready_stages.py [--runs 3] [--page-every 1.0]
                                                   [--worker-interval 10] [--json]

Runs the portal under gunicorn as `make run` does (bench/sessions_proxy.py's set-up, its
own temporary database) with the worker in this process at its production interval, and
starts --runs Jupyter sessions as alice one after the other. While each comes up, the
owner's page is open: a client GETs /sessions/<id> every --page-every seconds (the page's
own reload while a session comes up), and the bench watches the job from outside the
portal: the job's connection file, then Jupyter *directly* (node port, its secret) every
20 ms. Per run it prints the four stages the portal recorded and splits the time from
the user's request to the app answering into

- Slurm and the app: a bare `sbatch` as alice (timed in the same run, held and
  cancelled), plus from the portal's sbatch returning to Jupyter's first direct 200
  (queueing, the job's start, the container, Jupyter itself);
- the portal: everything else: its own work before and around sbatch (the session's
  files written as the owner), and from Jupyter's first direct answer to the portal
  recording "app answering" (reading the ready file through the page's probe or the
  worker, and its own /api/status call through the proxy's path).

Target: the portal adds <= 1 s (median over the runs). Exits 1 when missed. Needs root
(runuser) and the dev cluster up; deletes its sessions at the end.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import sessions_proxy as base  # noqa: E402 - the same portal set-up as the proxy bench

from adapters.userfiles import UserFiles  # noqa: E402
from portal import db, worker  # noqa: E402
from portal.models import Session  # noqa: E402
from portal.services import readystages, sessions, users  # noqa: E402

TARGET_S = 1.0


def epoch(moment) -> float | None:
    return moment.replace(tzinfo=UTC).timestamp() if moment is not None else None


def direct_ok(host: str, port: int, path: str, token: str) -> bool:
    conn = http.client.HTTPConnection(host, port, timeout=2)
    try:
        conn.request("GET", path, headers={"Authorization": f"token {token}"})
        response = conn.getresponse()
        response.read()
        return response.status == 200
    except OSError:
        return False
    finally:
        conn.close()


def watch_directly(directory: str, session_id: int, out: dict, stop: threading.Event):
    """Outside the portal: when the connection file appears, then Jupyter's first 200."""
    conn_file = Path(directory, "connection.json")
    while not stop.is_set() and not conn_file.exists():
        time.sleep(0.02)
    if stop.is_set():
        return
    out["file_seen"] = time.time()
    data = json.loads(conn_file.read_text())
    path = f"/s/{session_id}/api/status"
    while not stop.is_set():
        if direct_ok(data["host"], data["jupyter_port"], path, data["token"]):
            out["app_direct"] = time.time()
            return
        time.sleep(0.02)


def watch_page(opener, url: str, every: float, out: dict, stop: threading.Event):
    """The owner's open page: one GET each `every` seconds until it shows the app."""
    while not stop.is_set():
        page = opener.open(url).read().decode()
        if 'data-testid="stage-app" data-reached="true"' in page:
            out["page_shows"] = time.time()
            return
        stop.wait(every)


def worker_loop(app, interval: float, stop: threading.Event):
    while not stop.is_set():
        try:
            worker.run_cycle(app, interval)
        except Exception:  # noqa: BLE001 - as the real loop: the next cycle tries again
            pass
        stop.wait(interval)


def bare_sbatch_seconds() -> float:
    """One plain sbatch as alice (held, then cancelled): what submitting costs in Slurm."""
    t0 = time.perf_counter()
    out = subprocess.run(["runuser", "-u", "alice", "--", "sbatch", "--parsable", "--hold",
                          "-A", "proja", "-J", "bench-bare", "--wrap", "true"],
                         capture_output=True, text=True, check=True).stdout
    seconds = time.perf_counter() - t0
    subprocess.run(["scancel", "--", out.strip().split(";")[0]], check=False)
    return seconds


def one_run(app, opener, port: int, args, n: int) -> dict:
    with app.test_request_context():
        asked = time.time()
        created = sessions.create_session(users.get_user("alice"), {
            "name": f"bench-stages-{n}", "image": "jupyter", "allow_all": True,
            "end": "hours", "hours": 1, "cpus": 1, "mem_gb": 1, "ssh_auth": "none"})
        returned = time.time()
        session_id, directory = created.id, created.directory
        db.session.remove()
    seen: dict = {}
    stop = threading.Event()
    threads = [threading.Thread(target=watch_directly, args=(directory, session_id, seen, stop)),
               threading.Thread(target=watch_page, args=(
                   opener, f"http://127.0.0.1:{port}/sessions/{session_id}", args.page_every,
                   seen, stop))]
    for thread in threads:
        thread.start()
    try:
        threads[1].join(timeout=180)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    with app.app_context():
        row = db.session.get(Session, session_id)
        stages = readystages.stages(row)
        times = {"sbatch_start": epoch(row.submit_started_at),
                 "sbatch_end": epoch(row.submitted_at), "started": epoch(row.started_at),
                 "container": epoch(row.container_up_at), "ready_read": epoch(row.ready_at),
                 "app": epoch(row.app_ready_at)}
        db.session.remove()
    with app.test_request_context():
        sessions.delete_session(users.get_user("alice"), session_id)
        db.session.remove()
    if None in times.values() or "app_direct" not in seen or "page_shows" not in seen:
        raise SystemExit(f"run {n}: the session did not come up: {times} {seen}")
    bare = bare_sbatch_seconds()
    slurm_app = bare + seen["app_direct"] - times["sbatch_end"]
    total = times["app"] - asked
    return {
        "session_id": session_id, "directory": directory,
        "stages": [(s["stage"], s["seconds"]) for s in stages],
        "total_s": round(total, 3),
        "slurm_and_app_s": round(slurm_app, 3),
        "portal_s": round(total - slurm_app, 3),
        "portal_before_sbatch_s": round(times["sbatch_start"] - asked, 3),
        "submission_s": round(times["sbatch_end"] - times["sbatch_start"], 3),
        "bare_sbatch_s": round(bare, 3),
        "create_call_s": round(returned - asked, 3),
        "slurm_queue_and_start_s": round(max(0.0, times["started"] - times["sbatch_end"]), 3),
        "container_up_after_start_s": round(times["container"] - times["started"], 3),
        "file_read_after_written_s": round(times["ready_read"] - times["container"], 3),
        "app_recorded_after_direct_s": round(times["app"] - seen["app_direct"], 3),
        "page_shows_after_recorded_s": round(seen["page_shows"] - times["app"], 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--page-every", type=float, default=1.0,
                        help="seconds between the open page's reloads (the page's own: 1)")
    parser.add_argument("--worker-interval", type=float, default=10.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    runs: list[dict] = []
    with base.portal_under_gunicorn("portal-bench-stages-") as (app, port, cookie):
        stop = threading.Event()
        loop = threading.Thread(target=worker_loop, args=(app, args.worker_interval, stop),
                                daemon=True)
        loop.start()
        try:
            opener = urllib.request.build_opener()
            opener.addheaders = [("User-Agent", base.AGENT), ("Cookie", cookie)]
            for n in range(args.runs):
                runs.append(one_run(app, opener, port, args, n))
        finally:
            stop.set()
            for run in runs:
                UserFiles().remove_tree("alice", run.pop("directory"))
            loop.join(timeout=60)
    return report(args, runs)


def report(args, runs: list[dict]) -> int:
    portal = statistics.median(r["portal_s"] for r in runs)
    summary = {"runs": runs, "median_portal_s": round(portal, 3),
               "median_slurm_and_app_s": round(statistics.median(
                   r["slurm_and_app_s"] for r in runs), 3),
               "median_total_s": round(statistics.median(r["total_s"] for r in runs), 3),
               "target_s": TARGET_S, "ok": portal <= TARGET_S}
    if args.json:
        print(json.dumps(summary))
        return 0 if summary["ok"] else 1
    print(f"{len(runs)} Jupyter sessions; page reloads every {args.page_every:g} s, worker "
          f"every {args.worker_interval:g} s")
    for n, r in enumerate(runs):
        print(f"run {n}: " + ", ".join(f"{stage} +{sec} s" for stage, sec in r["stages"]))
        print(f"  total {r['total_s']} s = Slurm and the app {r['slurm_and_app_s']} s "
              f"+ the portal {r['portal_s']} s")
        print(f"  portal: {r['portal_before_sbatch_s']} s before its submission, which took "
              f"{r['submission_s']} s (files as alice + sbatch; a bare sbatch "
              f"{r['bare_sbatch_s']} s); app recorded "
              f"{r['app_recorded_after_direct_s']} s after it first answered directly "
              f"(ready file read {r['file_read_after_written_s']} s after the job wrote it)")
        print(f"  Slurm: queue and start "
              f"{r['slurm_queue_and_start_s']} s; container up "
              f"{r['container_up_after_start_s']} s after the start; the page showed it "
              f"{r['page_shows_after_recorded_s']} s after it was recorded")
    print(f"median: the portal adds {summary['median_portal_s']} s to "
          f"{summary['median_slurm_and_app_s']} s of Slurm and the app "
          f"(total {summary['median_total_s']} s; target <= {TARGET_S:g} s)")
    print("OK" if summary["ok"] else "OVER TARGET")
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
