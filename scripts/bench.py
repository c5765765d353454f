#!/usr/bin/env python
"""Performance of the issuer, each figure a ratio to a limit measured in the same run.

    .venv/bin/python scripts/bench.py [--quick] [--json PATH] [--only SECTION ...]

Sections (all by default):

- ``crypto``: the limit (``cryptography`` alone signing and verifying with RSA-2048
  PKCS#1 v1.5 and P-256 ECDSA, SHA-256), our access-token minting (claims, signature,
  encoding) and our verifier on a static key set, each beside PyJWT and joserfc doing
  the same job with the same key, header and claims. One core, CPU time.
- ``http``: a real issuer (``python -m issuer serve``) on one core and this process as
  the load generator on another; ``client_credentials`` (ES256, RS256), password logins,
  ``refresh_token`` and the JWKS (200 and 304), each right after the same load on a
  bare Starlette endpoint served the same way, the ceiling of the HTTP stack.
- ``growth``: refresh-grant latency with 10k, 100k and 1M refresh-token rows in the
  table, on SQLite and (when reachable) PostgreSQL.
- ``storm``: p99 of ``client_credentials`` and the JWKS while password logins with the
  default argon2 parameters run flat out, against the same without logins.

Prints a table and writes the same figures as JSON (default ``var/bench/latest.json``).
The crypto comparisons interleave their candidates in short chunks and take medians of
per-round ratios, so a noisy neighbour slows every candidate alike.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import importlib.metadata
import itertools
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent
ROOT = SCRIPTS.parent
for _path in (str(ROOT), str(SCRIPTS)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import bench_growth  # noqa: E402
import bench_http  # noqa: E402

SECTIONS = ("crypto", "http", "growth", "storm")
DEFAULT_JSON = ROOT / "var" / "bench" / "latest.json"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
LIBRARIES = (
    "issuer", "cryptography", "PyJWT", "joserfc", "starlette", "uvicorn", "h11", "httpx",
    "anyio", "SQLAlchemy", "sqlmodel", "aiosqlite", "psycopg", "psycopg-binary",
    "argon2-cffi", "pydantic",
)


@dataclass
class Plan:
    crypto_seconds: float = 3.0
    http: bench_http.HttpPlan = field(default_factory=bench_http.HttpPlan)
    growth_sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    growth_samples: int = 400


def plan_for(quick: bool) -> Plan:
    if not quick:
        return Plan()
    return Plan(
        crypto_seconds=0.6,
        http=bench_http.HttpPlan(requests=400, concurrency=32, warmup=50, storm_requests=100,
                                 storm_ramp_seconds=1.0, storm_deadline=5.0),
        growth_sizes=(10_000, 100_000),
        growth_samples=100,
    )


# --- the machine --------------------------------------------------------------------


def pin_process(core: int) -> bool:
    """Pin this process to one core; False where the OS has no affinity call."""
    if not hasattr(os, "sched_setaffinity"):
        return False
    os.sched_setaffinity(0, {core})
    return True


def choose_cores() -> tuple[int, int]:
    """(server core, client core): two distinct cores when there are two."""
    available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
    return available[0], available[1] if len(available) > 1 else available[0]


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from cryptography.hazmat.backends.openssl.backend import backend

    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg")
        else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "openssl": backend.openssl_version_text(),
        "sqlite": sqlite3.sqlite_version,
        "libraries": versions,
        "commit": _git_commit(),
    }


def _git_commit() -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - our own checkout
            cwd=ROOT, capture_output=True, text=True, timeout=5, check=False,
        )
    except OSError:
        return None
    return result.stdout.strip() or None


# --- in-process comparisons ---------------------------------------------------------


def compare(
    candidates: dict[str, Callable[[], object]], *, seconds: float, baseline: str = "raw",
    chunk_seconds: float = 0.002,
) -> dict[str, Any]:
    """Operations per CPU-second of each candidate, interleaved in short chunks.

    Each round runs every candidate for about ``chunk_seconds`` (the order rotates from
    round to round); a candidate's rate is the median of its chunks and its ratio the
    median of its per-round ratios to ``baseline``.
    """
    sizes = {name: _chunk_size(work, chunk_seconds) for name, work in candidates.items()}
    rates: dict[str, list[float]] = {name: [] for name in candidates}
    order = list(candidates)
    clock = time.process_time
    stop = clock() + seconds
    rounds = 0
    while rounds < 3 or clock() < stop:
        order = order[1:] + order[:1]
        for name in order:
            work, size = candidates[name], sizes[name]
            started = clock()
            for _ in itertools.repeat(None, size):
                work()
            rates[name].append(size / max(clock() - started, 1e-9))
        rounds += 1
    per_round = {
        name: [mine / base for mine, base in zip(values, rates[baseline], strict=True)]
        for name, values in rates.items()
    }
    return {
        "rounds": rounds,
        "rates": {name: round(statistics.median(values), 1) for name, values in rates.items()},
        "ratios": {name: round(statistics.median(values), 3) for name, values in per_round.items()},
    }


def _chunk_size(work: Callable[[], object], chunk_seconds: float) -> int:
    work()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < 0.02:
        work()
        count += 1
    per_call = (time.perf_counter() - started) / count
    return max(1, int(chunk_seconds / per_call))


@dataclass
class TokenSetup:
    """One key and everything needed to mint and verify with it, without a database."""

    alg: str
    private_key: Any
    jwk: dict[str, Any]
    signer: Any
    minter: Any
    grant: Any
    issuer_url: str
    audience: str


def token_setup(alg: str) -> TokenSetup:
    from issuer.models import Client, User
    from issuer.settings import load_settings
    from issuer.tokens import Grant, TokenMinter
    from keys import Signer, generate_private_key, public_jwk

    settings = load_settings(url="https://issuer.bench", default_audience="api")
    private_key = generate_private_key(alg)
    jwk = public_jwk(private_key, alg)
    client = Client(client_id="bench", grants=["password", "refresh_token"],
                    scopes=["openid", "api"], created_at=0)
    user = User(id="0b5c1f52-5d0a-4c8e-9a38-0d6f1f8d7a11", email="ada@example.com",
                email_key="ada@example.com", password_hash="-",  # noqa: S106 - never checked
                roles=["staff", "admin"],
                given_name="Ada", family_name="Lovelace", created_at=0)
    grant = Grant(client, ("api",), user, int(time.time()))
    # access_claims needs no key manager: it only decides the claims.
    minter = TokenMinter(settings, None, time.time)  # type: ignore[arg-type]
    return TokenSetup(alg, private_key, jwk, Signer(jwk["kid"], alg, private_key), minter,
                      grant, settings.url, settings.default_audience)


def _claims(setup: TokenSetup) -> dict[str, Any]:
    return setup.minter.access_claims(setup.grant, int(time.time()))  # type: ignore[no-any-return]


def minting_candidates(setup: TokenSetup) -> dict[str, Callable[[], object]]:
    """Raw signing of a token-sized input, and three ways of making the whole token."""
    import jwt as pyjwt
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    from joserfc import jwt as jose_jwt
    from joserfc.jwk import ECKey, RSAKey

    alg, key, signer = setup.alg, setup.private_key, setup.signer
    signing_input = signer.sign_compact(_claims(setup), "at+jwt").rsplit(".", 1)[0].encode()
    sha256 = hashes.SHA256()
    if alg == "RS256":
        pkcs1 = padding.PKCS1v15()

        def raw() -> object:
            return key.sign(signing_input, pkcs1, sha256)

        jose_key: Any = RSAKey.import_key(key)
    else:
        ecdsa = ec.ECDSA(sha256)

        def raw() -> object:
            return key.sign(signing_input, ecdsa)

        jose_key = ECKey.import_key(key)
    header = {"alg": alg, "kid": signer.kid, "typ": "at+jwt"}
    extra = {"kid": signer.kid, "typ": "at+jwt"}
    return {
        "raw": raw,
        "ours": lambda: signer.sign_compact(_claims(setup), "at+jwt"),
        "pyjwt": lambda: pyjwt.encode(_claims(setup), key, algorithm=alg, headers=extra),
        "joserfc": lambda: jose_jwt.encode(header, _claims(setup), jose_key),
    }


def verifying_candidates(setup: TokenSetup, pool: int = 64) -> dict[str, Callable[[], object]]:
    """Raw verification of the signatures, and three verifiers of the same tokens."""
    import jwt as pyjwt
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    from joserfc import jwt as jose_jwt
    from joserfc.jwk import ECKey, RSAKey
    from joserfc.jwt import JWTClaimsRegistry

    from issuer.verifier import KeySet, TokenVerifier

    alg = setup.alg
    public = setup.private_key.public_key()
    tokens = [setup.signer.sign_compact(_claims(setup), "at+jwt") for _ in range(pool)]
    signed = []
    for token in tokens:
        signing_input, _, signature_b64 = token.rpartition(".")
        signature = base64.urlsafe_b64decode(signature_b64 + "=" * (-len(signature_b64) % 4))
        if alg == "ES256":
            r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            signature = encode_dss_signature(r, s)
        signed.append((signing_input.encode(), signature))
    sha256 = hashes.SHA256()
    if alg == "RS256":
        pkcs1 = padding.PKCS1v15()
        pairs = itertools.cycle(signed)

        def raw() -> object:
            data, signature = next(pairs)
            return public.verify(signature, data, pkcs1, sha256)

        jose_key: Any = RSAKey.import_key(public)
    else:
        ecdsa = ec.ECDSA(sha256)
        pairs = itertools.cycle(signed)

        def raw() -> object:
            data, signature = next(pairs)
            return public.verify(signature, data, ecdsa)

        jose_key = ECKey.import_key(public)

    verifier = TokenVerifier(issuer=setup.issuer_url, audience=setup.audience,
                             key_set=KeySet.from_jwks({"keys": [setup.jwk]}), algorithms=[alg])
    registry = JWTClaimsRegistry(iss={"essential": True, "value": setup.issuer_url},
                                 aud={"essential": True, "value": setup.audience})
    ours, theirs, jose = (itertools.cycle(tokens) for _ in range(3))

    def joserfc() -> object:
        token = jose_jwt.decode(next(jose), jose_key, algorithms=[alg])
        registry.validate(token.claims)
        return token

    return {
        "raw": raw,
        "ours": lambda: verifier.verify_sync(next(ours)),
        "pyjwt": lambda: pyjwt.decode(next(theirs), public, algorithms=[alg],
                                      audience=setup.audience, issuer=setup.issuer_url),
        "joserfc": joserfc,
    }


def measure_minting(alg: str, seconds: float) -> dict[str, Any]:
    return {"alg": alg, **compare(minting_candidates(token_setup(alg)), seconds=seconds)}


def measure_verifying(alg: str, seconds: float) -> dict[str, Any]:
    return {"alg": alg, **compare(verifying_candidates(token_setup(alg)), seconds=seconds)}


def crypto_section(plan: Plan) -> dict[str, Any]:
    return {
        "clock": "process CPU time, one core",
        "minting": {alg: measure_minting(alg, plan.crypto_seconds) for alg in ("RS256", "ES256")},
        "verifying": {
            alg: measure_verifying(alg, plan.crypto_seconds) for alg in ("RS256", "ES256")
        },
    }


# --- data growth --------------------------------------------------------------------


def growth_section(plan: Plan, workdir: Path, postgres: str | None) -> dict[str, Any]:
    sizes = plan.growth_sizes
    results: dict[str, Any] = {"sizes": list(sizes), "samples": plan.growth_samples}
    sqlite_urls = {size: f"sqlite:///{workdir / f'growth-{size}.db'}" for size in sizes}
    results["sqlite"] = _growth_summary(asyncio.run(
        bench_growth.refresh_growth(sqlite_urls, plan.growth_samples)
    ))
    version = bench_growth.postgres_reachable(postgres) if postgres else None
    if postgres is None or version is None:
        results["postgresql"] = {"skipped": f"no PostgreSQL answered at {postgres}"}
        return results
    with bench_growth.TemporaryPostgresDatabases(postgres, len(sizes)) as urls:
        levels = asyncio.run(bench_growth.refresh_growth(
            dict(zip(sizes, urls, strict=True)), plan.growth_samples
        ))
    results["postgresql"] = {"server_version": version, **_growth_summary(levels)}
    return results


def _growth_summary(levels: list[dict[str, Any]]) -> dict[str, Any]:
    first, last = levels[0], levels[-1]
    return {
        "levels": levels,
        "p99_growth": round(last["p99_ms"] / first["p99_ms"], 2),
        "p50_growth": round(last["p50_ms"] / first["p50_ms"], 2),
    }


# --- targets ------------------------------------------------------------------------


def _get(results: dict[str, Any], *path: str) -> Any:
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target: the measured value, the bound, and pass, miss or n/a."""
    targets: list[dict[str, Any]] = []

    def at_least(name: str, value: Any, bound: float) -> None:
        targets.append(_target(name, value, ">=", bound))

    def at_most(name: str, value: Any, bound: float) -> None:
        targets.append(_target(name, value, "<=", bound))

    for section, floors in (("minting", {"RS256": 0.93, "ES256": 0.45}),
                            ("verifying", {"RS256": 0.45, "ES256": 0.6})):
        verb = "mint" if section == "minting" else "verify"
        for alg, floor in floors.items():
            ratios = _get(results, "crypto", section, alg, "ratios") or {}
            at_least(f"{verb} {alg} / raw {verb}", ratios.get("ours"), floor)
            for rival in ("pyjwt", "joserfc"):
                ahead = None
                if ratios.get("ours") is not None and ratios.get(rival) is not None:
                    ahead = round(ratios["ours"] / ratios[rival], 3)
                at_least(f"{verb} {alg} ours / {rival}", ahead, 1.0)
    at_least("client_credentials ES256 / bare ceiling",
             _get(results, "http", "endpoints", "client_credentials_es256", "ratio_to_ceiling"),
             0.5)
    for backend in ("sqlite", "postgresql"):
        at_most(f"refresh p99 growth 10k->1M rows ({backend})",
                _growth_if_complete(results, backend), 1.5)
    for endpoint in ("client_credentials", "jwks"):
        at_most(f"{endpoint} p99 in login storm / idle",
                _get(results, "storm", "endpoints", endpoint, "p99_ratio"), 3.0)
    return targets


def _growth_if_complete(results: dict[str, Any], backend: str) -> float | None:
    levels = _get(results, "growth", backend, "levels")
    if not levels or levels[-1]["target_rows"] < 1_000_000:
        return None  # --quick stops at 100k rows: the target is about 1M
    return _get(results, "growth", backend, "p99_growth")  # type: ignore[no-any-return]


def _target(name: str, value: Any, op: str, bound: float) -> dict[str, Any]:
    if value is None:
        verdict = "n/a"
    else:
        verdict = "pass" if (value >= bound if op == ">=" else value <= bound) else "miss"
    return {"target": name, "value": value, "bound": f"{op} {bound}", "result": verdict}


# --- the report ---------------------------------------------------------------------


def report_lines(results: dict[str, Any]) -> list[str]:
    """One table: each figure, the limit it is measured against, their ratio, the target."""
    verdicts = {t["target"]: f"{t['bound']}: {t['result']}" for t in results.get("targets", ())}
    rows: list[tuple[str, ...]] = []
    for section, verb, unit in (("minting", "mint", "sign"), ("verifying", "verify", "verify")):
        for alg, figures in (_get(results, "crypto", section) or {}).items():
            rates, ratios = figures["rates"], figures["ratios"]
            ahead = [verdicts.get(f"{verb} {alg} ours / {rival}", "")
                     for rival in ("pyjwt", "joserfc")]
            rows.append((
                f"{verb} {alg} (in process)", f"{rates['ours']:,.0f}/s",
                f"raw {unit} {rates['raw']:,.0f}/s", f"{ratios['ours']:.3f}",
                f"PyJWT {ratios['pyjwt']:.3f}, joserfc {ratios['joserfc']:.3f}",
                f"{verdicts.get(f'{verb} {alg} / raw {verb}', '')}; ahead of both: "
                + ("pass" if all(v.endswith("pass") for v in ahead) else "miss"),
            ))
    http = results.get("http") or {}
    for method, ceiling in (http.get("ceiling") or {}).items():
        rows.append((f"bare Starlette {method} (ceiling)", f"{ceiling['rps']:,.0f} req/s", "",
                     "", f"p50 {ceiling['p50_ms']:.1f} / p99 {ceiling['p99_ms']:.1f} ms", ""))
    for name, figures in (http.get("endpoints") or {}).items():
        rows.append((
            name.replace("_es256", " ES256").replace("_rs256", " RS256"),
            f"{figures['rps']:,.0f} req/s",
            f"bare {figures['method']} {figures['ceiling_rps']:,.0f} req/s",
            f"{figures['ratio_to_ceiling']:.3f}",
            f"p50 {figures['p50_ms']:.1f} / p99 {figures['p99_ms']:.1f} ms"
            + (f", {figures['errors']} errors" if figures["errors"] else ""),
            verdicts.get("client_credentials ES256 / bare ceiling", "")
            if name == "client_credentials_es256" else "",
        ))
    for backend in ("sqlite", "postgresql"):
        growth = _get(results, "growth", backend) or {}
        if "skipped" in growth:
            rows.append((f"refresh p99, {backend}", "skipped", "", "", growth["skipped"], ""))
        levels = growth.get("levels", ())
        if levels:
            sizes = "/".join(_rows_label(level["target_rows"]) for level in levels)
            rows.append((
                f"refresh p99 at {sizes} rows, {backend}",
                " / ".join(f"{level['p99_ms']:.1f}" for level in levels) + " ms",
                f"{_rows_label(levels[0]['target_rows'])} rows", f"x{growth['p99_growth']:.2f}",
                "p50 " + " / ".join(f"{level['p50_ms']:.1f}" for level in levels) + " ms",
                verdicts.get(f"refresh p99 growth 10k->1M rows ({backend})", ""),
            ))
    storm = results.get("storm") or {}
    for name, figures in (storm.get("endpoints") or {}).items():
        idle, busy = figures["idle"], figures["storm"]
        unanswered = busy["requests"] - busy["completed"]
        rows.append((
            f"{name} p99 in login storm", f"{busy['p99_ms']:,.1f} ms",
            f"idle {idle['p99_ms']:.1f} ms", f"x{figures['p99_ratio']:.2f}",
            f"p50 {idle['p50_ms']:.1f} -> {busy['p50_ms']:.1f} ms"
            + (f"; {unanswered}/{busy['requests']} unanswered in {busy['seconds']:.0f} s"
               if unanswered else ""),
            verdicts.get(f"{name} p99 in login storm / idle", ""),
        ))
    if storm.get("logins_per_second") is not None:
        rows.append(("password logins in the storm", f"{storm['logins_per_second']}/s", "", "",
                     f"default argon2, p50 {storm['login_p50_ms']} ms", ""))
    lines = _columns(("measurement", "figure", "limit", "ratio", "detail", "target"), rows)
    for section, error in (results.get("errors") or {}).items():
        lines.append(f"error in {section}: {error.splitlines()[-1]}")
    return lines


def _rows_label(rows: int) -> str:
    return f"{rows // 1_000_000}M" if rows >= 1_000_000 else f"{rows // 1000}k"


def _columns(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        return "| " + " | ".join(cells) + " |"

    rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return [line(header), rule, *(line(row) for row in rows)]


# --- the command --------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    plan = plan_for(args.quick)
    server_core, client_core = choose_cores()
    pinned = pin_process(client_core)
    started = time.time()
    results: dict[str, Any] = {
        "command": " ".join(["scripts/bench.py", *sys.argv[1:]]),
        "quick": args.quick,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "machine": machine(),
        "cores": {"pinned": pinned, "server": server_core, "client_and_in_process": client_core},
    }
    errors: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="issuer-bench-") as tmp:
        workdir = Path(tmp)
        work: dict[str, Callable[[], Any]] = {
            "crypto": lambda: crypto_section(plan),
            "http": lambda: asyncio.run(bench_http.http_section(workdir, server_core, plan.http)),
            "growth": lambda: growth_section(plan, workdir, None if args.no_postgres
                                             else args.postgres),
            "storm": lambda: asyncio.run(
                bench_http.storm_section(workdir, server_core, plan.http)),
        }
        for section in SECTIONS:
            if section not in args.only:
                continue
            section_started = time.perf_counter()
            print(f"[bench] {section} ...", file=sys.stderr, flush=True)
            try:
                results[section] = work[section]()
            except Exception:  # report the other sections; the exit status says it failed
                errors[section] = traceback.format_exc()
                print(errors[section], file=sys.stderr)
            print(f"[bench] {section} took {time.perf_counter() - section_started:.1f} s",
                  file=sys.stderr, flush=True)
    results["targets"] = evaluate_targets(results)
    results["errors"] = errors
    results["duration_seconds"] = round(time.time() - started, 1)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts, under a minute")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write JSON")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                        help="run only these sections")
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL",
                                                             DEFAULT_POSTGRES),
                        help="admin URL of a PostgreSQL server for the growth section")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args(argv)

    results = run(args)
    lines = report_lines(results)
    print("\n".join(lines))
    print(f"\nmachine: {results['machine']['cpu']}, {results['machine']['cores']} cores, "
          f"Python {results['machine']['python']}, {results['machine']['openssl']}; "
          f"{results['duration_seconds']} s")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({**results, "table": lines}, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
