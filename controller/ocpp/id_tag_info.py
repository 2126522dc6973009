"""IdTagInfo as stored by the Local Authorization List and the Authorization Cache."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

AUTHORIZATION_STATUSES = ("Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx")


def parse_ocpp_time(value: str) -> float:
    """ISO 8601 date-time (as OCPP sends it) to epoch seconds; naive times are UTC."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an ISO 8601 date-time: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def format_ocpp_time(epoch: float) -> str:
    """Epoch seconds to the UTC ISO form we send (millisecond precision, 'Z')."""
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class IdTagInfo:
    status: str
    expiry: float | None = None
    parent_id_tag: str | None = None

    @classmethod
    def from_ocpp(cls, info: dict[str, Any]) -> IdTagInfo:
        status = info.get("status")
        if status not in AUTHORIZATION_STATUSES:
            raise ValueError(f"idTagInfo.status {status!r} is not an AuthorizationStatus")
        expiry_text = info.get("expiryDate") or info.get("expiry_date")
        parent = info.get("parentIdTag") or info.get("parent_id_tag")
        return cls(
            status=str(status),
            expiry=parse_ocpp_time(expiry_text) if expiry_text else None,
            parent_id_tag=str(parent) if parent else None,
        )

    def valid_at(self, now: float) -> bool:
        """Accepted and not expired."""
        return self.status == "Accepted" and (self.expiry is None or self.expiry > now)
