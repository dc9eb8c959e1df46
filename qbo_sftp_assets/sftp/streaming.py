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
import errno
import stat as stat_mode
import struct
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import paramiko
from paramiko.sftp import (
    CMD_ATTRS,
    CMD_CLOSE,
    CMD_DATA,
    CMD_EXTENDED,
    CMD_FSTAT,
    CMD_HANDLE,
    CMD_LSTAT,
    CMD_NAME,
    CMD_OPEN,
    CMD_OPENDIR,
    CMD_READ,
    CMD_READDIR,
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


class _Plumbing(Protocol):
    """The private request plumbing of `paramiko.SFTPClient` this module drives (module docstring);
    paramiko's stubs declare only the public surface, so it is typed here, in the one place it is used."""

    request_number: int
    sock: paramiko.Channel
    _lock: contextlib.AbstractContextManager[Any]
    _expecting: dict[int, object]

    def _read_response(self, waitfor: int | None = None) -> tuple[int | None, paramiko.Message | None]: ...

    def _adjust_cwd(self, path: str) -> bytes | str: ...

    def _convert_status(self, msg: paramiko.Message) -> None: ...

    def _request(self, t: int, *args: Any) -> tuple[int, paramiko.Message]: ...


def _plumbing(sftp: paramiko.SFTPClient) -> _Plumbing:
    return cast(_Plumbing, sftp)


# `SFTPAttributes._from_msg`: attributes decoded from a reply, as paramiko's own listdir does; private,
# so absent from paramiko's stubs.
_attributes_from: Callable[[paramiko.Message], paramiko.SFTPAttributes] = paramiko.SFTPAttributes._from_msg  # type: ignore[attr-defined]


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
        self.sftp = _plumbing(sftp)
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
        if payload:
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
        """The reply to request `number`; before waiting for one, whatever is queued is sent."""
        if number not in self.replies:
            self.send()
            while number not in self.replies:
                self.sftp._read_response()
        return self.replies.pop(number)

    def close_quietly(self, handle: bytes | None, *, send: bool = True) -> None:
        """Close a handle without waiting (None: only send what is queued); `send=False` leaves the
        close queued for the next write. On a dead connection the original error is the one to see."""
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
            if handle is not None:
                self.queue(CMD_CLOSE, handle)
            if send:
                self.send()


def _path(sftp: paramiko.SFTPClient, path: str) -> bytes | str:
    return _plumbing(sftp)._adjust_cwd(path)


def _check_status(sftp: paramiko.SFTPClient, kind: int, message: paramiko.Message, what: str) -> None:
    if kind != CMD_STATUS:
        raise paramiko.SFTPError(f"unexpected SFTP reply {kind} to {what}")
    _plumbing(sftp)._convert_status(message)  # raises OSError unless the status is OK


def _handle(sftp: paramiko.SFTPClient, kind: int, message: paramiko.Message, path: str) -> bytes:
    if kind == CMD_HANDLE:
        return message.get_binary()
    _check_status(sftp, kind, message, f"opening {path!r}")
    raise paramiko.SFTPError(f"expected a handle opening {path!r}")


def _attributes(sftp: paramiko.SFTPClient, kind: int, message: paramiko.Message, what: str) -> paramiko.SFTPAttributes:
    if kind != CMD_ATTRS:
        _check_status(sftp, kind, message, what)
        raise paramiko.SFTPError(f"expected attributes in reply to {what}")
    return _attributes_from(message)


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


class NotRegularFile(OSError):
    """The path is a symlink, a folder or a device, not a regular file: it is not read."""

    def __init__(self, mode: int) -> None:
        kind = describe_mode(mode)
        super().__init__(errno.EINVAL, f"it is {kind}, not a regular file; it was not read")
        self.kind = kind


def describe_mode(mode: int | None) -> str:
    """'a symbolic link', 'a folder', ... for an `st_mode`."""
    if mode is None:
        return "of unknown type"
    for test, kind in (
        (stat_mode.S_ISREG, "a regular file"),
        (stat_mode.S_ISLNK, "a symbolic link"),
        (stat_mode.S_ISDIR, "a folder"),
        (stat_mode.S_ISFIFO, "a named pipe"),
        (stat_mode.S_ISSOCK, "a socket"),
        (stat_mode.S_ISCHR, "a character device"),
        (stat_mode.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return kind
    return "of unknown type"


def list_remote_folder(sftp: paramiko.SFTPClient, path: str) -> list[tuple[bytes, paramiko.SFTPAttributes]]:
    """Every entry of the folder as (raw name, attributes), without '.' and '..', in server order.

    Names stay bytes: paramiko's `listdir_attr` decodes them as UTF-8 and fails the whole listing
    on one name that is not, so one stray file would hide every other.
    """
    kind, message = _plumbing(sftp)._request(CMD_OPENDIR, _path(sftp, path))
    handle = _handle(sftp, kind, message, path)
    entries: list[tuple[bytes, paramiko.SFTPAttributes]] = []
    try:
        while True:
            try:
                kind, message = _plumbing(sftp)._request(CMD_READDIR, handle)
            except EOFError:
                break  # SSH_FX_EOF: the end of the folder (a dropped connection raises SSHException)
            if kind != CMD_NAME:
                raise paramiko.SFTPError(f"unexpected SFTP reply {kind} listing {path!r}")
            for _entry in range(message.get_int()):
                name = message.get_binary()
                message.get_binary()  # the `ls -l` style long name
                attributes = _attributes_from(message)
                if name not in (b".", b".."):
                    entries.append((name, attributes))
    finally:
        _Flight(sftp).close_quietly(handle)
    return entries


@dataclass(frozen=True)
class ReadJob:
    """One file to read into `sink`, never past `limit` bytes (the size the listing gave); with
    `limit` None the size from the `lstat` sent with its open is the limit."""

    path: str
    sink: Callable[[bytes], object]
    limit: int | None = None


@dataclass(frozen=True)
class ReadResult:
    """What one job read: `size` bytes went to the sink, out of `expected` (the limit).

    `error` is the server's refusal (a missing file, no permission) or NotRegularFile, with nothing
    read; `longer` says the server offered more than `expected` bytes, and reading stopped at
    `expected`. `attributes` is the `lstat` taken with the open (size and mtime before the read).
    """

    size: int
    expected: int
    error: OSError | None = None
    longer: bool = False
    attributes: paramiko.SFTPAttributes | None = None

    @property
    def complete(self) -> bool:
        return self.error is None and not self.longer and self.size == self.expected


class _FileRead:
    """The reading state of one job: its handle, the requests in flight keyed by offset, where it is."""

    def __init__(self, job: ReadJob, open_number: int, stat_number: int) -> None:
        self.job = job
        self.open_number = open_number
        self.stat_number = stat_number
        self.attributes: paramiko.SFTPAttributes | None = None
        self.handle: bytes | None = None
        self.limit = job.limit if job.limit is not None else 0
        self.in_flight: dict[int, tuple[int, int]] = {}  # offset -> (request number, length)
        self.next_offset = 0
        self.position = 0
        self.finished = False
        self.error: OSError | None = None
        self.longer = False

    def wants_more(self) -> bool:
        # Requests cover the limit plus one byte: a reply that stops at the limit is the end of the
        # file without another round trip, and one byte past it proves the file is longer.
        return not self.finished and self.handle is not None and self.next_offset <= self.limit

    def result(self) -> ReadResult:
        return ReadResult(self.position, self.limit, self.error, self.longer, self.attributes)


def read_remote_files(sftp: paramiko.SFTPClient, jobs: Sequence[ReadJob], window: int = WINDOW) -> list[ReadResult]:
    """Read every job's file with up to `window` requests in flight across files, in two round trips
    for small files: the opens (and stats) of all jobs travel together, then the reads of all.

    Each file is read in order into its sink and never past its limit. Each open goes with an
    `lstat` of the path, queued before it: a path that is a symlink or not a regular file is never
    read (its result has a NotRegularFile error). A file the server refuses is a result with its
    `error`; the others go on. A dropped connection raises (EOFError /
    SSHException, or OSError from the socket); handles are sent their close either way.
    """
    flight = _Flight(sftp)
    files = []
    for job in jobs:
        stat_number = flight.queue(CMD_LSTAT, _path(sftp, job.path))
        open_number = flight.queue(CMD_OPEN, _path(sftp, job.path), SFTP_FLAG_READ, NO_ATTRIBUTES)
        files.append(_FileRead(job, open_number, stat_number))
    in_flight = 0
    done: list[bytes] = []  # handles of files read to their end, to close

    def take_open(state: _FileRead) -> None:
        try:
            attributes = _attributes(sftp, *flight.reply(state.stat_number), f"lstat of {state.job.path!r}")
        except OSError as error:
            attributes = None
            state.error = error
        if attributes is not None:
            state.attributes = attributes
            if state.job.limit is None:
                state.limit = attributes.st_size or 0
            if attributes.st_mode is not None and not stat_mode.S_ISREG(attributes.st_mode):
                state.error = NotRegularFile(attributes.st_mode)
        try:
            handle = _handle(sftp, *flight.reply(state.open_number), state.job.path)
        except OSError as error:
            state.error, state.finished = state.error or error, True
            return
        if state.error is not None:
            state.finished = True
            done.append(handle)  # opened before the lstat's answer came: closed unread
        else:
            state.handle = handle

    def request(state: _FileRead, offset: int, length: int) -> None:
        nonlocal in_flight
        assert state.handle is not None
        state.in_flight[offset] = (flight.queue(CMD_READ, state.handle, Offset(offset), length), length)
        in_flight += 1

    def plan(state: _FileRead, *, beyond_window: bool = False) -> None:
        while state.wants_more() and (in_flight < window or beyond_window):
            remaining = state.limit - state.next_offset
            length = remaining + 1 if remaining < REQUEST_SIZE else REQUEST_SIZE
            request(state, state.next_offset, length)
            state.next_offset += length
            beyond_window = False

    def finish(state: _FileRead) -> None:
        nonlocal in_flight
        state.finished = True
        # Replies to reads still in flight (after EOF, an error, or the limit) land in `flight`, unread.
        in_flight -= len(state.in_flight)
        state.in_flight.clear()
        if state.handle is not None:
            # Closed together after the last read, in one write; their replies are not waited for.
            done.append(state.handle)
            state.handle = None

    try:
        # The open replies come back in one burst: take them all, so every read leaves in one write.
        for state in files:
            take_open(state)
        for index, current in enumerate(files):
            while not current.finished:
                # The file being read may always ask for its next bytes, so it never waits on a full window.
                plan(current, beyond_window=not current.in_flight)
                for later in files[index + 1 :]:
                    if in_flight >= window:
                        break
                    plan(later)
                if current.position not in current.in_flight:
                    finish(current)  # every byte up to the limit (+1) was asked for and answered
                    break
                number, length = current.in_flight.pop(current.position)
                in_flight -= 1
                _take_read(sftp, current, *flight.reply(number), length, request, finish)
    finally:
        done.extend(state.handle for state in files if state.handle is not None)
        for handle in done:
            flight.close_quietly(handle, send=False)
        flight.close_quietly(None)
    return [state.result() for state in files]


def _take_read(
    sftp: paramiko.SFTPClient,
    state: _FileRead,
    kind: int,
    message: paramiko.Message,
    length: int,
    request: Callable[[_FileRead, int, int], None],
    finish: Callable[[_FileRead], None],
) -> None:
    """One READ reply for the file being read: hand its data on, ask again after a short read, stop
    at EOF, past the limit, or when the server refuses."""
    if kind == CMD_DATA:
        data = message.get_string()
        if not data:
            finish(state)
            return
        room = state.limit - state.position
        if len(data) > min(room, length):
            # More than the listing said (or than was asked): keep what fits, read no further.
            state.longer = True
            data = data[: max(room, 0)]
        if data:
            state.job.sink(data)
            state.position += len(data)
        if state.longer or len(data) == 0:
            finish(state)
        elif len(data) < length and state.position not in state.in_flight:
            if state.position == state.limit:
                finish(state)  # asked for the limit plus one, got exactly the limit: the end
            else:
                request(state, state.position, length - len(data))  # a short read that is not the end
        return
    if kind == CMD_STATUS:
        try:
            _plumbing(sftp)._convert_status(message)
        except EOFError:
            finish(state)
            return
        except OSError as error:
            state.error = error
            finish(state)
            return
    raise paramiko.SFTPError(f"unexpected SFTP reply {kind} reading {state.job.path!r}")
