"""Login sessions of the portal: random cookie tokens, stored hashed, with idle and absolute expiry.

Each session carries its own CSRF token, which every form and script must send back.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, col, delete, select

from controller.clock import Clock

COOKIE_NAME = "mq200_portal"
IDLE_TIMEOUT_S = 30 * 60.0
ABSOLUTE_TIMEOUT_S = 12 * 3600.0


class PortalSession(SQLModel, table=True):
    __tablename__ = "portal_session"
    token_hash: str = Field(primary_key=True)
    user: str = Field(index=True)
    csrf: str
    created_at: float
    last_seen: float


@dataclass(frozen=True)
class ActiveSession:
    user: str
    csrf: str
    token_hash: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


class SessionStore:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        SQLModel.metadata.create_all(engine, tables=[PortalSession.__table__])  # type: ignore[attr-defined]

    def create(self, user: str) -> tuple[str, ActiveSession]:
        """A new session; returns the cookie value (never stored) and the session."""
        token = secrets.token_urlsafe(32)
        now = self.clock.now()
        active = ActiveSession(user, secrets.token_urlsafe(32), _digest(token))
        row = PortalSession(token_hash=active.token_hash, user=user, csrf=active.csrf,
                            created_at=now, last_seen=now)
        with Session(self.engine) as db:
            db.add(row)
            db.commit()
        return token, active

    def lookup(self, token: str | None, *, touch: bool = True) -> ActiveSession | None:
        """The live session for a cookie value, or None (unknown or expired: then deleted)."""
        if not token or len(token) > 100:
            return None
        now = self.clock.now()
        with Session(self.engine) as db:
            row = db.get(PortalSession, _digest(token))
            if row is None:
                return None
            if now - row.last_seen > IDLE_TIMEOUT_S or now - row.created_at > ABSOLUTE_TIMEOUT_S:
                db.delete(row)
                db.commit()
                return None
            if touch and now - row.last_seen > 5.0:
                row.last_seen = now
                db.add(row)
                db.commit()
            return ActiveSession(row.user, row.csrf, row.token_hash)

    def still_valid(self, session: ActiveSession) -> bool:
        """For long-lived streams: the session was neither ended nor expired meanwhile."""
        now = self.clock.now()
        with Session(self.engine) as db:
            row = db.get(PortalSession, session.token_hash)
            return (
                row is not None
                and now - row.last_seen <= IDLE_TIMEOUT_S
                and now - row.created_at <= ABSOLUTE_TIMEOUT_S
            )

    def end(self, session: ActiveSession) -> None:
        with Session(self.engine) as db:
            db.exec(delete(PortalSession).where(col(PortalSession.token_hash) == session.token_hash))  # type: ignore[call-overload]
            db.commit()

    def end_all(self, user: str | None = None) -> None:
        """Log out everyone (or every session of ``user``): password changes and resets."""
        with Session(self.engine) as db:
            stmt = delete(PortalSession)
            if user is not None:
                stmt = stmt.where(col(PortalSession.user) == user)
            db.exec(stmt)  # type: ignore[call-overload]
            db.commit()

    def count(self) -> int:
        with Session(self.engine) as db:
            return len(db.exec(select(PortalSession)).all())
