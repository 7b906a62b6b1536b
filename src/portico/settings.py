"""The one settings object: environment variables, then an optional TOML file, then defaults.

A wrong or missing value fails at start with a message naming the setting (``SettingsError``),
because an identity provider that starts half-configured is worse than one that refuses to start.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import secrets
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import AliasChoices, BaseModel, Field, ValidationError, field_validator

from portico.net.outbound import AllowList

DEFAULT_PORT = 3001
DEFAULT_REDIS_URL = "redis://localhost:6379"

# Field name -> environment variable names accepted (first wins). Logto's names are accepted
# too so that an existing deployment's environment carries over.
ENV_NAMES: dict[str, tuple[str, ...]] = {
    "endpoint": ("PORTICO_ENDPOINT", "ENDPOINT"),
    "database_url": ("DATABASE_URL", "DB_URL"),
    "redis_url": ("PORTICO_REDIS_URL", "REDIS_URL"),
    "port": ("PORT",),
    "host": ("PORTICO_HOST",),
    "data_dir": ("PORTICO_DATA_DIR",),
    "workers": ("PORTICO_WORKERS",),
    "log_level": ("PORTICO_LOG_LEVEL",),
    "access_log": ("PORTICO_ACCESS_LOG",),
    "trust_proxy_header": ("PORTICO_TRUST_PROXY_HEADER", "TRUST_PROXY_HEADER"),
    "encryption_key": ("PORTICO_ENCRYPTION_KEY",),
    "trusted_proxies": ("PORTICO_TRUSTED_PROXIES",),
    "purge_interval": ("PORTICO_PURGE_INTERVAL",),
    "log_retention_days": ("PORTICO_LOG_RETENTION_DAYS",),
    "allow_private_targets": ("PORTICO_ALLOW_PRIVATE_TARGETS",),
    "webauthn_related_origins": ("PORTICO_WEBAUTHN_RELATED_ORIGINS",),
    "webhook_poll_interval": ("PORTICO_WEBHOOK_POLL_INTERVAL",),
    "webhook_retry_base": ("PORTICO_WEBHOOK_RETRY_BASE",),
    "webhook_max_attempts": ("PORTICO_WEBHOOK_MAX_ATTEMPTS",),
    "jwt_customizer_time_limit": ("PORTICO_JWT_CUSTOMIZER_TIME_LIMIT",),
    "jwt_customizer_heap_limit_mb": ("PORTICO_JWT_CUSTOMIZER_HEAP_LIMIT_MB",),
    "jwt_customizer_process_limit_mb": ("PORTICO_JWT_CUSTOMIZER_PROCESS_LIMIT_MB",),
    "jwt_customizer_helpers": ("PORTICO_JWT_CUSTOMIZER_HELPERS",),
}
ENCRYPTION_KEY_FILE = "encryption.key"


class SettingsError(Exception):
    """A setting is missing or wrong; the message names it."""


class Settings(BaseModel):
    """Runtime configuration. Build it with :func:`load_settings`."""

    model_config = {"frozen": True, "extra": "forbid"}

    endpoint: str = Field(default="", validation_alias=AliasChoices("endpoint"))
    database_url: str = ""
    # Shared by the processes of one installation for cache invalidation (portico.coherence);
    # optional: without it every process re-reads the database (see docs/architecture.md).
    redis_url: str | None = Field(default=None, repr=False)
    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535)
    host: str = "127.0.0.1"
    data_dir: Path = Path(".data")
    workers: int = Field(default=1, ge=1, le=256)
    log_level: str = "info"
    # One line per HTTP request (uvicorn's access log). Off by default: the audit log keeps
    # every sign-in, token exchange and admin change, a reverse proxy usually logs requests,
    # and the line cost ~7 % of the CPU of a discovery or JWKS request.
    access_log: bool = False
    trust_proxy_header: bool = False
    # Seals confidential connector config at rest. Unset: generated once into
    # <data_dir>/encryption.key, fine for one machine; several machines must share one value.
    encryption_key: str | None = Field(default=None, repr=False)
    # Peers whose X-Forwarded-For/-Proto are believed: comma-separated IPs or CIDR networks,
    # or "*" (only when nothing but the proxy can reach the port). Setting it turns on
    # trust_proxy_header; trust_proxy_header alone trusts 127.0.0.1 only (uvicorn's default).
    trusted_proxies: str | None = None
    # Seconds between purges of expired rows in each server process; 0 turns the task off.
    purge_interval: int = Field(default=600, ge=0, le=7 * 86400)
    # Days the audit log (``logs``) keeps an entry; older entries go with the purge. 0 keeps
    # them forever. 90 days covers most incident reviews without keeping IPs indefinitely.
    log_retention_days: int = Field(default=90, ge=0, le=36_500)
    # Internal hosts and networks Portico may send HTTP requests to (connectors' provider
    # URLs...): comma-separated host names, IP addresses and CIDR networks. Empty: only public
    # addresses, so that whoever configures a URL cannot reach the metadata service, the
    # database or a neighbour through Portico (portico.net.outbound). "127.0.0.1,localhost"
    # for development against local fakes.
    allow_private_targets: str = ""
    # Other origins of yours where passkeys registered here may be created and used (WebAuthn
    # related origins, served at /.well-known/webauthn): comma-separated https origins.
    webauthn_related_origins: str = ""
    # Webhook deliveries (services/webhook_delivery.py): seconds between looks at the outbox
    # in each server process (0: this process delivers nothing, the others or a restart
    # will); the first retry's delay in seconds, doubled at each further one (with jitter);
    # attempts before a delivery is given up (the failure shows in the hook's recent logs).
    webhook_poll_interval: float = Field(default=1.0, ge=0, le=3600)
    webhook_retry_base: float = Field(default=10.0, gt=0, le=3600)
    webhook_max_attempts: int = Field(default=8, ge=1, le=20)
    # Custom token claims (jwt_customizer/sandbox.py): seconds a script may run, its V8 heap
    # and its helper process's resident memory (MB), and how many scripts run at once per
    # server process (more wait their turn).
    jwt_customizer_time_limit: float = Field(default=1.0, gt=0, le=10)
    jwt_customizer_heap_limit_mb: int = Field(default=64, ge=8, le=1024)
    jwt_customizer_process_limit_mb: int = Field(default=512, ge=64, le=4096)
    jwt_customizer_helpers: int = Field(default=2, ge=1, le=32)

    @field_validator("webauthn_related_origins", mode="before")
    @classmethod
    def _related_origins(cls, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, list | tuple):  # a TOML array
            value = ",".join(str(entry) for entry in value)
        origins = [entry.strip().rstrip("/") for entry in str(value).split(",") if entry.strip()]
        for origin in origins:
            parts = urlsplit(origin)
            local = parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1")
            if (parts.scheme != "https" and not local) or not parts.netloc or parts.path:
                raise ValueError(f"{origin!r} is not an https origin (https://app.example.com)")
        return ",".join(origins)

    @property
    def related_origins(self) -> list[str]:
        return [o for o in self.webauthn_related_origins.split(",") if o]

    @field_validator("endpoint")
    @classmethod
    def _endpoint_is_http_url(cls, value: str) -> str:
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an absolute http(s) URL such as https://auth.example.com")
        if parts.query or parts.fragment:
            raise ValueError("must not contain a query or fragment")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _database_url_supported(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql", "postgres")):
            raise ValueError("must start with sqlite:// or postgresql://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url_supported(cls, value: str | None) -> str | None:
        if not value:
            return None
        if value.lower() in ("1", "true"):  # Logto: a truthy value means the local default
            return DEFAULT_REDIS_URL
        if urlsplit(value).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level_known(cls, value: str) -> str:
        if value.lower() not in ("critical", "error", "warning", "info", "debug"):
            raise ValueError("must be one of critical, error, warning, info, debug")
        return value.lower()

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_proxies_are_addresses(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "*":
            return value.strip() if value else value
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        if not entries:
            raise ValueError('must list IP addresses or CIDR networks, or be "*"')
        for entry in entries:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"{entry!r} is not an IP address or CIDR network (e.g. 10.0.0.0/8)"
                ) from None
        return ",".join(entries)

    @field_validator("allow_private_targets", mode="before")
    @classmethod
    def _allow_list_entries(cls, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, list | tuple):  # a TOML array
            value = ",".join(str(entry) for entry in value)
        if not isinstance(value, str):
            raise ValueError("must list host names, IP addresses or CIDR networks")
        return str(AllowList.parse(value))  # normalised; ValueError names a bad entry

    @property
    def forwarded_allow_ips(self) -> str:
        """What uvicorn's ``forwarded_allow_ips`` gets: the trusted proxies, else loopback."""
        return self.trusted_proxies or "127.0.0.1"

    @property
    def proxy_headers(self) -> bool:
        return self.trust_proxy_header or self.trusted_proxies is not None

    @field_validator("encryption_key")
    @classmethod
    def _encryption_key_is_32_bytes(cls, value: str | None) -> str | None:
        if value is not None:
            _decode_key(value)
        return value

    def encryption_key_bytes(self) -> bytes:
        """The 32-byte key for data encrypted at rest: the setting, else the key file in the
        data directory (created with mode 0600 on first use)."""
        if self.encryption_key:
            return _decode_key(self.encryption_key)
        path = self.data_dir / ENCRYPTION_KEY_FILE
        try:
            return _decode_key(_read_or_create_key_file(path))
        except ValueError as exc:
            raise SettingsError(f"PORTICO_ENCRYPTION_KEY (read from {path}): {exc}") from None

    @property
    def issuer(self) -> str:
        """OpenID issuer: ``<endpoint>/oidc``, exactly as Logto builds it."""
        return f"{self.endpoint}/oidc"

    @property
    def secure_cookies(self) -> bool:
        """Browsers treat https and loopback http origins as secure contexts."""
        parts = urlsplit(self.endpoint)
        return parts.scheme == "https" or parts.hostname in ("localhost", "127.0.0.1", "::1")


def decode_encryption_key(value: str) -> bytes:
    """The 32-byte key a ``PORTICO_ENCRYPTION_KEY`` value (or key file) holds; ValueError
    (without the value) when it is not one."""
    return _decode_key(value)


def _decode_key(value: str) -> bytes:
    """base64url (padding optional) of exactly 32 bytes; the message never echoes the value."""
    try:
        key = base64.urlsafe_b64decode(value.strip() + "=" * (-len(value.strip()) % 4))
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise ValueError(
            "must be 32 random bytes, base64url-encoded, e.g. the output of "
            'python -c "import secrets; print(secrets.token_urlsafe(32))"'
        )
    return key


def _read_or_create_key_file(path: Path) -> str:
    """Write a temporary file, then hard-link it into place: the link is atomic, so workers
    starting together all end up reading the one complete key that won."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return path.read_text().strip()


def _from_environment(environ: os._Environ[str] | dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field, names in ENV_NAMES.items():
        for name in names:
            if environ.get(name):
                values[field] = environ[name]
                break
    return values


def _from_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise SettingsError(f"PORTICO_CONFIG: file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"PORTICO_CONFIG: {path} is not valid TOML: {exc}") from exc
    unknown = set(data) - set(Settings.model_fields)
    if unknown:
        raise SettingsError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}")
    return data


def load_settings(
    overrides: dict[str, Any] | None = None,
    environ: os._Environ[str] | dict[str, str] | None = None,
) -> Settings:
    """Merge defaults < TOML file (``PORTICO_CONFIG``) < environment < explicit overrides."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    if environ.get("PORTICO_CONFIG"):
        values.update(_from_toml(Path(environ["PORTICO_CONFIG"])))
    values.update(_from_environment(environ))
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "?"
        name = ENV_NAMES.get(field, (field,))[0]
        raise SettingsError(f"{name}: {error['msg']}") from None
    return _with_derived_defaults(settings)


def _with_derived_defaults(settings: Settings) -> Settings:
    changes: dict[str, Any] = {}
    if not settings.endpoint:
        changes["endpoint"] = f"http://localhost:{settings.port}"
    if not settings.database_url:
        changes["database_url"] = f"sqlite:///{settings.data_dir.resolve() / 'portico.db'}"
    return settings.model_copy(update=changes) if changes else settings
