"""Typed settings: defaults, then the TOML file, then environment, then CLI options.

Environment variables override file keys as ``PEDAGOGUE_<SECTION>__<KEY>``, for
example ``PEDAGOGUE_DATABASE__URL`` or ``PEDAGOGUE_FEDERATION__DEV=true``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "PEDAGOGUE_"


class ConfigError(Exception):
    """A setting is missing or has a value that cannot be used."""


@dataclass
class InstanceSettings:
    url: str = "http://localhost:8800"
    name: str = "Pedagogue"
    description: str = "A professional-development network for teachers."
    contact_email: str = ""
    data_dir: str = "./pedagogue-data"
    open_registrations: bool = False
    # Largest avatar or header image a teacher may upload, in bytes.
    profile_image_max_bytes: int = 1_000_000
    # IANA time zone for showing times to visitors and to teachers who chose none.
    time_zone: str = "UTC"
    # Server rules shown at sign-up, one per line; each must be accepted.
    rules: str = ""
    # Language of the web interface: a catalogue under web/translations.
    language: str = "en"


@dataclass
class ServerSettings:
    listen: str = "127.0.0.1:8800"
    tls_cert: str = ""
    tls_key: str = ""
    max_body_bytes: int = 1_048_576
    request_timeout: float = 30.0
    # Reverse proxies, as IP networks, whose X-Forwarded-For header names the
    # client. Empty: the header is ignored and the peer is the client.
    trusted_proxies: list[str] = field(default_factory=list)


@dataclass
class DatabaseSettings:
    url: str = ""
    pool_min: int = 2
    pool_max: int = 10


@dataclass
class FederationSettings:
    dev: bool = False
    allow_http: bool = False
    allow_private_addresses: bool = False
    host_map: dict[str, str] = field(default_factory=dict)
    ca_file: str = ""
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    request_timeout: float = 30.0
    max_response_bytes: int = 1_048_576
    signature_max_age: float = 3600.0
    signature_max_future: float = 300.0
    delivery_deadline: float = 172_800.0
    delivery_concurrency: int = 64
    inbox_workers: int = 2
    unreachable_after_failures: int = 10
    user_agent_contact: str = ""
    # Mastodon's secure mode: every ActivityPub GET must be signed, except the
    # instance actor, each actor's key document, WebFinger and NodeInfo.
    authorized_fetch: bool = False
    # "blocklist" federates with every domain not suspended; "allowlist" only
    # with the domains admins list (see storage.domain_policy).
    federation_mode: str = "blocklist"
    # Verified inbox POSTs accepted per remote host: a sustained rate per
    # second and a burst. Further POSTs get 429 with Retry-After. A rate of 0
    # turns the limit off. Each server process keeps its own count.
    inbox_rate_per_host: float = 20.0
    inbox_burst_per_host: int = 600


@dataclass
class EventSettings:
    # Minutes before an event starts when accepted participants are reminded.
    reminder_minutes: int = 60
    # Seconds between two checks for due reminders.
    reminder_interval: float = 30.0


@dataclass
class LessonPlanSettings:
    # Licence of new plans when the teacher has chosen none (a key of
    # actors.lesson_plan.LICENSES, such as CC-BY-4.0 or all-rights-reserved).
    default_license: str = "CC-BY-4.0"
    # Largest attachment file, in bytes. Uploads are also bounded by
    # server.max_body_bytes.
    max_attachment_bytes: int = 1_000_000
    # Comma-separated MIME types accepted, detected from the file's content.
    attachment_types: str = "image/png,image/jpeg,application/pdf,text/plain"


@dataclass
class WebSettings:
    # Days a browser session lasts after sign-in.
    session_days: float = 30.0
    # Failed sign-ins allowed before further attempts get 429: per username
    # from one client address and per client address within sign_in_window
    # seconds, and per username from all addresses within
    # sign_in_account_window seconds.
    sign_in_window: float = 900.0
    sign_in_failures_per_pair: int = 5
    sign_in_failures_per_address: int = 20
    sign_in_account_window: float = 3600.0
    sign_in_failures_per_account: int = 50
    # Failed sign-ins allowed within sign_in_window from a browser holding
    # the account's known-device cookie, which the per-address and
    # per-account limits do not apply to.
    sign_in_failures_per_device: int = 10
    # Days an invite link works, and hours a password reset link works.
    invite_days: float = 7.0
    reset_link_hours: float = 24.0
    # Client API writes (POST, PUT, PATCH, DELETE) accepted per account: a
    # sustained rate per second and a burst. Further writes get 429 with
    # Retry-After. A rate of 0 turns the limit off. Each server process keeps
    # its own count.
    api_write_rate: float = 1.0
    api_write_burst: int = 300
    # Whether POST /oauth/token accepts grant_type=password (RFC 6749, section
    # 4.3), with which an app asks for the teacher's password itself.
    allow_password_grant: bool = False


@dataclass
class StreamingSettings:
    # Whether the public and hashtag streams need an access token. Off, they
    # are open to anyone, as the public timelines are.
    public_requires_token: bool = False
    # Open streaming connections per account, and per client address for
    # connections without a token. One more gets 429.
    max_connections_per_account: int = 20
    # Seconds between heartbeat comments on a server-sent event stream, and
    # between WebSocket pings.
    heartbeat_seconds: float = 30.0
    # Events waiting to be sent on one connection. A client that falls this
    # far behind is disconnected, so a slow reader cannot grow memory.
    queue_size: int = 200


@dataclass
class Settings:
    instance: InstanceSettings = field(default_factory=InstanceSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    federation: FederationSettings = field(default_factory=FederationSettings)
    lesson_plans: LessonPlanSettings = field(default_factory=LessonPlanSettings)
    events: EventSettings = field(default_factory=EventSettings)
    web: WebSettings = field(default_factory=WebSettings)
    streaming: StreamingSettings = field(default_factory=StreamingSettings)

    @property
    def base_url(self) -> str:
        """Return the public URL without a trailing slash."""
        return self.instance.url.rstrip("/")

    @property
    def domain(self) -> str:
        """Return the host and optional port of the public URL (``localhost:8800``)."""
        return urlsplit(self.base_url).netloc.lower()

    @property
    def data_path(self) -> Path:
        return Path(self.instance.data_dir).expanduser().resolve()

    @property
    def allow_http(self) -> bool:
        return self.federation.dev or self.federation.allow_http

    @property
    def allow_private(self) -> bool:
        return self.federation.dev or self.federation.allow_private_addresses


def _coerce(value: str, current: Any, name: str) -> Any:
    if isinstance(current, bool):
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{name}: expected true or false, got {value!r}")
    if isinstance(current, int):
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"{name}: expected an integer, got {value!r}") from None
    if isinstance(current, float):
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"{name}: expected a number, got {value!r}") from None
    if isinstance(current, list):
        # trusted_proxies from the environment: "127.0.0.1/32,10.0.0.0/8"
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(current, dict):
        # host_map from the environment: "a.test=127.0.0.1,b.test=127.0.0.1"
        pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise ConfigError(f"{name}: expected HOST=ADDRESS pairs, got {value!r}")
        return {key.strip(): address.strip() for key, address in pairs}
    return value


def _apply(section: Any, values: dict[str, Any], origin: str) -> None:
    known = {f.name: f for f in dataclasses.fields(section)}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{origin}: unknown key {key!r}")
        current = getattr(section, key)
        if isinstance(value, str) and not isinstance(current, str):
            value = _coerce(value, current, f"{origin}.{key}")
        elif isinstance(current, float) and isinstance(value, int):
            value = float(value)
        elif type(value) is not type(current):
            expected = type(current).__name__
            raise ConfigError(f"{origin}.{key}: expected {expected}, got {value!r}")
        # float() and TOML both accept nan and inf, which no timeout or limit means.
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{origin}.{key}: expected a finite number, got {value!r}")
        setattr(section, key, value)


def _environment_overrides(environ: dict[str, str]) -> dict[str, dict[str, str]]:
    overrides: dict[str, dict[str, str]] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, key = name[len(ENV_PREFIX) :].lower().split("__", 1)
        overrides.setdefault(section, {})[key] = value
    return overrides


def load_settings(
    path: str | os.PathLike[str] | None = None,
    *,
    overrides: dict[str, dict[str, Any]] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Build settings from defaults, a TOML file, the environment and overrides.

    Raises ConfigError naming the file, section and key of a bad value.
    """
    settings = Settings()
    layers: list[tuple[str, dict[str, Any]]] = []
    if path is not None:
        try:
            with open(path, "rb") as handle:
                layers.append((str(path), tomllib.load(handle)))
        except FileNotFoundError:
            raise ConfigError(f"configuration file not found: {path}") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path}: invalid TOML: {error}") from None
        except UnicodeDecodeError as error:
            # TOML files are UTF-8 (TOML 1.0, "Spec").
            raise ConfigError(f"{path}: not UTF-8 text: {error}") from None
        except OSError as error:
            raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    layers.append(("environment", _environment_overrides(dict(environ or os.environ))))
    layers.append(("command line", overrides or {}))

    for origin, document in layers:
        for section_name, values in document.items():
            section = getattr(settings, section_name, None)
            if section is None or not dataclasses.is_dataclass(section):
                raise ConfigError(f"{origin}: unknown section [{section_name}]")
            if not isinstance(values, dict):
                raise ConfigError(f"{origin}: [{section_name}] must be a table")
            _apply(section, values, f"{origin} [{section_name}]")

    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    """Raise ConfigError when the settings cannot describe a working instance."""
    parts = urlsplit(settings.instance.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"instance.url must be an http or https URL, got {settings.instance.url!r}"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError("instance.url must not carry a path, query or fragment")
    if bool(settings.server.tls_cert) != bool(settings.server.tls_key):
        raise ConfigError("server.tls_cert and server.tls_key must be set together")
    if settings.server.max_body_bytes <= 0:
        raise ConfigError("server.max_body_bytes must be positive")
    # Only the scheme is shown, because the URL may contain a password.
    database_scheme = urlsplit(settings.database.url).scheme
    if settings.database.url and database_scheme not in ("postgresql", "postgres"):
        raise ConfigError(
            "database.url must be a postgresql:// URL (or empty for the embedded"
            f" server), not a {database_scheme or 'schemeless'} URL"
        )
    parse_listen(settings.server.listen)
    if settings.federation.federation_mode not in ("blocklist", "allowlist"):
        raise ConfigError(
            "federation.federation_mode must be blocklist or allowlist,"
            f" got {settings.federation.federation_mode!r}"
        )
    _validate_web(settings)
    from actors.lesson_plan import LICENSES

    if settings.lesson_plans.default_license not in LICENSES:
        raise ConfigError(
            "lesson_plans.default_license must be one of "
            f"{', '.join(LICENSES)}, got {settings.lesson_plans.default_license!r}"
        )


def _validate_web(settings: Settings) -> None:
    from zoneinfo import available_timezones

    if settings.instance.time_zone not in available_timezones():
        raise ConfigError(
            "instance.time_zone must be an IANA time zone such as Europe/Paris,"
            f" got {settings.instance.time_zone!r}"
        )
    web = settings.web
    positive = (
        "session_days",
        "sign_in_window",
        "sign_in_account_window",
        "invite_days",
        "reset_link_hours",
    )
    for name in positive:
        if getattr(web, name) <= 0:
            raise ConfigError(f"web.{name} must be positive")
    counts = (
        "sign_in_failures_per_pair",
        "sign_in_failures_per_address",
        "sign_in_failures_per_account",
        "sign_in_failures_per_device",
    )
    for name in counts:
        if getattr(web, name) < 1:
            raise ConfigError(f"web.{name} must be at least 1")
    _validate_proxies(settings.server.trusted_proxies)
    streaming = settings.streaming
    if streaming.heartbeat_seconds <= 0:
        raise ConfigError("streaming.heartbeat_seconds must be positive")
    for name in ("max_connections_per_account", "queue_size"):
        if getattr(streaming, name) < 1:
            raise ConfigError(f"streaming.{name} must be at least 1")


def _validate_proxies(values: list[Any]) -> None:
    from web.forwarded import parse_networks

    if not all(isinstance(value, str) for value in values):
        raise ConfigError(
            "server.trusted_proxies must be a list of strings such as \"127.0.0.1/32\""
        )
    try:
        parse_networks(values)
    except ValueError as error:
        raise ConfigError(f"server.trusted_proxies: {error}") from None


def parse_listen(listen: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``[::1]:8800`` for IPv6) into host and port."""
    host, separator, port = listen.rpartition(":")
    if not separator or not port.isascii() or not port.isdigit():
        raise ConfigError(f"listen address must be HOST:PORT, got {listen!r}")
    if not 1 <= int(port) <= 65535:
        raise ConfigError(f"listen port must be 1 to 65535, got {port}")
    return host.strip("[]") or "127.0.0.1", int(port)
