"""The home lists, read by a forked child while the console imports Textual and draws
its first frame: on a machine with two cores the officer sees what is open about 0.4 s
sooner than if one process did both in turn.

The child only reads. It opens the store without upgrading its schema and without a
chain key, uses the compiled cache only where it is built already (a miss is the
parent's: it validates and stores), writes nothing but its answer to a pipe, and leaves
with os._exit. Whatever goes wrong there (no fork on this system, another thread
running, a database that needs migrating, a crash, a timeout), `take` returns None and
the console reads the lists itself, as it does without a child. Linux only: forking a
process that has loaded system frameworks is unsafe on macOS.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import sys
import threading
import time
from typing import Any

WAIT_S = 5.0  # a child slower than this (a starved machine): the parent reads itself


class Preload:
    def __init__(self, pid: int, fd: int):
        self.pid = pid
        self.fd = fd
        self._done = False

    def take(self, timeout: float = WAIT_S) -> tuple[Any, ...] | None:
        """(worker thread) The child's (active, closed, read at) home lists, or None."""
        if self._done:
            return None
        chunks: list[bytes] = []
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                    return None
                chunk = os.read(self.fd, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
            data = b"".join(chunks)
            return pickle.loads(data) if data else None  # our own child's bytes
        except Exception:
            return None
        finally:
            self.close()

    def close(self) -> None:
        """Reap the child (stopping it if it is still reading) and close the pipe."""
        if self._done:
            return
        self._done = True
        with contextlib.suppress(OSError):
            os.close(self.fd)
        with contextlib.suppress(OSError):
            if os.waitpid(self.pid, os.WNOHANG) == (0, 0):
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)


def start(rt: Any) -> Preload | None:
    """Fork a reader of the home lists for `rt`, before the console is imported."""
    if sys.platform != "linux" or threading.active_count() > 1 or rt.loaded("store"):
        return None
    rfd, wfd = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(rfd)
        os.close(wfd)
        return None
    if pid == 0:  # the child: read, answer, leave without running the parent's exit code
        try:
            os.close(rfd)
            _answer(rt, wfd)
        finally:
            os._exit(0)
    os.close(wfd)
    return Preload(pid, rfd)


def _answer(rt: Any, fd: int) -> None:
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # ctrl+c at the console ends it too
        quiet = os.open(os.devnull, os.O_RDWR)  # never a word on the officer's terminal
        for std in (0, 1, 2):
            os.dup2(quiet, std)
        payload = b""
        if rt.open_for_reading():
            from incident.console.model import read_home

            payload = pickle.dumps(read_home(rt), protocol=pickle.HIGHEST_PROTOCOL)
            rt.close()
    except BaseException:
        payload = b""
    view = memoryview(payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]
