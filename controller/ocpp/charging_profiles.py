"""Installed charging profiles, persisted (the SmartCharging profile's storage rules)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, select

from controller.ocpp.database import create_tables
from controller.ocpp.smart_charging import ChargingProfile, ProfileError, Purpose, parse_profile


class StoredProfile(SQLModel, table=True):
    __tablename__ = "ocpp_charging_profile"
    profile_id: int = Field(primary_key=True)
    body: str  # the csChargingProfiles JSON as received (plus connectorId)


class ChargingProfileStore:
    def __init__(self, engine: Engine, max_installed: int = 10) -> None:
        self._engine = engine
        self._max_installed = max_installed
        create_tables(engine)
        self._profiles: dict[int, tuple[ChargingProfile, dict[str, Any]]] = {}
        with Session(engine) as session:
            for row in session.exec(select(StoredProfile)).all():
                body = json.loads(row.body)
                self._profiles[row.profile_id] = (parse_profile(body), body)

    def profiles(self) -> list[ChargingProfile]:
        return [p for p, _ in self._profiles.values()]

    def install(self, connector_id: int, body: dict[str, Any]) -> ChargingProfile:
        """Add or replace (same id, or same purpose + stack level + connector); ProfileError."""
        body = dict(body, connectorId=connector_id)
        profile = parse_profile(body)
        if profile.purpose is Purpose.CHARGE_POINT_MAX and connector_id != 0:
            raise ProfileError("ChargePointMaxProfile must be set on connectorId 0")
        if profile.purpose is Purpose.TX and connector_id == 0:
            raise ProfileError("TxProfile must be set on a connector, not connectorId 0")
        replaced = [
            pid
            for pid, (p, _) in self._profiles.items()
            if pid == profile.profile_id
            or (
                p.purpose is profile.purpose
                and p.stack_level == profile.stack_level
                and p.connector_id == connector_id
            )
        ]
        if len(self._profiles) - len(replaced) + 1 > self._max_installed:
            raise ProfileError(f"at most {self._max_installed} charging profiles may be installed")
        with Session(self._engine) as session:
            for pid in replaced:
                row = session.get(StoredProfile, pid)
                if row is not None:
                    session.delete(row)
            session.flush()
            session.add(StoredProfile(profile_id=profile.profile_id, body=json.dumps(body)))
            session.commit()
        for pid in replaced:
            self._profiles.pop(pid, None)
        self._profiles[profile.profile_id] = (profile, body)
        return profile

    def clear(
        self,
        profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: str | None = None,
        stack_level: int | None = None,
    ) -> int:
        """ClearChargingProfile: by id alone, else by every given criterion; returns the count."""
        def matches(p: ChargingProfile) -> bool:
            if profile_id is not None:
                return p.profile_id == profile_id
            return (
                (connector_id is None or p.connector_id == connector_id)
                and (purpose is None or p.purpose.value == purpose)
                and (stack_level is None or p.stack_level == stack_level)
            )

        doomed = [pid for pid, (p, _) in self._profiles.items() if matches(p)]
        self._delete(doomed)
        return len(doomed)

    def clear_transaction_profiles(self) -> None:
        """TxProfiles end with their transaction."""
        self._delete([pid for pid, (p, _) in self._profiles.items() if p.purpose is Purpose.TX])

    def _delete(self, ids: list[int]) -> None:
        if not ids:
            return
        with Session(self._engine) as session:
            for pid in ids:
                row = session.get(StoredProfile, pid)
                if row is not None:
                    session.delete(row)
            session.commit()
        for pid in ids:
            self._profiles.pop(pid, None)
