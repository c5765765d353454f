"""scripts/bench.py still runs: its in-process measurements with tiny counts.

No timing is asserted, only the shape of the results; the figures themselves come from
running the script.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
CANDIDATES = {"raw", "ours", "pyjwt", "joserfc"}


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench", SCRIPTS / "bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench"] = module
    spec.loader.exec_module(module)
    return module


def _check_comparison(figures: dict[str, Any], alg: str) -> None:
    assert figures["alg"] == alg
    assert figures["rounds"] >= 3
    assert set(figures["rates"]) == CANDIDATES == set(figures["ratios"])
    assert all(rate > 0 for rate in figures["rates"].values())
    assert figures["ratios"]["raw"] == 1.0


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_minting_and_verifying(bench: ModuleType, alg: str) -> None:
    _check_comparison(bench.measure_minting(alg, seconds=0.05), alg)
    _check_comparison(bench.measure_verifying(alg, seconds=0.05), alg)


def test_every_candidate_makes_or_accepts_the_same_token(bench: ModuleType) -> None:
    setup = bench.token_setup("ES256")
    made = {name: work() for name, work in bench.minting_candidates(setup).items()}
    checked = {name: work() for name, work in bench.verifying_candidates(setup).items()}

    assert all(token.count(".") == 2 for name, token in made.items() if name != "raw")
    assert checked["ours"].claims["aud"] == checked["pyjwt"]["aud"] == "api"


def test_refresh_growth_on_sqlite(bench: ModuleType, tmp_path: Path) -> None:
    urls = {size: f"sqlite:///{tmp_path / f'{size}.db'}" for size in (100, 300)}

    levels = asyncio.run(bench.bench_growth.refresh_growth(urls, samples=5))

    assert [level["target_rows"] for level in levels] == [100, 300]
    for level in levels:
        assert level["rows"] >= level["target_rows"] - 10
        assert level["samples"] == 5
        assert 0 < level["p50_ms"] <= level["p99_ms"]


def test_load_generator_against_a_stub_server(bench: ModuleType) -> None:
    http = bench.bench_http
    answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.readuntil(b"\r\n\r\n"):
            writer.write(answer)
            await writer.drain()

    async def run() -> Any:
        server = await asyncio.start_server(_tolerant(serve), http.HOST, 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            requests = [http.encode_request("GET", "/", port=port)] * 50
            return await http.run_load(port, requests, concurrency=4, keep_bodies=True)

    result = asyncio.run(run())

    assert (result.requests, result.completed, result.errors) == (50, 50, 0)
    assert result.statuses == {"200": 50} and result.bodies == [b"ok"] * 50
    assert result.rps > 0 and 0 < result.p50_ms <= result.p99_ms <= result.max_ms


def _tolerant(handler: Any) -> Any:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    return handle


def test_targets_and_table_from_partial_results(bench: ModuleType) -> None:
    even = dict.fromkeys(CANDIDATES, 1.0)
    minting = {"ES256": {"alg": "ES256", "rounds": 3, "rates": even, "ratios": even}}
    results: dict[str, Any] = {"crypto": {"minting": minting}}
    targets = bench.evaluate_targets(results)
    results["targets"] = targets

    verdicts = {target["target"]: target["result"] for target in targets}
    assert verdicts["mint ES256 / raw mint"] == "pass"
    assert verdicts["mint RS256 / raw mint"] == "n/a"
    assert any("mint ES256" in line for line in bench.report_lines(results))
