"""Services started by a launcher die with it (Linux ``PR_SET_PDEATHSIG``).

The launcher (`vaxcert demo`, the test and benchmark stack) starts each service in its own
session, so a Ctrl-C in the terminal reaches the launcher alone and it stops them in order. If the
launcher itself is killed (SIGKILL, the OOM killer), nothing would stop them: they would keep
running and keep their ports, and the next demo would meet a stale stack. So the launcher names
itself in :data:`PARENT_PID_ENV` and each child, at start-up, asks the kernel for SIGTERM when its
parent goes (gunicorn then stops its workers; an orphaned worker also stops by itself within about
a second, as it checks its parent in its main loop).

The kernel sends the signal when the *thread* that started the child exits: start services from a
thread that lives as long as they should (the main thread, in every launcher here).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PARENT_PID_ENV = "VAXCERT_PARENT_PID"
# <linux/prctl.h>
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int, sig: int = signal.SIGTERM) -> None:
    """Have ``sig`` sent to this process when its parent exits (now, if it already has).

    ``parent_pid`` is the launcher's pid: if it died before this call, this process was already
    handed to another parent and the request would never fire, so the signal is sent at once.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_PDEATHSIG): {os.strerror(errno)}")
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), sig)


def child_env() -> dict[str, str]:
    """What a launcher puts into a child's environment so that the child dies with it."""
    return {PARENT_PID_ENV: str(os.getpid())}


def adopt_launcher() -> None:
    """In a service process: die with the launcher named in the environment, if any.

    The variable is removed, so processes this one starts (gunicorn workers, tools) do not take
    the launcher for their own parent.
    """
    value = os.environ.pop(PARENT_PID_ENV, None)
    if value:
        die_with_parent(int(value))
