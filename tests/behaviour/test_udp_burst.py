"""A burst of queries the server cannot read at once: its UDP socket holds
them all, so none is dropped unseen (the receive buffer is raised at start;
the kernel's usual one holds some 256 small queries)."""
import os
import select
import signal
import socket
import struct
import time

import pytest

from servers import Redisfo

ZONE = """$ORIGIN svc.test.
$TTL 3600
@ IN SOA ns1 hostmaster 1 3600 600 1209600 60
  IN NS ns1
ns1 IN A 127.0.0.1
redis 5 IN A 127.0.0.2
"""

BURST = 2000
SOCKETS = 16    # 125 replies each: within any client socket's default buffer


def _rmem_max():
    try:
        return int(open("/proc/sys/net/core/rmem_max").read())
    except OSError:
        return 0


def _query(qid):
    name = b"".join(bytes([len(p)]) + p for p in (b"redis", b"svc", b"test")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + name + struct.pack("!HH", 1, 1)


@pytest.mark.skipif(os.geteuid() != 0 and _rmem_max() < 4 << 20,
                    reason="not root and net.core.rmem_max below 4 MB: the buffer cannot be raised")
def test_burst_while_the_server_is_stopped_is_answered_whole(tmp_path, procs):
    """2000 queries sent while the server is frozen (SIGSTOP) are all
    answered, each once, once it runs again."""
    srv = procs.add(Redisfo(tmp_path, zone_text=ZONE))
    srv.start()
    socks = []
    try:
        for _ in range(SOCKETS):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.connect(("127.0.0.1", srv.port))
            s.setblocking(False)
            socks.append(s)
        srv.signal(signal.SIGSTOP)
        for qid in range(BURST):
            socks[qid % SOCKETS].send(_query(qid))
        srv.signal(signal.SIGCONT)
        seen = set()
        deadline = time.monotonic() + 10
        while len(seen) < BURST and time.monotonic() < deadline:
            ready, _, _ = select.select(socks, [], [], 0.2)
            for s in ready:
                while True:
                    try:
                        msg = s.recv(4096)
                    except BlockingIOError:
                        break
                    qid, flags = struct.unpack("!HH", msg[:4])
                    assert flags & 0x8000 and flags & 0xF == 0, "not a NOERROR reply"
                    seen.add(qid)
        assert len(seen) == BURST, "%d of %d queries answered" % (len(seen), BURST)
        assert "receive buffer" not in srv.log()
    finally:
        for s in socks:
            s.close()
