"""A partner's folders over one session: list, readiness, claim, streaming download, atomic upload, move."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import logging
import os
import posixpath
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Literal

import paramiko

from qbo_sftp_assets.config import Folders, Partner, Readiness
from qbo_sftp_assets.sftp.connection import SftpSession, open_session
from qbo_sftp_assets.sftp.errors import (
    FileChangedSinceDownloadError,
    NotRegularFileError,
    RemoteFileError,
    SftpError,
    TransferIncompleteError,
    UnsafeRemoteNameError,
)
from qbo_sftp_assets.sftp.names import (
    check_remote_name,
    display_name,
    join_folder,
    name_problem,
    numbered_name,
    remote_path,
)
from qbo_sftp_assets.sftp.streaming import (
    REQUEST_SIZE,
    NotRegularFile,
    ReadJob,
    ReadResult,
    WriteJob,
    WriteResult,
    describe_mode,
    list_remote_folder,
    read_remote_files,
    rename_remote_files,
    write_remote_files,
)

FolderKind = Literal["inbound", "processing", "archive", "error", "acks", "outbound"]
FOLDER_KINDS: tuple[FolderKind, ...] = ("inbound", "processing", "archive", "error", "acks", "outbound")
# Names partners and tools use while a file is still being written; never picked up.
IN_PROGRESS_SUFFIXES = (".part", ".tmp", ".filepart", ".partial", ".crdownload")
CHUNK = 32768
MAX_NUMBERED_NAMES = 1000
# Files whose requests `upload_many` keeps in flight together; well under the open-handle limits
# some servers impose per session (100 is common).
UPLOAD_BATCH = 32
# A batch shares one operation deadline, so large files (and streams of unknown size) go alone.
UPLOAD_BATCH_BYTES = 4 * 1024 * 1024
# Files whose requests `download_many` keeps in flight together, and the bytes a batch may list.
DOWNLOAD_BATCH = 32
DOWNLOAD_BATCH_BYTES = 4 * 1024 * 1024
# `move(..., expect=)` reads a file this small again to compare its SHA-256 with the one acknowledged.
REHASH_LIMIT = 16 * 1024 * 1024
Progress = Callable[[int, int], None]
log = logging.getLogger("qbo_sftp_assets.sftp")


@dataclass(frozen=True)
class RemoteFile:
    """One directory entry as listed: name, path, size in bytes, mtime (whole seconds, server clock)."""

    name: str
    path: str
    size: int
    mtime: int
    is_file: bool

    @property
    def modified(self) -> datetime:
        return datetime.fromtimestamp(self.mtime, tz=UTC)


@dataclass(frozen=True)
class SkippedName:
    """A folder entry left out of a listing: `display` is its name escaped for printing (never raw
    control characters; bytes that are not UTF-8 as \\xNN), `raw` the name as the server sent it."""

    display: str
    raw: bytes
    reason: str
    size: int
    mtime: int


class Listing(list[RemoteFile]):
    """The entries of a folder that can be handled, plus `skipped`: names that cannot (not UTF-8,
    control characters, path separators), each with the reason. A plain list for older callers."""

    skipped: tuple[SkippedName, ...]

    def __init__(self, entries: Iterable[RemoteFile] = (), skipped: Iterable[SkippedName] = ()) -> None:
        super().__init__(entries)
        self.skipped = tuple(skipped)


@dataclass(frozen=True)
class RemoteStat:
    """What a remote file was when it was downloaded: pass it to `archive`/`move` as `expect`.

    `mtime` None skips the time check; `sha256` None skips the re-hash.
    """

    size: int
    mtime: int | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class ClaimResult:
    """The outcome of a claim: `claimed` with the path in processing/, or not, with the reason.

    `refused` means the claim moved something that is not a regular file (a symlink swapped in after
    the listing): it was never read and now sits at `moved_to` (error/), or stays in processing/ when
    `moved_to` is None.
    """

    name: str
    claimed: bool
    path: str | None = None
    reason: str = ""
    refused: bool = False
    moved_to: str | None = None


@dataclass(frozen=True)
class Downloaded:
    """A landed file; `mtime` is the remote file's mtime when its download began (None if unknown)."""

    remote_path: str
    local_path: Path
    size: int
    sha256: str
    mtime: int | None = None

    @property
    def expect(self) -> RemoteStat:
        """What `archive(..., expect=...)` should find: these bytes, unchanged."""
        return RemoteStat(self.size, self.mtime, self.sha256)


@dataclass(frozen=True)
class DownloadResult:
    """One file of `download_many`: where it landed, its size and SHA-256; or why it did not.

    With `error` set nothing is left under `local_path` (the partial copy is removed) and the other
    files of the call are unaffected.
    """

    name: str
    remote_path: str
    local_path: Path
    size: int
    sha256: str
    error: SftpError | None = None
    mtime: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def expect(self) -> RemoteStat:
        return RemoteStat(self.size, self.mtime, self.sha256)


@dataclass(frozen=True)
class Uploaded:
    """Where an upload ended up; `already_present` when a retry found the identical file in place."""

    remote_path: str
    name: str
    size: int
    sha256: str
    done_file: str | None = None
    already_present: bool = False


@dataclass(frozen=True)
class FolderStatus:
    kind: str
    path: str
    exists: bool
    writable: bool
    problem: str = ""


# --- readiness ------------------------------------------------------------------------------------

Snapshot = dict[str, list[int]]


def snapshot_of(listing: Iterable[RemoteFile]) -> Snapshot:
    """A JSON-friendly `{name: [size, mtime]}` of a listing, to compare with the next one."""
    return {f.name: [f.size, f.mtime] for f in listing if f.is_file}


def is_candidate(entry: RemoteFile, readiness: Readiness) -> bool:
    """A regular file that could be a partner document (not hidden, not in progress, not a done-file)."""
    if not entry.is_file or entry.name.startswith("."):
        return False
    if entry.name.endswith(IN_PROGRESS_SUFFIXES):
        return False
    return not (readiness.policy == "done_file" and entry.name.endswith(readiness.done_suffix))


def ready_files(
    listing: Sequence[RemoteFile],
    readiness: Readiness,
    previous: Mapping[str, Sequence[int]] | None = None,
    now: float | None = None,
) -> list[RemoteFile]:
    """The files of `listing` that are complete under the partner's policy.

    stable: size and mtime equal in `previous` (the listing before), size > 0, and mtime at least
    `min_age_seconds` old. done_file: `name + done_suffix` is listed. rename: every candidate.
    """
    now = time.time() if now is None else now
    names = {entry.name for entry in listing}
    ready = []
    for entry in listing:
        if not is_candidate(entry, readiness):
            continue
        if readiness.policy == "rename":
            ready.append(entry)
        elif readiness.policy == "done_file":
            if entry.name + readiness.done_suffix in names:
                ready.append(entry)
        else:
            before = (previous or {}).get(entry.name)
            unchanged = before is not None and list(before) == [entry.size, entry.mtime]
            if unchanged and entry.size > 0 and now - entry.mtime >= readiness.min_age_seconds:
                ready.append(entry)
    return ready


@dataclass
class ReadinessTracker:
    """Keeps the previous listing between polls; `snapshot` is what a sensor stores in its cursor."""

    readiness: Readiness
    snapshot: Snapshot = field(default_factory=dict)

    def ready(self, listing: Sequence[RemoteFile], now: float | None = None) -> list[RemoteFile]:
        found = ready_files(listing, self.readiness, self.snapshot, now)
        self.snapshot = snapshot_of(listing)
        return found


# --- the partner's folders ------------------------------------------------------------------------


class _HashingWriter:
    """Writes to a file while hashing and counting, so a download is hashed in one pass."""

    def __init__(self, target: BinaryIO, progress: Progress | None = None, expected: int = -1) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0
        self.progress = progress
        self.expected = expected

    def write(self, data: bytes) -> None:
        self.digest.update(data)
        self.size += len(data)
        self.target.write(data)
        if self.progress:
            self.progress(self.size, self.expected)


class _DownloadSink:
    """One file of `download_many` on local disk: written to `.name.part` while hashing, renamed to
    `name` by `keep`, removed by `discard`. A local write error is kept, not raised, so the other
    files' replies are still read; the rest of this file's data is dropped."""

    def __init__(self, final: Path) -> None:
        self.final = final
        self.partial = final.with_name(f".{final.name}.part")
        self.stream: BinaryIO | None = self.partial.open("wb")
        self.writer = _HashingWriter(self.stream)
        self.local_error: OSError | None = None
        self.kept = False

    def write(self, data: bytes) -> None:
        if self.local_error is None:
            try:
                self.writer.write(data)
            except OSError as error:
                self.local_error = error

    def keep(self) -> None:
        assert self.stream is not None
        self.stream.close()
        self.stream = None
        os.replace(self.partial, self.final)
        self.kept = True

    def discard(self) -> None:
        if self.stream is not None:
            with contextlib.suppress(OSError):
                self.stream.close()
            self.stream = None
        if not self.kept:
            self.partial.unlink(missing_ok=True)


class _HashingReader:
    """Yields an upload's source in request-sized chunks while hashing and counting them."""

    def __init__(self, source: BinaryIO, progress: Progress | None = None) -> None:
        self.source = source
        self.progress = progress
        self.digest = hashlib.sha256()
        self.size = 0

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.source.read(REQUEST_SIZE):
            self.digest.update(chunk)
            self.size += len(chunk)
            if self.progress:
                self.progress(self.size, -1)
            yield chunk


def _missing(error: OSError) -> bool:
    return getattr(error, "errno", None) == errno.ENOENT  # paramiko's mapping of SSH_FX_NO_SUCH_FILE


def _unsupported(error: OSError) -> bool:
    text = str(error).lower()
    return "unsupported" in text or "not supported" in text


class PartnerFiles:
    """The partner's remote folders over one open session. Not thread-safe: one per thread."""

    def __init__(self, session: SftpSession, folders: Folders, readiness: Readiness | None = None) -> None:
        self.session = session
        self.folders = folders
        self.readiness = readiness or Readiness()
        self._ensured: set[str] = set()  # folders known to exist: checked once per session
        self._folder_paths: dict[str, str] = {}
        self._posix_rename: bool | None = None

    def folder(self, kind: str) -> str:
        """The remote path of a folder kind (inbound, processing, ...) or of a sub-path of one."""
        path = self._folder_paths.get(kind)
        if path is None:
            base, _, rest = kind.partition("/")
            configured = getattr(self.folders, base) if base in FOLDER_KINDS else base
            path = join_folder(self.folders.root, configured)
            path = self._folder_paths[kind] = join_folder(path, rest) if rest else path
        return path

    def _error(self, what: str, path: str, error: BaseException) -> SftpError:
        return self.session.failure(f"{what} {path!r}", error)

    # -- listing

    def list_folder(self, kind: str = "inbound") -> Listing:
        """Every entry of the folder with its attributes, sorted by name; names that are not valid
        UTF-8 or not one safe file name are left out and reported in `.skipped` (and logged)."""
        path = self.folder(kind)
        with self.session.operation(f"listing {path}") as sftp:
            try:
                entries = list_remote_folder(sftp, path)
            except OSError as error:
                raise self._error("listing", path, error) from None
        files: list[RemoteFile] = []
        skipped: list[SkippedName] = []
        for raw, attributes in entries:
            size, mtime = attributes.st_size or 0, int(attributes.st_mtime or 0)
            try:
                name = raw.decode("utf-8")
            except UnicodeDecodeError:
                skipped.append(SkippedName(display_name(raw), raw, "the name is not valid UTF-8", size, mtime))
                continue
            problem = name_problem(name)
            if problem:
                skipped.append(SkippedName(display_name(raw), raw, problem, size, mtime))
                continue
            files.append(RemoteFile(name, remote_path(path, name), size, mtime, stat.S_ISREG(attributes.st_mode or 0)))
        for entry in skipped:
            log.warning("%s: skipping %s in %s: %s", self.session.where, entry.display, path, entry.reason)
        return Listing(sorted(files, key=lambda f: f.name), sorted(skipped, key=lambda e: e.raw))

    def ready(self, tracker: ReadinessTracker | None = None, now: float | None = None) -> Listing:
        """The inbound files ready to claim; pass the tracker that holds the previous listing.
        `.skipped` names the inbound entries that can never be claimed (see `list_folder`)."""
        listing = self.list_folder("inbound")
        if tracker is None:
            return Listing(ready_files(listing, self.readiness, None, now), listing.skipped)
        return Listing(tracker.ready(listing, now), listing.skipped)

    def lstat(self, path: str) -> paramiko.SFTPAttributes | None:
        """The attributes of `path` itself (a symlink is not followed); None when it is missing."""
        with self.session.operation(f"lstat {path}") as sftp:
            try:
                return sftp.lstat(path)
            except OSError as error:
                if _missing(error):
                    return None
                raise self._error("lstat", path, error) from None

    def exists(self, path: str) -> paramiko.SFTPAttributes | None:
        with self.session.operation(f"stat {path}") as sftp:
            try:
                return sftp.stat(path)
            except OSError as error:
                if _missing(error):
                    return None
                raise self._error("stat", path, error) from None

    # -- folders

    def ensure_folder(self, kind: str) -> str:
        """Create the folder (and its parents) when missing; return its path."""
        path = self.folder(kind)
        if path in self._ensured:
            return path
        with self.session.operation(f"creating {path}") as sftp:
            parts = path.split("/")
            for depth in range(1, len(parts) + 1):
                here = "/".join(parts[:depth])
                if not here or here == ".":
                    continue
                try:
                    sftp.stat(here)
                except OSError as error:
                    if not _missing(error):
                        raise self._error("checking folder", here, error) from None
                    try:
                        sftp.mkdir(here)
                    except OSError as mkdir_error:
                        if self.exists(here) is None:
                            raise self._error("creating folder", here, mkdir_error) from None
        self._ensured.add(path)
        return path

    def check_folders(self) -> list[FolderStatus]:
        """Each configured folder: does it exist, can we write into it (by a probe file we remove)."""
        statuses = []
        for kind in FOLDER_KINDS:
            path = self.folder(kind)
            attrs = self.exists(path)
            if attrs is None:
                statuses.append(FolderStatus(kind, path, False, False, "missing"))
                continue
            if not stat.S_ISDIR(attrs.st_mode or 0):
                statuses.append(FolderStatus(kind, path, True, False, "not a folder"))
                continue
            probe = remote_path(path, f".qbo-sftp-check-{os.getpid()}-{time.monotonic_ns()}")
            with self.session.operation(f"write probe in {path}") as sftp:
                try:
                    with sftp.open(probe, "wb") as handle:
                        handle.write(b"")
                    sftp.remove(probe)
                except OSError as error:
                    reason = getattr(error, "strerror", None) or str(error)
                    statuses.append(FolderStatus(kind, path, True, False, f"not writable: {reason}"))
                    continue
            statuses.append(FolderStatus(kind, path, True, True))
        return statuses

    # -- renames

    def _rename_atomic(self, source: str, target: str) -> None:
        """posix-rename (atomic) where the server has it, else plain rename. Raises OSError."""
        sftp = self.session.sftp
        if self._posix_rename is not False:
            try:
                sftp.posix_rename(source, target)
                self._posix_rename = True
                return
            except OSError as error:
                if not _unsupported(error):
                    raise
                self._posix_rename = False
        sftp.rename(source, target)

    def _free_name(self, folder: str, name: str) -> str:
        for number in range(MAX_NUMBERED_NAMES):
            candidate = name if number == 0 else numbered_name(name, number)
            if self.exists(remote_path(folder, candidate)) is None:
                return candidate
        raise RemoteFileError(f"{self.session.where}: no free name for {name!r} in {folder!r}; clean up the folder")

    def claim(self, name: str) -> ClaimResult:
        """Move `inbound/name` into processing/ so no other reader takes it; losing a race is a result."""
        check_remote_name(name)
        source = remote_path(self.folder("inbound"), name)
        processing = self.ensure_folder("processing")
        with self.session.operation(f"claiming {source}"):
            target_name = self._free_name(processing, name)
            target = remote_path(processing, target_name)
            try:
                self._rename_atomic(source, target)
            except OSError as error:
                if self.exists(source) is None:
                    return ClaimResult(name, False, reason="already claimed by another reader (or removed)")
                raise self._error(f"claiming into {target!r}:", source, error) from None
            if self.readiness.policy == "done_file":
                self._remove_quietly(source + self.readiness.done_suffix)
            # The listing said "regular file", but the name may have been swapped for a symlink
            # since: what the rename moved is what gets read, so look at it without following links.
            attributes = self.lstat(target)
            mode = attributes.st_mode if attributes is not None else None
            if attributes is None or (mode is not None and not stat.S_ISREG(mode)):
                return self._refuse_claimed(name, target_name, "missing" if attributes is None else describe_mode(mode))
        return ClaimResult(name, True, path=target)

    def _refuse_claimed(self, name: str, claimed_name: str, kind: str) -> ClaimResult:
        """A claim that moved a symlink (or another non-file) into processing/: put it in error/
        unread; if even that fails, leave it in processing/ and say so."""
        where = remote_path(self.folder("processing"), claimed_name)
        if kind == "missing":
            return ClaimResult(name, False, reason=f"{where!r} vanished right after the claim; nothing was read")
        reason = f"{name!r} is {kind}, not a regular file; it was not read"
        try:
            moved_to = self.move(claimed_name, "processing", "error")
        except SftpError as error:
            log.error("%s: %s, and moving it to error/ failed: %s", self.session.where, reason, error)
            return ClaimResult(name, False, reason=f"{reason}; left in {where!r} ({error})", refused=True)
        log.error("%s: %s; moved to %s", self.session.where, reason, moved_to)
        return ClaimResult(name, False, reason=f"{reason}; moved to {moved_to!r}", refused=True, moved_to=moved_to)

    def _remove_quietly(self, path: str) -> None:
        try:
            self.session.sftp.remove(path)
        except OSError as error:
            if not _missing(error):
                raise self._error("removing", path, error) from None

    def move(
        self,
        name: str,
        source_kind: str,
        target_kind: str,
        *,
        expect: RemoteStat | None = None,
        rehash_limit: int = REHASH_LIMIT,
    ) -> str:
        """Move `source_kind/name` into `target_kind/`, never overwriting: a clash takes `name-N`.

        With `expect` (what was downloaded: `Downloaded.expect`) the file must still be those bytes:
        its size and mtime are checked before the move, and after it its size and mtime again and,
        up to `rehash_limit` bytes, its SHA-256. A file that changed goes to error/ instead (or is
        moved on from the target to error/) and FileChangedSinceDownloadError says why and where it
        is. A move into error/ itself is never refused.
        """
        if expect is None or target_kind.partition("/")[0] == "error":
            return self._move(name, source_kind, target_kind)
        source = remote_path(self.folder(source_kind), name)
        problem = self._changed(source, expect, rehash_limit=0)
        if problem:
            self._changed_since_download(name, source_kind, source, problem)
        target = self._move(name, source_kind, target_kind)
        problem = self._changed(target, expect, rehash_limit=rehash_limit)
        if problem:
            self._changed_since_download(posixpath.basename(target), target_kind, target, problem)
        return target

    def _changed(self, path: str, expect: RemoteStat, *, rehash_limit: int) -> str:
        """Why `path` is no longer the file `expect` describes; '' when it still is."""
        attributes = self.lstat(path)
        if attributes is None:
            return "it is gone"
        mode = attributes.st_mode
        if mode is not None and not stat.S_ISREG(mode):
            return f"it is now {describe_mode(mode)}"
        size = attributes.st_size or 0
        if size != expect.size:
            return f"it holds {size} bytes where {expect.size} were downloaded and acknowledged"
        mtime = int(attributes.st_mtime or 0)
        if expect.mtime is not None and mtime != expect.mtime:
            return f"it was modified at {_utc(mtime)}, after the download (file then modified at {_utc(expect.mtime)})"
        if expect.sha256 and size <= rehash_limit:
            found = self._sha256_of(path, size)
            if found != expect.sha256:
                return f"its SHA-256 is {found[:12] or 'unreadable'}..., not the {expect.sha256[:12]}... acknowledged"
        return ""

    def _changed_since_download(self, name: str, kind: str, path: str, problem: str) -> None:
        """Put a changed file in error/ and raise FileChangedSinceDownloadError."""
        try:
            moved_to: str | None = self._move(name, kind, "error")
        except SftpError as error:
            log.error(
                "%s: %r changed after download (%s); moving it to error/ failed: %s",
                self.session.where,
                path,
                problem,
                error,
            )
            moved_to = None
        where = f"moved to {moved_to!r}" if moved_to else f"left at {path!r}"
        raise FileChangedSinceDownloadError(
            f"{self.session.where}: {path!r} is not the file that was downloaded: {problem}. It was {where}, "
            "not archived; ask the partner to send it again once it is complete.",
            name=name,
            reason=problem,
            moved_to=moved_to,
        )

    def _move(self, name: str, source_kind: str, target_kind: str) -> str:
        check_remote_name(name)
        source = remote_path(self.folder(source_kind), name)
        target_folder = self.ensure_folder(target_kind)
        with self.session.operation(f"moving {source} to {target_folder}") as sftp:
            for _attempt in range(MAX_NUMBERED_NAMES):
                target = remote_path(target_folder, self._free_name(target_folder, name))
                try:
                    # Plain SFTP rename refuses an existing target, so a racing writer is never clobbered.
                    sftp.rename(source, target)
                    return target
                except OSError as error:
                    if self.exists(target) is not None and self.exists(source) is not None:
                        continue
                    raise self._error(f"moving to {target!r}:", source, error) from None
        raise RemoteFileError(f"{self.session.where}: could not move {source!r}; too many name clashes")

    def archive(self, name: str, subfolder: str = "", *, expect: RemoteStat | None = None) -> str:
        """processing/name -> archive[/subfolder]/name (e.g. subfolder '2026/11/25' or 'duplicates').

        Pass `expect=downloaded.expect` so only the bytes that were hashed and acknowledged are
        archived; a file changed since goes to error/ with FileChangedSinceDownloadError (see `move`).
        """
        return self.move(name, "processing", f"archive/{subfolder}" if subfolder else "archive", expect=expect)

    def reject(self, name: str) -> str:
        """processing/name -> error/name."""
        return self.move(name, "processing", "error")

    # -- download

    def download(
        self,
        name: str,
        destination: Path,
        *,
        kind: str = "processing",
        expected_size: int | None = None,
        progress: Progress | None = None,
    ) -> Downloaded:
        """Stream `kind/name` into `destination` (written under a temp name, then renamed), hashing
        as it reads. Never more than `expected_size` bytes (the listing's size; else the server's
        `stat`) are read: a file that is longer, or shorter, raises TransferIncompleteError."""
        source = remote_path(self.folder(kind), name)
        destination = Path(destination)
        partial = destination.with_name(f".{destination.name}.part")
        with self.session.operation(f"downloading {source}") as sftp:
            try:
                with partial.open("wb") as local:
                    writer = _HashingWriter(local, progress, -1 if expected_size is None else expected_size)
                    (read,) = read_remote_files(sftp, [ReadJob(source, writer.write, expected_size)])
                if read.error is not None:
                    raise read.error
            except NotRegularFile as error:
                partial.unlink(missing_ok=True)
                raise self._not_regular(source, error) from None
            except (OSError, EOFError, paramiko.SSHException) as error:
                partial.unlink(missing_ok=True)
                raise self._error("downloading", source, error) from None
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
        problem = self._incomplete(source, read, said_by_listing=expected_size is not None)
        if problem is not None:
            partial.unlink(missing_ok=True)
            raise problem
        os.replace(partial, destination)
        return Downloaded(source, destination, writer.size, writer.digest.hexdigest(), _mtime_of(read))

    def _incomplete(self, source: str, read: ReadResult, *, said_by_listing: bool) -> TransferIncompleteError | None:
        said = "the listing said" if said_by_listing else "the server reported"
        if read.longer:
            return TransferIncompleteError(
                f"{self.session.where}: download of {source!r}: the server sent more than the {read.expected} "
                f"bytes {said}; stopped there (the file is still being written, or the server misbehaves)"
            )
        if read.size != read.expected:
            return TransferIncompleteError(
                f"{self.session.where}: download of {source!r}: received {read.size} bytes, {said} {read.expected}"
            )
        return None

    def download_many(
        self,
        files: Iterable[RemoteFile | str],
        local_dir: Path,
        *,
        kind: str = "processing",
        batch_size: int = DOWNLOAD_BATCH,
    ) -> Iterator[DownloadResult]:
        """Download each file of `kind/` into `local_dir` under its own name, with the requests of up
        to `batch_size` files in flight together (two round trips a batch for small files).

        A `RemoteFile` (from `list`) bounds its download by the listed size: a server that sends more
        is stopped there and the file fails. A plain name is bounded by a `stat` sent with its open.
        Each file streams to `.name.part` and is renamed into place whole, hashed on the way.
        Results come in order, each with its own error (missing, refused, longer or shorter than
        listed, an unsafe name, a local write failure) so one bad file never loses the others; only a
        dropped connection or the operation deadline raises (SftpError), after the results of the
        batches already done were yielded.
        """
        local_dir = Path(local_dir)
        batch: list[tuple[str, int | None]] = []
        names: set[str] = set()
        batch_bytes = 0
        for entry in files:
            name, limit = (entry.name, entry.size) if isinstance(entry, RemoteFile) else (entry, None)
            size = limit if limit is not None else 0
            full = len(batch) >= batch_size or batch_bytes + size > DOWNLOAD_BATCH_BYTES
            if batch and (full or name in names):
                yield from self._download_batch(batch, local_dir, kind)
                batch, names, batch_bytes = [], set(), 0
            batch.append((name, limit))
            names.add(name)
            batch_bytes += size
        if batch:
            yield from self._download_batch(batch, local_dir, kind)

    def _download_batch(
        self, batch: Sequence[tuple[str, int | None]], local_dir: Path, kind: str
    ) -> list[DownloadResult]:
        folder = self.folder(kind)
        results: dict[int, DownloadResult] = {}
        sinks: dict[int, _DownloadSink] = {}
        jobs: list[ReadJob] = []
        try:
            for index, (name, limit) in enumerate(batch):
                source = f"{folder}/{name}"
                target = local_dir / name
                try:
                    check_remote_name(name)
                    source = remote_path(folder, name)
                    sink = _DownloadSink(target)
                except (UnsafeRemoteNameError, OSError) as error:
                    failure = error if isinstance(error, SftpError) else self._local_failure(source, target, error)
                    results[index] = DownloadResult(name, source, target, 0, "", failure)
                    continue
                sinks[index] = sink
                jobs.append(ReadJob(source, sink.write, limit))
            if jobs:
                with self.session.operation(f"downloading {len(jobs)} files from {folder}") as sftp:
                    try:
                        reads = read_remote_files(sftp, jobs)
                    except (OSError, EOFError, paramiko.SSHException) as error:
                        raise self._error("downloading", jobs[0].path if len(jobs) == 1 else folder, error) from None
                for (index, sink), job, read in zip(sinks.items(), jobs, reads, strict=True):
                    results[index] = self._land(batch[index][0], job.path, sink, read, batch[index][1] is not None)
        finally:
            for sink in sinks.values():
                sink.discard()  # no-op for files already renamed into place
        return [results[index] for index in range(len(batch))]

    def _land(self, name: str, source: str, sink: _DownloadSink, read: ReadResult, listed: bool) -> DownloadResult:
        """Check one read and rename its temp file into place, or remove it and say why not."""
        failure: SftpError | None = None
        if isinstance(read.error, NotRegularFile):
            failure = self._not_regular(source, read.error)
        elif read.error is not None:
            failure = self._error("downloading", source, read.error)
        elif sink.local_error is not None:
            failure = self._local_failure(source, sink.final, sink.local_error)
        else:
            failure = self._incomplete(source, read, said_by_listing=listed)
        if failure is None:
            try:
                sink.keep()
            except OSError as error:
                failure = self._local_failure(source, sink.final, error)
        if failure is not None:
            sink.discard()
            return DownloadResult(name, source, sink.final, read.size, "", failure)
        return DownloadResult(
            name, source, sink.final, sink.writer.size, sink.writer.digest.hexdigest(), mtime=_mtime_of(read)
        )

    def _not_regular(self, source: str, error: NotRegularFile) -> NotRegularFileError:
        return NotRegularFileError(
            f"{self.session.where}: download of {source!r} refused: it is {error.kind}, not a regular file. "
            "Nothing was read; move it to error/ and ask the partner what it is."
        )

    def _local_failure(self, source: str, target: Path, error: OSError) -> SftpError:
        reason = error.strerror or str(error)
        return SftpError(f"{self.session.where}: download of {source!r}: cannot write {str(target)!r}: {reason}")

    def read_bytes(self, name: str, kind: str = "processing") -> bytes:
        """A small remote file's content (acks, done-files, comparisons)."""
        source = remote_path(self.folder(kind), name)
        chunks: list[bytes] = []
        with self.session.operation(f"reading {source}") as sftp:
            try:
                (read,) = read_remote_files(sftp, [ReadJob(source, chunks.append)])
            except (OSError, EOFError, paramiko.SSHException) as error:
                raise self._error("reading", source, error) from None
        if isinstance(read.error, NotRegularFile):
            raise self._not_regular(source, read.error)
        if read.error is not None:
            raise self._error("reading", source, read.error)
        problem = self._incomplete(source, read, said_by_listing=False)
        if problem is not None:
            raise problem
        return b"".join(chunks)

    # -- upload

    def upload(
        self,
        data: bytes | Path | BinaryIO,
        name: str,
        *,
        kind: str = "outbound",
        done_suffix: str | None = None,
        progress: Progress | None = None,
    ) -> Uploaded:
        """Write `data` as `kind/name` without ever exposing a partial file under that name.

        The bytes go to `.name.part` in the same folder, the size is confirmed, then an atomic rename
        makes it visible. An existing file with the same name is never overwritten: identical
        content means a retry already delivered it; different content gets `name-N`.
        Three round trips: open; writes + fstat + close + "is the final name free?"; rename.
        """
        (uploaded,) = self._upload_batch([(data, name)], kind, done_suffix, progress)
        return uploaded

    def upload_many(
        self,
        items: Iterable[tuple[bytes | Path | BinaryIO, str]],
        *,
        kind: str = "outbound",
        done_suffix: str | None = None,
        batch_size: int = UPLOAD_BATCH,
    ) -> Iterator[Uploaded]:
        """`upload` for each `(data, name)`, with the requests of up to `batch_size` files in flight.

        Each file gets exactly `upload`'s guarantees; a batch costs the round trips one file does.
        Results are yielded in order once their batch is in place. If an error is raised, the files
        already yielded are delivered; others of that batch may be too (a retry of them reports
        `already_present`). A name given twice goes in a later batch, so the two never race.
        """
        batch: list[tuple[bytes | Path | BinaryIO, str]] = []
        names: set[str] = set()
        batch_bytes = 0
        for data, name in items:
            size = _size_of(data)
            full = len(batch) >= batch_size or batch_bytes + size > UPLOAD_BATCH_BYTES
            if batch and (full or name in names):
                yield from self._upload_batch(batch, kind, done_suffix)
                batch, names, batch_bytes = [], set(), 0
            batch.append((data, name))
            names.add(name)
            batch_bytes += size
        if batch:
            yield from self._upload_batch(batch, kind, done_suffix)

    def _upload_batch(
        self,
        items: Sequence[tuple[bytes | Path | BinaryIO, str]],
        kind: str,
        done_suffix: str | None,
        progress: Progress | None = None,
    ) -> list[Uploaded]:
        """Upload files with distinct names in one flight per step: open the temps; write, fstat,
        close each and stat its final name; check every size; rename; write the done-files."""
        for _data, name in items:
            check_remote_name(name)
            if done_suffix:
                check_remote_name(name + done_suffix)
        folder = self.ensure_folder(kind)
        temps = [remote_path(folder, f".{name}.part") for _data, name in items]
        finals = [posixpath.join(folder, name) if folder not in ("", ".") else name for _data, name in items]
        sources: list[tuple[BinaryIO, bool]] = []
        try:
            for data, _name in items:
                sources.append(_open_source(data))
            readers = [_HashingReader(source, progress) for source, _close in sources]
            single = len(items) == 1
            what = temps[0] if single else f"{len(items)} files to {folder}"
            with self.session.operation(
                f"uploading {items[0][1] if single else f'{len(items)} files'} to {folder}"
            ) as sftp:
                jobs = [
                    WriteJob(temp, reader, probe_path=final)
                    for temp, reader, final in zip(temps, readers, finals, strict=True)
                ]
                try:
                    results = write_remote_files(sftp, jobs)
                except (OSError, EOFError, paramiko.SSHException) as error:
                    raise self._error("uploading", what, error) from None
                for (_data, name), reader, result in zip(items, readers, results, strict=True):
                    if result.size != reader.size:
                        for leftover in temps:
                            self._remove_quietly(leftover)
                        raise TransferIncompleteError(
                            f"{self.session.where}: upload of {name!r}: the server holds {result.size} bytes, "
                            f"we sent {reader.size}"
                        )
                placed = self._place_all(items, temps, finals, readers, results, folder)
                if done_suffix:
                    self._write_done_files(sftp, [uploaded.remote_path + done_suffix for uploaded in placed])
                    placed = [replace(uploaded, done_file=uploaded.remote_path + done_suffix) for uploaded in placed]
                return placed
        finally:
            for source, close_source in sources:
                if close_source:
                    source.close()

    def _place_all(
        self,
        items: Sequence[tuple[object, str]],
        temps: Sequence[str],
        finals: Sequence[str],
        readers: Sequence[_HashingReader],
        results: Sequence[WriteResult],
        folder: str,
    ) -> list[Uploaded]:
        """Rename every verified temp whose final name was free, in one flight; the others (and any
        rename the server refused) go through `_place` one by one, after them."""
        free = [index for index, result in enumerate(results) if result.probe is None]
        outcomes: dict[int, OSError | None] = {}
        if free:
            posix = self._posix_rename is not False
            pairs = [(temps[index], finals[index]) for index in free]
            try:
                renamed = rename_remote_files(self.session.sftp, pairs, posix=posix)
            except (OSError, EOFError, paramiko.SSHException) as error:
                raise self._error("renaming into", folder, error) from None
            outcomes = dict(zip(free, renamed, strict=True))
            if posix and None in renamed:
                self._posix_rename = True
        placed = []
        for index, ((_data, name), temp, reader) in enumerate(zip(items, temps, readers, strict=True)):
            sha256 = reader.digest.hexdigest()
            if index in outcomes and outcomes[index] is None:
                placed.append(Uploaded(finals[index], name, reader.size, sha256))
                continue
            # `_place` learns whether the server has posix-rename and handles a target that appeared.
            existing = results[index].probe if index not in outcomes else self.exists(finals[index])
            placed_name = self._place(temp, folder, name, reader.size, sha256, existing)
            already_present = placed_name is None
            if placed_name is None:
                self._remove_quietly(temp)
            final_name = name if placed_name is None else placed_name
            placed.append(
                Uploaded(remote_path(folder, final_name), final_name, reader.size, sha256, None, already_present)
            )
        return placed

    def _write_done_files(self, sftp: paramiko.SFTPClient, paths: Sequence[str]) -> None:
        """Create each empty done-file that is missing; an existing one is left as it is (also on a
        retry: the earlier attempt may have died between the rename and this)."""
        try:
            write_remote_files(sftp, [WriteJob(path, (), truncate=False) for path in paths])
        except (OSError, EOFError, paramiko.SSHException) as error:
            raise self._error("writing the done-file", paths[0] if len(paths) == 1 else "done-files", error) from None

    def _place(
        self, temp: str, folder: str, name: str, size: int, sha256: str, existing: paramiko.SFTPAttributes | None
    ) -> str | None:
        """Rename the temp file to a free final name; None when `name` already holds these bytes.
        `existing` is the stat of `folder/name` taken in the upload's last flight."""
        for number in range(MAX_NUMBERED_NAMES):
            candidate = name if number == 0 else numbered_name(name, number)
            final = remote_path(folder, candidate)
            if number:
                existing = self.exists(final)
            if existing is not None:
                if number == 0 and existing.st_size == size and self._sha256_of(final, size) == sha256:
                    return None
                continue
            try:
                self._rename_atomic(temp, final)
            except OSError as error:
                if self.exists(final) is not None:
                    continue
                raise self._error(f"renaming into {final!r}:", temp, error) from None
            return candidate
        raise RemoteFileError(f"{self.session.where}: no free name for {name!r} in {folder!r}")

    def _sha256_of(self, path: str, size: int) -> str:
        """The SHA-256 of the first `size` bytes of `path`; '' if it is not exactly `size` bytes."""
        digest = hashlib.sha256()
        with self.session.operation(f"hashing {path}") as sftp:
            try:
                (read,) = read_remote_files(sftp, [ReadJob(path, digest.update, size)])
            except (OSError, EOFError, paramiko.SSHException) as error:
                raise self._error("hashing", path, error) from None
        return digest.hexdigest() if read.complete else ""

    def remove_leftover_temp(self, name: str, kind: str = "outbound") -> bool:
        """Delete `.name.part` left by an interrupted upload; True if there was one."""
        temp = remote_path(self.folder(kind), f".{name}.part")
        with self.session.operation(f"removing {temp}"):
            if self.exists(temp) is None:
                return False
            self._remove_quietly(temp)
            return True


@contextmanager
def partner_files(name: str, partner: Partner) -> Iterator[PartnerFiles]:
    """Open one verified session to the partner's server and yield its folders; closes on exit."""
    with open_session(partner.sftp, partner=name) as session:
        yield PartnerFiles(session, partner.folders, partner.readiness)


def _mtime_of(read: ReadResult) -> int | None:
    mtime = read.attributes.st_mtime if read.attributes is not None else None
    return None if mtime is None else int(mtime)


def _utc(seconds: int) -> str:
    return f"{datetime.fromtimestamp(seconds, tz=UTC):%Y-%m-%d %H:%M:%S}Z"


def _size_of(data: bytes | Path | BinaryIO) -> int:
    """The upload's size where it is known without reading it; a stream counts as too big to batch."""
    if isinstance(data, bytes | bytearray | memoryview):
        return len(data)
    if isinstance(data, Path):
        try:
            return data.stat().st_size
        except OSError:
            return UPLOAD_BATCH_BYTES + 1  # the upload itself reports the problem
    return UPLOAD_BATCH_BYTES + 1


def _open_source(data: bytes | Path | BinaryIO) -> tuple[BinaryIO, bool]:
    if isinstance(data, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(data)), True
    if isinstance(data, Path):
        return data.open("rb"), True
    return data, False
