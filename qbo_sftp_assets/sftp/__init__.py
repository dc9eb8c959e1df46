"""SFTP transport on fabric: strict host keys, readiness, claim, streaming download, atomic upload.

The public names, loaded on first use (`qbo_sftp_assets.surface`): remote-name checks come without
paramiko.
"""

from typing import TYPE_CHECKING

from qbo_sftp_assets.surface import lazy_exports

if TYPE_CHECKING:
    from qbo_sftp_assets.sftp.connection import (
        SftpSession,
        open_session,
        probe_host_key,
    )
    from qbo_sftp_assets.sftp.errors import (
        ChangedHostKeyError,
        FileChangedSinceDownloadError,
        HostKeyError,
        NotRegularFileError,
        RemoteFileError,
        SftpAuthError,
        SftpConnectError,
        SftpConnectionLostError,
        SftpError,
        SftpTimeoutError,
        TransferIncompleteError,
        UnknownHostKeyError,
        UnsafeRemoteNameError,
    )
    from qbo_sftp_assets.sftp.hostkeys import (
        HostKeyPins,
        fingerprint_of,
        known_hosts_line,
        known_hosts_name,
    )
    from qbo_sftp_assets.sftp.names import (
        check_remote_folder,
        check_remote_name,
        display_name,
        join_folder,
        numbered_name,
        remote_path,
    )
    from qbo_sftp_assets.sftp.transfer import (
        FOLDER_KINDS,
        ClaimResult,
        Downloaded,
        DownloadResult,
        FolderStatus,
        Listing,
        PartnerFiles,
        ReadinessTracker,
        RemoteFile,
        RemoteStat,
        SkippedName,
        Uploaded,
        partner_files,
        ready_files,
        snapshot_of,
    )
    from qbo_sftp_assets.sftp.trust import (
        PinWriteError,
        add_host_key_pin,
        write_host_key_pin,
    )

__all__ = [
    "FOLDER_KINDS",
    "ChangedHostKeyError",
    "ClaimResult",
    "DownloadResult",
    "Downloaded",
    "FileChangedSinceDownloadError",
    "FolderStatus",
    "HostKeyError",
    "HostKeyPins",
    "Listing",
    "NotRegularFileError",
    "PartnerFiles",
    "PinWriteError",
    "ReadinessTracker",
    "RemoteFile",
    "RemoteFileError",
    "RemoteStat",
    "SftpAuthError",
    "SftpConnectError",
    "SftpConnectionLostError",
    "SftpError",
    "SftpSession",
    "SftpTimeoutError",
    "SkippedName",
    "TransferIncompleteError",
    "UnknownHostKeyError",
    "UnsafeRemoteNameError",
    "Uploaded",
    "add_host_key_pin",
    "check_remote_folder",
    "check_remote_name",
    "display_name",
    "fingerprint_of",
    "join_folder",
    "known_hosts_line",
    "known_hosts_name",
    "numbered_name",
    "open_session",
    "partner_files",
    "probe_host_key",
    "ready_files",
    "remote_path",
    "snapshot_of",
    "write_host_key_pin",
]

__getattr__ = lazy_exports(
    __name__,
    globals(),
    {
        "connection": (
            "SftpSession",
            "open_session",
            "probe_host_key",
        ),
        "errors": (
            "ChangedHostKeyError",
            "FileChangedSinceDownloadError",
            "HostKeyError",
            "NotRegularFileError",
            "RemoteFileError",
            "SftpAuthError",
            "SftpConnectError",
            "SftpConnectionLostError",
            "SftpError",
            "SftpTimeoutError",
            "TransferIncompleteError",
            "UnknownHostKeyError",
            "UnsafeRemoteNameError",
        ),
        "hostkeys": (
            "HostKeyPins",
            "fingerprint_of",
            "known_hosts_line",
            "known_hosts_name",
        ),
        "names": (
            "check_remote_folder",
            "check_remote_name",
            "display_name",
            "join_folder",
            "numbered_name",
            "remote_path",
        ),
        "transfer": (
            "FOLDER_KINDS",
            "ClaimResult",
            "DownloadResult",
            "Downloaded",
            "FolderStatus",
            "Listing",
            "PartnerFiles",
            "ReadinessTracker",
            "RemoteFile",
            "RemoteStat",
            "SkippedName",
            "Uploaded",
            "partner_files",
            "ready_files",
            "snapshot_of",
        ),
        "trust": (
            "PinWriteError",
            "add_host_key_pin",
            "write_host_key_pin",
        ),
    },
)
