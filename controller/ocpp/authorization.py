"""Who may charge: the central system, the Local Authorization List, the cache, offline rules.

The decision order follows OCPP 1.6 §3.4/§3.5: with LocalPreAuthorize a tag valid in the local
list (first) or the cache is accepted without asking; otherwise the central system is asked
and its answer cached; when it cannot be reached, LocalAuthorizeOffline lets the list and the
cache decide and AllowOfflineTxForUnknownId admits unknown tags.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from controller.clock import Clock
from controller.ocpp.auth_cache import AuthorizationCache
from controller.ocpp.config_keys import ConfigurationStore
from controller.ocpp.id_tag_info import IdTagInfo
from controller.ocpp.local_list import LocalAuthorizationList
from controller.ocpp.station_port import AuthorizationAnswer

# Returns the central system's idTagInfo, or raises ConnectionError/TimeoutError when offline.
AskCentralSystem = Callable[[str], Awaitable[IdTagInfo]]


class Authorizer:
    def __init__(
        self,
        clock: Clock,
        config: ConfigurationStore,
        local_list: LocalAuthorizationList,
        cache: AuthorizationCache,
        ask_central_system: AskCentralSystem,
        is_online: Callable[[], bool],
    ) -> None:
        self._clock = clock
        self._config = config
        self._local_list = local_list
        self._cache = cache
        self._ask = ask_central_system
        self._is_online = is_online

    def local_info(self, id_tag: str) -> tuple[IdTagInfo | None, str]:
        """The list's entry if the list is enabled and knows the tag, else the cache's."""
        if self._config.get_bool("LocalAuthListEnabled"):
            info = self._local_list.lookup(id_tag)
            if info is not None:
                return info, "local_list"
        if self._config.get_bool("AuthorizationCacheEnabled"):
            info = self._cache.lookup(id_tag)
            if info is not None:
                return info, "cache"
        return None, ""

    def remember(self, id_tag: str, info: IdTagInfo) -> None:
        """Cache an answer from the central system (tags on the local list are not cached)."""
        if not self._config.get_bool("AuthorizationCacheEnabled"):
            return
        if self._config.get_bool("LocalAuthListEnabled") and self._local_list.lookup(id_tag):
            return
        self._cache.store(id_tag, info, self._clock.now())

    def _answer(self, id_tag: str, info: IdTagInfo, source: str) -> AuthorizationAnswer:
        now = self._clock.now()
        status = info.status
        if status == "Accepted" and not info.valid_at(now):
            status = "Expired"
        return AuthorizationAnswer(
            id_tag, status == "Accepted", status, info.parent_id_tag, source
        )

    async def authorize(self, id_tag: str) -> AuthorizationAnswer:
        local, source = self.local_info(id_tag)
        now = self._clock.now()
        if self._is_online():
            if self._config.get_bool("LocalPreAuthorize") and local and local.valid_at(now):
                return self._answer(id_tag, local, source)
            try:
                info = await self._ask(id_tag)
            except (ConnectionError, TimeoutError):
                pass
            else:
                self.remember(id_tag, info)
                return self._answer(id_tag, info, "central_system")
        return self.offline_answer(id_tag)

    def offline_answer(self, id_tag: str) -> AuthorizationAnswer:
        local, source = self.local_info(id_tag)
        if self._config.get_bool("LocalAuthorizeOffline") and local is not None:
            return self._answer(id_tag, local, source)
        if local is None and self._config.get_bool("AllowOfflineTxForUnknownId"):
            return AuthorizationAnswer(id_tag, True, "Accepted", None, "offline")
        return AuthorizationAnswer(id_tag, False, "Invalid", None, "offline")
