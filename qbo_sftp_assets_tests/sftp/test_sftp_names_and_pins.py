"""Pure units: safe remote names and folders, clash-free names, and parsing host-key pins."""

from __future__ import annotations

import re

import pytest

from qbo_sftp_assets.sftp.errors import HostKeyError, UnsafeRemoteNameError
from qbo_sftp_assets.sftp.hostkeys import HostKeyPins, known_hosts_name
from qbo_sftp_assets.sftp.names import (
    check_remote_folder,
    check_remote_name,
    join_folder,
    numbered_name,
    remote_path,
)

ED25519_BLOB = "AAAAC3NzaC1lZDI1NTE5AAAAIOWpTKUenoJu+F2hfj56FM1rKjLXeBEKJy/TibjMmSUJ"


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("..", "names a folder"),
        (".", "names a folder"),
        ("", "empty"),
        ("/etc/passwd", "absolute path"),
        ("../x.csv", "path separator"),
        ("a/b.csv", "path separator"),
        ("a\\b.csv", "path separator"),
        ("a\x00.csv", "NUL"),
        ("line\nbreak.csv", "U+000A"),
        ("tab\t.csv", "U+0009"),
        ("del\x7f.csv", "U+007F"),
        ("evil\u202etxt.exe", "U+202E"),
        ("x" * 256, "longer than 255 bytes"),
    ],
)
def test_unsafe_names_are_refused_with_the_reason(name: str, why: str) -> None:
    with pytest.raises(UnsafeRemoteNameError, match=re.escape(why)):
        check_remote_name(name)


@pytest.mark.parametrize("name", ["Rechnung März.csv", "請求書 2026.x12", "a b c.txt", "..hidden", "x..y", ".done"])
def test_spaces_and_non_ascii_letters_are_fine(name: str) -> None:
    assert check_remote_name(name) == name


def test_folders_are_normalised_and_checked() -> None:
    assert check_remote_folder("/srv//sftp/./in/") == "/srv/sftp/in"
    assert check_remote_folder("in box") == "in box"
    assert join_folder("/srv/acme", "inbound") == "/srv/acme/inbound"
    assert join_folder("/srv/acme", "/elsewhere/in") == "/elsewhere/in"
    assert join_folder("", "inbound") == "inbound"
    assert remote_path("/srv/in", "ä b.csv") == "/srv/in/ä b.csv"
    with pytest.raises(UnsafeRemoteNameError, match="remote folder"):
        check_remote_folder("/srv/../etc")


def test_numbered_names_keep_the_extension() -> None:
    assert numbered_name("invoice.csv", 2) == "invoice-2.csv"
    assert numbered_name("README", 1) == "README-1"
    assert numbered_name(".profile", 1) == ".profile-1"


def test_pins_parse_lines_and_fingerprints_and_match_by_known_hosts_name() -> None:
    pins = HostKeyPins.parse(
        [f"[sftp.acme.com]:2222 ssh-ed25519 {ED25519_BLOB}", "SHA256:0uCN2168QZZZ6kMee4GIIOj+fiSgqX27BLZ265eSGx4"]
    )
    assert known_hosts_name("h", 22) == "h" and known_hosts_name("h", 2222) == "[h]:2222"
    assert len(pins.keys_for("sftp.acme.com", 2222)) == 1
    assert pins.keys_for("sftp.acme.com", 22) == []
    assert pins.expected_for("sftp.acme.com", 2222) == ("SHA256:0uCN2168QZZZ6kMee4GIIOj+fiSgqX27BLZ265eSGx4",)
    order = pins.preferred_key_types("sftp.acme.com", 2222, ["ecdsa-sha2-nistp256", "ssh-ed25519"])
    assert order == ["ssh-ed25519", "ecdsa-sha2-nistp256"]


def test_an_unreadable_pin_is_reported() -> None:
    with pytest.raises(HostKeyError, match="not a known_hosts line"):
        HostKeyPins.parse(["host ssh-ed25519 not-base64!!"])
