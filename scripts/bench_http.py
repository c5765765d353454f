"""Loopback HTTP measurements for scripts/bench.py: a load generator and the servers.

The load generator is deliberately small, so that it is never the bottleneck: requests
are encoded before the clock starts, each connection is an HTTP/1.1 keep-alive stream
over ``asyncio.open_connection``, and responses are framed by ``Content-Length`` (all
the endpoints measured here send it; a 304 has no body). Every run sends a fixed list
of requests and stops by itself; one deadline bounds the whole run.

Servers run in their own processes, pinned to one core; the generator runs in the
bench process, pinned to another.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
RUN_DEADLINE_SECONDS = 180.0
READY_DEADLINE_SECONDS = 60.0
CHEAP_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1}
BENCH_EMAIL = "bench@example.com"
BENCH_PASSWORD = "a bench password"  # noqa: S105 - a throwaway account in a temporary database


# --- the load generator -------------------------------------------------------------


@dataclass
class LoadResult:
    """One run: how many requests, how fast, and what the generator itself cost.

    A run cut short by its deadline counts the requests still waiting as ``timed_out``
    (their latency so far enters the percentiles, which are then lower bounds) and
    the ones never sent as ``not_sent``.
    """

    requests: int
    completed: int
    errors: int
    timed_out: int
    not_sent: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    client_cpu: float  # share of one core the generator used during the run
    statuses: dict[str, int]
    bodies: list[bytes] | None = field(default=None, repr=False)

    def summary(self) -> dict[str, Any]:
        figures = asdict(self)
        figures.pop("bodies")
        return figures


def encode_request(
    method: str, path: str, *, port: int, headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> bytes:
    """One HTTP/1.1 request, ready to be written to a socket."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def form_post(path: str, port: int, params: dict[str, str], auth: tuple[str, str]) -> bytes:
    """A form POST with ``client_secret_basic`` credentials (RFC 6749 §2.3.1)."""
    credentials = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": f"Basic {credentials}",
    }
    return encode_request("POST", path, port=port, headers=headers, body=urlencode(params).encode())


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lowered = head.lower()
    if b"\r\ntransfer-encoding:" in lowered:
        raise ValueError("chunked responses are not supported by this client")
    length = 0
    at = lowered.find(b"\r\ncontent-length:")
    if at >= 0:
        end = lowered.index(b"\r\n", at + 2)
        length = int(lowered[at + 17 : end])
    close = b"\r\nconnection: close" in lowered
    body = await reader.readexactly(length) if length else b""
    return status, body, close


async def run_load(
    port: int,
    requests: Sequence[bytes],
    *,
    concurrency: int,
    keep_bodies: bool = False,
    deadline: float = RUN_DEADLINE_SECONDS,
) -> LoadResult:
    """Send every request once over ``concurrency`` keep-alive connections, or as many
    as ``deadline`` seconds allow."""
    total = len(requests)
    if total == 0:
        raise ValueError("no requests to send")
    latencies = [0.0] * total
    sent_at = [0.0] * total
    statuses = [-1] * total  # -1: not answered
    bodies: list[bytes] | None = [b""] * total if keep_bodies else None
    next_index = iter(range(total))
    writers: list[asyncio.StreamWriter] = []

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        writers.append(writer)
        clock = time.perf_counter
        for index in next_index:
            sent_at[index] = started = clock()
            try:
                writer.write(requests[index])
                status, body, close = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
                status, body, close = 0, b"", True
            latencies[index] = clock() - started
            statuses[index] = status
            if bodies is not None:
                bodies[index] = body
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, port)
                writers.append(writer)

    cpu_before, wall_before = time.process_time(), time.perf_counter()
    try:
        await asyncio.wait_for(
            asyncio.gather(*(worker() for _ in range(min(concurrency, total)))), deadline
        )
    except TimeoutError:
        pass
    finally:
        for writer in writers:
            writer.close()
    wall = time.perf_counter() - wall_before
    cpu = time.process_time() - cpu_before
    ended = wall_before + wall
    for index in range(total):
        if statuses[index] == -1 and sent_at[index]:
            latencies[index] = ended - sent_at[index]
    counts: dict[str, int] = {}
    for status in statuses:
        counts[str(status)] = counts.get(str(status), 0) + 1
    ordered = sorted(latencies[i] for i in range(total) if sent_at[i]) or [wall]
    completed = sum(1 for status in statuses if status != -1)
    return LoadResult(
        requests=total,
        completed=completed,
        errors=sum(1 for status in statuses if status not in (200, 304, -1)),
        timed_out=sum(1 for i in range(total) if statuses[i] == -1 and sent_at[i]),
        not_sent=sum(1 for i in range(total) if not sent_at[i]),
        seconds=round(wall, 3),
        rps=round(completed / wall, 1),
        p50_ms=round(percentile(ordered, 50) * 1000, 3),
        p99_ms=round(percentile(ordered, 99) * 1000, 3),
        max_ms=round(ordered[-1] * 1000, 3),
        client_cpu=round(cpu / wall, 3),
        statuses=counts,
        bodies=bodies,
    )


def percentile(ordered: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


# --- server processes ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def pin_to(cores: set[int]) -> Callable[[], None]:
    """A ``preexec_fn`` that pins the child (and the threads it will start) to ``cores``."""

    def pin() -> None:
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, cores)

    return pin


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


async def start_server(
    name: str, argv: list[str], *, env: dict[str, str], workdir: Path, core: int,
    port: int, ready_path: str,
) -> Server:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our interpreter, our scripts
            argv, env=env, cwd=workdir, stdout=out, stderr=subprocess.STDOUT,
            preexec_fn=pin_to({core}),
        )
    server = Server(name, port, process, log)
    try:
        await _wait_ready(server, ready_path)
    except BaseException:
        server.stop()
        raise
    return server


async def _wait_ready(server: Server, path: str) -> None:
    request = encode_request("GET", path, port=server.port)
    give_up = time.monotonic() + READY_DEADLINE_SECONDS
    while time.monotonic() < give_up:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited: {server.log.read_text()[-2000:]}")
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, ValueError):
            reader, writer = await asyncio.open_connection(HOST, server.port)
            writer.write(request)
            status, _, _ = await asyncio.wait_for(_read_response(reader), 5)
            writer.close()
            if status == 200:
                return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{server.name} not ready: {server.log.read_text()[-2000:]}")


async def start_bare(workdir: Path, core: int) -> Server:
    port = free_port()
    argv = [sys.executable, str(ROOT / "scripts" / "bench_bare.py"), "--port", str(port)]
    return await start_server(
        "bare", argv, env=_clean_env(), workdir=workdir, core=core, port=port,
        ready_path="/healthz",
    )


@dataclass
class IssuerServer:
    server: Server
    client_id: str
    secret: str

    @property
    def port(self) -> int:
        return self.server.port


async def start_issuer(
    workdir: Path, core: int, *, alg: str, argon2: dict[str, int] | None = None,
    database_url: str | None = None,
) -> IssuerServer:
    """``python -m issuer serve`` on a fresh database holding one client and one user.

    The database is a new SQLite file unless ``database_url`` names an empty one. The
    accounts are made in this process before the server starts; ``argon2`` (the
    settings names) applies to the stored password hash and to the server alike.
    """
    from keys import KeyEncryptionKey

    port = free_port()
    if database_url is None:
        database_url = f"sqlite:///{workdir / f'issuer-{alg.lower()}-{port}.db'}"
    env = _clean_env()
    env.update({
        "ISSUER_URL": f"http://{HOST}:{port}",
        "ISSUER_DATABASE_URL": database_url,
        "ISSUER_KEK": KeyEncryptionKey.new_text(),
        "ISSUER_SIGNING_ALG": alg,
    })
    env.update({f"ISSUER_{name.upper()}": str(value) for name, value in (argon2 or {}).items()})
    secret = await _prepare_accounts(env)
    argv = [sys.executable, "-m", "issuer", "serve", "--host", HOST, "--port", str(port)]
    server = await start_server(
        f"issuer-{alg.lower()}-{port}", argv, env=env, workdir=workdir, core=core,
        port=port, ready_path="/readyz",
    )
    return IssuerServer(server, "bench", secret)


async def _prepare_accounts(env: dict[str, str]) -> str:
    from issuer.clients import create_client
    from issuer.service import Issuer
    from issuer.settings import load_settings
    from issuer.users import create_user

    overrides = {key[len("ISSUER_") :].lower(): value for key, value in env.items()
                 if key.startswith("ISSUER_")}
    issuer = Issuer(load_settings(**overrides))
    await issuer.start()
    try:
        async with issuer.sessions() as session, session.begin():
            _, secret = await create_client(
                session, "bench", now=int(time.time()),
                grants=["password", "client_credentials", "refresh_token"], scopes=["api"],
            )
            await create_user(session, issuer.passwords, BENCH_EMAIL, BENCH_PASSWORD,
                              now=int(time.time()), roles=["staff"])
    finally:
        await issuer.stop()
    return secret or ""


def _clean_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ISSUER_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


# --- the requests each scenario sends ----------------------------------------------


def client_credentials_requests(issuer: IssuerServer, count: int) -> list[bytes]:
    one = form_post("/token", issuer.port, {"grant_type": "client_credentials", "scope": "api"},
                    (issuer.client_id, issuer.secret))
    return [one] * count


def password_requests(issuer: IssuerServer, count: int) -> list[bytes]:
    params = {"grant_type": "password", "username": BENCH_EMAIL, "password": BENCH_PASSWORD,
              "scope": "api"}
    one = form_post("/token", issuer.port, params, (issuer.client_id, issuer.secret))
    return [one] * count


def refresh_requests(issuer: IssuerServer, tokens: Sequence[str]) -> list[bytes]:
    return [
        form_post("/token", issuer.port, {"grant_type": "refresh_token", "refresh_token": token},
                  (issuer.client_id, issuer.secret))
        for token in tokens
    ]


def jwks_requests(port: int, count: int, etag: str | None = None) -> list[bytes]:
    headers = {"If-None-Match": etag} if etag is not None else None
    return [encode_request("GET", "/.well-known/jwks.json", port=port, headers=headers)] * count


def bare_requests(port: int, method: str, count: int) -> list[bytes]:
    if method == "GET":
        return [encode_request("GET", "/bare", port=port)] * count
    body = b"grant_type=client_credentials&scope=api"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return [encode_request("POST", "/bare", port=port, headers=headers, body=body)] * count


async def jwks_etag(port: int) -> str:
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(jwks_requests(port, 1)[0])
    head = await reader.readuntil(b"\r\n\r\n")
    writer.close()
    if int(head[9:12]) != 200:
        raise RuntimeError("the JWKS did not answer 200")
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"etag":
            return value.strip().decode()
    raise RuntimeError("the JWKS response has no ETag")


def refresh_tokens_of(result: LoadResult) -> list[str]:
    tokens = [json.loads(body)["refresh_token"] for body in result.bodies or () if body]
    if len(tokens) != result.requests:
        raise RuntimeError(f"only {len(tokens)} of {result.requests} logins gave a refresh token")
    return tokens


# --- scenarios ----------------------------------------------------------------------


@dataclass
class HttpPlan:
    requests: int = 2000
    concurrency: int = 32
    warmup: int = 200
    storm_requests: int = 400
    storm_concurrency: int = 4
    storm_logins: int = 8
    storm_ramp_seconds: float = 1.5
    storm_deadline: float = 20.0  # per measured stream; a starved server cannot stall the bench


async def measure_against_ceiling(
    name: str, port: int, requests: list[bytes], warmup: list[bytes], bare: Server,
    method: str, plan: HttpPlan, *, keep_bodies: bool = False,
) -> tuple[dict[str, Any], LoadResult, LoadResult]:
    """The endpoint's run right after a run of the bare endpoint with the same method."""
    if warmup:
        await run_load(port, warmup, concurrency=plan.concurrency)
    await run_load(bare.port, bare_requests(bare.port, method, plan.warmup),
                   concurrency=plan.concurrency)
    ceiling = await run_load(bare.port, bare_requests(bare.port, method, len(requests)),
                             concurrency=plan.concurrency)
    result = await run_load(port, requests, concurrency=plan.concurrency,
                            keep_bodies=keep_bodies)
    figures = {
        "name": name, "method": method, **result.summary(),
        "ceiling_rps": ceiling.rps, "ceiling_p99_ms": ceiling.p99_ms,
        "ratio_to_ceiling": round(result.rps / ceiling.rps, 3),
    }
    return figures, result, ceiling


async def http_section(workdir: Path, server_core: int, plan: HttpPlan) -> dict[str, Any]:
    """Throughput and latency of the endpoints, each against the bare ceiling."""
    endpoints: list[dict[str, Any]] = []
    ceilings: dict[str, list[LoadResult]] = {"GET": [], "POST": []}
    bare = await start_bare(workdir, server_core)
    try:
        for alg in ("ES256", "RS256"):
            issuer = await start_issuer(workdir, server_core, alg=alg, argon2=CHEAP_ARGON2)
            try:
                await _issuer_scenarios(issuer, alg, bare, plan, endpoints, ceilings)
            finally:
                issuer.server.stop()
    finally:
        bare.stop()
    return {
        "plan": asdict(plan),
        "ceiling": {
            method: {
                "runs": len(runs),
                "rps": round(statistics.median(r.rps for r in runs), 1),
                "p50_ms": round(statistics.median(r.p50_ms for r in runs), 3),
                "p99_ms": round(statistics.median(r.p99_ms for r in runs), 3),
            }
            for method, runs in ceilings.items() if runs
        },
        "endpoints": {figures["name"]: figures for figures in endpoints},
    }


async def _issuer_scenarios(
    issuer: IssuerServer, alg: str, bare: Server, plan: HttpPlan,
    endpoints: list[dict[str, Any]], ceilings: dict[str, list[LoadResult]],
) -> None:
    suffix = alg.lower()

    async def measure(name: str, requests: list[bytes], warmup: list[bytes], method: str,
                      keep_bodies: bool = False) -> LoadResult:
        figures, result, ceiling = await measure_against_ceiling(
            f"{name}_{suffix}", issuer.port, requests, warmup, bare, method, plan,
            keep_bodies=keep_bodies,
        )
        endpoints.append(figures)
        ceilings[method].append(ceiling)
        return result

    await measure("client_credentials", client_credentials_requests(issuer, plan.requests),
                  client_credentials_requests(issuer, plan.warmup), "POST")
    if alg != "ES256":
        return
    # Refresh tokens for the refresh runs come from password logins (cheap argon2 here).
    logins = await measure("password_cheap_argon2", password_requests(issuer, plan.requests),
                           password_requests(issuer, plan.warmup), "POST", keep_bodies=True)
    warm_logins = await run_load(issuer.port, password_requests(issuer, plan.warmup),
                                 concurrency=plan.concurrency, keep_bodies=True)
    await measure("refresh_token", refresh_requests(issuer, refresh_tokens_of(logins)),
                  refresh_requests(issuer, refresh_tokens_of(warm_logins)), "POST")
    etag = await jwks_etag(issuer.port)
    await measure("jwks", jwks_requests(issuer.port, plan.requests),
                  jwks_requests(issuer.port, plan.warmup), "GET")
    await measure("jwks_304", jwks_requests(issuer.port, plan.requests, etag),
                  jwks_requests(issuer.port, plan.warmup, etag), "GET")


async def storm_section(
    workdir: Path, server_core: int, plan: HttpPlan, argon2: dict[str, int] | None = None,
    database_url: str | None = None,
) -> dict[str, Any]:
    """p99 of client_credentials and the JWKS, idle and while password logins run flat out.

    The server hashes with the default argon2 parameters unless ``argon2`` says otherwise.
    """
    issuer = await start_issuer(workdir, server_core, alg="ES256", argon2=argon2,
                                database_url=database_url)
    try:
        return await _storm(issuer, plan)
    finally:
        issuer.server.stop()


async def _storm(issuer: IssuerServer, plan: HttpPlan) -> dict[str, Any]:
    port = issuer.port
    streams = {
        "client_credentials": client_credentials_requests(issuer, plan.storm_requests),
        "jwks": jwks_requests(port, plan.storm_requests),
    }
    for requests in streams.values():
        await run_load(port, requests[: plan.warmup], concurrency=plan.storm_concurrency)
    idle = {name: await run_load(port, requests, concurrency=plan.storm_concurrency)
            for name, requests in streams.items()}

    stop = asyncio.Event()
    login = password_requests(issuer, 1)
    done: list[float] = []
    failed: list[int] = []

    async def log_in_until_stopped() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while not stop.is_set():
                started = time.perf_counter()
                writer.write(login[0])
                status, _, close = await _read_response(reader)
                if status != 200 or close:
                    failed.append(status)
                    return
                done.append(time.perf_counter() - started)
        finally:
            writer.close()

    storm = [asyncio.create_task(log_in_until_stopped()) for _ in range(plan.storm_logins)]
    try:
        await asyncio.sleep(plan.storm_ramp_seconds)
        logins_before, storm_started = len(done), time.perf_counter()
        busy = {name: await run_load(port, requests, concurrency=plan.storm_concurrency,
                                     deadline=plan.storm_deadline)
                for name, requests in streams.items()}
        storm_seconds = time.perf_counter() - storm_started
        logins_during = len(done) - logins_before
    finally:
        stop.set()
        _, pending = await asyncio.wait(storm, timeout=10)
        for task in pending:
            task.cancel()
    if failed:
        raise RuntimeError(f"password logins failed during the storm: statuses {failed[:5]}")
    ordered = sorted(done)
    return {
        "plan": {"requests": plan.storm_requests, "concurrency": plan.storm_concurrency,
                 "login_connections": plan.storm_logins},
        "logins_per_second": round(logins_during / storm_seconds, 2),
        "login_p50_ms": round(percentile(ordered, 50) * 1000, 1) if ordered else None,
        "endpoints": {
            name: {
                "idle": idle[name].summary(), "storm": busy[name].summary(),
                "p99_ratio": round(busy[name].p99_ms / idle[name].p99_ms, 2),
                "p50_ratio": round(busy[name].p50_ms / idle[name].p50_ms, 2),
            }
            for name in streams
        },
    }
