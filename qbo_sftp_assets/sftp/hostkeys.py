"""Host-key pins from the configuration and the strict policy that refuses any key not pinned.

A pin is a known_hosts line (`host ssh-ed25519 AAAA...`, `[host]:2222 ...`, hashed `|1|...` names
work) or an OpenSSH `SHA256:...` fingerprint (what `ssh-keygen -lf key.pub` prints).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass

import paramiko
from paramiko.hostkeys import HostKeyEntry, HostKeys, InvalidHostKey

from qbo_sftp_assets.sftp.errors import ChangedHostKeyError, HostKeyError, UnknownHostKeyError

SSH_PORT = 22


def known_hosts_name(host: str, port: int) -> str:
    """The name OpenSSH files a host's key under: `host` on port 22, `[host]:port` elsewhere."""
    return host if port == SSH_PORT else f"[{host}]:{port}"


def fingerprint_of(key: paramiko.PKey) -> str:
    """`SHA256:...` exactly as `ssh-keygen -l` prints it."""
    return key.fingerprint


def known_hosts_line(host: str, port: int, key: paramiko.PKey) -> str:
    """A known_hosts line pinning `key` for `host:port`."""
    return f"{known_hosts_name(host, port)} {key.get_name()} {key.get_base64()}"


@dataclass(frozen=True)
class HostKeyPins:
    """The pins configured for one endpoint, split into key lines and bare fingerprints."""

    entries: tuple[HostKeyEntry, ...]
    fingerprints: frozenset[str]

    @classmethod
    def parse(cls, pins: Iterable[str]) -> HostKeyPins:
        entries: list[HostKeyEntry] = []
        fingerprints: set[str] = set()
        for pin in pins:
            pin = pin.strip()
            if pin.startswith("SHA256:"):
                fingerprints.add(pin.rstrip("="))
                continue
            try:
                entry = HostKeyEntry.from_line(pin)
            except (InvalidHostKey, binascii.Error, ValueError):
                entry = None
            if entry is None:
                raise HostKeyError(
                    f"the host key pin {pin[:60]!r} is not a known_hosts line this program can read; "
                    "replace it with the line `qbo-sftp sftp trust PARTNER` writes",
                    host="",
                    presented="",
                    expected=(),
                )
            entries.append(entry)
        return cls(tuple(entries), frozenset(fingerprints))

    def keys_for(self, host: str, port: int) -> list[paramiko.PKey]:
        """The pinned keys whose known_hosts names match this host and port."""
        name = known_hosts_name(host, port)
        return [entry.key for entry in self.entries if _entry_matches(entry, name)]

    def expected_for(self, host: str, port: int) -> tuple[str, ...]:
        """Every fingerprint that would be accepted for this host, for error messages."""
        lines = [fingerprint_of(key) for key in self.keys_for(host, port)]
        return tuple(dict.fromkeys([*lines, *sorted(self.fingerprints)]))

    def accepts(self, host: str, port: int, key: paramiko.PKey) -> bool:
        if fingerprint_of(key).rstrip("=") in self.fingerprints:
            return True
        return any(_same_key(key, pinned) for pinned in self.keys_for(host, port))

    def preferred_key_types(self, host: str, port: int, offered: Iterable[str]) -> list[str]:
        """Host-key algorithms in an order that makes the server present a key type we pinned."""
        pinned: list[str] = []
        for key in self.keys_for(host, port):
            name = key.get_name()
            pinned.extend(["rsa-sha2-512", "rsa-sha2-256", name] if name == "ssh-rsa" else [name])
        offered = list(offered)
        first = [kind for kind in dict.fromkeys(pinned) if kind in offered]
        return first + [kind for kind in offered if kind not in first]


def _entry_matches(entry: HostKeyEntry, name: str) -> bool:
    for pattern in entry.hostnames:
        if pattern.startswith("|1|"):
            salt = pattern.split("|")[2]
            if HostKeys.hash_host(name, salt) == pattern:
                return True
        elif pattern == name:
            return True
    return False


def _same_key(presented: paramiko.PKey, pinned: paramiko.PKey) -> bool:
    return base64.b64decode(presented.get_base64()) == base64.b64decode(pinned.get_base64())


class PinnedHostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """Accept the server's key only if a pin matches; never add, never fall back."""

    def __init__(self, pins: HostKeyPins, *, host: str, port: int, partner: str) -> None:
        self.pins = pins
        self.host = host
        self.port = port
        self.partner = partner

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        if self.pins.accepts(self.host, self.port, key):
            return
        presented = fingerprint_of(key)
        expected = self.pins.expected_for(self.host, self.port)
        where = f"{self.host}:{self.port}" + (f" (partner {self.partner!r})" if self.partner else "")
        if expected:
            raise ChangedHostKeyError(
                f"host key for {where} does NOT match the pin: the server presented {key.get_name()} "
                f"{presented}, the configuration expects {' or '.join(expected)}. The server's key changed "
                "or someone is intercepting the connection; nothing was sent. Confirm the new key with the "
                "partner out of band, then run `qbo-sftp sftp trust` (or edit sftp.host_keys).",
                host=where,
                presented=presented,
                expected=expected,
            )
        other = sorted({n for e in self.pins.entries for n in e.hostnames if not n.startswith("|")})
        elsewhere = f" (the pins present are for {', '.join(other)})" if other else ""
        raise UnknownHostKeyError(
            f"host key for {where} is unknown: the server presented {key.get_name()} {presented} and no pin "
            f"in sftp.host_keys matches {known_hosts_name(self.host, self.port)!r}{elsewhere}. Verify the "
            "fingerprint with the partner, then run `qbo-sftp sftp trust PARTNER` to pin it.",
            host=where,
            presented=presented,
            expected=(),
        )
