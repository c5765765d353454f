"""``python -m issuer.verifier --issuer URL --audience AUD TOKEN``: verify one token.

Fetches the issuer's keys through its discovery document, prints the claims as JSON and
exits 0; otherwise prints ``invalid: <code> (<claim>): <message>`` on stderr and exits 1.
``TOKEN`` may be ``-`` to read it from standard input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

import httpx

from ._errors import ConfigurationError, TokenError
from ._remote import RemoteKeySet
from ._verifier import TokenVerifier, VerifiedToken


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m issuer.verifier", description="Verify one access token."
    )
    parser.add_argument("--issuer", required=True, help="issuer URL, exactly as in iss")
    parser.add_argument(
        "--audience", required=True, action="append", help="accepted aud (repeatable)"
    )
    parser.add_argument(
        "--algorithm", action="append", help="allowed alg (repeatable; RS256 and ES256)"
    )
    parser.add_argument("--typ", default="at+jwt", help="expected typ header")
    parser.add_argument("--leeway", type=float, default=60.0, help="clock skew, seconds")
    parser.add_argument("token", help="the token, or - to read it from standard input")
    return parser


def main(
    argv: Sequence[str] | None = None, *, transport: httpx.AsyncBaseTransport | None = None
) -> int:
    """Run the command; ``transport`` lets tests answer the HTTP requests."""
    parser = _parser()
    args = parser.parse_args(argv)
    from_stdin = args.token == "-"  # noqa: S105 - the stdin marker, not a secret
    token = sys.stdin.read().strip() if from_stdin else args.token
    try:
        key_set = RemoteKeySet.from_issuer(args.issuer, transport=transport)
        verifier = TokenVerifier(
            issuer=args.issuer,
            audience=args.audience,
            key_set=key_set,
            algorithms=args.algorithm or ("RS256", "ES256"),
            typ=args.typ or None,
            leeway=args.leeway,
        )
    except ConfigurationError as exc:
        parser.error(str(exc))
    try:
        verified = asyncio.run(_verify(verifier, key_set, token))
    except TokenError as exc:
        print(f"invalid: {exc.code} ({exc.claim}): {exc.message}", file=sys.stderr)
        return 1
    print(json.dumps(dict(verified.claims), indent=2, sort_keys=True))
    return 0


async def _verify(verifier: TokenVerifier, key_set: RemoteKeySet, token: str) -> VerifiedToken:
    async with key_set:
        return await verifier.verify(token)


if __name__ == "__main__":
    sys.exit(main())
