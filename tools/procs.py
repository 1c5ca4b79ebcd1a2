"""Process plumbing for the supervisor: children that die with it, and who holds a port.

- `die_with_parent` runs in each child between fork and exec (`preexec_fn`): a new session
  (so a stop signal reaches the service's whole process group) and `PR_SET_PDEATHSIG`
  (the kernel sends SIGKILL to the child when the thread that started it ends, `kill -9` of
  the supervisor included), so no service outlives its supervisor and holds its port.
- `port_holder` says whether a local TCP port is taken, and by which process when the kernel
  lets us see it (`/proc/net/tcp*` inodes matched against `/proc/<pid>/fd`), so start-up can
  say "port 5005 is held by pid 123 (python -m nlu.server)" instead of reporting a crash.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
from pathlib import Path
from typing import Optional, Set

PR_SET_PDEATHSIG = 1
_LISTEN = "0A"


def die_with_parent() -> None:
    """`preexec_fn`: own session, and SIGKILL when the parent thread dies."""
    os.setsid()
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    # The parent may have died between fork and prctl: then we were re-parented already.
    if os.getppid() == 1:
        os._exit(1)


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if a server could listen on host:port now (as uvicorn/sanic do, SO_REUSEADDR)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _listening_inodes(port: int) -> Set[str]:
    inodes: Set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == _LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def _command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)[:120]


def port_holder(port: int) -> Optional[str]:
    """None if the port is free; else who listens on it ("pid N (command)" when visible)."""
    if port_free(port):
        return None
    inodes = _listening_inodes(port)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fds = list((proc / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return f"pid {proc.name} ({_command_line(int(proc.name))})"
    return "another process"
