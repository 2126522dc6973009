"""Portal users, their argon2 password hashes and the lock-out after failed logins.

Two users exist (SPEC §Web portal): ``admin`` and ``maintain``. There is no shared default
password: each device makes its own initial passwords the first time it starts, writes them to a
root-only "label" file beside the database and makes the first login change them.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, select

from controller.clock import Clock

ROLES = ("admin", "maintain")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128
FAILURES_BEFORE_LOCK = 5
FIRST_LOCK_S = 300.0
MAX_LOCK_S = 3600.0
# Readable without ambiguity on a printed label (no 0/O, 1/l/I).
_LABEL_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

# OWASP's argon2id minimum (19 MiB, 2 passes): a login costs ~20 ms on the charger's CPU.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_DUMMY_HASH = _HASHER.hash("not a password of anyone")


class PortalUser(SQLModel, table=True):
    __tablename__ = "portal_user"
    name: str = Field(primary_key=True)
    password_hash: str
    must_change: bool = True
    failed_logins: int = 0
    locks: int = 0
    locked_until: float = 0.0
    changed_at: float = 0.0


class PasswordPolicyError(ValueError):
    """A new password was refused; the message says why (shown next to the field)."""


@dataclass(frozen=True)
class LoginResult:
    ok: bool
    user: str | None = None
    must_change: bool = False
    message: str = ""


def hash_password(password: str) -> str:
    """Slow on purpose (argon2id); call it off the event loop."""
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Constant work whether or not the hash matches; call it off the event loop."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def verify_dummy(password: str) -> bool:
    """Same cost as a real check, for unknown user names (no timing oracle)."""
    verify_password(_DUMMY_HASH, password)
    return False


def new_label_password() -> str:
    groups = ["".join(secrets.choice(_LABEL_ALPHABET) for _ in range(4)) for _ in range(4)]
    return "-".join(groups)


def check_policy(user: str, password: str, *, current: str | None = None) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"use at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"use at most {MAX_PASSWORD_LENGTH} characters")
    if password.strip() != password or not password.isprintable():
        raise PasswordPolicyError("no leading/trailing spaces or control characters")
    if user.lower() in password.lower():
        raise PasswordPolicyError("the password must not contain the user name")
    if current is not None and password == current:
        raise PasswordPolicyError("choose a password different from the current one")
    if len(set(password)) < 5:
        raise PasswordPolicyError("too repetitive: use at least 5 different characters")


class Accounts:
    """The user table: passwords, forced changes and lock-out (persisted, survives reboots)."""

    def __init__(self, engine: Engine, clock: Clock, label_path: Path) -> None:
        self.engine = engine
        self.clock = clock
        self.label_path = label_path
        SQLModel.metadata.create_all(engine, tables=[PortalUser.__table__])  # type: ignore[attr-defined]

    def ensure_initial(self) -> dict[str, str] | None:
        """First boot: make per-device passwords; returns them (to log once) or None."""
        with Session(self.engine) as db:
            if db.exec(select(PortalUser)).first() is not None:
                return None
        return self.reset_all()

    def reset_all(self) -> dict[str, str]:
        """New initial passwords for every user (factory reset, Security page, DIP reset)."""
        passwords = {role: new_label_password() for role in ROLES}
        hashes = {role: hash_password(pw) for role, pw in passwords.items()}
        self._write_label(passwords)
        now = self.clock.now()
        with Session(self.engine) as db:
            for row in db.exec(select(PortalUser)).all():
                db.delete(row)
            for role in ROLES:
                db.add(PortalUser(name=role, password_hash=hashes[role], must_change=True,
                                  changed_at=now))
            db.commit()
        return passwords

    def _write_label(self, passwords: dict[str, str]) -> None:
        self.label_path.parent.mkdir(parents=True, exist_ok=True)
        lines = ["MQ 200 web portal: initial passwords (changed at first login)"]
        lines += [f"{role}: {pw}" for role, pw in passwords.items()]
        tmp = self.label_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
        os.replace(tmp, self.label_path)

    def get(self, name: str) -> PortalUser | None:
        with Session(self.engine) as db:
            return db.get(PortalUser, name)

    def locked_for(self, user: PortalUser) -> float:
        """Seconds left in the lock-out (0 when the user may try)."""
        return max(0.0, user.locked_until - self.clock.now())

    def record_failure(self, name: str) -> float:
        """Count a wrong password; returns the lock-out it triggered (s), or 0."""
        with Session(self.engine) as db:
            user = db.get(PortalUser, name)
            if user is None:
                return 0.0
            user.failed_logins += 1
            lock = 0.0
            if user.failed_logins >= FAILURES_BEFORE_LOCK:
                lock = min(MAX_LOCK_S, FIRST_LOCK_S * 2 ** user.locks)
                user.locks += 1
                user.failed_logins = 0
                user.locked_until = self.clock.now() + lock
            db.add(user)
            db.commit()
            return lock

    def record_success(self, name: str) -> None:
        with Session(self.engine) as db:
            user = db.get(PortalUser, name)
            if user is not None:
                user.failed_logins = 0
                user.locks = 0
                user.locked_until = 0.0
                db.add(user)
                db.commit()

    def set_password_hash(self, name: str, password_hash: str) -> None:
        with Session(self.engine) as db:
            user = db.get(PortalUser, name)
            if user is None:
                raise KeyError(f"no portal user {name!r}")
            user.password_hash = password_hash
            user.must_change = False
            user.changed_at = self.clock.now()
            db.add(user)
            db.commit()
