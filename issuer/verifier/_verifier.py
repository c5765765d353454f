"""Verification of JWT access tokens (RFC 9068) in one call."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature

from ._encoding import b64url_decode, json_object
from ._errors import INSUFFICIENT_SCOPE, TOKEN_EXPIRED, ConfigurationError, TokenError, invalid
from ._keys import SUPPORTED_ALGORITHMS, PublicKey
from ._remote import RemoteKeySet
from ._signatures import SIGNATURE_CHECKS

_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_MAX_KID_LENGTH = 256
_MAX_NUMERIC_DATE = 253402300799  # 9999-12-31T23:59:59Z
# Every token signed by one key carries the same header segment, so the checked header
# is kept by its text; a bounded number, since a caller can send any header it likes.
_HEADER_CACHE_SIZE = 32

# Header members that would let the token choose its own key or turn it into a JWE
# (RFC 7515 §4.1.3-4.1.6, §4.1.11; RFC 7516 §4.1.2-4.1.3). Checked in this order.
_REFUSED_MEMBERS = {
    "jwk": "keys embedded in the header are refused",
    "jku": "key set URLs in the header are refused",
    "x5u": "certificate URLs in the header are refused",
    "x5c": "certificate chains in the header are refused",
    "crit": "critical header extensions are not supported",
    "enc": "encrypted tokens (JWE) are refused",
    "zip": "compressed tokens are refused",
}
_REFUSED = frozenset(_REFUSED_MEMBERS)
_STRING_CLAIMS = ("sub", "client_id", "scope", "jti")


class KeySource(Protocol):
    """Where a verifier finds keys: :class:`KeySet` or :class:`RemoteKeySet`."""

    async def resolve(self, kid: str) -> tuple[PublicKey, ...]: ...

    def resolve_sync(self, kid: str) -> tuple[PublicKey, ...]: ...


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """What a verified token says: read-only ``claims`` and ``header``, and the
    ``scopes`` (the space-separated ``scope`` claim, RFC 9068 §2.2.3) and ``roles``
    (RFC 9068 §7.2.1.1) it grants."""

    claims: Mapping[str, Any]
    header: Mapping[str, Any]
    scopes: frozenset[str]
    roles: frozenset[str]

    @property
    def subject(self) -> str | None:
        """The ``sub`` claim (RFC 7519 §4.1.2)."""
        return self.claims.get("sub")

    @property
    def client_id(self) -> str | None:
        """The ``client_id`` claim (RFC 9068 §2.2)."""
        return self.claims.get("client_id")

    @property
    def expires_at(self) -> float:
        """The ``exp`` claim, seconds since the epoch (RFC 7519 §4.1.4)."""
        return float(self.claims["exp"])


class TokenVerifier:
    """Verifies a JWT access token: form, header, signature and claims, in one call.

    - ``issuer``: the exact ``iss`` expected (RFC 7519 §4.1.1).
    - ``audience``: one string or several; ``aud`` must name one of them (§4.1.3).
    - ``algorithms``: the allowlist, from RS256, RS384, RS512, PS256, ES256, ES384;
      the token's ``alg`` must be in it and suit the key (RFC 8725 §3.1).
    - ``typ``: expected ``typ`` header, compared case-insensitively with an optional
      ``application/`` prefix (RFC 7515 §4.1.9, RFC 9068 §4); ``None`` skips the check.
    - ``leeway``: seconds of clock skew allowed for ``exp``, ``nbf`` and ``iat``. The
      default, 60, is the ``L`` the issuer assumes when it retires keys.
    - ``max_token_size``: longer tokens are refused before any parsing.
    - ``key_set``: a :class:`KeySet` or :class:`RemoteKeySet`; by default a
      :class:`RemoteKeySet` found through the issuer's discovery document.
    - ``clock``: returns seconds since the epoch.

    ``issuer`` and ``audience`` are required: leaving either out raises
    :class:`ConfigurationError`, as does an empty or unsafe allowlist.
    """

    def __init__(
        self,
        *,
        issuer: str | None = None,
        audience: str | Iterable[str] | None = None,
        key_set: KeySource | None = None,
        algorithms: Iterable[str] = ("RS256", "ES256"),
        typ: str | None = "at+jwt",
        leeway: float = 60,
        max_token_size: int = 16 * 1024,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(issuer, str) or not issuer:
            raise ConfigurationError("an issuer is required")
        self._issuer = issuer
        self._audiences = _audiences(audience)
        self._algorithms = _algorithms(algorithms)
        self._typ = _expected_typ(typ)
        self._leeway = _leeway(leeway)
        if isinstance(max_token_size, bool) or not isinstance(max_token_size, int):
            raise ConfigurationError("max_token_size must be a number of characters")
        if max_token_size <= 0:
            raise ConfigurationError("max_token_size must be positive")
        self._max_size = max_token_size
        self._clock = clock
        self._headers: dict[str, tuple[str, str, dict[str, Any]]] = {}
        if key_set is None:
            key_set = RemoteKeySet.from_issuer(issuer)
        elif not hasattr(key_set, "resolve") or not hasattr(key_set, "resolve_sync"):
            raise ConfigurationError("key_set must be a KeySet or a RemoteKeySet")
        self._keys: KeySource = key_set

    @property
    def key_set(self) -> KeySource:
        """The key source this verifier uses."""
        return self._keys

    async def verify(
        self,
        token: str,
        *,
        required_scopes: str | Iterable[str] = (),
        required_roles: str | Iterable[str] = (),
    ) -> VerifiedToken:
        """Verify ``token`` and return what it says, or raise :class:`TokenError`.

        Checks in order: size; compact JWS form with canonical base64url segments
        (RFC 7515 §7.1); header (``alg``, refused members, ``typ``, ``kid``); signature;
        claims ``iss``, ``aud``, ``exp``, ``nbf``, ``iat`` (RFC 7519 §4.1, RFC 9068 §4);
        then the scopes and roles asked for (``insufficient_scope``, RFC 6750 §3.1).
        """
        parsed = self._parse(token)
        keys = await self._keys.resolve(parsed[1])
        return self._accept(parsed, keys, required_scopes, required_roles)

    def verify_sync(
        self,
        token: str,
        *,
        required_scopes: str | Iterable[str] = (),
        required_roles: str | Iterable[str] = (),
    ) -> VerifiedToken:
        """:meth:`verify` for synchronous code (not from inside a running event loop)."""
        parsed = self._parse(token)
        keys = self._keys.resolve_sync(parsed[1])
        return self._accept(parsed, keys, required_scopes, required_roles)

    def _parse(self, token: str) -> tuple[str, str, dict[str, Any], bytes, str, bytes]:
        if not isinstance(token, str):
            raise invalid("token", "the token must be a string")
        if len(token) > self._max_size:
            raise invalid("token", "the token is larger than allowed")
        if _COMPACT.fullmatch(token) is None:
            raise invalid("token", _form_problem(token))
        header_b64, payload_b64, signature_b64 = token.split(".")
        alg, kid, header = self._header(header_b64)
        signature = _segment(signature_b64, "signature")
        signing_input = token[: len(header_b64) + len(payload_b64) + 1].encode("ascii")
        return alg, kid, header, signing_input, payload_b64, signature

    def _header(self, header_b64: str) -> tuple[str, str, dict[str, Any]]:
        """The ``alg``, ``kid`` and members of a header segment that passed the checks."""
        checked = self._headers.get(header_b64)
        if checked is None:
            header = _segment_json(header_b64, "header")
            alg, kid = self._check_header(header)
            checked = (alg, kid, header)
            if len(self._headers) >= _HEADER_CACHE_SIZE:
                self._headers.clear()
            self._headers[header_b64] = checked
        return checked

    def _check_header(self, header: dict[str, Any]) -> tuple[str, str]:
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise invalid("alg", _alg_problem(alg))
        if not _REFUSED.isdisjoint(header):
            member = next(name for name in _REFUSED_MEMBERS if name in header)
            raise invalid(member, _REFUSED_MEMBERS[member])
        if self._typ is not None:
            typ = header.get("typ")
            if not isinstance(typ, str) or _normal_typ(typ) != self._typ:
                raise invalid("typ", "the token is not of the expected type")
        kid = header.get("kid")
        if not isinstance(kid, str) or not 0 < len(kid) <= _MAX_KID_LENGTH:
            raise invalid("kid", "the kid header is missing or not a short string")
        return alg, kid

    def _accept(
        self,
        parsed: tuple[str, str, dict[str, Any], bytes, str, bytes],
        keys: tuple[PublicKey, ...],
        required_scopes: str | Iterable[str],
        required_roles: str | Iterable[str],
    ) -> VerifiedToken:
        alg, _kid, header, signing_input, payload_b64, signature = parsed
        _check_signature(alg, keys, signing_input, signature)
        claims = _segment_json(payload_b64, "payload")
        self._check_claims(claims, self._clock())
        token = VerifiedToken(
            MappingProxyType(claims),
            MappingProxyType(header),
            frozenset(name for name in claims.get("scope", "").split(" ") if name),
            frozenset(claims.get("roles", ())),
        )
        _check_grants(token, required_scopes, required_roles)
        return token

    def _check_claims(self, claims: dict[str, Any], now: float) -> None:
        if claims.get("iss") != self._issuer:
            raise invalid("iss", "the token comes from another issuer")
        self._check_audience(claims.get("aud"))
        exp = _numeric_date(claims, "exp")
        if exp is None:
            raise invalid("exp", "the token has no exp claim")
        if exp <= now - self._leeway:
            raise TokenError(TOKEN_EXPIRED, "exp", "the token has expired")
        nbf = _numeric_date(claims, "nbf")
        if nbf is not None and nbf > now + self._leeway:
            raise invalid("nbf", "the token is not valid yet")
        iat = _numeric_date(claims, "iat")
        if iat is not None and iat > now + self._leeway:
            raise invalid("iat", "the token claims to be issued in the future")
        _check_types(claims)

    def _check_audience(self, aud: object) -> None:
        if isinstance(aud, str):
            if aud in self._audiences:
                return
        elif isinstance(aud, list) and aud and all(isinstance(item, str) for item in aud):
            if not self._audiences.isdisjoint(aud):
                return
        else:
            raise invalid("aud", "the aud claim is missing or malformed")
        raise invalid("aud", "the token is meant for another audience")


def _check_signature(
    alg: str, keys: tuple[PublicKey, ...], signing_input: bytes, signature: bytes
) -> None:
    """Verify with the keys of the token's ``kid`` that suit its ``alg``."""
    if not keys:
        raise invalid("kid", "no key of the issuer has this kid")
    check = SIGNATURE_CHECKS[alg]
    suitable = False
    for key in keys:
        if alg in key.algorithms:
            suitable = True
            try:
                check(key.key, signature, signing_input)
            except InvalidSignature:
                continue
            return
    if not suitable:
        raise invalid("alg", "the alg does not suit the key with this kid")
    raise invalid("signature", "the signature does not verify")


def _check_types(claims: dict[str, Any]) -> None:
    for name in _STRING_CLAIMS:
        if name in claims and not isinstance(claims[name], str):
            raise invalid(name, f"the {name} claim must be a string")
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise invalid("roles", "the roles claim must be an array of strings")


def _check_grants(
    token: VerifiedToken, scopes: str | Iterable[str], roles: str | Iterable[str]
) -> None:
    if scopes and not token.scopes.issuperset(_names(scopes)):
        raise TokenError(INSUFFICIENT_SCOPE, "scope", "the token lacks a required scope")
    if roles and not token.roles.issuperset(_names(roles)):
        raise TokenError(INSUFFICIENT_SCOPE, "roles", "the token lacks a required role")


def _names(value: str | Iterable[str]) -> frozenset[str]:
    return frozenset(value.split()) if isinstance(value, str) else frozenset(value)


def _numeric_date(claims: dict[str, Any], name: str) -> float | None:
    """A NumericDate (RFC 7519 §2): a finite JSON number in a sane range, not a bool."""
    if name not in claims:
        return None
    value = claims[name]
    if type(value) not in (int, float) or not 0 <= value <= _MAX_NUMERIC_DATE:
        raise invalid(name, f"the {name} claim is not a valid NumericDate")
    return value  # type: ignore[no-any-return]


def _segment(segment: str, part: str) -> bytes:
    try:
        return b64url_decode(segment)
    except ValueError:
        raise invalid(part, f"the {part} is not canonical base64url") from None


def _segment_json(segment: str, part: str) -> dict[str, Any]:
    value = json_object(_segment(segment, part))
    if value is None:
        raise invalid(part, f"the {part} is not a JSON object")
    return value


def _form_problem(token: str) -> str:
    if token.lstrip().startswith("{"):
        return "JSON serialisations are refused; only the compact form is accepted"
    dots = token.count(".")
    if dots == 4:
        return "encrypted tokens (JWE) are refused"
    if dots != 2:
        return "a token has exactly three segments"
    return "the segments are not unpadded base64url"


def _alg_problem(alg: object) -> str:
    if not isinstance(alg, str):
        return "the alg header is missing or not a string"
    if alg.lower() == "none":
        return "unsecured tokens (alg none) are refused"
    if alg.upper().startswith("HS"):
        return "symmetric algorithms (HMAC) are refused"
    return "this alg is not allowed"


def _normal_typ(typ: str) -> str:
    typ = typ.lower()
    return typ[len("application/") :] if typ.startswith("application/") else typ


def _expected_typ(typ: str | None) -> str | None:
    if typ is None:
        return None
    if not isinstance(typ, str) or not typ:
        raise ConfigurationError("typ must be a non-empty string or None")
    return _normal_typ(typ)


def _audiences(audience: str | Iterable[str] | None) -> frozenset[str]:
    if audience is None:
        raise ConfigurationError("an audience is required")
    if isinstance(audience, str):
        audience = [audience]
    try:
        audiences = frozenset(audience)
    except TypeError:
        raise ConfigurationError("audience must be a string or strings") from None
    if not audiences or not all(isinstance(item, str) and item for item in audiences):
        raise ConfigurationError("at least one non-empty audience is required")
    return audiences


def _algorithms(algorithms: Iterable[str]) -> frozenset[str]:
    if isinstance(algorithms, str):
        algorithms = [algorithms]
    try:
        chosen = frozenset(algorithms)
    except TypeError:
        raise ConfigurationError("algorithms must be a list of names") from None
    if not chosen:
        raise ConfigurationError("the algorithm allowlist is empty")
    unsupported = chosen - SUPPORTED_ALGORITHMS
    if unsupported:
        names = ", ".join(sorted(map(str, unsupported)))
        raise ConfigurationError(
            f"unsupported algorithms: {names}; allowed are asymmetric "
            + ", ".join(sorted(SUPPORTED_ALGORITHMS))
        )
    return chosen


def _leeway(leeway: float) -> float:
    if isinstance(leeway, bool) or not isinstance(leeway, int | float):
        raise ConfigurationError("leeway must be a number of seconds")
    if not math.isfinite(leeway) or leeway < 0:
        raise ConfigurationError("leeway must be finite and not negative")
    return leeway
