"""The HTTPS endpoint Alexa posts skill requests to, on the same aiohttp stack as the twin.

Order of work for every request: verify Amazon's signature and timestamp (on by default),
check the skill id, parse the envelope with ask-sdk's own models, find the caller's home
from its account-linking token or Alexa user id, then run the skill.  Anything that fails
before the skill runs is answered with HTTP 400 and a JSON error; the skill itself always
answers with a valid Alexa response.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from ask_sdk_core.serialize import DefaultSerializer
from ask_sdk_core.skill import CustomSkill
from ask_sdk_model.request_envelope import RequestEnvelope
from ask_sdk_model.response_envelope import ResponseEnvelope
from cryptography import x509

from controller.clock import Clock
from voice.alexa.skill import SkillCall, build_skill
from voice.alexa.verification import (
    AlexaRequestVerifier,
    AlexaVerificationError,
    ChainFetcher,
    parse_envelope,
)
from voice.home_links import HomeLink, VoiceHomes

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
CHAIN_FETCH_TIMEOUT_S = 10.0


class AlexaRequestRejected(Exception):
    """Refuse before the skill runs (HTTP 400); the message is logged and returned."""


def load_trust_anchors(pem_path: str | Path) -> list[x509.Certificate]:
    """CA certificates (PEM bundle) that Alexa's signing chain must end at."""
    try:
        data = Path(pem_path).read_bytes()
        anchors = x509.load_pem_x509_certificates(data)
    except (OSError, ValueError) as exc:
        raise ValueError(f"alexa trust anchors: cannot load {pem_path}: {exc}") from exc
    if not anchors:
        raise ValueError(f"alexa trust anchors: {pem_path} holds no certificate")
    return anchors


def https_chain_fetcher(session: aiohttp.ClientSession) -> ChainFetcher:
    """Download Amazon's certificate chain with normal TLS verification and a timeout."""

    async def fetch(url: str) -> bytes:
        timeout = aiohttp.ClientTimeout(total=CHAIN_FETCH_TIMEOUT_S)
        async with session.get(url, timeout=timeout, allow_redirects=False) as resp:
            if resp.status != 200:
                raise OSError(f"HTTP {resp.status} for {url}")
            return await resp.content.read(64 * 1024 + 1)

    return fetch


@dataclass
class AlexaSettings:
    """How the endpoint is set up. ``verifier=None`` needs ``verify=False``, said explicitly."""

    skill_id: str
    verifier: AlexaRequestVerifier | None
    verify: bool = True

    def __post_init__(self) -> None:
        if not self.skill_id.startswith("amzn1.ask.skill."):
            raise ValueError(f"skill_id: {self.skill_id!r} is not an Alexa skill id")
        if self.verify and self.verifier is None:
            raise ValueError("verifier: request verification is on, so a verifier is required")


def make_verifier(
    clock: Clock, session: aiohttp.ClientSession, trust_anchors: Sequence[x509.Certificate]
) -> AlexaRequestVerifier:
    return AlexaRequestVerifier(
        clock=clock, fetcher=https_chain_fetcher(session), trust_anchors=trust_anchors
    )


class AlexaEndpoint:
    def __init__(self, settings: AlexaSettings, homes: VoiceHomes) -> None:
        self.settings = settings
        self.homes = homes
        self.skill: CustomSkill = build_skill(settings.skill_id)
        self.serializer = DefaultSerializer()

    async def answer(self, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        """The response envelope (as JSON) for one raw request, or AlexaRequestRejected."""
        if len(body) > MAX_BODY_BYTES:
            raise AlexaRequestRejected(f"request body is larger than {MAX_BODY_BYTES} bytes")
        try:
            if self.settings.verify:
                assert self.settings.verifier is not None
                raw = (await self.settings.verifier.verify(headers, body)).envelope
            else:
                raw = parse_envelope(body)
        except AlexaVerificationError as exc:
            raise AlexaRequestRejected(f"{type(exc).__name__}: {exc}") from exc
        app_id = _application_id(raw)
        if app_id != self.settings.skill_id:
            raise AlexaRequestRejected(
                f"request is for skill {app_id!r}, this endpoint serves {self.settings.skill_id!r}"
            )
        try:
            envelope = self.serializer.deserialize(body.decode("utf-8"), RequestEnvelope)
        except Exception as exc:  # the SDK raises its own SerializationException and others
            raise AlexaRequestRejected(f"not an Alexa request envelope: {exc}") from exc
        if not isinstance(envelope, RequestEnvelope) or envelope.request is None:
            raise AlexaRequestRejected("request envelope has no request")
        link = self._link(raw)
        call = SkillCall(
            self.homes.voice_for(link) if link is not None else None, asyncio.get_running_loop()
        )
        response = await asyncio.get_running_loop().run_in_executor(
            None, self.skill.invoke, envelope, call
        )
        if not isinstance(response, ResponseEnvelope):
            raise RuntimeError("the skill returned no response envelope")
        out = self.serializer.serialize(response)
        if not isinstance(out, dict):
            raise RuntimeError("the response envelope did not serialize to an object")
        return out

    def _link(self, raw: dict[str, Any]) -> HomeLink | None:
        user = _dig(raw, "context", "System", "user")
        if not isinstance(user, dict):
            user = _dig(raw, "session", "user")
        if not isinstance(user, dict):
            return None
        token = user.get("accessToken")
        links = self.homes.links
        link = links.by_credential(token if isinstance(token, str) else None)
        user_id = user.get("userId")
        if link is None:
            link = links.by_alexa_user(user_id if isinstance(user_id, str) else None)
        if link is None:
            # what the homeowner copies into alexa_user_ids (docs/voice.md §3)
            log.info("Alexa request from an unlinked user %s", user_id)
        return link


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _application_id(raw: dict[str, Any]) -> str | None:
    app = _dig(raw, "context", "System", "application", "applicationId")
    if not isinstance(app, str):
        app = _dig(raw, "session", "application", "applicationId")
    return app if isinstance(app, str) else None


async def handle_alexa(endpoint: AlexaEndpoint, headers: dict[str, str], body: bytes) -> tuple[int, str]:
    """HTTP status and JSON text for one request (kept apart from aiohttp for the route)."""
    try:
        envelope = await endpoint.answer(headers, body)
    except AlexaRequestRejected as exc:
        log.warning("Alexa request refused: %s", exc)
        return 400, json.dumps({"error": {"code": "bad_alexa_request", "message": str(exc)}})
    return 200, json.dumps(envelope)
