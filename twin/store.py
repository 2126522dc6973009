"""SQLite persistence of the twin: documents, events, sessions and daily energy.

Every change the service makes goes through :meth:`TwinStore.write` as one transaction, so a
document version, the event that explains it and the energy it adds are either all on disk or
none is. The database is a plain file in WAL mode so readers never block the writer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlmodel import Field, Session, SQLModel, col, create_engine, select

from twin.documents import JsonObject, TwinDocument


class DocumentRow(SQLModel, table=True):
    __tablename__ = "twin_document"

    device_id: str = Field(primary_key=True)
    version: int
    desired_version: int
    updated_at: float
    reported_json: str
    desired_json: str


class EventRow(SQLModel, table=True):
    __tablename__ = "twin_event"

    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(index=True)
    at: float = Field(index=True)
    kind: str = Field(index=True)
    message: str
    data_json: str


class SessionRow(SQLModel, table=True):
    __tablename__ = "twin_session"

    device_id: str = Field(primary_key=True)
    session_id: str = Field(primary_key=True)
    started_at: float = Field(index=True)
    ended_at: float | None = None
    id_tag: str | None = None
    energy_wh: float = 0.0
    meter_start_wh: float | None = None
    meter_stop_wh: float | None = None
    cost: float | None = None
    stop_reason: str | None = None


class DailyEnergyRow(SQLModel, table=True):
    __tablename__ = "twin_energy_day"

    device_id: str = Field(primary_key=True)
    day: str = Field(primary_key=True)  # local date, YYYY-MM-DD
    energy_wh: float = 0.0
    sessions: int = 0


_TABLES = [
    DocumentRow.__table__,  # type: ignore[attr-defined]
    EventRow.__table__,  # type: ignore[attr-defined]
    SessionRow.__table__,  # type: ignore[attr-defined]
    DailyEnergyRow.__table__,  # type: ignore[attr-defined]
]


@dataclass(frozen=True)
class EventRecord:
    id: int
    at: float
    kind: str
    message: str
    data: JsonObject


@dataclass(frozen=True)
class SessionRecord:
    id: str
    started_at: float
    ended_at: float | None
    id_tag: str | None
    energy_wh: float
    meter_start_wh: float | None
    meter_stop_wh: float | None
    cost: float | None
    stop_reason: str | None


@dataclass(frozen=True)
class DailyEnergy:
    day: str
    energy_wh: float
    sessions: int


@dataclass(frozen=True)
class NewEvent:
    at: float
    kind: str
    message: str = ""
    data: JsonObject = field(default_factory=dict)


@dataclass
class WriteBatch:
    """Everything one service operation changes; written in a single transaction."""

    device_id: str
    document: TwinDocument | None = None
    events: list[NewEvent] = field(default_factory=list)
    energy_by_day: dict[str, float] = field(default_factory=dict)
    session: SessionRecord | None = None
    #: local day on which ``session`` ended, if it has ended.
    session_end_day: str | None = None


class TwinStore:
    """One SQLite file; safe to close and reopen (tests do, to prove restarts keep state)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._engine: Engine = create_engine(
            f"sqlite:///{self.path}", connect_args={"check_same_thread": False}
        )
        event.listen(self._engine, "connect", _sqlite_pragmas)
        SQLModel.metadata.create_all(self._engine, tables=_TABLES)

    def close(self) -> None:
        self._engine.dispose()

    # ------------------------------------------------------------------ writes

    def write(self, batch: WriteBatch) -> list[int]:
        """Apply ``batch`` atomically; returns the ids of the events it added."""
        with Session(self._engine) as db:
            if batch.document is not None:
                doc = batch.document
                row = db.get(DocumentRow, batch.device_id)
                if row is None:
                    row = DocumentRow(
                        device_id=batch.device_id,
                        version=doc.version,
                        desired_version=doc.desired_version,
                        updated_at=doc.updated_at,
                        reported_json="{}",
                        desired_json="{}",
                    )
                row.version = doc.version
                row.desired_version = doc.desired_version
                row.updated_at = doc.updated_at
                row.reported_json = json.dumps(doc.reported, separators=(",", ":"))
                row.desired_json = json.dumps(doc.desired, separators=(",", ":"))
                db.add(row)
            event_rows = [
                EventRow(
                    device_id=batch.device_id,
                    at=e.at,
                    kind=e.kind,
                    message=e.message,
                    data_json=json.dumps(e.data, separators=(",", ":")),
                )
                for e in batch.events
            ]
            for er in event_rows:
                db.add(er)
            for day, wh in batch.energy_by_day.items():
                self._day_row(db, batch.device_id, day).energy_wh += wh
            if batch.session is not None:
                self._upsert_session(db, batch)
            db.commit()
            ids: list[int] = []
            for er in event_rows:
                db.refresh(er)
                assert er.id is not None
                ids.append(er.id)
            return ids

    def _day_row(self, db: Session, device_id: str, day: str) -> DailyEnergyRow:
        row = db.get(DailyEnergyRow, (device_id, day))
        if row is None:
            row = DailyEnergyRow(device_id=device_id, day=day)
        db.add(row)
        return row

    def _upsert_session(self, db: Session, batch: WriteBatch) -> None:
        s = batch.session
        assert s is not None
        row = db.get(SessionRow, (batch.device_id, s.id))
        newly_ended = s.ended_at is not None and (row is None or row.ended_at is None)
        if row is None:
            row = SessionRow(device_id=batch.device_id, session_id=s.id, started_at=s.started_at)
        row.started_at = s.started_at
        row.ended_at = s.ended_at
        row.id_tag = s.id_tag
        row.energy_wh = s.energy_wh
        row.meter_start_wh = s.meter_start_wh
        row.meter_stop_wh = s.meter_stop_wh
        row.cost = s.cost
        row.stop_reason = s.stop_reason
        db.add(row)
        if newly_ended and batch.session_end_day is not None:
            self._day_row(db, batch.device_id, batch.session_end_day).sessions += 1

    # ------------------------------------------------------------------ reads

    def load_document(self, device_id: str) -> TwinDocument | None:
        with Session(self._engine) as db:
            row = db.get(DocumentRow, device_id)
            if row is None:
                return None
            return TwinDocument(
                device_id=row.device_id,
                version=row.version,
                desired_version=row.desired_version,
                updated_at=row.updated_at,
                reported=_object(row.reported_json),
                desired=_object(row.desired_json),
            )

    def get_session(self, device_id: str, session_id: str) -> SessionRecord | None:
        with Session(self._engine) as db:
            row = db.get(SessionRow, (device_id, session_id))
            return None if row is None else _session(row)

    def sessions(
        self,
        device_id: str,
        since: float | None = None,
        until: float | None = None,
        limit: int = 100,
    ) -> list[SessionRecord]:
        with Session(self._engine) as db:
            q = select(SessionRow).where(SessionRow.device_id == device_id)
            if since is not None:
                q = q.where(SessionRow.started_at >= since)
            if until is not None:
                q = q.where(SessionRow.started_at < until)
            q = q.order_by(col(SessionRow.started_at).desc()).limit(limit)
            return [_session(r) for r in db.exec(q).all()]

    def events(
        self,
        device_id: str,
        since: float | None = None,
        until: float | None = None,
        kind: str | None = None,
        limit: int = 100,
    ) -> list[EventRecord]:
        with Session(self._engine) as db:
            q = select(EventRow).where(EventRow.device_id == device_id)
            if since is not None:
                q = q.where(EventRow.at >= since)
            if until is not None:
                q = q.where(EventRow.at < until)
            if kind is not None:
                q = q.where(EventRow.kind == kind)
            q = q.order_by(col(EventRow.id).desc()).limit(limit)
            return [
                EventRecord(r.id or 0, r.at, r.kind, r.message, _object(r.data_json))
                for r in db.exec(q).all()
            ]

    def energy_daily(
        self, device_id: str, first_day: str | None = None, last_day: str | None = None
    ) -> list[DailyEnergy]:
        with Session(self._engine) as db:
            q = select(DailyEnergyRow).where(DailyEnergyRow.device_id == device_id)
            if first_day is not None:
                q = q.where(DailyEnergyRow.day >= first_day)
            if last_day is not None:
                q = q.where(DailyEnergyRow.day <= last_day)
            q = q.order_by(col(DailyEnergyRow.day))
            return [DailyEnergy(r.day, r.energy_wh, r.sessions) for r in db.exec(q).all()]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _object(text: str) -> JsonObject:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"corrupt twin row: expected a JSON object, got {text[:40]!r}")
    return value


def _session(row: SessionRow) -> SessionRecord:
    return SessionRecord(
        id=row.session_id,
        started_at=row.started_at,
        ended_at=row.ended_at,
        id_tag=row.id_tag,
        energy_wh=row.energy_wh,
        meter_start_wh=row.meter_start_wh,
        meter_stop_wh=row.meter_stop_wh,
        cost=row.cost,
        stop_reason=row.stop_reason,
    )
