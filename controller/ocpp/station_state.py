"""OCPP-side station state that must survive a reboot (availability, per OCPP 1.6 §5.2)."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel

from controller.ocpp.database import create_tables


class AvailabilityRow(SQLModel, table=True):
    __tablename__ = "ocpp_availability"
    singleton: int = Field(default=1, primary_key=True)
    operative: bool = True


class StationStateStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        create_tables(engine)
        with Session(engine) as session:
            row = session.get(AvailabilityRow, 1)
            self._operative = True if row is None else row.operative

    def available(self) -> bool:
        return self._operative

    def set_available(self, operative: bool) -> None:
        with Session(self._engine) as session:
            session.merge(AvailabilityRow(singleton=1, operative=operative))
            session.commit()
        self._operative = operative
