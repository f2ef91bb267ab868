"""A job with a 50 MB log: download latency and the page's memory (F6).

    .venv/bin/python bench/job_log.py [--mb 50] [--user alice]

Writes a log of --mb megabytes into the user's portal job directory AS that user (needs
root for runuser, as on the dev cluster), records a finished job pointing at it, then
measures through the real pages (Flask test client, logged in):

- time to the first byte of `/jobs/<id>/log.txt` (target <= 200 ms), and of a ranged
  request for the last 4 KiB;
- the job detail page: its time and the peak Python memory while rendering (tracemalloc),
  which shows it reads only the tail, not the whole file.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.userfiles import UserFiles  # noqa: E402
from portal import create_app, db  # noqa: E402
from portal.migrate import upgrade  # noqa: E402
from portal.models import Job, Membership, Project  # noqa: E402
from portal.services import users  # noqa: E402
from portal.services.jobs import job_root  # noqa: E402

PASSWORD = "correct horse battery"


def make_log(files: UserFiles, unix_user: str, path: str, megabytes: int) -> None:
    line = b"epoch 0001 step 000001 loss 0.123456 lr 0.001 " + "中文".encode() + b"\n"
    block = line * (1024 * 1024 // len(line) + 1)
    files.write(unix_user, path, block[: 1024 * 1024] * megabytes)


def setup(app, unix_user: str, megabytes: int) -> int:
    with app.test_request_context():
        user, _ = users.create_user(unix_user, password=PASSWORD)
        project = Project(account="proja", name="A")
        db.session.add(project)
        db.session.commit()
        db.session.add(Membership(user_id=user.id, project_id=project.id))
        files = UserFiles()
        _home, root = job_root(unix_user)
        directory = f"{root}/bench-{uuid.uuid4().hex[:12]}"
        files.make_dirs(unix_user, root, directory)
        make_log(files, unix_user, f"{directory}/output.log", megabytes)
        job = Job(uuid=uuid.uuid4().hex, user_id=user.id, project_id=project.id,
                  name="bench-log", account="proja", directory=directory, state="completed",
                  image="base", command="python train.py", exit_code=0)
        db.session.add(job)
        db.session.commit()
        return job.id, directory


def first_byte(client, path: str, headers=None) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.get(path, headers=headers or {}, buffered=False)
    chunks = iter(response.response)
    first = next(chunks)
    elapsed = time.perf_counter() - started
    total = len(first) + sum(len(c) for c in chunks)
    response.close()
    return elapsed, total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--user", default="alice")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-joblog-")
    url = f"sqlite:///{os.path.join(folder, 'portal.db')}"
    upgrade(url)
    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "DATABASE_URL": url,
                      "SESSION_COOKIE_SECURE": False})
    job_id, directory = setup(app, args.user, args.mb)
    try:
        return measure(app, job_id, args)
    finally:
        UserFiles().remove_tree(args.user, directory)


def measure(app, job_id: int, args) -> int:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": args.user, "password": PASSWORD,
                                "csrf_token": token})
    first_byte(client, f"/jobs/{job_id}/log.txt", {"Range": "bytes=0-0"})  # warm up
    latency, size = first_byte(client, f"/jobs/{job_id}/log.txt")
    print(f"download: first byte after {latency * 1000:.0f} ms (target <= 200 ms); "
          f"{size / 1e6:.1f} MB streamed")
    tail_latency, tail_size = first_byte(client, f"/jobs/{job_id}/log.txt",
                                         {"Range": "bytes=-4096"})
    print(f"range bytes=-4096: first byte after {tail_latency * 1000:.0f} ms, {tail_size} bytes")
    tracemalloc.start()
    started = time.perf_counter()
    detail = client.get(f"/jobs/{job_id}")
    elapsed = time.perf_counter() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"detail page: {detail.status_code} in {elapsed * 1000:.0f} ms, peak Python memory "
          f"{peak / 1e6:.1f} MB for a {args.mb} MB log (it shows the last 64 KiB)")
    ok = latency <= 0.2 and size == args.mb * 1024 * 1024 and peak < args.mb * 1e6 / 10
    print("OK" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
