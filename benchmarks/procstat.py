"""What Linux's /proc says about a process: CPU time, memory, threads, TCP connections.

Read straight from /proc so the benchmark needs no extra package, and so another
process (the exporter) is measured without being touched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
_LISTEN = "0A"  # st column of /proc/net/tcp


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of every thread of `pid`, dead threads included.

    Resolution is one clock tick (usually 10 ms), so measure over many scrapes.
    """
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name may hold spaces and parentheses; fields resume after the last ')'.
    fields = stat.rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _TICKS


def load_1m() -> float:
    """The machine's 1-minute load average: how much else wanted the cores meanwhile."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def machine_busy_seconds() -> float:
    """CPU time every core of the machine spent busy since boot (not idle, not iowait),
    from /proc/stat: with the benchmark's own processes taken off, what others used."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICKS


@dataclass(frozen=True)
class Memory:
    peak_rss_kib: int  # VmHWM: the most resident memory the process ever had
    rss_kib: int  # VmRSS now
    threads: int


def memory(pid: int) -> Memory:
    values: dict[str, str] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        values[key] = rest.strip()

    def kib(key: str) -> int:
        return int(values[key].split()[0])

    return Memory(kib("VmHWM"), kib("VmRSS"), int(values["Threads"]))


def socket_inodes(pid: int) -> set[int]:
    """Inodes of the sockets `pid` holds open."""
    inodes: set[int] = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed while we looked
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


@dataclass(frozen=True)
class TcpEntry:
    local_port: int
    remote_port: int
    state: str
    inode: int  # 0 once the socket is closed (TIME_WAIT and friends)


def tcp_entries() -> list[TcpEntry]:
    """Every IPv4 and IPv6 TCP socket of this network namespace."""
    entries: list[TcpEntry] = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            cols = line.split()
            local, remote, state, inode = cols[1], cols[2], cols[3], cols[9]
            entries.append(TcpEntry(
                local_port=int(local.rsplit(":", 1)[1], 16),
                remote_port=int(remote.rsplit(":", 1)[1], 16),
                state=state,
                inode=int(inode),
            ))
    return entries


class ConnectionCounter:
    """Counts the TCP connections clients open to one server port.

    A connection is known by its client port, seen from either end and in any state,
    so one that opened and closed between two looks still shows (in TIME_WAIT).
    Connections held by the processes in `exclude` (the benchmark's own control
    session) are left out.
    """

    def __init__(self, server_port: int, exclude: tuple[int, ...] = ()) -> None:
        self.server_port = server_port
        self._exclude = exclude
        self._own: set[int] = set()
        self.seen: set[int] = set()

    def look(self) -> set[int]:
        """Record the client ports open now; returns them."""
        own_inodes: set[int] = set()
        for pid in self._exclude:
            own_inodes |= socket_inodes(pid)
        ports: set[int] = set()
        for entry in tcp_entries():
            if entry.state == _LISTEN:
                continue
            if entry.remote_port == self.server_port:
                if entry.inode in own_inodes:
                    self._own.add(entry.local_port)
                ports.add(entry.local_port)
            elif entry.local_port == self.server_port:
                ports.add(entry.remote_port)
        ports -= self._own
        self.seen |= ports
        return ports

    def open_by(self, pid: int) -> int:
        """Connections to the server port that `pid` holds open right now."""
        inodes = socket_inodes(pid)
        return sum(
            1 for e in tcp_entries()
            if e.remote_port == self.server_port and e.inode in inodes
        )
