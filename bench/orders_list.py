"""The orders list over many orders, and refusals of bad ranges (F11).

    .venv/bin/python bench/orders_list.py [--orders 50000]

Orders spread over two years go into a fresh SQLite database; then, through the Flask
test client as an admin (who sees every order): the default list (last 30 days), a whole
year, a reversed range and a ten-year range (both refused before any query). Prints each
time and its ratio to the default list, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from portal import create_app, db  # noqa: E402
from portal.migrate import upgrade  # noqa: E402
from portal.models import Order, Project  # noqa: E402
from portal.services import users  # noqa: E402

PASSWORD = "correct horse battery"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=50_000)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    url = f"sqlite:///{os.path.join(tmp, 'bench.db')}"
    upgrade(url)
    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "DATABASE_URL": url,
                      "SESSION_COOKIE_SECURE": False, "RATELIMIT_STORAGE_URI": "memory://",
                      "WTF_CSRF_ENABLED": False, "ACTIVATION_REQUIRED": False})
    rng = random.Random(7)
    with app.test_request_context("/"):
        admin, _ = users.create_user("ada", unix_user="nobody", password=PASSWORD,
                                     is_admin=True)
        project = Project(account="bench", name="Bench")
        db.session.add(project)
        db.session.commit()
        now = db.utcnow()
        rows = [dict(created_at=now - timedelta(minutes=rng.randrange(0, 2 * 365 * 24 * 60)),
                     kind="job", ref_id=i, user_id=admin.id, project_id=project.id,
                     account="bench", name=f"j{i}", spec={}, gpu_model="a100",
                     gpu_count=rng.randrange(0, 5), cpus=1, unit_price=1, state="submitted",
                     reason="", approval="none", decision_message="")
                for i in range(args.orders)]
        db.session.execute(Order.__table__.insert(), rows)
        db.session.commit()
    client = app.test_client()
    client.post("/login", data={"username": "ada", "password": PASSWORD})
    today = now.date()
    cases = [
        ("default (30 days)", "/orders/"),
        ("one year", f"/orders/?from={today - timedelta(days=365)}&to={today}"),
        ("reversed", f"/orders/?from={today}&to={today - timedelta(days=1)}"),
        ("ten years", f"/orders/?from={today - timedelta(days=3650)}&to={today}"),
    ]
    times = {}
    for label, path in cases:
        client.get(path)  # warm
        start = time.perf_counter()
        response = client.get(path)
        times[label] = time.perf_counter() - start
        assert response.status_code == 200, (label, response.status_code)
    base = times["default (30 days)"]
    print(f"{args.orders} orders")
    for label, seconds in times.items():
        print(f"{label:>18}: {seconds * 1000:8.1f} ms  ratio {seconds / base:5.2f}")


if __name__ == "__main__":
    main()
