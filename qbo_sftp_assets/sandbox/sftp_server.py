"""The embedded SFTP server for the demo and tests: asyncssh on loopback, jailed in a local folder.

Its host key and the client key live in a state folder and are reused across runs, so a config
that pins the host key's `SHA256:` fingerprint keeps working whatever port the server gets.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

HOST_KEY_FILE = "sftp_host_ed25519_key"
CLIENT_KEY_FILE = "sftp_client_ed25519_key"
DEFAULT_USER = "demo"


def _load_or_create_key(path: Path) -> asyncssh.SSHKey:
    if path.exists():
        return asyncssh.read_private_key(str(path))
    key = asyncssh.generate_private_key("ssh-ed25519", comment=f"qbo-sftp {path.name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    key.write_private_key(str(path))
    key.write_public_key(f"{path}.pub")
    path.chmod(0o600)
    return key


@dataclass
class EmbeddedSftp:
    """A running embedded server: where it listens, its host key pin and the client key to use."""

    root: Path
    port: int
    user: str
    host_key_line: str
    fingerprint: str
    client_key_path: Path
    host: str = "127.0.0.1"
    _stop: Callable[[], None] = field(default=lambda: None, repr=False)

    def endpoint_settings(self) -> dict[str, object]:
        """The `partners.<name>.sftp` mapping a config needs to reach this server (pinned by fingerprint)."""
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "auth": {"key_file": str(self.client_key_path)},
            "host_keys": [self.fingerprint],
        }

    def close(self) -> None:
        self._stop()

    def __enter__(self) -> EmbeddedSftp:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _server_class(user: str, authorized: asyncssh.SSHAuthorizedKeys, password: str | None) -> type:
    class _Server(asyncssh.SSHServer):
        def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
            self._conn = conn

        def begin_auth(self, username: str) -> bool:
            if username == user:
                self._conn.set_authorized_keys(authorized)
            return True

        def password_auth_supported(self) -> bool:
            return password is not None

        def validate_password(self, username: str, offered: str) -> bool:
            return password is not None and username == user and hmac.compare_digest(offered, password)

    return _Server


def start_embedded_sftp(
    root: Path,
    state_dir: Path,
    port: int = 0,
    *,
    user: str = DEFAULT_USER,
    host: str = "127.0.0.1",
    password: str | None = None,
    posix_rename: bool = True,
) -> EmbeddedSftp:
    """Start the server in a background thread; use the handle as a context manager to stop it.

    `password` also allows password login; `posix_rename=False` imitates servers without that extension.
    """
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    state_dir = Path(state_dir)
    host_key = _load_or_create_key(state_dir / HOST_KEY_FILE)
    client_key_path = state_dir / CLIENT_KEY_FILE
    client_key = _load_or_create_key(client_key_path)
    authorized = asyncssh.import_authorized_keys(client_key.export_public_key("openssh").decode())

    class _Jail(asyncssh.SFTPServer):
        def __init__(self, chan: asyncssh.SSHServerChannel) -> None:
            super().__init__(chan, chroot=str(root).encode())

        def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
            if not posix_rename:
                raise asyncssh.SFTPOpUnsupported("posix-rename not supported")
            super().posix_rename(oldpath, newpath)

        async def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:
            # Like OpenSSH's sftp-server, skip an entry that vanishes between readdir and lstat (a
            # temp file renamed into place meanwhile); asyncssh's default fails the whole listing.
            local = self.map_path(path)
            for name in (b".", b".."):
                yield asyncssh.SFTPName(name, attrs=asyncssh.SFTPAttrs.from_local(os.lstat(os.path.join(local, name))))
            with os.scandir(local) as entries:
                for entry in entries:
                    try:
                        attrs = asyncssh.SFTPAttrs.from_local(entry.stat(follow_symlinks=False))
                    except FileNotFoundError:
                        continue
                    yield asyncssh.SFTPName(entry.name, attrs=attrs)

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="embedded-sftp", daemon=True)
    thread.start()

    async def listen() -> asyncssh.SSHAcceptor:
        return await asyncssh.listen(
            host,
            port,
            server_host_keys=[host_key],
            server_factory=_server_class(user, authorized, password),
            sftp_factory=_Jail,
            allow_scp=False,
            keepalive_interval=30,
        )

    try:
        server = asyncio.run_coroutine_threadsafe(listen(), loop).result(timeout=30)
    except (OSError, asyncssh.Error):
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        raise
    bound = server.sockets[0].getsockname()[1]

    def stop() -> None:
        if not loop.is_running():
            return

        async def shutdown() -> None:
            server.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()

    public = host_key.export_public_key("openssh").decode().split()
    return EmbeddedSftp(
        root=root,
        port=bound,
        user=user,
        host_key_line=f"[{host}]:{bound} {public[0]} {public[1]}",
        fingerprint=host_key.get_fingerprint("sha256"),
        client_key_path=client_key_path,
        host=host,
        _stop=stop,
    )


def serve_embedded_sftp(
    root: Path,
    state_dir: Path,
    port: int = 0,
    *,
    user: str = DEFAULT_USER,
    host: str = "127.0.0.1",
    on_ready: Callable[[EmbeddedSftp], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Run the server until Ctrl-C (or `stop` is set); `on_ready` gets the handle to print or write config."""
    stop = stop or threading.Event()
    with start_embedded_sftp(root, state_dir, port, user=user, host=host) as server:
        if on_ready:
            on_ready(server)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            return
