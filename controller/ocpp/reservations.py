"""Reservations (ReserveNow / CancelReservation), persisted so a reboot keeps them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, delete, select

from controller.ocpp.database import create_tables


class ReservationRow(SQLModel, table=True):
    __tablename__ = "ocpp_reservation"
    reservation_id: int = Field(primary_key=True)
    connector_id: int
    id_tag: str
    parent_id_tag: str | None = None
    expiry: float


@dataclass(frozen=True)
class Reservation:
    reservation_id: int
    connector_id: int
    id_tag: str
    parent_id_tag: str | None
    expiry: float

    def admits(self, id_tag: str, parent_id_tag: str | None) -> bool:
        """The reserved tag, or any tag with the reservation's parent id, may start."""
        if id_tag == self.id_tag:
            return True
        return self.parent_id_tag is not None and parent_id_tag == self.parent_id_tag


class ReservationStore:
    """The MQ 200 has one connector, so at most one reservation is held (connector 0 or 1)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        create_tables(engine)

    def current(self) -> Reservation | None:
        with Session(self._engine) as session:
            row = session.exec(select(ReservationRow)).first()
            if row is None:
                return None
            return Reservation(
                row.reservation_id, row.connector_id, row.id_tag, row.parent_id_tag, row.expiry
            )

    def put(self, reservation: Reservation) -> None:
        with Session(self._engine) as session:
            session.exec(delete(ReservationRow))  # type: ignore[call-overload]
            session.add(
                ReservationRow(
                    reservation_id=reservation.reservation_id,
                    connector_id=reservation.connector_id,
                    id_tag=reservation.id_tag,
                    parent_id_tag=reservation.parent_id_tag,
                    expiry=reservation.expiry,
                )
            )
            session.commit()

    def remove(self) -> None:
        with Session(self._engine) as session:
            session.exec(delete(ReservationRow))  # type: ignore[call-overload]
            session.commit()
