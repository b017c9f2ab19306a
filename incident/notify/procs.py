"""Send processes: spread the CPU of many single-URL Apprise sends over the cores.

One Apprise send costs a few milliseconds of pure-Python CPU on our side (URL
parsing, building the request or the MIME message, socket set-up), all of it
under the GIL. Threads alone therefore cap a dispatcher at one core: a burst of
thousands of messages to gateways that answer in 200 ms becomes CPU-bound long
before the gateways are busy. ``SendProcesses`` runs a few child processes
(``incident.notify.procs.main``), each with its own bounded thread pool,
that do nothing but ``send_one(url, title, body)`` and hand back the outcome.

Everything that makes delivery safe stays in the parent dispatcher: claiming,
leases, idempotency, retries and back-off, fall-back, recording every attempt,
progress events, masking of error text, and the drill sandbox (drill and
``sink://`` messages are never handed to a child, so the sink file and the
console's ``recent()`` list are written by the parent only).

Protocol: one JSON object per line. Parent → child ``[id, url, title, body,
deadline_s]``; child → parent ``[id, status, elapsed_ms, error, retry_after_s]``. The parent gives each task
to the child with the fewest in flight.

Lifetime: children are plain subprocesses (no ``fork`` of a threaded parent, no
re-import of the parent's ``__main__``), ignore Ctrl-C (the parent decides), and
leave when their stdin closes on ``close()``. When the parent dies (kill -9) they
die with it: on Linux the kernel kills them (``PR_SET_PDEATHSIG``; they are
started from one long-lived thread, since the kernel ties that signal to the
thread that forked), and everywhere a child checks before each send that its
parent is still the one that started it, so it never *starts* a send for a
parent that is gone. What a kill -9 can still duplicate is only the sends whose
request had already reached the gateway (see README, "Delivery guarantees"). ``close()`` lets them finish what they hold, then
terminates any that do not leave. A task a dead child took with it gets the
outcome ``None`` — "not recorded": the row stays ``sending`` and is re-claimed
when its lease runs out, exactly as after a dispatcher crash.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

from incident.notify.send import Outcome

log = logging.getLogger(__name__)

Done = Callable[[Outcome | None], None]
PR_SET_PDEATHSIG = 1


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


# `-c`, not `-m incident.notify.procs`: the package imports this module first
_CHILD = "import sys; from incident.notify.procs import main; sys.exit(main())"


class _Spawner:
    """One daemon thread that starts every send process.

    ``PR_SET_PDEATHSIG`` fires when the *thread* that forked the child ends, not
    the process: a dispatcher thread that stops would take its children with it.
    This thread lives as long as the process, so the signal means "the process died".
    """

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[Callable[[], subprocess.Popen], queue.Queue]] = \
            queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def popen(self, make: Callable[[], subprocess.Popen]) -> subprocess.Popen:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="notify-spawner")
                self._thread.start()
        answer: queue.Queue = queue.Queue(1)
        self._jobs.put((make, answer))
        result = answer.get()
        if isinstance(result, BaseException):
            raise result
        return result

    def _run(self) -> None:
        while True:
            make, answer = self._jobs.get()
            try:
                answer.put(make())
            except BaseException as exc:  # hand it to the caller
                answer.put(exc)


_SPAWNER = _Spawner()


class _Child:
    def __init__(self, threads: int, index: int):
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])  # the folder holding `incident`
        env["PYTHONIOENCODING"] = "utf-8"
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        argv = [sys.executable, "-c", _CHILD, str(threads), str(os.getpid())]
        self.proc = _SPAWNER.popen(lambda: subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True,
            encoding="utf-8", bufsize=1))
        self.index = index
        self.inflight = 0
        self.lock = threading.Lock()  # one writer at a time on stdin

    def send(self, line: str) -> bool:
        stdin = self.proc.stdin
        assert stdin is not None
        with self.lock:
            try:
                stdin.write(line)
                stdin.flush()
                return True
            except (OSError, ValueError):  # the child is gone
                return False


class SendProcesses:
    """`processes` children with `threads` concurrent sends each.

    ``submit(url, title, body, done)`` returns at once; ``done(outcome)`` is called
    from a reader thread of the parent (``None``: the child died mid-send).
    """

    def __init__(self, processes: int, threads: int):
        self._pending: dict[int, tuple[_Child, Done]] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._closed = False
        self.broken = False
        self._children = [_Child(threads, i) for i in range(max(1, processes))]
        self._readers = [threading.Thread(target=self._read, args=(c,), daemon=True,
                                          name=f"notify-send-{c.index}")
                         for c in self._children]
        for t in self._readers:
            t.start()

    @property
    def size(self) -> int:
        return len(self._children)

    def submit(self, url: str, title: str, body: str, done: Done,
               deadline: float | None = None) -> None:
        tid = next(self._ids)
        with self._lock:
            child = min(self._children, key=lambda c: c.inflight)
            child.inflight += 1
            self._pending[tid] = (child, done)
        task = [tid, url, title, body, deadline]
        if not child.send(json.dumps(task, ensure_ascii=False) + "\n"):
            self._give_up(child, "a send process is gone")

    def _read(self, child: _Child) -> None:
        stdout = child.proc.stdout
        assert stdout is not None
        for line in stdout:
            try:
                tid, status, elapsed, error, *more = json.loads(line)
            except ValueError:  # pragma: no cover - a stray line
                continue
            retry_after = float(more[0]) if more and more[0] is not None else None
            with self._lock:
                entry = self._pending.pop(tid, None)
                if entry is not None:
                    child.inflight -= 1
            if entry is not None:
                entry[1](Outcome(status, float(elapsed), error, retry_after))
        child.proc.wait()
        if not self._closed:
            log.warning("send process %d exited with code %s", child.index,
                        child.proc.returncode)
        self._give_up(child, "a send process stopped")

    def _give_up(self, child: _Child, why: str) -> None:
        """Tasks the child held are not recorded (None): re-claimed after their lease."""
        with self._lock:
            lost = [tid for tid, (c, _) in self._pending.items() if c is child]
            dones = [self._pending.pop(tid)[1] for tid in lost]
            child.inflight = 0
            if not self._closed:
                self.broken = True
        if dones:
            log.warning("%s with %d message(s) in flight; they go again when their lease "
                        "runs out", why, len(dones))
        for done in dones:
            done(None)

    def close(self, timeout: float = 30.0) -> None:
        """Let the children finish what they hold, then stop them (terminate if stuck)."""
        if self._closed:
            return
        self._closed = True
        for c in self._children:
            with c.lock:
                try:
                    assert c.proc.stdin is not None
                    c.proc.stdin.close()  # EOF: finish the tasks held, then exit
                except OSError:
                    pass
        for c in self._children:
            try:
                c.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                c.proc.terminate()
                try:
                    c.proc.wait(5)
                except subprocess.TimeoutExpired:  # pragma: no cover
                    c.proc.kill()
                    c.proc.wait()
        for t in self._readers:
            t.join(10)
        for c in self._children:
            if c.proc.stdout is not None:
                c.proc.stdout.close()


# ---- the child -------------------------------------------------------------------------------

def _no_proxy_lookups() -> bool:
    """Skip requests' per-request proxy lookup when it can only answer "no proxy".

    For every request, requests (which Apprise's HTTP plugins call) asks
    ``get_environ_proxies(url)``, which walks the whole environment twice — about
    0.4 ms of CPU per message. Its answer depends only on the ``*_proxy``
    environment variables (on platforms where ``urllib.request.getproxies`` is
    the environment lookup, i.e. not macOS/Windows). A send process never changes
    its environment, so when it starts without any such variable the answer is
    ``{}`` for its whole life and we give that answer directly. With any proxy
    variable set, nothing is changed. Only this child process is affected.
    """
    import urllib.request

    import requests.sessions

    if urllib.request.getproxies is not urllib.request.getproxies_environment:
        return False  # system proxy settings (macOS, Windows): keep the lookup
    if any(k.lower().endswith("_proxy") for k in os.environ):
        return False
    if getattr(requests.sessions, "get_environ_proxies", None) is None:  # pragma: no cover
        return False
    requests.sessions.get_environ_proxies = lambda url, no_proxy=None: {}
    return True


def _die_with_parent(parent: int | None) -> Callable[[], bool]:
    """Ask the kernel to kill this process when its parent dies (Linux), and return a
    check "is the parent that started me still there?" for use before each send.

    The check covers the instant between the parent's death and the signal, a parent
    that died before the signal was armed, and systems without prctl."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no prctl
            pass
    if parent is None:
        return lambda: True
    if os.getppid() != parent:  # it died before the signal was armed
        os._exit(0)
    return lambda: os.getppid() == parent


def _serve(threads: int, stdin: IO[str], stdout: IO[str],
           parent_alive: Callable[[], bool] = lambda: True) -> None:
    """Send every task read from stdin with up to `threads` at once; answer on stdout."""
    from concurrent.futures import ThreadPoolExecutor

    from incident.notify.send import send_one

    _no_proxy_lookups()
    _calm_gc()

    out_lock = threading.Lock()

    def run(tid: int, url: str, title: str, body: str, deadline: float | None = None,
            *_: object) -> None:
        if not parent_alive():
            os._exit(0)  # the parent is gone: nobody would record this send
        out = send_one(url, title, body, deadline=deadline)  # never raises
        line = json.dumps([tid, out.status, out.elapsed_ms, out.error, out.retry_after],
                          ensure_ascii=False)
        with out_lock:
            stdout.write(line + "\n")
            stdout.flush()

    # Each task is taken as soon as it arrives; the parent only gives a child as
    # many tasks as it has threads, so the executor's queue stays short.
    with ThreadPoolExecutor(threads, thread_name_prefix="notify-send") as pool:
        for line in stdin:
            if line.strip():
                pool.submit(run, *json.loads(line))


def _calm_gc() -> None:
    """Collect cycles less often: a send allocates thousands of short-lived objects
    (URL parsing, MIME, HTTP), so the default threshold of 700 runs a collection every
    few sends, each walking everything the imports left behind. Freezing those and
    raising the threshold cut the send processes' CPU by about a tenth in bench/."""
    import gc

    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    args = sys.argv[1:] if argv is None else argv
    threads = int(args[0]) if args else 16
    alive = _die_with_parent(int(args[1]) if len(args) > 1 else None)
    try:
        _serve(threads, sys.stdin, sys.stdout, alive)
    finally:
        from incident.notify import reuse

        reuse.close_all()  # QUIT the kept SMTP sessions
    return 0


if __name__ == "__main__":
    sys.exit(main())
