"""The SFTP requests we pack ourselves (to send many in one channel write) are byte-identical to
the ones paramiko's own encoder builds."""

from __future__ import annotations

import struct
import threading

import paramiko
from paramiko.sftp import CMD_CLOSE, CMD_EXTENDED, CMD_OPEN, CMD_WRITE, int64

from qbo_sftp_assets.sftp.streaming import NO_ATTRIBUTES, POSIX_RENAME, Offset, _Flight


class _RecordingChannel:
    def __init__(self) -> None:
        self.sent = b""

    def sendall(self, data: bytes) -> None:
        self.sent += data


class _ClientState:
    """The request numbering and reply routing `_Flight` shares with paramiko's SFTPClient."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.request_number = 7
        self._expecting: dict[int, object] = {}
        self.sock = _RecordingChannel()


def _paramiko_request(number: int, kind: int, *args: object) -> bytes:
    """What `SFTPClient._async_request` + `_send_packet` put on the wire for these arguments."""
    message = paramiko.Message()
    message.add_int(number)
    for item in args:
        if isinstance(item, int64):
            message.add_int64(item)
        elif isinstance(item, int):
            message.add_int(item)
        elif isinstance(item, paramiko.SFTPAttributes):
            item._pack(message)
        else:
            message.add_string(item)
    body = message.asbytes()
    return struct.pack(">I", len(body) + 1) + bytes([kind]) + body


def test_queued_requests_match_paramikos_encoding_and_numbering() -> None:
    state = _ClientState()
    flight = _Flight(state)  # type: ignore[arg-type]
    numbers = [
        flight.queue(CMD_OPEN, b"/out/.a b.csv.part", 0x1A, NO_ATTRIBUTES),
        flight.queue(CMD_WRITE, b"handle-1", Offset(5 << 32), payload=b"\x00data\xff"),
        flight.queue(CMD_WRITE, b"handle-1", Offset(0), payload=b""),
        flight.queue(CMD_CLOSE, b"handle-1"),
        flight.queue(CMD_EXTENDED, POSIX_RENAME, "/out/.März.part", "/out/März"),
    ]
    assert state.sock.sent == b""  # nothing leaves until the flight is sent
    flight.send()
    expected = b"".join(
        [
            _paramiko_request(7, CMD_OPEN, b"/out/.a b.csv.part", 0x1A, paramiko.SFTPAttributes()),
            _paramiko_request(8, CMD_WRITE, b"handle-1", int64(5 << 32), b"\x00data\xff"),
            _paramiko_request(9, CMD_WRITE, b"handle-1", int64(0), b""),
            _paramiko_request(10, CMD_CLOSE, b"handle-1"),
            _paramiko_request(11, CMD_EXTENDED, POSIX_RENAME, "/out/.März.part", "/out/März"),
        ]
    )
    assert state.sock.sent == expected
    assert numbers == [7, 8, 9, 10, 11] and state.request_number == 12
    assert all(state._expecting[number] is flight for number in numbers)
