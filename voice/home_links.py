"""Which home (twin) a voice request may steer: the per-home link.

One voice endpoint can serve several homes (a household with two chargers, or a helper
hosting it for neighbours), so every request must prove which home it belongs to before
anything is read or changed.  The proof is a *voice credential*: the account-linking access
token Alexa and Google forward, or the Bearer token of a Siri Shortcut.  Alexa requests may
also be tied to an Alexa ``userId`` when the homeowner does not run account linking.
Credentials are kept only as SHA-256 digests and compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp

from controller.clock import Clock
from twin.client import TwinClient
from voice.charger_voice import ChargerVoice

_HEX = frozenset("0123456789abcdef")


class HomeLinkError(ValueError):
    """A link definition is invalid; the message names the field."""


def credential_digest(credential: str) -> str:
    return hashlib.sha256(credential.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class HomeLink:
    name: str
    twin_url: str
    twin_token: str  # a client-role twin token of this home
    time_zone: str
    credential_sha256: str  # hex SHA-256 of the voice credential
    alexa_user_ids: tuple[str, ...] = ()
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name:
            raise HomeLinkError("name: must not be empty")
        if not self.twin_url.startswith(("http://", "https://")):
            raise HomeLinkError(f"twin_url: {self.twin_url!r} is not an http(s) URL")
        if not self.twin_token:
            raise HomeLinkError("twin_token: must not be empty")
        digest = self.credential_sha256.lower()
        if len(digest) != 64 or not set(digest) <= _HEX:
            raise HomeLinkError("credential_sha256: must be 64 hex digits")
        object.__setattr__(self, "credential_sha256", digest)
        try:
            zone = ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise HomeLinkError(f"time_zone: {self.time_zone!r} is not a known time zone") from exc
        object.__setattr__(self, "zone", zone)

    @classmethod
    def with_credential(
        cls,
        name: str,
        twin_url: str,
        twin_token: str,
        time_zone: str,
        credential: str,
        alexa_user_ids: Iterable[str] = (),
    ) -> HomeLink:
        if len(credential) < 16:
            raise HomeLinkError("credential: must be at least 16 characters")
        return cls(name, twin_url, twin_token, time_zone, credential_digest(credential),
                   tuple(alexa_user_ids))


class HomeLinks:
    """The registry of links; lookups never reveal which part of a credential matched."""

    def __init__(self, links: Iterable[HomeLink] = ()) -> None:
        self._links: list[HomeLink] = []
        for link in links:
            self.add(link)

    def add(self, link: HomeLink) -> None:
        if any(existing.name == link.name for existing in self._links):
            raise HomeLinkError(f"name: {link.name!r} is used twice")
        self._links.append(link)

    def __len__(self) -> int:
        return len(self._links)

    def __iter__(self) -> Iterator[HomeLink]:
        return iter(list(self._links))

    def by_credential(self, credential: str | None) -> HomeLink | None:
        if not credential:
            return None
        digest = credential_digest(credential)
        found: HomeLink | None = None
        for link in self._links:  # compare with every link: time does not depend on the match
            if hmac.compare_digest(link.credential_sha256, digest):
                found = link
        return found

    def by_alexa_user(self, user_id: str | None) -> HomeLink | None:
        if not user_id:
            return None
        found: HomeLink | None = None
        for link in self._links:
            for allowed in link.alexa_user_ids:
                if hmac.compare_digest(allowed.encode(), user_id.encode()):
                    found = link
        return found

    @classmethod
    def from_file(cls, path: str | Path) -> HomeLinks:
        """Load ``{"links": [{name, twin_url, twin_token, time_zone, credential_sha256,
        alexa_user_ids?}]}`` (docs/voice.md)."""
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise HomeLinkError(f"{path}: cannot read links file: {exc}") from exc
        entries = raw.get("links") if isinstance(raw, dict) else None
        if not isinstance(entries, list):
            raise HomeLinkError(f"{path}: 'links' must be a list")
        links = cls()
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise HomeLinkError(f"links[{index}]: must be an object")
            try:
                users = entry.get("alexa_user_ids", [])
                if not isinstance(users, list) or not all(isinstance(u, str) for u in users):
                    raise HomeLinkError("alexa_user_ids: must be a list of strings")
                links.add(HomeLink(
                    name=_str(entry, "name"),
                    twin_url=_str(entry, "twin_url"),
                    twin_token=_str(entry, "twin_token"),
                    time_zone=_str(entry, "time_zone"),
                    credential_sha256=_str(entry, "credential_sha256"),
                    alexa_user_ids=tuple(users),
                ))
            except HomeLinkError as exc:
                raise HomeLinkError(f"links[{index}].{exc}") from exc
        return links


def _str(entry: dict[str, object], key: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str):
        raise HomeLinkError(f"{key}: must be a string")
    return value


class VoiceHomes:
    """One :class:`ChargerVoice` per linked home, sharing one HTTP session to the twins."""

    def __init__(self, links: HomeLinks, clock: Clock, *, ack_timeout_s: float = 5.0) -> None:
        self.links = links
        self.clock = clock
        self.ack_timeout_s = ack_timeout_s
        self._session: aiohttp.ClientSession | None = None
        self._voices: dict[str, ChargerVoice] = {}

    def voice_for(self, link: HomeLink) -> ChargerVoice:
        voice = self._voices.get(link.name)
        if voice is None:
            if self._session is None:
                self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
            client = TwinClient(link.twin_url, link.twin_token, session=self._session)
            voice = ChargerVoice(client, self.clock, link.zone, ack_timeout_s=self.ack_timeout_s)
            self._voices[link.name] = voice
        return voice

    async def close(self) -> None:
        self._voices.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
