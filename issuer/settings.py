"""Configuration from ``ISSUER_*`` environment variables.

Every setting is checked when it is read, with an error that names the variable; the
README's configuration table lists the same names and defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import ConfigurationError

DEFAULT_DATABASE_URL = "sqlite:///var/issuer.db"
DEV_KEK_FILE = "var/kek"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ISSUER_", extra="ignore", frozen=True)

    url: str = "http://127.0.0.1:8000"
    database_url: str = DEFAULT_DATABASE_URL
    signing_alg: str = "RS256"
    rsa_key_size: int = 2048
    access_token_ttl: int = Field(default=900, ge=60, le=86400)
    id_token_ttl: int = Field(default=900, ge=60, le=86400)
    default_audience: str = "api"
    json_api_client: str = "app"
    kek: str | None = Field(default=None, repr=False)
    kek_file: Path | None = None
    dev: bool = False
    refresh_idle_ttl: int = Field(default=7 * 86400, ge=60)
    refresh_absolute_ttl: int = Field(default=30 * 86400, ge=60)
    refresh_grace_seconds: int = Field(default=5, ge=0, le=300)
    # Key lifecycle policy. C = jwks_max_age, T = longest token lifetime, L = clock_leeway.
    jwks_max_age: int = Field(default=300, ge=0, le=86400)
    key_rotation_period: int = Field(default=30 * 86400, ge=60)
    key_propagation_margin: int = Field(default=60, ge=0, le=86400)
    key_reload_interval: float = Field(default=10.0, gt=0, le=3600)
    # Each issuer process applies due rotation steps itself (besides any cron job).
    key_auto_rotate: bool = True
    clock_leeway: int = Field(default=60, ge=0, le=600)
    max_body_bytes: int = Field(default=16384, ge=1024, le=1048576)
    client_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    argon2_threads: int = Field(default=2, ge=1, le=64)
    argon2_nice: int = Field(default=19, ge=0, le=19)
    argon2_time_cost: int = Field(default=3, ge=1, le=20)
    argon2_memory_kib: int = Field(default=65536, ge=8, le=4194304)
    argon2_parallelism: int = Field(default=4, ge=1, le=64)
    auto_migrate: bool = True
    db_pool_size: int = Field(default=5, ge=1, le=200)
    db_max_overflow: int = Field(default=10, ge=0, le=200)
    log_level: str = "INFO"

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return value.upper()

    @field_validator("url")
    @classmethod
    def _issuer_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")) or "?" in value or "#" in value:
            raise ValueError("must be an http(s) URL without query or fragment")
        return value.rstrip("/")

    @field_validator("signing_alg")
    @classmethod
    def _alg(cls, value: str) -> str:
        if value not in ("RS256", "ES256"):
            raise ValueError("must be RS256 or ES256")
        return value

    @field_validator("rsa_key_size")
    @classmethod
    def _rsa_size(cls, value: int) -> int:
        if value not in (2048, 3072, 4096):
            raise ValueError("must be 2048, 3072 or 4096")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.default_audience.strip() == "":
            raise ValueError("ISSUER_DEFAULT_AUDIENCE must not be empty")
        if self.refresh_idle_ttl > self.refresh_absolute_ttl:
            raise ValueError("ISSUER_REFRESH_IDLE_TTL must not exceed ISSUER_REFRESH_ABSOLUTE_TTL")
        # A process signs with a key for up to one reload interval after another process
        # retired it; the leeway and the margin are what absorb that lag.
        slack = min(self.clock_leeway, self.key_propagation_margin)
        if slack > 0 and self.key_reload_interval > slack:
            raise ValueError(
                "ISSUER_KEY_RELOAD_INTERVAL must not exceed ISSUER_CLOCK_LEEWAY "
                "nor ISSUER_KEY_PROPAGATION_MARGIN"
            )
        return self

    @property
    def longest_token_ttl(self) -> int:
        return max(self.access_token_ttl, self.id_token_ttl)


def load_settings(**overrides: object) -> Settings:
    """Read the environment (and ``overrides``), turning validation errors into one message."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(_describe(err) for err in exc.errors())
        raise ConfigurationError(f"invalid configuration: {problems}") from None


def _describe(error: Any) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if not error["loc"]:  # a rule across several variables names them itself
        return message
    return f"ISSUER_{'_'.join(str(part) for part in error['loc']).upper()}: {message}"
