"""A JWK Set fetched over HTTP and cached (RFC 7517 §5, RFC 9111, OIDC Discovery §4)."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Self, TypeVar

import httpx

from ._encoding import json_object
from ._errors import ConfigurationError, KeySetUnavailable
from ._keys import KeySet, PublicKey

logger = logging.getLogger("issuer.verifier")

T = TypeVar("T")

_DISCOVERY_PATH = "/.well-known/openid-configuration"


class FetchError(Exception):
    """A fetch that produced no usable answer; the last good set stays in use."""


@dataclass(frozen=True, slots=True)
class _Cache:
    key_set: KeySet
    etag: str | None
    fresh_until: float
    usable_until: float


class RemoteKeySet:
    """The issuer's public keys, fetched from its ``jwks_uri`` and cached.

    Build it from the JWK Set URL, or with :meth:`from_issuer` from the issuer URL (the
    discovery document's ``issuer`` must equal it exactly, OIDC Discovery §4.3).

    - The set is fresh for the response's ``Cache-Control: max-age`` (minus ``Age``),
      clamped to ``[min_cache, max_cache]``; ``default_cache`` when the header has none;
      ``no-cache``/``no-store`` count as zero, so ``min_cache`` applies (RFC 9111 §5.2).
    - A stale set is revalidated with ``If-None-Match``; a 304 renews its freshness.
    - An unknown ``kid`` causes a refetch at most once per ``cooldown`` seconds.
    - Concurrent callers on one event loop share one in-flight fetch.
    - A failed fetch (network error, non-200, over ``max_size`` bytes, over ``timeout``
      seconds in all, not a JWK Set, no usable key) is never cached: the last good set
      stays in use for up to ``max_stale`` seconds after it stopped being fresh, and
      is retried at most once per ``cooldown`` meanwhile. Without a usable set every caller
      gets :class:`KeySetUnavailable` and the next call tries again.
    - Redirects are not followed: a JWK Set must be served at its URL.

    ``clock`` returns seconds (monotonic by default). Pass ``client`` (an
    ``httpx.AsyncClient`` you own and close) or ``transport``; otherwise each fetch uses
    a short-lived client. The synchronous :meth:`resolve_sync` runs fetches on a private
    background event loop, so it needs ``transport`` or nothing rather than ``client``.
    """

    def __init__(
        self,
        jwks_uri: str | None = None,
        *,
        issuer: str | None = None,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        cooldown: float = 30.0,
        min_cache: float = 30.0,
        max_cache: float = 3600.0,
        default_cache: float = 300.0,
        max_stale: float = 3600.0,
        timeout: float = 5.0,
        max_size: int = 512 * 1024,
    ) -> None:
        if (jwks_uri is None) == (issuer is None):
            raise ConfigurationError("give exactly one of jwks_uri and issuer")
        if jwks_uri is not None:
            _check_url(jwks_uri, "jwks_uri")
        if issuer is not None:
            _check_url(issuer, "issuer")
        _check_durations(min_cache, max_cache, timeout, cooldown, default_cache, max_stale)
        if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size <= 0:
            raise ConfigurationError("max_size must be a positive number of bytes")
        if client is not None and transport is not None:
            raise ConfigurationError("give a client or a transport, not both")
        self._jwks_uri, self._issuer = jwks_uri, issuer
        self._client, self._transport = client, transport
        self._transport_client: httpx.AsyncClient | None = None
        self._clock = clock
        self._cooldown, self._min_cache, self._max_cache = cooldown, min_cache, max_cache
        self._default_cache, self._max_stale = default_cache, max_stale
        self._timeout, self._max_size = timeout, max_size
        self._cache: _Cache | None = None
        self._last_attempt = -math.inf
        self._retry_at = -math.inf
        self._inflight: asyncio.Task[None] | None = None
        self._portal = _Portal()

    @classmethod
    def from_issuer(cls, issuer: str, **options: Any) -> Self:
        """Find the JWK Set through ``{issuer}/.well-known/openid-configuration``."""
        return cls(issuer=issuer, **options)

    @property
    def jwks_uri(self) -> str | None:
        """The JWK Set URL; ``None`` until discovery has found it."""
        return self._jwks_uri

    async def resolve(self, kid: str) -> tuple[PublicKey, ...]:
        """The keys carrying ``kid``, fetching the set when needed; empty if unknown.

        Raises :class:`KeySetUnavailable` when no usable set can be had.
        """
        cache, now = self._cache, self._clock()
        if cache is not None and now < cache.fresh_until:
            keys = cache.key_set.find(kid)
            if keys or not self._may_fetch(now):
                return keys
        elif cache is not None and now < min(cache.usable_until, self._retry_at):
            return cache.key_set.find(kid)
        await self._refresh()
        return self._usable_set().find(kid)

    def resolve_sync(self, kid: str) -> tuple[PublicKey, ...]:
        """:meth:`resolve` for synchronous code; fresh known keys need no event loop."""
        cache = self._cache
        if cache is not None and self._clock() < cache.fresh_until:
            keys = cache.key_set.find(kid)
            if keys:
                return keys
        return self._portal.run(lambda: self.resolve(kid))

    async def refresh(self) -> KeySet:
        """Fetch now (sharing any fetch in flight) and return the usable set."""
        await self._refresh()
        return self._usable_set()

    async def aclose(self) -> None:
        """Stop the background loop of :meth:`resolve_sync`, if it was started."""
        self._portal.close()

    def close(self) -> None:
        """Synchronous :meth:`aclose`."""
        self._portal.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _may_fetch(self, now: float) -> bool:
        return now >= self._last_attempt + self._cooldown

    def _usable_set(self) -> KeySet:
        cache = self._cache
        if cache is None:
            raise KeySetUnavailable()
        if self._clock() >= cache.usable_until:
            raise KeySetUnavailable("the last good key set is too old to use")
        return cache.key_set

    async def _refresh(self) -> None:
        loop = asyncio.get_running_loop()
        task = self._inflight
        if task is None or task.done() or task.get_loop() is not loop:
            self._last_attempt = self._clock()
            task = self._inflight = loop.create_task(self._fetch())
        await asyncio.shield(task)

    async def _fetch(self) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                jwks_uri = self._jwks_uri or await self._discover()
                await self._fetch_key_set(jwks_uri)
        except (httpx.HTTPError, FetchError, TimeoutError) as exc:
            self._retry_at = self._clock() + self._cooldown
            reason = "timed out" if isinstance(exc, TimeoutError) else str(exc)
            logger.warning("fetching the JWK Set failed: %s", reason)

    async def _discover(self) -> str:
        issuer = self._issuer or ""
        url = issuer.rstrip("/") + _DISCOVERY_PATH
        status, _headers, body = await self._get(url, etag=None)
        if status != 200:
            raise FetchError(f"discovery answered {status}")
        document = json_object(body)
        if document is None:
            raise FetchError("the discovery document is not a JSON object")
        if document.get("issuer") != issuer:
            raise FetchError("the discovery document names another issuer")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not _acceptable_jwks_uri(jwks_uri, issuer):
            raise FetchError("the discovery document has no usable jwks_uri")
        self._jwks_uri = jwks_uri
        return jwks_uri

    async def _fetch_key_set(self, jwks_uri: str) -> None:
        cache = self._cache
        etag = cache.etag if cache is not None else None
        status, headers, body = await self._get(jwks_uri, etag=etag)
        if status == 304 and cache is not None and etag is not None:
            self._cache = self._cached(cache.key_set, headers.get("ETag", etag), headers)
            return
        if status != 200:
            raise FetchError(f"the JWK Set endpoint answered {status}")
        document = json_object(body)
        if document is None or not isinstance(document.get("keys"), list):
            raise FetchError("the answer is not a JWK Set")
        key_set = KeySet.from_jwks(document)
        if not len(key_set):
            raise FetchError("the JWK Set has no usable key")
        self._cache = self._cached(key_set, headers.get("ETag"), headers)

    def _cached(self, key_set: KeySet, etag: str | None, headers: httpx.Headers) -> _Cache:
        lifetime = _lifetime(headers)
        if lifetime is None:
            lifetime = self._default_cache
        lifetime = min(max(lifetime, self._min_cache), self._max_cache)
        fresh_until = self._clock() + lifetime
        return _Cache(key_set, etag, fresh_until, fresh_until + self._max_stale)

    async def _get(self, url: str, etag: str | None) -> tuple[int, httpx.Headers, bytes]:
        headers = {"Accept": "application/json"}
        if etag is not None:
            headers["If-None-Match"] = etag
        async with self._http() as client:
            request = client.build_request("GET", url, headers=headers, timeout=self._timeout)
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                if response.status_code != 200:
                    return response.status_code, response.headers, b""
                return 200, response.headers, await self._read(response)
            finally:
                await response.aclose()

    async def _read(self, response: httpx.Response) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self._max_size:
            raise FetchError("the answer is too large")
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > self._max_size:
                raise FetchError("the answer is too large")
        return bytes(body)

    @asynccontextmanager
    async def _http(self) -> AsyncIterator[httpx.AsyncClient]:
        if self._client is not None:
            yield self._client
        elif self._transport is not None:
            # The caller owns the transport, so this client is never closed.
            if self._transport_client is None:
                self._transport_client = httpx.AsyncClient(transport=self._transport)
            yield self._transport_client
        else:
            async with httpx.AsyncClient() as client:
                yield client


def _lifetime(headers: httpx.Headers) -> float | None:
    """Freshness lifetime from ``Cache-Control`` and ``Age`` (RFC 9111 §4.2.1, §5.2.2)."""
    max_age = None
    for directive in headers.get("Cache-Control", "").split(","):
        name, _, argument = directive.partition("=")
        name = name.strip().lower()
        if name in ("no-cache", "no-store"):
            return 0.0
        if name == "max-age" and max_age is None:
            argument = argument.strip().strip('"')
            max_age = int(argument) if argument.isdigit() else 0
    if max_age is None:
        return None
    age = headers.get("Age", "").strip()
    return float(max_age - int(age)) if age.isdigit() else float(max_age)


def _check_url(url: object, name: str) -> None:
    if not isinstance(url, str) or not url:
        raise ConfigurationError(f"{name} must be a non-empty URL")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ConfigurationError(f"{name} is not a valid URL") from exc
    if parsed.scheme not in ("https", "http") or not parsed.host:
        raise ConfigurationError(f"{name} must be an absolute http(s) URL")


def _acceptable_jwks_uri(jwks_uri: str, issuer: str) -> bool:
    """An https URL, or http only for an http issuer (local development)."""
    try:
        parsed = httpx.URL(jwks_uri)
    except httpx.InvalidURL:
        return False
    allowed = ("https", "http") if issuer.startswith("http:") else ("https",)
    return parsed.scheme in allowed and bool(parsed.host)


def _check_durations(min_cache: float, max_cache: float, timeout: float, *others: float) -> None:
    for value in (min_cache, max_cache, timeout, *others):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigurationError("durations are numbers of seconds")
        if not math.isfinite(value) or value < 0:
            raise ConfigurationError("durations must be finite and not negative")
    if min_cache > max_cache:
        raise ConfigurationError("min_cache must not exceed max_cache")
    if timeout <= 0:
        raise ConfigurationError("timeout must be positive")


class _Portal:
    """A private event loop on a daemon thread, serving synchronous callers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def run(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        return asyncio.run_coroutine_threadsafe(make(), self._start()).result()

    def _start(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="issuer-verifier-keys", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def close(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()
