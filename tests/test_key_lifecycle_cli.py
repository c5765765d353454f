"""``issuer keys rotate | revoke | rewrap | list`` and ``scripts/rotate_keys.py``.

These run on the real clock, so each test moves the stored times into the past instead
of moving the clock. Policy: C = 60, M = 10, T = 120, L = 10, P = 600.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from issuer.cli import main
from issuer.db import create_sync_engine
from keys import KeyEncryptionKey

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "rotate_keys.py"
POLICY_ENV = {
    "ISSUER_SIGNING_ALG": "ES256", "ISSUER_JWKS_MAX_AGE": "60",
    "ISSUER_KEY_PROPAGATION_MARGIN": "10", "ISSUER_KEY_ROTATION_PERIOD": "600",
    "ISSUER_ACCESS_TOKEN_TTL": "120", "ISSUER_ID_TOKEN_TTL": "120", "ISSUER_CLOCK_LEEWAY": "10",
}


@dataclass
class Keys:
    db: str  # the database URL
    kek: str
    runner: CliRunner

    def __call__(self, *args: str, stdin: str | None = None) -> Result:
        return self.runner.invoke(main, ["keys", *args], input=stdin)

    def execute(self, sql: str) -> list[tuple[Any, ...]]:
        engine = create_sync_engine(self.db)
        try:
            with engine.begin() as connection:
                result = connection.execute(text(sql))
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            engine.dispose()

    def rows(self) -> list[tuple[Any, ...]]:
        return self.execute("SELECT * FROM signing_keys ORDER BY kid")

    def states(self) -> dict[str, str]:
        return {kid: state for kid, state in self.execute("SELECT kid, state FROM signing_keys")}

    def kid(self, state: str) -> str:
        return next(kid for kid, seen in self.states().items() if seen == state)

    def age(self, seconds: int) -> None:
        """Move every stored time ``seconds`` into the past, as if that much time passed."""
        columns = ("created_at", "published_at", "activated_at", "retired_at", "removed_at")
        assignments = ", ".join(f"{name} = {name} - {seconds}" for name in columns)
        self.execute(f"UPDATE signing_keys SET {assignments}")


@pytest.fixture
def keys(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Keys:
    kek = KeyEncryptionKey.new_text()
    for name, value in {**POLICY_ENV, "ISSUER_DATABASE_URL": database_url,
                        "ISSUER_KEK": kek}.items():
        monkeypatch.setenv(name, value)
    return Keys(database_url, kek, CliRunner())


def test_rotate_creates_the_first_key_then_says_what_comes_next(keys: Keys) -> None:
    first = keys("rotate")
    second = keys("rotate")

    assert first.exit_code == 0, first.output
    assert first.output.startswith("created first active key ")
    assert first.output.rstrip().endswith("(ES256)")
    assert second.exit_code == 0
    assert second.output.startswith("nothing due; next step: publish next key (ES256) at 20")
    assert second.output.rstrip().endswith(" UTC")


def test_dry_run_prints_the_plan_and_changes_nothing(keys: Keys) -> None:
    keys("rotate")
    keys.age(530)  # the next key is due now
    before = keys.rows()

    dry = keys("rotate", "--dry-run")

    assert dry.exit_code == 0, dry.output
    assert keys.rows() == before
    assert "nothing is changed" in dry.output
    assert "would now publish next key (ES256)" in dry.output
    assert "planned: activate the next key; retire " in dry.output
    real = keys("rotate")
    assert real.output.startswith("published next key ") and keys.rows() != before


def test_early_activation_is_refused_with_status_2_unless_forced(keys: Keys) -> None:
    keys("rotate")
    keys("rotate", "--now")  # publishes the next key ahead of time: that breaks nothing
    old, new = keys.kid("active"), keys.kid("next")
    before = keys.rows()

    refused = keys("rotate", "--now")
    unchanged = keys.rows()
    forced = keys("rotate", "--force")

    assert refused.exit_code == 2
    assert f"refused to activate {new} before " in refused.output
    assert "caches may not have it yet" in refused.output
    assert "add --force" in refused.output and "[rotation_refused]" in refused.output
    assert unchanged == before
    assert forced.exit_code == 0, forced.output
    assert forced.output.splitlines()[0] == f"activated {new}; retired {old}"
    assert "forced, breaking the key policy: " in forced.output
    assert keys.states() == {old: "retired", new: "active"}


def test_rotation_after_propagation_needs_no_force(keys: Keys) -> None:
    keys("rotate")
    keys("rotate", "--now")
    keys.age(70)  # published for C + M: activating early breaks nothing

    early = keys("rotate", "--now")

    assert early.exit_code == 0, early.output
    assert early.output.startswith("activated ") and "forced" not in early.output


@pytest.mark.parametrize(
    ("env", "message"),
    [({"ISSUER_SIGNING_ALG": "HS256"}, "ISSUER_SIGNING_ALG: must be RS256"),
     ({"ISSUER_KEK": ""}, "no key-encryption key: set ISSUER_KEK"),
     ({"ISSUER_KEY_ROTATION_PERIOD": "65"}, "ISSUER_KEY_ROTATION_PERIOD"),
     ({"ISSUER_DATABASE_URL": "postgresql://issuer:pa55word@127.0.0.1:1/issuer"},
      "database unreachable: ")],
)
def test_errors_exit_1_with_a_message(
    keys: Keys, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    result = keys("rotate")

    assert result.exit_code == 1
    assert message in result.output
    assert "pa55word" not in result.output


def test_a_kek_that_does_not_open_the_active_key_is_an_error(
    keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys("rotate")
    keys.age(530)
    monkeypatch.setenv("ISSUER_KEK", KeyEncryptionKey.new_text())

    result = keys("rotate")

    assert result.exit_code == 1
    assert "[key_encryption_key_invalid]" in result.output
    assert len(keys.rows()) == 1


def test_revoke(keys: Keys) -> None:
    keys("rotate")
    active = keys.kid("active")

    unknown = keys("revoke", "nope")
    refused = keys("revoke", active)
    forced = keys("revoke", active, "--force")
    again = keys("revoke", active)

    assert unknown.exit_code == 1 and "no signing key has kid nope [unknown_kid]" in unknown.output
    assert refused.exit_code == 2 and "fail verification from now on" in refused.output
    assert forced.exit_code == 0, forced.output
    replacement = keys.kid("active")
    assert f"revoked {active} (active)" in forced.output
    assert f"activated {replacement} in its place" in forced.output
    assert "breaks: tokens signed by" in forced.output
    assert keys.states() == {active: "removed", replacement: "active"}
    assert (again.exit_code, again.output.strip()) == (0, f"{active} was removed already; "
                                                       "nothing to do")


def test_rewrap_from_stdin_and_file(
    keys: Keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys("rotate")
    keys("rotate", "--now")
    old_id, new_text = KeyEncryptionKey.from_text(keys.kek).kek_id, KeyEncryptionKey.new_text()
    new_id = KeyEncryptionKey.from_text(new_text).kek_id

    done = keys("rewrap", "--new-kek-stdin", stdin=new_text + "\n")
    stale = keys("rotate")
    monkeypatch.setenv("ISSUER_KEK", new_text)
    fresh = keys("rotate")
    (tmp_path / "newer").write_text(KeyEncryptionKey.new_text())
    by_file = keys("rewrap", "--new-kek-file", str(tmp_path / "newer"))
    neither = keys("rewrap")

    assert done.exit_code == 0, done.output
    assert f"resealed 2 private key(s): key-encryption key {old_id} replaced by {new_id}" \
        in done.output
    assert new_text not in done.output
    assert stale.exit_code == 1 and "[key_encryption_key_invalid]" in stale.output
    assert fresh.exit_code == 0, fresh.output
    assert by_file.exit_code == 0 and f"key-encryption key {new_id} replaced by" in by_file.output
    assert neither.exit_code == 2


def test_rewrap_changes_nothing_when_one_key_is_corrupt(keys: Keys) -> None:
    keys("rotate")
    keys("rotate", "--now")
    keys.execute("UPDATE signing_keys SET sealed_private = sealed_private || 'xx' "
                 "WHERE state = 'next'")
    before = keys.rows()

    result = keys("rewrap", "--new-kek-stdin", stdin=KeyEncryptionKey.new_text())

    assert result.exit_code == 1
    assert f"key {keys.kid('next')} does not open" in result.output
    assert keys.rows() == before


def test_list_shows_past_and_planned_transitions(keys: Keys) -> None:
    keys("rotate")
    keys("rotate", "--now")
    keys("rotate", "--force")

    listed = keys("list")

    lines = listed.output.splitlines()
    assert listed.exit_code == 0
    assert lines[0].split() == ["KID", "ALG", "STATE", "KEK", "PUBLISHED", "ACTIVATED",
                                "RETIRED", "REMOVED"]
    retired = next(line for line in lines if keys.kid("retired") in line).split()
    assert retired[2] == "retired"
    assert retired[-2].startswith("~20")  # the planned removal: date, then time
    assert any(line.startswith("(next key, not generated yet)") for line in lines)
    assert lines[-1] == "times in UTC; ~ marks a planned time"


def script_env(keys: Keys) -> dict[str, str]:
    """The test's ISSUER_* settings, and no PYTHONPATH: the script finds the code itself."""
    return {**os.environ, "PYTHONPATH": ""}


def test_the_cron_script_runs_the_same_command_from_anywhere(
    keys: Keys, tmp_path: Path
) -> None:
    run = subprocess.run(
        [sys.executable, str(SCRIPT)], cwd=tmp_path, env=script_env(keys),
        capture_output=True, text=True, timeout=60, check=False,
    )
    dry = subprocess.run(
        [sys.executable, str(SCRIPT), "--dry-run"], cwd="/", env=script_env(keys),
        capture_output=True, text=True, timeout=60, check=False,
    )

    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("created first active key ")
    assert dry.returncode == 0 and "planned: publish next key (ES256)" in dry.stdout


RACER = textwrap.dedent(
    """
    import runpy, sys, time
    start_at = float(sys.argv[1])
    while time.time() < start_at:
        time.sleep(0.001)
    sys.argv = [sys.argv[2]]
    runpy.run_path(sys.argv[0], run_name="__main__")
    """
)


def test_two_cron_runs_at_once_activate_once(keys: Keys, tmp_path: Path) -> None:
    keys("rotate")
    keys("rotate", "--now")
    keys.age(600)  # the activation is due
    start_at = str(time.time() + 1.5)

    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, start_at, str(SCRIPT)], cwd=tmp_path,
            env=script_env(keys), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(2)
    ]
    outputs = [racer.communicate(timeout=60) for racer in racers]

    assert [racer.returncode for racer in racers] == [0, 0], [err for _, err in outputs]
    lines = [line for out, _ in outputs for line in out.splitlines()]
    assert sum(line.startswith("activated ") for line in lines) == 1, lines
    assert sorted(keys.states().values()) == ["active", "retired"]


def test_revoke_takes_a_kid_that_starts_with_a_dash(keys: Keys) -> None:
    keys("rotate")

    result = keys("revoke", "-Uk3vFq2")  # base64url kids may start with "-"

    assert result.exit_code == 1
    assert "no signing key has kid -Uk3vFq2 [unknown_kid]" in result.output
