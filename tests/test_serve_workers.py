"""`poscrm serve --workers N` (issue 12, scale out): N API processes behind one port, a dead
one replaced, all of them stopped by one SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from app.settings import Settings

POSCRM = Path(sys.executable).parent / "poscrm"
# Generous: each process imports the whole app, and the machine is shared.
START_TIMEOUT = 120.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _api_processes(parent: int) -> set[int]:
    """The parent's spawned API processes (not multiprocessing's resource tracker)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"spawn_main" in cmdline:
            found.add(int(entry.name))
    return found


def _typename(port: int) -> bytes:
    body = json.dumps({"query": "{ __typename }"}).encode()
    request = (
        b"POST /graphql HTTP/1.1\r\nHost: t\r\ncontent-type: application/json\r\n"
        b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
    )
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def _wait_for(check: object, what: str, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.3)


def test_n_processes_share_the_port_are_replaced_and_stop_together(
    migrated: Settings, tmp_path: Path
) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "POSCRM_DATA_DIR": str(tmp_path),
        "POSCRM_DATABASE_URL": migrated.effective_database_url,
        "POSCRM_REDIS_URL": migrated.redis_url,
        "POSCRM_REDIS_PREFIX": f"poscrm-workers-{uuid.uuid4().hex[:8]}",
    }
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603 (our own command line)
            [str(POSCRM), "serve", "--port", str(port), "--workers", "2", "--no-worker"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:

        def answering() -> bool:
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                return b'"__typename":"Query"' in _typename(port)
            except OSError:
                return False

        _wait_for(lambda: len(_api_processes(process.pid)) == 2, "two API processes")
        _wait_for(answering, "the API answering")
        first = _api_processes(process.pid)

        # One dies hard: the supervisor replaces it, and the port answers throughout.
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        assert answering()
        _wait_for(
            lambda: (
                len(_api_processes(process.pid)) == 2 and victim not in _api_processes(process.pid)
            ),
            "the dead process replaced",
        )
        assert all(answering() for _ in range(10))

        # One SIGTERM stops the supervisor and every process under it.
        survivors = _api_processes(process.pid)
        process.terminate()
        process.wait(60)
        for pid in survivors:
            _wait_for(lambda pid=pid: not Path(f"/proc/{pid}").exists(), f"{pid} stopped", 60)
        assert "Traceback" not in log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_process_count_is_bounded() -> None:
    result = subprocess.run(  # noqa: S603 (our own command line)
        [str(POSCRM), "serve", "--workers", "0"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "between 1 and 64" in result.stderr
