"""A guard for issue #13: no database transaction with writes is open while a Slurm or
container command runs.

Why: SQLite keeps its single write lock (PostgreSQL its row locks) from the first INSERT,
UPDATE or DELETE of a transaction until its commit. A Slurm command that hangs while
that transaction is open (slurmctld frozen, slurmdbd gone) blocks every other request
and the worker. Reads may stay open: they take no write lock.

`TxGuard` watches the engine's connections (SQLAlchemy events: a write statement marks
its connection, commit and rollback clear it) and wraps the outside world the services
call — fake adapters' public methods and, for real commands, `CommandRunner.run` — so
that each call notes which connections held uncommitted writes at that moment.

    guard = TxGuard(app, monkeypatch)
    guard.watch(backend.scheduler, backend.files, accounts)
    ...  # the code under test
    guard.assert_clean()          # or: assert guard.violations == []

`guard.calls` lists every watched call (so a test can show the path really ran a command).
"""

from __future__ import annotations

import inspect
import threading

from sqlalchemy import event

WRITES = ("insert", "update", "delete", "replace", "upsert")


class TxGuard:
    def __init__(self, app, monkeypatch):
        self.engine = app.extensions["db_engine"]
        self.monkeypatch = monkeypatch
        self.calls: list[str] = []
        self.violations: list[str] = []
        self._dirty: dict[int, str] = {}  # id(DBAPI connection) → first write statement
        self._lock = threading.Lock()
        self._listen()
        self._watch_runner()

    # -- the database side ----------------------------------------------------------------

    def _listen(self) -> None:
        def before_cursor_execute(conn, _cursor, statement, *_args):
            if statement.lstrip().split(None, 1)[0].lower() in WRITES:
                with self._lock:
                    self._dirty.setdefault(id(conn.connection.dbapi_connection),
                                           " ".join(statement.split())[:120])

        def end(conn):
            with self._lock:
                self._dirty.pop(id(conn.connection.dbapi_connection), None)

        listeners = [("before_cursor_execute", before_cursor_execute), ("commit", end),
                     ("rollback", end)]
        def reset(dbapi_connection, *_args):  # back to the pool: rolled back
            with self._lock:
                self._dirty.pop(id(dbapi_connection), None)

        targets = [(self.engine, name, fn) for name, fn in listeners]
        targets.append((self.engine.pool, "reset", reset))
        for target, name, fn in targets:
            event.listen(target, name, fn)

        def remove():
            for target, name, fn in targets:
                if event.contains(target, name, fn):
                    event.remove(target, name, fn)

        self._remove = remove

    def open_writes(self) -> list[str]:
        """The first write statement of every transaction that has not ended yet."""
        with self._lock:
            return list(self._dirty.values())

    # -- the command side -----------------------------------------------------------------

    def _check(self, what: str) -> None:
        self.calls.append(what)
        if writes := self.open_writes():
            self.violations.append(f"{what} ran while a transaction had written: {writes}")

    def _watch_runner(self) -> None:
        from adapters.runner import CommandRunner

        real = CommandRunner.run
        guard = self

        def run(runner, argv, *args, **kwargs):
            guard._check("command " + " ".join(str(a) for a in list(argv)[:3]))
            return real(runner, argv, *args, **kwargs)

        self.monkeypatch.setattr(CommandRunner, "run", run)

    def watch(self, *objects) -> TxGuard:
        """Wrap every public method of each object (fake schedulers, accounts, files…)."""
        for obj in objects:
            if obj is None:
                continue
            for name, member in inspect.getmembers(obj, callable):
                if name.startswith("_") or inspect.isclass(member):
                    continue
                self.monkeypatch.setattr(obj, name, self._wrap(obj, name, member))
        return self

    def _wrap(self, obj, name, method):
        label = f"{type(obj).__name__}.{name}"

        def watched(*args, **kwargs):
            self._check(label)
            return method(*args, **kwargs)

        watched.__wrapped__ = method
        return watched

    def assert_clean(self) -> None:
        assert not self.violations, "\n".join(self.violations)

    def close(self) -> None:
        self._remove()
