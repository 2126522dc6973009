"""The controller's SQLite database (sqlmodel): settings, sessions and the energy register.

Writes that must survive a power cut (the register, settings, session start/stop) are
committed before the controller acts on them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, create_engine, select


class SessionRecord(SQLModel, table=True):
    __tablename__ = "charge_session"
    id: int | None = Field(default=None, primary_key=True)
    started_at: float
    stopped_at: float | None = None
    id_tag: str
    meter_start_wh: int
    meter_stop_wh: int | None = None
    stop_reason: str | None = None
    cost: float | None = None

    @property
    def energy_wh(self) -> int:
        end = self.meter_stop_wh if self.meter_stop_wh is not None else self.meter_start_wh
        return end - self.meter_start_wh


class RegisterRecord(SQLModel, table=True):
    __tablename__ = "energy_register"
    id: int = Field(default=1, primary_key=True)
    energy_wh: int = 0


class KeyValueRecord(SQLModel, table=True):
    __tablename__ = "key_value"
    key: str = Field(primary_key=True)
    value: str


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()


class Storage:
    def __init__(self, path: str | Path) -> None:
        url = "sqlite://" if str(path) == ":memory:" else f"sqlite:///{path}"
        self.engine: Engine = create_engine(url, connect_args={"check_same_thread": False})
        if str(path) != ":memory:":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        SQLModel.metadata.create_all(
            self.engine,
            tables=[
                SessionRecord.__table__,  # type: ignore[attr-defined]
                RegisterRecord.__table__,  # type: ignore[attr-defined]
                KeyValueRecord.__table__,  # type: ignore[attr-defined]
            ],
        )

    def close(self) -> None:
        self.engine.dispose()

    # --- energy register -------------------------------------------------------------
    def load_register(self) -> int:
        with Session(self.engine) as db:
            row = db.get(RegisterRecord, 1)
            return row.energy_wh if row else 0

    def save_register(self, energy_wh: int) -> None:
        with Session(self.engine) as db:
            row = db.get(RegisterRecord, 1) or RegisterRecord(id=1)
            if energy_wh < row.energy_wh:
                raise ValueError("the energy register never goes backwards")
            row.energy_wh = energy_wh
            db.add(row)
            db.commit()

    # --- key/value (settings and markers) --------------------------------------------
    def get_json(self, key: str) -> Any:
        with Session(self.engine) as db:
            row = db.get(KeyValueRecord, key)
            return json.loads(row.value) if row else None

    def put_json(self, key: str, value: Any) -> None:
        with Session(self.engine) as db:
            row = db.get(KeyValueRecord, key) or KeyValueRecord(key=key, value="null")
            row.value = json.dumps(value)
            db.add(row)
            db.commit()

    def delete(self, key: str) -> None:
        with Session(self.engine) as db:
            row = db.get(KeyValueRecord, key)
            if row is not None:
                db.delete(row)
                db.commit()

    # --- sessions --------------------------------------------------------------------
    def start_session(self, started_at: float, id_tag: str, meter_start_wh: int) -> int:
        with Session(self.engine) as db:
            rec = SessionRecord(started_at=started_at, id_tag=id_tag, meter_start_wh=meter_start_wh)
            db.add(rec)
            db.commit()
            db.refresh(rec)
            assert rec.id is not None
            return rec.id

    def stop_session(
        self, session_id: int, stopped_at: float, meter_stop_wh: int, reason: str
    ) -> SessionRecord:
        with Session(self.engine) as db:
            rec = db.get(SessionRecord, session_id)
            if rec is None:
                raise KeyError(f"no session {session_id}")
            rec.stopped_at = stopped_at
            rec.meter_stop_wh = meter_stop_wh
            rec.stop_reason = reason
            db.add(rec)
            db.commit()
            db.refresh(rec)
            return rec

    def set_session_cost(self, session_id: int, cost: float) -> None:
        with Session(self.engine) as db:
            rec = db.get(SessionRecord, session_id)
            if rec is not None:
                rec.cost = cost
                db.add(rec)
                db.commit()

    def open_session(self) -> SessionRecord | None:
        with Session(self.engine) as db:
            stmt = select(SessionRecord).where(SessionRecord.stopped_at == None)  # noqa: E711
            return db.exec(stmt.order_by(SessionRecord.id.desc())).first()  # type: ignore[union-attr]

    def sessions(self, limit: int = 100) -> list[SessionRecord]:
        with Session(self.engine) as db:
            stmt = select(SessionRecord).order_by(SessionRecord.id.desc()).limit(limit)  # type: ignore[union-attr]
            return list(db.exec(stmt))
