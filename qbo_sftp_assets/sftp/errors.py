"""The SFTP layer's exceptions: each names the partner, host and port, what failed, and the fix."""

from __future__ import annotations

from qbo_sftp_assets.errors import UserFacingError


class SftpError(UserFacingError):
    """Base of every SFTP failure the CLI reports as a message."""


class SftpConnectError(SftpError):
    """The TCP connection or the SSH handshake failed (refused, unreachable, no common algorithm)."""


class SftpAuthError(SftpError):
    """The server refused our key or password, or the key file or secret could not be read."""


class HostKeyError(SftpError):
    """The server's host key is not the one pinned in the configuration; nothing was sent to it."""

    def __init__(self, message: str, *, host: str, presented: str, expected: tuple[str, ...]) -> None:
        super().__init__(message)
        self.host = host
        self.presented = presented
        self.expected = expected


class UnknownHostKeyError(HostKeyError):
    """No pin in the configuration matches the host, so its key cannot be verified."""


class ChangedHostKeyError(HostKeyError):
    """A pin exists for the host but the server presented a different key."""


class SftpTimeoutError(SftpError):
    """An operation ran past its deadline; the connection was closed so nothing hangs."""


class UnsafeRemoteNameError(SftpError, ValueError):
    """A remote file name would leave its folder or carries characters a file name must not have."""


class RemoteFileError(SftpError):
    """A remote file operation failed (missing file, permission, size mismatch, server failure)."""


class TransferIncompleteError(RemoteFileError):
    """The bytes received or sent differ from the size the server reports."""


class SftpConnectionLostError(SftpConnectError):
    """The connection dropped in the middle of an operation; reconnect and retry (transfers are idempotent)."""


class NotRegularFileError(RemoteFileError):
    """A path that must be a regular file is a symlink, folder or device; it was not read."""


class FileChangedSinceDownloadError(RemoteFileError):
    """The remote file is no longer the bytes that were downloaded, hashed and acknowledged.

    `moved_to` is where the file was put instead of its target (error/...), `reason` what differs.
    """

    def __init__(self, message: str, *, name: str, reason: str, moved_to: str | None) -> None:
        super().__init__(message)
        self.name = name
        self.reason = reason
        self.moved_to = moved_to
