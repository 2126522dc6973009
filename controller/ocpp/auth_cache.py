"""The Authorization Cache: idTagInfo the central system returned, kept for offline use."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, col, delete, select

from controller.ocpp.database import create_tables
from controller.ocpp.id_tag_info import IdTagInfo

CACHE_CAPACITY = 200


class CachedIdTag(SQLModel, table=True):
    __tablename__ = "ocpp_auth_cache"
    id_tag: str = Field(primary_key=True)
    status: str
    expiry: float | None = None
    parent_id_tag: str | None = None
    updated_at: float = 0.0


class AuthorizationCache:
    def __init__(self, engine: Engine, capacity: int = CACHE_CAPACITY) -> None:
        self._engine = engine
        self._capacity = capacity
        create_tables(engine)

    def lookup(self, id_tag: str) -> IdTagInfo | None:
        with Session(self._engine) as session:
            row = session.get(CachedIdTag, id_tag)
            return None if row is None else IdTagInfo(row.status, row.expiry, row.parent_id_tag)

    def store(self, id_tag: str, info: IdTagInfo, now: float) -> None:
        """Remember the latest answer; the least recently updated entry makes room."""
        with Session(self._engine) as session:
            session.merge(
                CachedIdTag(
                    id_tag=id_tag,
                    status=info.status,
                    expiry=info.expiry,
                    parent_id_tag=info.parent_id_tag,
                    updated_at=now,
                )
            )
            session.flush()
            rows = session.exec(select(CachedIdTag).order_by(col(CachedIdTag.updated_at))).all()
            for row in rows[: max(0, len(rows) - self._capacity)]:
                session.delete(row)
            session.commit()

    def clear(self) -> None:
        with Session(self._engine) as session:
            session.exec(delete(CachedIdTag))  # type: ignore[call-overload]
            session.commit()
