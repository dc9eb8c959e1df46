"""A partner's folders over one session: list, readiness, claim, streaming download, atomic upload, move."""

from __future__ import annotations

import errno
import hashlib
import io
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
from qbo_sftp_assets.sftp.errors import RemoteFileError, SftpError, TransferIncompleteError
from qbo_sftp_assets.sftp.names import check_remote_name, join_folder, numbered_name, remote_path
from qbo_sftp_assets.sftp.streaming import (
    REQUEST_SIZE,
    WriteJob,
    WriteResult,
    read_remote_file,
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
Progress = Callable[[int, int], None]


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
class ClaimResult:
    """The outcome of a claim: `claimed` with the path in processing/, or not, with the reason."""

    name: str
    claimed: bool
    path: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class Downloaded:
    remote_path: str
    local_path: Path
    size: int
    sha256: str


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

    def list(self, kind: str = "inbound") -> list[RemoteFile]:
        """Every entry of the folder with its attributes, sorted by name."""
        path = self.folder(kind)
        with self.session.operation(f"listing {path}") as sftp:
            try:
                entries = sftp.listdir_attr(path)
            except OSError as error:
                raise self._error("listing", path, error) from None
        files = [
            RemoteFile(
                name=a.filename,
                path=remote_path(path, a.filename) if _safe(a.filename) else f"{path}/{a.filename}",
                size=a.st_size or 0,
                mtime=int(a.st_mtime or 0),
                is_file=stat.S_ISREG(a.st_mode or 0) and _safe(a.filename),
            )
            for a in entries
        ]
        return sorted(files, key=lambda f: f.name)

    def ready(self, tracker: ReadinessTracker | None = None, now: float | None = None) -> list[RemoteFile]:
        """The inbound files ready to claim; pass the tracker that holds the previous listing."""
        listing = self.list("inbound")
        if tracker is None:
            return ready_files(listing, self.readiness, None, now)
        return tracker.ready(listing, now)

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
        return ClaimResult(name, True, path=target)

    def _remove_quietly(self, path: str) -> None:
        try:
            self.session.sftp.remove(path)
        except OSError as error:
            if not _missing(error):
                raise self._error("removing", path, error) from None

    def move(self, name: str, source_kind: str, target_kind: str) -> str:
        """Move `source_kind/name` into `target_kind/`, never overwriting: a clash takes `name-N`."""
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

    def archive(self, name: str, subfolder: str = "") -> str:
        """processing/name -> archive[/subfolder]/name (e.g. subfolder '2026/11/25' or 'duplicates')."""
        return self.move(name, "processing", f"archive/{subfolder}" if subfolder else "archive")

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
        as it reads; the size must equal the server's (and `expected_size` when given)."""
        source = remote_path(self.folder(kind), name)
        destination = Path(destination)
        partial = destination.with_name(f".{destination.name}.part")
        with self.session.operation(f"downloading {source}") as sftp:
            try:
                # The listing's size saves a round trip; reading on to EOF still catches a mismatch.
                size = expected_size if expected_size is not None else (sftp.stat(source).st_size or 0)
                with partial.open("wb") as local:
                    writer = _HashingWriter(local, progress, size)
                    read_remote_file(sftp, source, size, writer.write)
            except (OSError, EOFError, paramiko.SSHException) as error:
                partial.unlink(missing_ok=True)
                raise self._error("downloading", source, error) from None
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
        if writer.size != size:
            partial.unlink(missing_ok=True)
            said = "the listing said" if expected_size is not None else "the server reports"
            raise TransferIncompleteError(
                f"{self.session.where}: download of {source!r}: received {writer.size} bytes, {said} {size}"
            )
        os.replace(partial, destination)
        return Downloaded(source, destination, writer.size, writer.digest.hexdigest())

    def read_bytes(self, name: str, kind: str = "processing") -> bytes:
        """A small remote file's content (acks, done-files, comparisons)."""
        source = remote_path(self.folder(kind), name)
        chunks: list[bytes] = []
        with self.session.operation(f"reading {source}") as sftp:
            try:
                read_remote_file(sftp, source, sftp.stat(source).st_size or 0, chunks.append)
            except (OSError, EOFError, paramiko.SSHException) as error:
                raise self._error("reading", source, error) from None
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
            final_name = self._place(temp, folder, name, reader.size, sha256, existing)
            already_present = final_name is None
            if already_present:
                self._remove_quietly(temp)
                final_name = name
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
        digest = hashlib.sha256()
        read_remote_file(self.session.sftp, path, size, digest.update)
        return digest.hexdigest()

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


def _safe(name: str) -> bool:
    try:
        check_remote_name(name)
    except ValueError:
        return False
    return True


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
