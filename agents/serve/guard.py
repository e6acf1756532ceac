"""Who may call the server and how much: API keys, per-key rate limits, input limits, hashed ids.

- API keys come from a file (``--api-keys FILE``), one a line: ``KEY [NAME] [RATE/min]`` (``#``
  comments, blank lines skipped), and from ``--api-key KEY`` flags. A key's NAME (default
  ``key-`` and 8 hex digits of the key's SHA-256) is what logs and metrics show; the key itself is
  never logged. Without any key the server is open, which :func:`check_exposure` allows only on
  a loopback address unless the user insists.
- Rate limits: one token bucket per key (:class:`agents.safety.RateLimiter`): ``--rate`` requests
  a minute (or the key's own RATE) with ``--burst`` at once.
- Input limits (:class:`Limits`): the request body's size, the number of messages, the characters
  of all message text together (:func:`agents.safety.check_input` on the total).
- Hashed ids: user ids and conversation ids in the request log are HMAC-SHA256 with a secret salt
  kept in ``$QWENGRAPH_HOME/serve-salt`` (created once, mode 0600), so the same user has the same
  hash across restarts, yet nobody can confirm a guessed id without the salt.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from agents.safety import RateLimiter
from graphs.errors import ConfigError
from graphs.paths import home

SALT_FILE = "serve-salt"
DEFAULT_RATE = 60.0  # requests a minute per key
DEFAULT_BURST = 10


@dataclass(frozen=True)
class ApiKey:
    """One accepted key: its display name and, if set, its own requests-per-minute limit."""

    name: str
    rate: float | None = None


@dataclass(frozen=True)
class Limits:
    """What one request may carry."""

    max_body_bytes: int = 1_000_000
    max_messages: int = 200
    max_input_chars: int = 32_000


def key_name(key: str) -> str:
    """``key-`` and the first 8 hex digits of the key's SHA-256: a name that does not reveal it."""
    return "key-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]


def parse_keys(lines: list[str], *, source: str) -> dict[str, ApiKey]:
    """``KEY [NAME] [RATE/min]`` lines -> ``{key: ApiKey}``; :class:`ConfigError` names bad lines."""
    keys: dict[str, ApiKey] = {}
    for number, raw in enumerate(lines, start=1):
        text = raw.split("#", 1)[0].strip()
        if not text:
            continue
        parts = text.split()
        if len(parts) > 3 or len(parts[0]) < 8:
            raise ConfigError(
                f"{source}:{number}: expected KEY [NAME] [RATE/min] with a key of 8+ characters"
            )
        rate = None
        if len(parts) == 3:
            value = parts[2].removesuffix("/min")
            try:
                rate = float(value)
            except ValueError:
                raise ConfigError(
                    f"{source}:{number}: rate {parts[2]!r} is not a number of requests a minute"
                ) from None
            if rate <= 0:
                raise ConfigError(f"{source}:{number}: the rate must be positive")
        if parts[0] in keys:
            raise ConfigError(f"{source}:{number}: the same key is listed twice")
        keys[parts[0]] = ApiKey(name=parts[1] if len(parts) > 1 else key_name(parts[0]), rate=rate)
    return keys


def load_keys(path: Path | None, flags: list[str]) -> dict[str, ApiKey]:
    """Keys from the file (if any) and the ``--api-key`` flags."""
    keys: dict[str, ApiKey] = {}
    if path is not None:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as err:
            raise ConfigError(f"--api-keys: cannot read {path}: {err.strerror or err}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"--api-keys: {path} is not UTF-8 text") from None
        keys.update(parse_keys(lines, source=str(path)))
    keys.update(parse_keys(flags, source="--api-key"))
    return keys


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, keys: dict[str, ApiKey], *, allow_open: bool) -> None:
    """Refuse to serve without keys on a non-loopback address unless ``allow_open``."""
    if not keys and not is_loopback(host) and not allow_open:
        raise ConfigError(
            f"refusing to serve on {host} without API keys: give --api-keys FILE or --api-key KEY "
            "(or --no-auth to serve openly on purpose)"
        )


class Guard:
    """Authentication and per-key rate limiting for the server."""

    def __init__(
        self, keys: dict[str, ApiKey], *, rate: float = DEFAULT_RATE, burst: int = DEFAULT_BURST
    ) -> None:
        self.keys = keys
        self.default = RateLimiter.per_minute(rate, burst=burst)
        self.own = {
            k.name: RateLimiter.per_minute(k.rate, burst=burst) for k in keys.values() if k.rate is not None
        }

    @property
    def open(self) -> bool:
        """No keys: anyone may call (one shared bucket, named ``anonymous``)."""
        return not self.keys

    def identify(self, authorization: str | None) -> str | None:
        """The key's name for an ``Authorization: Bearer KEY`` header; ``None`` when refused."""
        if self.open:
            return "anonymous"
        if not authorization or not authorization.lower().startswith("bearer "):
            return None
        given = authorization[7:].strip()
        for key, entry in self.keys.items():
            if hmac.compare_digest(key.encode("utf-8"), given.encode("utf-8")):
                return entry.name
        return None

    def wait(self, name: str) -> float:
        """0 when the key may make a request now (it is counted), else the seconds to wait."""
        limiter = self.own.get(name, self.default)
        return limiter.try_acquire(name)


def load_salt() -> bytes:
    """The server's secret salt for hashing ids (created on first use, readable by the owner only)."""
    path = home() / SALT_FILE
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        pass
    salt = secrets.token_bytes(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as stream:
            stream.write(salt.hex())
    except OSError:
        pass  # a salt for this process only: hashes will not match across restarts
    return salt


def hashed(salt: bytes, value: str | None) -> str | None:
    """``h:`` and 16 hex digits of HMAC-SHA256(salt, value); ``None`` for no value."""
    if value is None:
        return None
    return "h:" + hmac.new(salt, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:16]
