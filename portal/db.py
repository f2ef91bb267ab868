"""One SQLAlchemy 2 session registry shared by pages, API, CLI and worker."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import create_engine, event
from sqlalchemy.orm import DeclarativeBase, scoped_session, sessionmaker

session = scoped_session(sessionmaker(expire_on_commit=False))


class Base(DeclarativeBase):
    pass


def utcnow() -> datetime:
    """Naive UTC timestamps: SQLite keeps no zone, so every column is UTC by convention."""
    return datetime.now(UTC).replace(tzinfo=None)


def make_engine(url: str):
    engine = create_engine(url, future=True, pool_pre_ping=True)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()

    return engine


def init_app(app) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    session.remove()
    session.configure(bind=engine)
    app.extensions["db_engine"] = engine

    @app.teardown_appcontext
    def _remove_session(_exc=None):
        session.remove()
