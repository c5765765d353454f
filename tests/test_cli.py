"""The ``issuer`` command line: users, clients, keys, schema."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from issuer.cli import main


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("ISSUER_DATABASE_URL", database_url)
    monkeypatch.setenv("ISSUER_ARGON2_MEMORY_KIB", "1024")
    monkeypatch.setenv("ISSUER_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("ISSUER_ARGON2_PARALLELISM", "1")
    return CliRunner()


def test_users_add_and_list(cli: CliRunner) -> None:
    added = cli.invoke(
        main,
        ["users", "add", "Bob@Example.com", "--password-stdin", "--role", "admin",
         "--role", "ops", "--given-name", "Bob", "--family-name", "Builder"],
        input="s3cret-password\n",
    )
    listed = cli.invoke(main, ["users", "list"])

    assert added.exit_code == 0, added.output
    assert added.output.startswith("user Bob@Example.com added with id ")
    assert "s3cret-password" not in added.output + listed.output
    lines = listed.output.splitlines()
    assert lines[0].split() == ["ID", "EMAIL", "ROLES", "STATUS"]
    assert lines[1].split()[1:] == ["Bob@Example.com", "admin,ops", "enabled"]


def test_emails_are_unique_without_regard_to_case(cli: CliRunner) -> None:
    first = cli.invoke(main, ["users", "add", "carol@example.com", "--password-stdin"],
                       input="password-one\n")
    second = cli.invoke(main, ["users", "add", "CAROL@example.COM", "--password-stdin"],
                        input="password-two\n")

    assert first.exit_code == 0
    assert second.exit_code == 1
    assert "a user with email CAROL@example.COM exists [already_exists]" in second.output


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [("not-an-email", "long enough", "email is not an address [invalid_input]"),
     ("dan@example.com", "short", "password must have at least 8 characters [invalid_input]")],
)
def test_users_add_refuses_bad_input(
    cli: CliRunner, email: str, password: str, message: str
) -> None:
    result = cli.invoke(main, ["users", "add", email, "--password-stdin"], input=password + "\n")

    assert result.exit_code == 1
    assert message in result.output


def test_clients_add_prints_the_secret_once(cli: CliRunner) -> None:
    added = cli.invoke(
        main, ["clients", "add", "reports", "--grant", "client_credentials", "--scope", "read",
               "--scope", "write", "--audience", "https://api.example.com"],
    )
    listed = cli.invoke(main, ["clients", "list"])

    assert added.exit_code == 0, added.output
    secret = added.output.split("client_secret: ")[1].split()[0]
    assert len(secret) == 43  # 256 bits, base64url
    assert secret not in listed.output
    assert listed.output.splitlines()[1].split() == [
        "reports", "confidential", "client_credentials", "read", "write",
        "https://api.example.com",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [(["spa", "--grant", "client_credentials", "--public"],
      "a public client may use only the password and refresh_token grants"),
     (["bad id", "--grant", "password"], "client id must be 1-200 characters"),
     (["x", "--grant", "implicit"], "unknown grant 'implicit'"),
     (["x", "--grant", "password", "--scope", 'a"b'], "is not a valid scope token")],
)
def test_clients_add_refuses_bad_input(cli: CliRunner, args: list[str], message: str) -> None:
    result = cli.invoke(main, ["clients", "add", *args])

    assert result.exit_code == 1
    assert message in result.output


def test_public_client_has_no_secret(cli: CliRunner) -> None:
    result = cli.invoke(main, ["clients", "add", "spa", "--grant", "password", "--public"])

    assert result.exit_code == 0
    assert "client_secret" not in result.output


def test_db_upgrade_is_idempotent(cli: CliRunner) -> None:
    from issuer.migrate import current_revision, head_revision

    first = cli.invoke(main, ["db", "upgrade"])
    second = cli.invoke(main, ["db", "upgrade"])

    assert (first.exit_code, second.exit_code) == (0, 0)
    import os

    assert current_revision(os.environ["ISSUER_DATABASE_URL"]) == head_revision() == "0003"


def test_bad_configuration_names_the_variable(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ISSUER_SIGNING_ALG", "HS256")

    result = cli.invoke(main, ["users", "list"])

    assert result.exit_code == 1
    assert "ISSUER_SIGNING_ALG: must be RS256 or ES256" in result.output


def test_new_kek_prints_a_usable_key(cli: CliRunner) -> None:
    from keys import KeyEncryptionKey

    result = cli.invoke(main, ["keys", "new-kek"])

    assert KeyEncryptionKey.from_text(result.output).kek_id


def test_reload_interval_longer_than_the_leeway_is_refused(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ISSUER_KEY_RELOAD_INTERVAL", "61")

    result = cli.invoke(main, ["users", "list"])

    assert result.exit_code == 1
    assert "ISSUER_KEY_RELOAD_INTERVAL must not exceed ISSUER_CLOCK_LEEWAY" in result.output


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [("ISSUER_LOG_LEVEL", "LOUD",
      "ISSUER_LOG_LEVEL: must be DEBUG, INFO, WARNING, ERROR or CRITICAL"),
     ("ISSUER_ACCESS_TOKEN_TTL", "abc", "ISSUER_ACCESS_TOKEN_TTL: Input should be a valid integer"),
     ("ISSUER_REFRESH_IDLE_TTL", "99999999",
      "invalid configuration: ISSUER_REFRESH_IDLE_TTL must not exceed")],
)
def test_bad_settings_are_named_without_a_traceback(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)

    result = cli.invoke(main, ["users", "list"])

    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_disable_and_enable_users_and_clients(cli: CliRunner) -> None:
    cli.invoke(main, ["users", "add", "eve@example.com", "--password-stdin"],
               input="eves password\n")
    cli.invoke(main, ["clients", "add", "svc", "--grant", "client_credentials"])

    disabled = cli.invoke(main, ["users", "disable", "EVE@example.com"])
    listed = cli.invoke(main, ["users", "list"])
    client_off = cli.invoke(main, ["clients", "disable", "svc"])
    client_on = cli.invoke(main, ["clients", "disable", "svc", "--enable"])
    unknown = cli.invoke(main, ["clients", "disable", "ghost"])

    assert disabled.output == "user EVE@example.com disabled\n"
    assert listed.output.splitlines()[1].split()[-1] == "disabled"
    assert (client_off.output, client_on.output) == ("client svc disabled\n",
                                                      "client svc enabled\n")
    assert unknown.exit_code == 1 and "no client ghost" in unknown.output
