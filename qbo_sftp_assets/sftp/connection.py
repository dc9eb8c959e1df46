"""The one place that opens an SSH connection: fabric's `Connection` with pinned host keys, no ambient
keys or agent, every timeout set, keepalive, and a hard deadline around each operation.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import fabric
import paramiko
from cryptography.hazmat.primitives import hashes

from qbo_sftp_assets.config import SftpEndpoint
from qbo_sftp_assets.sftp.errors import (
    HostKeyError,
    RemoteFileError,
    SftpAuthError,
    SftpConnectError,
    SftpConnectionLostError,
    SftpError,
    SftpTimeoutError,
)
from qbo_sftp_assets.sftp.hostkeys import HostKeyPins, PinnedHostKeyPolicy

log = logging.getLogger("qbo_sftp_assets.sftp")

# Algorithms paramiko 3.x/4.x still offer by default that a modern partner never needs. Only a
# partner with `legacy_algorithms: true` gets them back (paramiko 5 dropped most of them anyway).
HARDENED_DISABLED = {
    "kex": ["diffie-hellman-group1-sha1", "diffie-hellman-group14-sha1", "diffie-hellman-group-exchange-sha1"],
    "keys": ["ssh-dss"],
    "ciphers": ["3des-cbc"],
    "macs": ["hmac-md5", "hmac-md5-96", "hmac-sha1-96"],
}
# The host-key and signature algorithm an old server may be limited to: RSA with SHA-1 signatures.
# paramiko 5 removed it, 3.x/4.x still have it; `legacy_algorithms: true` puts it back either way.
LEGACY_RSA = "ssh-rsa"
# paramiko's transport logs a failed handshake as ERROR lines with a traceback; with no logging
# configured Python prints them on stderr. We raise our own error with the reason instead, so the
# transport logs to this channel, where they are kept at DEBUG.
PARAMIKO_LOG_CHANNEL = "qbo_sftp_assets.sftp.paramiko"
# A larger window lets a 100 MB transfer stream without waiting for window adjustments.
WINDOW_SIZE = 8 * 1024 * 1024
MAX_PACKET_SIZE = 32768


class _LegacyRSAKey(paramiko.RSAKey):
    """An RSA key that also signs and verifies `ssh-rsa` (SHA-1) signatures; only ever built for a
    partner with `legacy_algorithms: true`."""

    # The stubs mark HASHES Final; extending the table in a subclass is how paramiko adds algorithms.
    HASHES: ClassVar[dict[str, type[hashes.HashAlgorithm]]] = {  # type: ignore[misc]
        **paramiko.RSAKey.HASHES,
        LEGACY_RSA: hashes.SHA1,
        "ssh-rsa-cert-v01@openssh.com": hashes.SHA1,
    }


class _LegacyTransport(paramiko.Transport):
    """A transport that also offers `ssh-rsa` (SHA-1) as host-key and public-key signature
    algorithm, last, so a server that offers anything better still gets it."""

    # Transport's private algorithm tables (absent from paramiko's stubs), extended as subclasses must.
    _preferred_keys = tuple(dict.fromkeys((*paramiko.Transport._preferred_keys, LEGACY_RSA)))  # type: ignore[attr-defined]
    _preferred_pubkeys = tuple(dict.fromkeys((*paramiko.Transport._preferred_pubkeys, LEGACY_RSA)))  # type: ignore[attr-defined]
    _key_info: ClassVar[dict[str, type[paramiko.PKey]]] = {
        **paramiko.Transport._key_info,  # type: ignore[attr-defined]
        LEGACY_RSA: _LegacyRSAKey,
    }
    server_extensions: dict[str, bytes]  # set by Transport from the server's EXT_INFO; not in the stubs

    @property
    def preferred_pubkeys(self) -> tuple[str, ...]:
        algorithms = tuple(super().preferred_pubkeys)
        if self.server_extensions.get("server-sig-algs") or LEGACY_RSA not in algorithms:
            return algorithms
        # A server that does not say which signatures it takes is an old one: sign with SHA-1, the
        # one every old server knows (paramiko would pick rsa-sha2-512 and be refused).
        return (LEGACY_RSA, *(name for name in algorithms if name != LEGACY_RSA))


class _QuietHandshakeFailures(logging.Filter):
    """Keep paramiko's own error lines (and tracebacks) at DEBUG: the caller gets an SftpError."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.DEBUG:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


logging.getLogger(PARAMIKO_LOG_CHANNEL).addFilter(_QuietHandshakeFailures())


def _where(endpoint: SftpEndpoint, partner: str) -> str:
    label = f"{endpoint.user}@{endpoint.host}:{endpoint.port}"
    return f"{label} (partner {partner!r})" if partner else label


class _Watchdog:
    """One thread per session that closes the connection when the armed deadline passes.

    Arming only writes the deadline; the thread polls a few times a second, so the many short
    operations of a bulk transfer never wake it (a wake-up per operation costs GIL hand-offs).
    """

    POLL_SECONDS = 0.2

    def __init__(self, on_expire: Callable[[], None]) -> None:
        self._on_expire = on_expire
        self._deadline: float | None = None
        self._stopped = threading.Event()
        self.expired = False
        self._thread = threading.Thread(target=self._run, name="sftp-deadline", daemon=True)
        self._thread.start()

    def arm(self, seconds: float) -> None:
        self._deadline = time.monotonic() + seconds

    def disarm(self) -> None:
        self._deadline = None

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        while not self._stopped.wait(self.POLL_SECONDS):
            deadline = self._deadline
            if deadline is not None and time.monotonic() >= deadline:
                self.expired = True
                self._on_expire()
                return


@dataclass
class SftpSession:
    """An open, verified SFTP connection to one partner; reuse it for many files, then close it."""

    endpoint: SftpEndpoint
    partner: str
    connection: fabric.Connection
    sftp: paramiko.SFTPClient
    host_key_fingerprint: str
    _watchdog: _Watchdog = field(repr=False)
    _depth: int = field(default=0, repr=False)
    _limit: float = field(default=0.0, repr=False)

    @property
    def where(self) -> str:
        return _where(self.endpoint, self.partner)

    @property
    def alive(self) -> bool:
        transport = self.connection.transport
        return bool(transport and transport.is_active()) and not self._watchdog.expired

    def failure(self, what: str, error: BaseException) -> SftpError:
        """The user-facing error for `error` raised while doing `what`: a timeout if the deadline
        closed the connection, a lost connection if the transport died, else a remote file error.
        A per-request socket timeout also closes the connection: a late answer would be misread."""
        if isinstance(error, TimeoutError) and not self._watchdog.expired:
            self._watchdog.expired = True
            _close_quietly(self.connection)
        if self._watchdog.expired:
            return SftpTimeoutError(
                f"{self.where}: {what} did not finish within {self._limit:g} s, so the connection was closed. "
                "The server may be stalled; retry later or raise sftp.timeouts.operation."
            )
        dropped = isinstance(error, EOFError | paramiko.SSHException) or "socket is closed" in str(error).lower()
        if dropped or not self.alive:
            _close_quietly(self.connection)
            return SftpConnectionLostError(
                f"{self.where}: the connection dropped during {what}; reconnect and retry (nothing partial "
                "is left under a final name)."
            )
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        return RemoteFileError(f"{self.where}: {what} failed: {reason}")

    @contextmanager
    def operation(self, what: str, seconds: float | None = None) -> Iterator[paramiko.SFTPClient]:
        """Run one remote operation under a hard deadline; on expiry the connection is closed and
        SftpTimeoutError names what was running. Nested operations share the outer deadline."""
        if not self.alive:
            raise self.failure(what, EOFError("closed"))
        if self._depth:
            yield self.sftp
            return
        self._limit = seconds if seconds is not None else self.endpoint.timeouts.operation
        self._depth += 1
        self._watchdog.arm(self._limit)
        try:
            yield self.sftp
        except (OSError, EOFError, paramiko.SSHException) as error:
            raise self.failure(what, error) from error
        finally:
            self._depth -= 1
            self._watchdog.disarm()

    def close(self) -> None:
        self._watchdog.stop()
        _close_quietly(self.connection)

    def __enter__(self) -> SftpSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _close_quietly(connection: fabric.Connection) -> None:
    """Close a connection that may already be dead; a dead peer cannot receive the goodbye."""
    sftp, connection._sftp = connection._sftp, None
    if sftp is not None:
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
            sftp.close()
    with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
        connection.close()


def open_session(endpoint: SftpEndpoint, *, partner: str = "", environ: Mapping[str, str] | None = None) -> SftpSession:
    """Connect, verify the host key against the pins, authenticate and open the SFTP channel."""
    environ = os.environ if environ is None else environ
    pins = HostKeyPins.parse(endpoint.host_keys)
    policy = PinnedHostKeyPolicy(pins, host=endpoint.host, port=endpoint.port, partner=partner)
    connect_kwargs = _auth_kwargs(endpoint, partner, environ)
    connection = _build_connection(endpoint, partner, pins, policy, connect_kwargs)
    try:
        _open(connection, endpoint, partner)
    except SftpAuthError:
        if not isinstance(connect_kwargs.get("pkey"), _LegacyRSAKey):
            raise
        # Some servers list rsa-sha2-* in server-sig-algs yet accept only ssh-rsa signatures
        # (OpenSSH with PubkeyAcceptedAlgorithms ssh-rsa does): offer the key once more, SHA-1 only.
        log.warning("%s: RSA key refused with rsa-sha2; retrying with ssh-rsa (SHA-1)", _where(endpoint, partner))
        connection = _build_connection(endpoint, partner, pins, policy, connect_kwargs, sha1_signatures_only=True)
        _open(connection, endpoint, partner)
    try:
        transport = connection.transport
        if endpoint.timeouts.keepalive:
            transport.set_keepalive(endpoint.timeouts.keepalive)
        sftp = paramiko.SFTPClient.from_transport(transport, window_size=WINDOW_SIZE, max_packet_size=MAX_PACKET_SIZE)
        if sftp is None:
            raise SftpConnectError(f"{_where(endpoint, partner)}: the server refused to open an SFTP channel")
        connection._sftp = sftp  # fabric's memoized client, so connection.sftp() returns this one
        # A per-request read timeout as a second line of defence behind the watchdog.
        channel = sftp.get_channel()
        if channel is not None:
            channel.settimeout(endpoint.timeouts.operation)
    except (OSError, EOFError, paramiko.SSHException) as error:
        _close_quietly(connection)
        raise SftpConnectError(
            f"{_where(endpoint, partner)}: connected but could not start SFTP ({error}). Check that the "
            "account is allowed the sftp subsystem."
        ) from None
    fingerprint = transport.get_remote_server_key().fingerprint
    log.info("%s: connected, host key %s verified", _where(endpoint, partner), fingerprint)
    session = SftpSession(
        endpoint, partner, connection, sftp, fingerprint, _Watchdog(lambda: _close_quietly(connection))
    )
    return session


def probe_host_key(endpoint: SftpEndpoint, *, partner: str = "") -> paramiko.PKey:
    """Connect only far enough to see the host key the server presents (for `sftp trust`)."""
    seen: list[paramiko.PKey] = []

    class _Captured(paramiko.SSHException):
        pass

    class _Record(paramiko.MissingHostKeyPolicy):
        def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
            seen.append(key)
            raise _Captured(hostname)

    connection = _build_connection(endpoint, partner, HostKeyPins((), frozenset()), _Record(), {})
    try:
        _open(connection, endpoint, partner)
    except SftpConnectError:
        if not seen:
            raise
    finally:
        connection.close()
    if not seen:
        raise SftpConnectError(f"{_where(endpoint, partner)}: the server presented no host key")
    return seen[0]


def _build_connection(
    endpoint: SftpEndpoint,
    partner: str,
    pins: HostKeyPins,
    policy: paramiko.MissingHostKeyPolicy,
    connect_kwargs: dict[str, object],
    *,
    sha1_signatures_only: bool = False,
) -> fabric.Connection:
    timeouts = endpoint.timeouts
    disabled: dict[str, list[str]] = {} if endpoint.legacy_algorithms else HARDENED_DISABLED
    if sha1_signatures_only:
        disabled = {"pubkeys": ["rsa-sha2-512", "rsa-sha2-256"]}
    if endpoint.legacy_algorithms:
        log.warning(
            "%s: legacy SSH algorithms enabled by configuration (legacy_algorithms: true)",
            _where(endpoint, partner),
        )

    transport_class = _LegacyTransport if endpoint.legacy_algorithms else paramiko.Transport

    def transport_factory(
        sock: socket.socket, disabled_algorithms: Mapping[str, Iterable[str]] | None = None
    ) -> paramiko.Transport:
        transport = transport_class(
            sock,
            default_window_size=WINDOW_SIZE,
            default_max_packet_size=MAX_PACKET_SIZE,
            disabled_algorithms=disabled_algorithms,
        )
        transport.set_log_channel(PARAMIKO_LOG_CHANNEL)
        options = transport.get_security_options()
        options.key_types = pins.preferred_key_types(endpoint.host, endpoint.port, options.key_types)
        return transport

    # An explicit empty SSHConfig and a lazy Config: no ~/.ssh/config, /etc/ssh/ssh_config or
    # fabric.yaml can change where we connect or which key we offer.
    config = fabric.Config(ssh_config=paramiko.SSHConfig(), lazy=True)
    connection = fabric.Connection(
        endpoint.host,
        user=endpoint.user,
        port=endpoint.port,
        config=config,
        connect_timeout=timeouts.connect,
        connect_kwargs={
            **connect_kwargs,
            "look_for_keys": False,
            "allow_agent": False,
            "banner_timeout": timeouts.banner,
            "auth_timeout": timeouts.auth,
            "channel_timeout": timeouts.channel,
            "disabled_algorithms": disabled,
            "transport_factory": transport_factory,
        },
    )
    connection.client.set_missing_host_key_policy(policy)
    return connection


def _auth_kwargs(endpoint: SftpEndpoint, partner: str, environ: Mapping[str, str]) -> dict[str, object]:
    auth = endpoint.auth
    where = _where(endpoint, partner)
    if auth.password_env:
        password = environ.get(auth.password_env)
        if not password:
            raise SftpAuthError(
                f"{where}: the password is read from ${auth.password_env}, which is not set. "
                f"Export {auth.password_env} before running."
            )
        return {"password": password}
    passphrase = None
    if auth.passphrase_env:
        passphrase = environ.get(auth.passphrase_env)
        if not passphrase:
            raise SftpAuthError(
                f"{where}: the key passphrase is read from ${auth.passphrase_env}, which is not set. "
                f"Export {auth.passphrase_env} before running."
            )
    key_path = Path(auth.key_file or "").expanduser()
    try:
        # cryptography decrypts with bytes; paramiko's hint (str) does not match what it passes on.
        key_password = passphrase.encode() if passphrase else None
        key: paramiko.PKey = paramiko.PKey.from_path(key_path, key_password)  # type: ignore[arg-type]
    except FileNotFoundError:
        raise SftpAuthError(f"{where}: the key file {key_path} does not exist; fix sftp.auth.key_file") from None
    except PermissionError:
        raise SftpAuthError(f"{where}: the key file {key_path} cannot be read (permission denied)") from None
    except paramiko.PasswordRequiredException:
        raise SftpAuthError(
            f"{where}: the key file {key_path} is encrypted; name the variable holding its passphrase in "
            "sftp.auth.passphrase_env"
        ) from None
    except (paramiko.SSHException, ValueError) as error:
        hint = (
            "the passphrase is wrong"
            if passphrase
            else "it is not a private key paramiko reads (Ed25519, ECDSA or RSA, OpenSSH or PEM format)"
        )
        raise SftpAuthError(f"{where}: cannot load the key file {key_path}: {hint}") from error
    if endpoint.legacy_algorithms and isinstance(key, paramiko.RSAKey) and key.public_blob is None:
        key = _LegacyRSAKey(key=key.key)  # so it can sign with ssh-rsa (SHA-1) if that is all the server takes
    return {"pkey": key}


def _open(connection: fabric.Connection, endpoint: SftpEndpoint, partner: str) -> None:
    where = _where(endpoint, partner)
    timeouts = endpoint.timeouts
    try:
        connection.open()
    except HostKeyError:
        connection.close()
        raise
    except paramiko.BadAuthenticationType as error:
        connection.close()
        raise SftpAuthError(
            f"{where}: the server does not offer this authentication method; it allows "
            f"{', '.join(error.allowed_types) or 'nothing we can use'}. Change sftp.auth."
        ) from None
    except paramiko.AuthenticationException:
        connection.close()
        method = "password" if endpoint.auth.password_env else f"key {endpoint.auth.key_file}"
        raise SftpAuthError(
            f"{where}: authentication failed with the {method}. Check the user name, and that the partner "
            "installed our public key (or that the password variable holds the current password)."
        ) from None
    except TimeoutError:
        connection.close()
        raise SftpTimeoutError(
            f"{where}: no answer within the connect/banner timeouts "
            f"({timeouts.connect:g} s / {timeouts.banner:g} s). Check the host, port and firewall."
        ) from None
    except paramiko.SSHException as error:
        connection.close()
        text = str(error)
        if "banner" in text.lower():
            raise SftpTimeoutError(
                f"{where}: no SSH banner within {timeouts.banner:g} s ({text}). Is this port an SSH server?"
            ) from None
        raise SftpConnectError(
            f"{where}: SSH handshake failed: {text}.{_algorithm_hint(text, endpoint, partner)}"
        ) from None
    except (OSError, EOFError) as error:
        connection.close()
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error) or "closed"
        raise SftpConnectError(f"{where}: cannot connect: {reason}. Check sftp.host and sftp.port.") from None


def _algorithm_hint(text: str, endpoint: SftpEndpoint, partner: str) -> str:
    """What to do when the handshake found no algorithm both sides accept."""
    lowered = text.lower()
    if "incompatible" not in lowered and "no acceptable" not in lowered and "unable to agree" not in lowered:
        return ""
    setting = f"partners.{partner}.sftp.legacy_algorithms" if partner else "sftp.legacy_algorithms"
    if not endpoint.legacy_algorithms:
        return (
            " The server offers only algorithms we do not accept by default, most likely an ssh-rsa host key "
            f"with SHA-1 signatures. Ask the partner to upgrade (rsa-sha2-256/512, ECDSA or Ed25519), or set "
            f"{setting}: true if you accept the risk (it enables ssh-rsa/SHA-1 host keys and signatures)."
        )
    return (
        f" {setting} is already true (ssh-rsa/SHA-1 host keys and signatures are enabled), so the server "
        f"needs something this paramiko {paramiko.__version__} does not have at all (SHA-1 key exchange, "
        "ssh-dss, old ciphers). Ask the partner to enable curve25519-sha256, ecdh-sha2-nistp256 or "
        "diffie-hellman-group14-sha256 key exchange."
    )
