"""Pipelined SFTP reads and writes: many requests in flight from the calling thread, in order.

paramiko's public `prefetch` starts a helper thread per file and throttles with 10 ms sleeps; a
plain `read` waits one round trip per 32 KB; and paramiko sends every request in an SSH packet of
its own. This sends a window of requests the way OpenSSH's client does, packed into as few channel
writes as possible, so a small file costs two round trips (open, then the reads, or the writes +
fstat + close) and several small files cost the same two between them. It uses paramiko's request
plumbing (`request_number`, `_expecting`, `_read_response`, `_convert_status`), which has kept its
shape from paramiko 1.x to 5.x; it is confined to this module.
"""

from __future__ import annotations

import contextlib
import struct
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import paramiko
from paramiko.sftp import (
    CMD_ATTRS,
    CMD_CLOSE,
    CMD_DATA,
    CMD_EXTENDED,
    CMD_FSTAT,
    CMD_HANDLE,
    CMD_OPEN,
    CMD_READ,
    CMD_RENAME,
    CMD_STAT,
    CMD_STATUS,
    CMD_WRITE,
    SFTP_FLAG_CREATE,
    SFTP_FLAG_READ,
    SFTP_FLAG_TRUNC,
    SFTP_FLAG_WRITE,
)

REQUEST_SIZE = 32768  # what OpenSSH's client and paramiko request; every server accepts it
WINDOW = 64  # requests in flight, as OpenSSH's client (`sftp -R 64`)
# Queued requests leave once this much is waiting (or before we wait for a reply): small files
# go out in one channel write, large ones stream without building big buffers.
FLUSH_BYTES = 64 * 1024
POSIX_RENAME = b"posix-rename@openssh.com"
_HEADER = struct.Struct(">IBI")  # length, type, request id
_UINT32 = struct.Struct(">I")
_UINT64 = struct.Struct(">Q")
NO_ATTRIBUTES = 0  # an SFTP attribute block is its flags word, then the fields the flags name


class Offset(int):
    """A 64-bit field (file offset); plain ints are 32-bit fields."""


Field = bytes | str | int


def _encode(field: Field) -> bytes:
    if isinstance(field, Offset):
        return _UINT64.pack(field)
    if isinstance(field, int):
        return _UINT32.pack(field)
    data = field.encode("utf-8") if isinstance(field, str) else field
    return _UINT32.pack(len(data)) + data


class _Flight:
    """Requests queued to leave together in one channel write, and the replies paramiko routes back.

    paramiko's `_read_response` hands the reply to a request registered in `_expecting` to that
    object's `_async_response`, so replies to other requests read meanwhile are kept, not lost.
    """

    def __init__(self, sftp: paramiko.SFTPClient) -> None:
        self.sftp = sftp
        self.replies: dict[int, tuple[int, paramiko.Message]] = {}
        self._queued: list[bytes] = []
        self._queued_bytes = 0

    def _async_response(self, kind: int, message: paramiko.Message, number: int) -> None:
        self.replies[number] = (kind, message)

    def queue(self, kind: int, *fields: Field, payload: bytes | None = None) -> int:
        """Queue a request and return its number; `payload` (a write's data) is a trailing string
        field kept as its own piece, so it is copied once, into the channel write."""
        body = b"".join(_encode(field) for field in fields)
        extra = 0
        if payload is not None:
            body += _UINT32.pack(len(payload))
            extra = len(payload)
        sftp = self.sftp
        with sftp._lock:
            number = sftp.request_number
            sftp._expecting[number] = self
            sftp.request_number += 1
        self._queued.append(_HEADER.pack(len(body) + extra + 5, kind, number) + body)
        if extra:
            self._queued.append(payload)
        self._queued_bytes += len(body) + extra + 9
        if self._queued_bytes >= FLUSH_BYTES:
            self.send()
        return number

    def send(self) -> None:
        if self._queued:
            data = b"".join(self._queued)
            self._queued.clear()
            self._queued_bytes = 0
            self.sftp.sock.sendall(data)

    def reply(self, number: int) -> tuple[int, paramiko.Message]:
        """Wait for the reply to request `number` (sending whatever is queued first)."""
        self.send()
        while number not in self.replies:
            self.sftp._read_response()
        return self.replies.pop(number)

    def close_quietly(self, handle: bytes) -> None:
        """Close a handle without waiting; on a dead connection the original error is the one to see."""
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
            self.queue(CMD_CLOSE, handle)
            self.send()


def _path(sftp: paramiko.SFTPClient, path: str) -> bytes | str:
    return sftp._adjust_cwd(path)


def _check_status(sftp: paramiko.SFTPClient, kind: int, message: paramiko.Message, what: str) -> None:
    if kind != CMD_STATUS:
        raise paramiko.SFTPError(f"unexpected SFTP reply {kind} to {what}")
    sftp._convert_status(message)  # raises OSError unless the status is OK


def _handle(sftp: paramiko.SFTPClient, kind: int, message: paramiko.Message, path: str) -> bytes:
    if kind == CMD_HANDLE:
        return message.get_binary()
    _check_status(sftp, kind, message, f"opening {path!r}")
    raise paramiko.SFTPError(f"expected a handle opening {path!r}")


def _attributes(sftp: paramiko.SFTPClient, kind: int, message: paramiko.Message, what: str) -> paramiko.SFTPAttributes:
    if kind != CMD_ATTRS:
        _check_status(sftp, kind, message, what)
        raise paramiko.SFTPError(f"expected attributes in reply to {what}")
    return paramiko.SFTPAttributes._from_msg(message)


@dataclass(frozen=True)
class WriteJob:
    """One file to write: its path, its content in chunks of at most REQUEST_SIZE bytes, and an
    optional path to `stat` in the same flight (the caller's next question, e.g. "is the final name
    free?"). `truncate=False` creates the file if missing and leaves an existing one as it is."""

    path: str
    chunks: Iterable[bytes]
    probe_path: str | None = None
    truncate: bool = True


@dataclass(frozen=True)
class WriteResult:
    """The size the server holds after the writes, and the `stat` of `probe_path` (None: absent)."""

    size: int
    probe: paramiko.SFTPAttributes | None = None


def write_remote_files(sftp: paramiko.SFTPClient, jobs: Sequence[WriteJob], window: int = WINDOW) -> list[WriteResult]:
    """Write each job's file with up to `window` requests in flight, in two round trips for small files.

    The opens of all jobs travel together; then every write, fstat, close and probe. Every reply is
    checked: the first failure raises (OSError for a server error, EOFError / SSHException when the
    connection drops) after the handles still open have been sent their close.
    """
    flight = _Flight(sftp)
    opens = [
        flight.queue(
            CMD_OPEN,
            _path(sftp, job.path),
            SFTP_FLAG_WRITE | SFTP_FLAG_CREATE | (SFTP_FLAG_TRUNC if job.truncate else 0),
            NO_ATTRIBUTES,
        )
        for job in jobs
    ]
    handles: list[bytes | None] = []
    try:
        failure: OSError | None = None
        for job, number in zip(jobs, opens, strict=True):
            try:
                handles.append(_handle(sftp, *flight.reply(number), job.path))
            except OSError as error:
                failure = failure or error
                handles.append(None)
        if failure is not None:
            raise failure
        pending: deque[tuple[int, str]] = deque()
        sent: list[int] = []
        followers: list[tuple[int, int, int | None]] = []  # fstat, close, probe request numbers
        for index, job in enumerate(jobs):
            handle = handles[index]
            assert handle is not None
            offset = 0
            for chunk in job.chunks:
                if len(pending) >= window:
                    number, path = pending.popleft()
                    _check_status(sftp, *flight.reply(number), f"writing {path!r}")
                pending.append((flight.queue(CMD_WRITE, handle, Offset(offset), payload=chunk), job.path))
                offset += len(chunk)
            sent.append(offset)
            fstat = flight.queue(CMD_FSTAT, handle)
            close = flight.queue(CMD_CLOSE, handle)
            handles[index] = None
            probe = flight.queue(CMD_STAT, _path(sftp, job.probe_path)) if job.probe_path else None
            followers.append((fstat, close, probe))
        while pending:
            number, path = pending.popleft()
            _check_status(sftp, *flight.reply(number), f"writing {path!r}")
        results = []
        for job, offset, (fstat, close, probe) in zip(jobs, sent, followers, strict=True):
            written = _attributes(sftp, *flight.reply(fstat), f"fstat of {job.path!r}").st_size
            _check_status(sftp, *flight.reply(close), f"closing {job.path!r}")
            probed = None
            if probe is not None:
                try:
                    probed = _attributes(sftp, *flight.reply(probe), f"stat of {job.probe_path!r}")
                except FileNotFoundError:
                    probed = None
            results.append(WriteResult(written if written is not None else offset, probed))
        return results
    finally:
        for handle in handles:
            if handle is not None:
                flight.close_quietly(handle)


def write_remote_file(
    sftp: paramiko.SFTPClient,
    path: str,
    chunks: Iterable[bytes],
    window: int = WINDOW,
    probe_path: str | None = None,
) -> WriteResult:
    """Create or truncate `path` and write `chunks`; see `write_remote_files`."""
    return write_remote_files(sftp, [WriteJob(path, chunks, probe_path)], window)[0]


def rename_remote_files(
    sftp: paramiko.SFTPClient, pairs: Sequence[tuple[str, str]], *, posix: bool
) -> list[OSError | None]:
    """Rename each `(source, target)` in one flight; per pair None or the server's error.

    `posix` sends `posix-rename@openssh.com` (atomic, replaces the target), else SSH_FXP_RENAME
    (refuses an existing target). Connection errors raise.
    """
    flight = _Flight(sftp)
    numbers = [
        flight.queue(CMD_EXTENDED, POSIX_RENAME, _path(sftp, source), _path(sftp, target))
        if posix
        else flight.queue(CMD_RENAME, _path(sftp, source), _path(sftp, target))
        for source, target in pairs
    ]
    outcomes: list[OSError | None] = []
    for (source, _target), number in zip(pairs, numbers, strict=True):
        try:
            _check_status(sftp, *flight.reply(number), f"renaming {source!r}")
            outcomes.append(None)
        except OSError as error:
            outcomes.append(error)
    return outcomes


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
    flight = _Flight(sftp)
    handle = _handle(
        sftp, *flight.reply(flight.queue(CMD_OPEN, _path(sftp, path), SFTP_FLAG_READ, NO_ATTRIBUTES)), path
    )
    in_flight: dict[int, tuple[int, int]] = {}  # offset -> (request number, length)
    next_offset = 0
    position = 0
    eof = False
    longer_than_hinted = False

    def request(offset: int, length: int) -> None:
        in_flight[offset] = (flight.queue(CMD_READ, handle, Offset(offset), length), length)

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
            kind, message = flight.reply(number)
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
        # Close without waiting: replies still in flight (and the close's own) land in `flight`.
        flight.close_quietly(handle)
    return position
