"""Schema migrations (Alembic) driven from the portal's own config, for CLI, tests and setup."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "heads") -> None:
    """Bring the database to `revision`; safe to run repeatedly.

    "heads": feature branches of the migration history may each add a head until merged.
    """
    command.upgrade(alembic_config(database_url), revision)


def current_heads(database_url: str) -> str:
    from alembic.script import ScriptDirectory

    return ",".join(ScriptDirectory.from_config(alembic_config(database_url)).get_heads())
