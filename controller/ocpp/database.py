"""The OCPP layer's SQLite file: one engine, settings that make commits survive a power cut."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, create_engine


def open_database(path: Path | str, synchronous: str = "FULL") -> Engine:
    """Open (and create) the database; by default every commit is fsynced (WAL + FULL).

    ``synchronous="NORMAL"`` gives commits that survive a process kill but may be lost in a
    power cut; only for writes whose loss is harmless (see tx_queue.confirm).
    """
    if synchronous not in ("FULL", "NORMAL"):
        raise ValueError(f"synchronous must be FULL or NORMAL, got {synchronous!r}")
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    return engine


def create_tables(engine: Engine) -> None:
    """Create every table whose model has been imported (idempotent)."""
    SQLModel.metadata.create_all(engine)
