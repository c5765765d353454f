"""``python -m issuer.verifier``."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time

import pytest
from verifier_testkit import AUDIENCE, DISCOVERY_URL, ISSUER, JWKS_URL, claims, sign

from issuer.verifier.__main__ import main


def live_claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    return claims(**{"iat": now, "exp": now + 300, **overrides})


def run(fake_issuer, token: str, *extra: str) -> int:
    argv = ["--issuer", ISSUER, "--audience", AUDIENCE, *extra, token]
    return main(argv, transport=fake_issuer.transport)


def test_a_valid_token_prints_its_claims(fake_issuer, keys, capsys):
    assert run(fake_issuer, sign(live_claims(), keys.rsa)) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["sub"] == "user-42"
    assert err == ""
    assert fake_issuer.urls == [DISCOVERY_URL, JWKS_URL]


def test_the_token_can_come_from_stdin(fake_issuer, keys, capsys, monkeypatch):
    monkeypatch.setattr(
        sys, "stdin", io.StringIO(sign(live_claims(), keys.ec256, "ec-256", "ES256") + "\n")
    )
    assert run(fake_issuer, "-") == 0
    assert json.loads(capsys.readouterr().out)["iss"] == ISSUER


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda keys: sign(live_claims(), keys.other_rsa),
            "invalid: invalid_token (signature): the signature does not verify\n",
        ),
        (
            lambda keys: sign(live_claims(exp=int(time.time()) - 3600), keys.rsa),
            "invalid: token_expired (exp): the token has expired\n",
        ),
        (
            lambda keys: sign(live_claims(aud="other"), keys.rsa),
            "invalid: invalid_token (aud): the token is meant for another audience\n",
        ),
        (
            lambda keys: "not-a-token",
            "invalid: invalid_token (token): a token has exactly three segments\n",
        ),
    ],
)
def test_a_refused_token_exits_1(fake_issuer, keys, capsys, make, message):
    token = make(keys)
    assert run(fake_issuer, token) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", message)


def test_an_unreachable_issuer_exits_1(fake_issuer, keys, capsys):
    fake_issuer.discovery = {"issuer": "https://other.example", "jwks_uri": JWKS_URL}
    assert run(fake_issuer, sign(live_claims(), keys.rsa)) == 1
    assert capsys.readouterr().err == (
        "invalid: temporarily_unavailable (kid): no usable key set could be fetched\n"
    )


def test_bad_options_exit_2(fake_issuer, keys, capsys):
    with pytest.raises(SystemExit) as caught:
        run(fake_issuer, sign(live_claims(), keys.rsa), "--algorithm", "HS256")
    assert caught.value.code == 2
    assert "unsupported algorithms: HS256" in capsys.readouterr().err


def test_the_module_runs():
    result = subprocess.run(
        [sys.executable, "-m", "issuer.verifier", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "--issuer" in result.stdout
