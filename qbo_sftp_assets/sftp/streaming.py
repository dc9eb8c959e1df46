"""Pipelined SFTP reads and writes: many requests in flight from the calling thread, in order.

paramiko's public `prefetch` starts a helper thread per file and throttles with 10 ms sleeps; a
plain `read` waits one round trip per 32 KB. This sends a window of requests the way OpenSSH's
client does, so a small file costs two round trips (open, then the reads, or the writes + fstat +
close) and a large one streams. It uses paramiko's request plumbing (`_request`, `_async_request`, `_read_response`),
which has kept its shape from paramiko 1.x to 5.x; it is confined to this module.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import paramiko
from paramiko.sftp import (
    CMD_ATTRS,
    CMD_CLOSE,
    CMD_DATA,
    CMD_FSTAT,
    CMD_HANDLE,
    CMD_OPEN,
    CMD_READ,
    CMD_STAT,
    CMD_STATUS,
    CMD_WRITE,
    SFTP_FLAG_CREATE,
    SFTP_FLAG_READ,
    SFTP_FLAG_TRUNC,
    SFTP_FLAG_WRITE,
    int64,
)

REQUEST_SIZE = 32768  # what OpenSSH's client and paramiko request; every server accepts it
WINDOW = 64  # requests in flight, as OpenSSH's client (`sftp -R 64`)


class _Replies:
    """paramiko hands responses to requests registered with this object to `_async_response`."""

    def __init__(self) -> None:
        self.by_number: dict[int, tuple[int, paramiko.Message]] = {}

    def _async_response(self, kind: int, message: paramiko.Message, number: int) -> None:
        self.by_number[number] = (kind, message)


def _open(sftp: paramiko.SFTPClient, path: str, flags: int) -> bytes:
    kind, message = sftp._request(CMD_OPEN, sftp._adjust_cwd(path), flags, paramiko.SFTPAttributes())
    if kind != CMD_HANDLE:
        raise paramiko.SFTPError(f"expected a handle opening {path!r}")
    return message.get_binary()


def _reply(sftp: paramiko.SFTPClient, replies: _Replies, number: int) -> tuple[int, paramiko.Message]:
    while number not in replies.by_number:
        sftp._read_response()
    return replies.by_number.pop(number)


def _check_status(sftp: paramiko.SFTPClient, kind: int, message: paramiko.Message, what: str) -> None:
    if kind != CMD_STATUS:
        raise paramiko.SFTPError(f"unexpected SFTP reply {kind} to {what}")
    sftp._convert_status(message)  # raises OSError unless the status is OK


@dataclass(frozen=True)
class WriteResult:
    """The size the server holds after the writes, and the `stat` of `probe_path` (None: absent)."""

    size: int
    probe: paramiko.SFTPAttributes | None = None


def write_remote_file(
    sftp: paramiko.SFTPClient,
    path: str,
    chunks: Iterable[bytes],
    window: int = WINDOW,
    probe_path: str | None = None,
) -> WriteResult:
    """Create or truncate `path` and write `chunks` (each at most REQUEST_SIZE bytes) with up to
    `window` writes in flight.

    Every write's status is checked. The fstat, the close and an optional `stat(probe_path)` (the
    caller's next question, e.g. "is the final name free?") travel in the same flight as the writes.
    """
    handle = _open(sftp, path, SFTP_FLAG_WRITE | SFTP_FLAG_CREATE | SFTP_FLAG_TRUNC)
    replies = _Replies()
    pending: deque[int] = deque()
    closed = False
    try:
        offset = 0
        for chunk in chunks:
            if len(pending) >= window:
                _check_status(sftp, *_reply(sftp, replies, pending.popleft()), f"writing {path!r}")
            pending.append(sftp._async_request(replies, CMD_WRITE, handle, int64(offset), chunk))
            offset += len(chunk)
        fstat = sftp._async_request(replies, CMD_FSTAT, handle)
        close = sftp._async_request(replies, CMD_CLOSE, handle)
        closed = True
        probe = sftp._async_request(replies, CMD_STAT, sftp._adjust_cwd(probe_path)) if probe_path else None
        while pending:
            _check_status(sftp, *_reply(sftp, replies, pending.popleft()), f"writing {path!r}")
        written = _attributes(sftp, *_reply(sftp, replies, fstat), f"fstat of {path!r}").st_size
        _check_status(sftp, *_reply(sftp, replies, close), f"closing {path!r}")
        probed = None
        if probe is not None:
            kind, message = _reply(sftp, replies, probe)
            try:
                probed = _attributes(sftp, kind, message, f"stat of {probe_path!r}")
            except FileNotFoundError:
                probed = None
        return WriteResult(written if written is not None else offset, probed)
    finally:
        if not closed:
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                sftp._async_request(replies, CMD_CLOSE, handle)


def _attributes(sftp: paramiko.SFTPClient, kind: int, message: paramiko.Message, what: str) -> paramiko.SFTPAttributes:
    if kind != CMD_ATTRS:
        _check_status(sftp, kind, message, what)
        raise paramiko.SFTPError(f"expected attributes in reply to {what}")
    return paramiko.SFTPAttributes._from_msg(message)


def read_remote_file(
    sftp: paramiko.SFTPClient,
    path: str,
    size_hint: int,
    sink: Callable[[bytes], object],
    window: int = WINDOW,
) -> int:
    """Stream the remote file at `path` into `sink` in order; return the number of bytes read.

    `size_hint` (from a listing or fstat) shapes the requests; the file is read until the server
    says EOF whatever its real size, so the caller compares the returned count with what it expected.
    Raises OSError for a server error, EOFError / SSHException when the connection drops.
    """
    handle = _open(sftp, path, SFTP_FLAG_READ)
    replies = _Replies()
    in_flight: dict[int, tuple[int, int]] = {}  # offset -> (request number, length)
    next_offset = 0
    position = 0
    eof = False
    longer_than_hinted = False

    def request(offset: int, length: int) -> None:
        number = sftp._async_request(replies, CMD_READ, handle, int64(offset), length)
        in_flight[offset] = (number, length)

    try:
        while True:
            # Plan requests up to the hinted size; the last one asks for one byte more, so a reply
            # that stops exactly at the hint is the end of the file without another round trip.
            while not eof and len(in_flight) < window and (next_offset <= size_hint or longer_than_hinted):
                remaining = size_hint - next_offset
                length = remaining + 1 if 0 < remaining <= REQUEST_SIZE else REQUEST_SIZE
                request(next_offset, length)
                next_offset += length
            if position not in in_flight:
                break
            number, length = in_flight.pop(position)
            kind, message = _reply(sftp, replies, number)
            if kind == CMD_DATA:
                data = message.get_string()
                if not data:
                    eof = True
                    continue
                sink(data)
                position += len(data)
                longer_than_hinted = longer_than_hinted or position > size_hint
                if len(data) < length:
                    if position == size_hint and not longer_than_hinted:
                        eof = True
                    elif position not in in_flight:
                        # A short read that is not the end: ask for the rest before anything later.
                        request(position, length - len(data))
                continue
            if kind == CMD_STATUS:
                try:
                    sftp._convert_status(message)
                except EOFError:
                    eof = True
                    continue
            raise paramiko.SFTPError(f"unexpected SFTP reply {kind} reading {path!r}")
    finally:
        # Close without waiting: replies still in flight (and the close's own) land in `replies`.
        # On a dead connection there is nothing to close, and the original error is the one to see.
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
            sftp._async_request(replies, CMD_CLOSE, handle)
    return position
