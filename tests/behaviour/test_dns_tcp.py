"""DNS over TCP (RFC 7766): framing, pipelining, idle timeout, connection cap.

2-byte length prefix, several queries on one connection (sequential,
pipelined, split across writes, answered even when the client reads late),
an idle timeout that closes silent or half-sent connections, and a cap on
connections that refuses new ones while existing ones and UDP keep working
(here all from 127.0.0.1, so the per-address cap, TCP_PER_ADDR: the other
limits are in test_tcp_limits.py).
The server's idle timeout is 10 s (TCP_IDLE_MS in dnsd/server_int.h); the slow
checks run side by side so the file takes one timeout, not one per case.
"""

import socket
import struct
import time

import dns.message
import dns.rcode
import pytest

import dnswire as w
from dnstools import HAVE_IPV6, recv_exact
from servers import wait_until

IDLE_TIMEOUT = 10.0     # dnsd/server_int.h TCP_IDLE_MS
CAP = 256               # dnsd/server_int.h TCP_MAX_CONNS (one address has fewer)


def connect(server, v6=False, timeout=3):
    s = socket.create_connection(("::1" if v6 else "127.0.0.1", server.port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def framed(wire):
    return struct.pack("!H", len(wire)) + wire


def read_msg(s):
    head = recv_exact(s, 2)
    assert head is not None, "connection closed before a reply"
    body = recv_exact(s, struct.unpack("!H", head)[0])
    assert body is not None, "connection closed inside a reply"
    return dns.message.from_wire(body)


def closed_by_peer(s, timeout):
    """True when the server closes s within timeout seconds (EOF or reset)."""
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


@pytest.mark.parametrize("v6", [False, pytest.param(True, marks=pytest.mark.skipif(
    not HAVE_IPV6, reason="no IPv6"))], ids=["v4", "v6"])
def test_sequential_queries_one_connection(zserver, v6):
    with connect(zserver, v6) as s:
        for i in range(20):
            name = ("redis.svc.test.", "nope.svc.test.", "alias.svc.test.")[i % 3]
            q = dns.message.make_query(name, "A")
            q.id = 1000 + i
            s.sendall(framed(q.to_wire()))
            r = read_msg(s)
            assert r.id == q.id and r.question[0].name == q.question[0].name
            assert r.rcode() == (dns.rcode.NXDOMAIN if i % 3 == 1 else dns.rcode.NOERROR)


def test_pipelined_queries(zserver):
    names = ["redis.svc.test.", "nope.svc.test.", "multi.svc.test.", "big.svc.test.",
             "www.example.org.", "huge.svc.test."] * 10
    want = {}
    blob = b""
    for i, name in enumerate(names):
        q = dns.message.make_query(name, "TXT" if name.startswith(("big", "huge")) else "A")
        q.id = 2000 + i
        want[q.id] = name
        blob += framed(q.to_wire())
    with connect(zserver, timeout=5) as s:
        s.sendall(blob)                      # all at once, before reading anything
        got = {}
        for _ in names:
            r = read_msg(s)
            assert r.id in want and r.id not in got, "unexpected or repeated id %d" % r.id
            got[r.id] = r
    assert set(got) == set(want)
    for qid, r in got.items():
        name = want[qid]
        assert r.question[0].name.to_text() == name
        if name.startswith("huge"):
            assert sum(len(a) for a in r.answer) == 60 and not r.flags & 0x0200
        if name == "www.example.org.":
            assert r.rcode() == dns.rcode.REFUSED


def test_slow_reader_gets_everything(zserver):
    """Many large replies while the client does not read: nothing lost."""
    n = 100
    blob = b""
    for i in range(n):
        q = dns.message.make_query("huge.svc.test.", "TXT")
        q.id = i
        blob += framed(q.to_wire())
    with connect(zserver, timeout=10) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(blob)
        ids = sorted(read_msg(s).id for _ in range(n))
    assert ids == list(range(n))


def test_split_writes(zserver):
    """Length prefix and message arriving a byte at a time still work."""
    q = dns.message.make_query("redis.svc.test.", "A")
    data = framed(q.to_wire())
    with connect(zserver) as s:
        for b in data:
            s.sendall(bytes([b]))
            time.sleep(0.002)   # pacing the writes, not waiting for anything
        r = read_msg(s)
    assert r.id == q.id and r.rcode() == dns.rcode.NOERROR and len(r.answer) == 1


def test_bad_messages_on_tcp(zserver):
    """Garbage messages on a connection: FORMERR or close, never a crash."""
    msgs = [b"\x00" * 12, b"\xff" * 40, w.header(qd=2), b"\x12\x34" + b"\x01" * 5000]
    for m in msgs:
        with connect(zserver) as s:
            s.sendall(framed(m))
            s.settimeout(2)
            try:
                head = recv_exact(s, 2)
            except ConnectionResetError:
                head = None
            if head is not None:
                body = recv_exact(s, struct.unpack("!H", head)[0])
                h = w.parse_header(body)
                assert h is not None and h["qr"] and h["rcode"] in (w.FORMERR, w.NOTIMP)
    # zero-length message then a real query
    with connect(zserver) as s:
        q = dns.message.make_query("redis.svc.test.", "A")
        s.sendall(b"\x00\x00" + framed(q.to_wire()))
        s.settimeout(2)
        try:
            head = recv_exact(s, 2)
        except ConnectionResetError:
            head = None
        if head is not None:
            r = dns.message.from_wire(recv_exact(s, struct.unpack("!H", head)[0]))
            assert r.id == q.id
    assert zserver.query("redis.svc.test.", "A", tcp=True).answer


def test_idle_and_half_sent_connections_closed(zserver):
    """Silent, half-prefix, and half-message connections are closed after
    the idle timeout; a connection in use stays open meanwhile."""
    idle = connect(zserver)
    half_len = connect(zserver)
    half_len.sendall(b"\x01")
    half_msg = connect(zserver)
    half_msg.sendall(b"\x01\xf4" + b"\x00" * 10)    # promises 500 bytes, sends 10
    busy = connect(zserver)
    conns = [idle, half_len, half_msg, busy]
    try:
        start = time.monotonic()
        # the busy connection keeps asking, every second, for 1.5x the timeout
        closed_at = {}
        deadline = start + IDLE_TIMEOUT * 1.5 + 3
        i = 0
        while time.monotonic() < deadline and len(closed_at) < 3:
            q = dns.message.make_query("redis.svc.test.", "A")
            busy.sendall(framed(q.to_wire()))
            assert read_msg(busy).id == q.id, "busy connection broken"
            for name, s in (("idle", idle), ("half_len", half_len), ("half_msg", half_msg)):
                if name not in closed_at and closed_by_peer(s, 0.3):
                    closed_at[name] = time.monotonic() - start
            i += 1
        assert set(closed_at) == {"idle", "half_len", "half_msg"}, (
            "not closed within %.0fs: %s" % (IDLE_TIMEOUT * 1.5 + 3,
                                             {"idle", "half_len", "half_msg"} - set(closed_at)))
        for name, t in closed_at.items():
            assert t >= 2.0, "%s closed after %.1fs, too early for an idle timeout" % (name, t)
        # still usable after all that time
        q = dns.message.make_query("multi.svc.test.", "A")
        busy.sendall(framed(q.to_wire()))
        assert len(read_msg(busy).answer[0]) == 3
    finally:
        for s in conns:
            s.close()


def test_connection_cap(zserver):
    """Beyond the cap new connections are refused or closed at once, while
    the open ones and UDP still work; closing them frees the slots."""
    n = CAP + 44
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(3)
            try:
                s.connect(("127.0.0.1", zserver.port))
            except OSError:
                pass
            socks.append(s)
        # UDP keeps answering at the cap
        assert zserver.query("redis.svc.test.", "A").answer
        # the first connections were accepted and answer
        for s in socks[:5]:
            q = dns.message.make_query("redis.svc.test.", "A")
            s.sendall(framed(q.to_wire()))
            assert read_msg(s).id == q.id
        # some of the last ones were refused/closed by the server
        rejected = 0
        for s in socks[CAP + 4:]:
            if closed_by_peer(s, 0.2):
                rejected += 1
        assert rejected >= 1, "no connection beyond the cap of %d was refused" % CAP
        # a new connection at the cap gets no answer
        extra = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        socks.append(extra)
        extra.settimeout(2)
        answered = False
        try:
            extra.connect(("127.0.0.1", zserver.port))
            extra.sendall(framed(dns.message.make_query("redis.svc.test.", "A").to_wire()))
            answered = recv_exact(extra, 2) is not None
        except OSError:
            pass
        assert not answered, "a connection beyond the cap was served"
    finally:
        for s in socks:
            s.close()

    # slots free again once the clients went away
    def tcp_works():
        return zserver.query("redis.svc.test.", "A", tcp=True, timeout=1).answer
    wait_until(tcp_works, timeout=IDLE_TIMEOUT + 5, what="TCP service after closing the connections")


def test_half_close_after_query_still_answered(zserver):
    """A client that sends its query and then shuts down its side
    (SHUT_WR) still gets the answer before the server closes."""
    for n in (1, 3):
        with connect(zserver) as s:
            ids = []
            blob = b""
            for i in range(n):
                q = dns.message.make_query("redis.svc.test.", "A")
                ids.append(q.id)
                blob += framed(q.to_wire())
            s.sendall(blob)
            s.shutdown(socket.SHUT_WR)
            got = [read_msg(s).id for _ in range(n)]
            assert sorted(got) == sorted(ids)


def test_largest_message(zserver):
    """A 65535-byte message (a query and trailing bytes) is read whole and
    answered or refused as FORMERR; the connection stays in step."""
    q = dns.message.make_query("redis.svc.test.", "A")
    q.id = 0x6001
    wire = q.to_wire()
    big = wire + b"\x00" * (65535 - len(wire))
    q2 = dns.message.make_query("multi.svc.test.", "A")
    with connect(zserver, timeout=5) as s:
        s.sendall(framed(big) + framed(q2.to_wire()))
        r = read_msg(s)
        assert r.id == 0x6001 and r.rcode() in (dns.rcode.NOERROR, dns.rcode.FORMERR)
        r2 = read_msg(s)
        assert r2.id == q2.id and len(r2.answer[0]) == 3
