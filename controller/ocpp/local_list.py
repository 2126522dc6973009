"""The Local Authorization List (LocalAuthListManagement profile), persisted with its version."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, delete, select

from controller.ocpp.database import create_tables
from controller.ocpp.id_tag_info import IdTagInfo


class LocalListEntry(SQLModel, table=True):
    __tablename__ = "ocpp_local_list"
    id_tag: str = Field(primary_key=True)
    status: str
    expiry: float | None = None
    parent_id_tag: str | None = None


class LocalListVersion(SQLModel, table=True):
    __tablename__ = "ocpp_local_list_version"
    singleton: int = Field(default=1, primary_key=True)
    version: int = 0


class UpdateStatus(str, enum.Enum):
    ACCEPTED = "Accepted"
    FAILED = "Failed"
    NOT_SUPPORTED = "NotSupported"
    VERSION_MISMATCH = "VersionMismatch"


@dataclass(frozen=True)
class ListUpdate:
    id_tag: str
    info: IdTagInfo | None  # None in a differential update = remove the tag


class LocalAuthorizationList:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        create_tables(engine)

    def version(self) -> int:
        with Session(self._engine) as session:
            row = session.get(LocalListVersion, 1)
            return 0 if row is None else row.version

    def lookup(self, id_tag: str) -> IdTagInfo | None:
        with Session(self._engine) as session:
            row = session.get(LocalListEntry, id_tag)
            if row is None:
                return None
            return IdTagInfo(row.status, row.expiry, row.parent_id_tag)

    def __len__(self) -> int:
        with Session(self._engine) as session:
            return len(session.exec(select(LocalListEntry.id_tag)).all())

    def apply(
        self,
        version: int,
        full: bool,
        updates: Sequence[ListUpdate],
        send_max: int,
        list_max: int,
    ) -> UpdateStatus:
        """SendLocalList: all of it or nothing (one commit)."""
        if len(updates) > send_max:
            return UpdateStatus.FAILED
        if len({u.id_tag for u in updates}) != len(updates):
            return UpdateStatus.FAILED
        if full and any(u.info is None for u in updates):
            return UpdateStatus.FAILED
        if not full and version <= self.version():
            return UpdateStatus.VERSION_MISMATCH
        with Session(self._engine) as session:
            if full:
                session.exec(delete(LocalListEntry))  # type: ignore[call-overload]
            for update in updates:
                existing = session.get(LocalListEntry, update.id_tag)
                if update.info is None:
                    if existing is not None:
                        session.delete(existing)
                    continue
                row = existing or LocalListEntry(id_tag=update.id_tag, status=update.info.status)
                row.status = update.info.status
                row.expiry = update.info.expiry
                row.parent_id_tag = update.info.parent_id_tag
                session.add(row)
            session.flush()
            if len(session.exec(select(LocalListEntry.id_tag)).all()) > list_max:
                session.rollback()
                return UpdateStatus.FAILED
            session.merge(LocalListVersion(singleton=1, version=version))
            session.commit()
        return UpdateStatus.ACCEPTED
