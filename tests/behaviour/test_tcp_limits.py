"""test_tcp_limits.py - TCP clients cannot take the server from the operator.

The limits (dnsd/server_int.h): at most 16 connections per address, 64 per
/24 (/56), 256 in all; past the last two a newcomer takes the place of the
oldest connection that never showed the update key. Connections close when
idle 10 s and take no new queries after 60 s or 10,000 queries. At most 2
transfers per client and 16 in all are sent at once; a transfer is made
message by message as the client reads it.

- A flood of 300 connections from 100 addresses (127.0.x.y over five /24s),
  each asking a query every 2 s and coming back at once when closed: a
  planned switch and an unplanned failover both succeed meanwhile, a
  fresh TCP client is answered, and a client alone in its /24 keeps its
  connection while the flood displaces itself.
- One address over its limit is refused, the others keep their share.
- Many connections from an allowed address pipelining AXFRs of a 25,000
  record zone and never reading: a signed UPDATE over TCP and UDP is
  answered within 2 s, the server's RSS comes back down after they leave,
  an AXFR by a normal client is the zone, and one started before an UPDATE
  is the zone it started with.
- Out of file descriptors (RLIMIT_NOFILE lowered on the running server),
  the server does not spin, logs it once, and answers TCP again when the
  connections are gone.
"""

import os
import random
import resource
import selectors
import signal
import socket
import struct
import threading
import time

import dns.message
import dns.query
import dns.rdatatype
import dns.update
import dns.zone
import pytest

from dnstools import recv_exact
from failover_env import Cluster
from servers import Redisfo, wait_until

PER_ADDR = 16           # TCP_PER_ADDR
MAX_QUERIES = 10000     # TCP_MAX_QUERIES
IDLE_TIMEOUT = 10.0     # TCP_IDLE_MS


def framed(wire):
    return struct.pack("!H", len(wire)) + wire


def flood_addresses(nets, per_net):
    """Source addresses 127.0.<net>.<10..>: per_net of them in each /24."""
    return ["127.0.%d.%d" % (n, 10 + i) for n in nets for i in range(per_net)]


class TcpFlood:
    """Connections from many source addresses, each sending a query every
    `every` seconds and never idle, coming back at once when the server
    closes them: what it takes to keep a naive server's table full."""

    def __init__(self, port, addrs, per_addr, every=2.0, wire=None):
        self.port = port
        self.slots = [a for a in addrs for _ in range(per_addr)]
        self.every = every
        self.wire = framed(wire or dns.message.make_query("redis.svc.test.", "A").to_wire())
        self.sel = selectors.DefaultSelector()
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.opened = self.closed = self.replies = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self, addr):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind((addr, 0))
        s.connect_ex(("127.0.0.1", self.port))
        self.sel.register(s, selectors.EVENT_READ,
                          [addr, time.monotonic() + random.uniform(0, self.every)])
        with self.lock:
            self.opened += 1

    def _drop(self, s):
        addr = self.sel.get_key(s).data[0]
        self.sel.unregister(s)
        s.close()
        with self.lock:
            self.closed += 1
        if not self.stopping.is_set():
            self._open(addr)

    def _run(self):
        for a in self.slots:
            self._open(a)
        while not self.stopping.is_set():
            for key, _ in self.sel.select(0.05):
                try:
                    data = key.fileobj.recv(65535)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    self._drop(key.fileobj)
                else:
                    with self.lock:
                        self.replies += 1
            now = time.monotonic()
            for key in list(self.sel.get_map().values()):
                if key.data[1] <= now:
                    key.data[1] = now + self.every
                    try:
                        key.fileobj.send(self.wire)
                    except (BlockingIOError, OSError):
                        pass        # still connecting, or closed: seen on read
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()
        self.sel.close()

    def open_now(self):
        return len(self.sel.get_map())

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self.thread.join(10)


def tcp_answers(srv, source=None, timeout=2):
    """A fresh TCP client (bound to source) asks the record; its answer."""
    q = dns.message.make_query("redis.svc.test.", "A")
    return dns.query.tcp(q, "127.0.0.1", port=srv.port, timeout=timeout, source=source)


def server_conns(srv):
    """TCP connections the server holds established (from /proc)."""
    n = 0
    for fd in os.listdir("/proc/%d/fd" % srv.proc.pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (srv.proc.pid, fd)).startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


# ------------------------------------------------------ the flood and the switch

def test_switch_and_failover_through_a_connection_flood(tmp_path, procs):
    c = Cluster(tmp_path, procs, failover={"probe_timeout_ms": 250, "probes": 2})
    flood = TcpFlood(c.rf.port, flood_addresses(range(1, 6), 20), 3).start()
    try:
        # The flood holds the table: the server is at its limit of 256.
        wait_until(lambda: server_conns(c.rf) >= 256, timeout=20,
                   what="the flood to fill the connection table")
        replies = flood.replies
        wait_until(lambda: flood.replies > replies + 20, timeout=20,
                   what="the flood's connections to be answered")

        # a client alone in its network keeps its connection through the churn
        with socket.create_connection(("127.0.0.1", c.rf.port), timeout=3,
                                      source_address=("127.0.9.2", 0)) as lone:
            closed = flood.closed
            wait_until(lambda: flood.closed > closed + 300, timeout=20,
                       what="the flood to lose 300 connections to newcomers")
            q = dns.message.make_query("redis.svc.test.", "A")
            lone.sendall(framed(q.to_wire()))
            n = struct.unpack("!H", recv_exact(lone, 2))[0]
            assert dns.message.from_wire(recv_exact(lone, n)).id == q.id

        cpu0, t0 = cpu_seconds(c.rf.proc.pid), time.monotonic()
        r = c.switch("-y", "--to", "r2")
        assert r.returncode == 0, r.stdout + r.stderr
        assert c.record() == [c.nodes["r2"].host]

        c.nodes["r2"].kill(signal.SIGKILL)
        r = c.switch("-y")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "UNPLANNED FAILOVER" in r.stdout
        assert c.served() in ("r1", "r3")

        # fresh clients, in the flood's /24s and out of them, are answered
        for source in (None, "127.0.1.200", "127.0.9.1"):
            assert tcp_answers(c.rf, source).answer, source
        print("\nserver CPU during the switches: %.2f s in %.2f s"
              % (cpu_seconds(c.rf.proc.pid) - cpu0, time.monotonic() - t0))
        assert flood.open_now() >= 250       # it kept at it all along
        assert flood.closed > 0              # and lost its oldest to newcomers
    finally:
        flood.stop()
    print("\nflood: %d connections opened, %d closed by the server, %d replies"
          % (flood.opened, flood.closed, flood.replies))
    log = c.rf.log()
    assert "is over the server's limit" in log
    assert "closed the oldest unsigned one" in log
    # rate-limited: a line every 10 s at most for thousands of evictions
    assert log.count("closed the oldest unsigned one") <= 6, log[-3000:]


def test_one_address_is_held_to_its_share(tmp_path, procs):
    srv = procs.add(Redisfo(tmp_path))
    srv.start()
    mine = []
    try:
        for _ in range(PER_ADDR + 10):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=3,
                                         source_address=("127.0.0.7", 0))
            mine.append(s)
        wait_until(lambda: "127.0.0.7 has 16 connections, its limit" in srv.log(),
                   timeout=5, what="the per-address limit to be logged")
        # its first connections keep working
        for s in mine[:3]:
            q = dns.message.make_query("redis.svc.test.", "A")
            s.sendall(framed(q.to_wire()))
            n = struct.unpack("!H", recv_exact(s, 2))[0]
            assert dns.message.from_wire(recv_exact(s, n)).id == q.id
        # another address is not held back by it
        assert tcp_answers(srv, "127.0.0.8").answer
    finally:
        for s in mine:
            s.close()
    # the address gets its share back once its connections are gone
    wait_until(lambda: tcp_answers(srv, "127.0.0.7", timeout=1).answer, timeout=5,
               what="127.0.0.7 answered again")


def test_a_connection_takes_a_bounded_number_of_queries(tmp_path, procs):
    """Past TCP_MAX_QUERIES the server answers no more on a connection: it
    sends every answer it owes, then closes cleanly (FIN, not a reset)."""
    srv = procs.add(Redisfo(tmp_path))
    srv.start()
    wire = framed(dns.message.make_query("redis.svc.test.", "A").to_wire())
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        sender = threading.Thread(target=lambda: s.sendall(wire * (MAX_QUERIES + 50)),
                                  daemon=True)
        sender.start()
        answers = 0
        while True:
            head = recv_exact(s, 2)
            if head is None:
                break               # closed by the server, cleanly
            assert recv_exact(s, struct.unpack("!H", head)[0]) is not None
            answers += 1
        sender.join(5)
    assert answers == MAX_QUERIES
    assert tcp_answers(srv).answer


# ------------------------------------------------------ transfers

N_BIG = 25000


def big_zone_text():
    lines = ["$ORIGIN svc.test.", "$TTL 300",
             "@ 30 IN SOA ns1.svc.test. hostmaster.svc.test. 7 3600 600 86400 600",
             "@ 30 IN NS ns1.svc.test.",
             "ns1 IN A 127.0.0.1",
             "redis 5 IN A 127.0.0.2"]
    for i in range(N_BIG):
        lines.append('h%05d IN TXT "host %05d %s"' % (i, i, "x" * 40))
    return "\n".join(lines) + "\n"


def vm_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def settled_rss_kb(pid, span=2.5):
    """The lowest VmRSS over span seconds: after the server's once-a-second
    trim of what it freed."""
    samples = []
    t0 = time.monotonic()

    def spanned():
        samples.append(vm_rss_kb(pid))
        return time.monotonic() - t0 >= span
    wait_until(spanned, timeout=span + 2, interval=0.1, what="RSS samples")
    return min(samples)


def axfr_zone(srv, source="127.0.0.9"):
    return dns.zone.from_xfr(dns.query.xfr("127.0.0.1", "svc.test.", port=srv.port,
                                           source=source, lifetime=30, relativize=False),
                             relativize=False)


def zone_records(z):
    """(owner, type, rdata) of every record of zone z, sorted."""
    return sorted((str(name), dns.rdatatype.to_text(rds.rdtype), rd.to_text())
                  for name, rds in z.iterate_rdatasets() for rd in rds)


def signed_update_time(srv, to, tcp):
    u = dns.update.UpdateMessage("svc.test.", keyring=srv.tsig_key())
    u.replace("redis", 5, "A", to)
    t0 = time.monotonic()
    if tcp:
        r = dns.query.tcp(u, "127.0.0.1", port=srv.port, timeout=10)
    else:
        r = dns.query.udp(u, "127.0.0.1", port=srv.port, timeout=10)
    assert r.rcode() == 0
    return time.monotonic() - t0


@pytest.fixture
def big(tmp_path, procs):
    srv = procs.add(Redisfo(tmp_path, zone_text=big_zone_text(),
                            dns={"allow_transfer": ["127.0.0.9"]}))
    srv.start(timeout=30)
    return srv


def test_transfers_never_read_do_not_starve_updates_or_keep_memory(big):
    srv = big
    expected = zone_records(dns.zone.from_text(big_zone_text(), origin="svc.test.",
                                               relativize=False))
    assert zone_records(axfr_zone(srv)) == expected     # warm: one transfer made
    signed_update_time(srv, "127.0.0.19", tcp=True)     # and one change
    base = settled_rss_kb(srv.proc.pid)
    started = srv.log().count("AXFR to 127.0.0.9")

    axfr = dns.message.make_query("svc.test.", "AXFR")
    blob = framed(axfr.to_wire()) * 4
    hogs = []
    try:
        for _ in range(100):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.bind(("127.0.0.9", 0))
            s.settimeout(3)
            try:
                s.connect(("127.0.0.1", srv.port))
                s.sendall(blob)
            except OSError:
                pass            # refused: over the address's limit
            hogs.append(s)
        # the transfers are under way and stuck on clients that do not read
        wait_until(lambda: srv.log().count("AXFR to 127.0.0.9") >= started + 3, timeout=10,
                   what="transfers to start")
        peak = vm_rss_kb(srv.proc.pid)
        worst = max(signed_update_time(srv, "127.0.0.%d" % (20 + i), tcp=i % 2 == 0)
                    for i in range(6))
        assert worst < 2.0, "a signed UPDATE took %.1f s behind the transfers" % worst
        assert srv.query("redis.svc.test.", "A").answer[0][0].address == "127.0.0.25"
        assert "transfer to 127.0.0.9 refused: at the limit" in srv.log()
        # memory stays near the zone's own: no copy of it per request
        assert peak - base < 40 * 1024, "RSS grew from %d to %d kB" % (base, peak)
    finally:
        for s in hogs:
            s.close()
    wait_until(lambda: vm_rss_kb(srv.proc.pid) < base + 8 * 1024, timeout=IDLE_TIMEOUT + 10,
               what="RSS back near %d kB" % base)
    print("\nVmRSS %d kB before, %d kB with the transfers, %d kB after; slowest signed "
          "UPDATE %.3f s" % (base, peak, settled_rss_kb(srv.proc.pid), worst))
    # a normal client still gets the whole zone, as it is now
    got = zone_records(axfr_zone(srv))
    assert len(got) == len(expected)
    assert ("redis.svc.test.", "A", "127.0.0.25") in got
    assert [r for r in got if r[0] != "redis.svc.test." and r[1] != "SOA"] == \
        [r for r in expected if r[0] != "redis.svc.test." and r[1] != "SOA"]


def test_transfer_started_before_an_update_is_the_zone_it_started_with(big):
    srv = big
    before = [r for r in zone_records(axfr_zone(srv)) if r[1] != "SOA"]
    axfr = dns.message.make_query("svc.test.", "AXFR")
    got, msgs, soas = [], 0, 0
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.bind(("127.0.0.9", 0))
        s.settimeout(10)
        s.connect(("127.0.0.1", srv.port))
        s.sendall(framed(axfr.to_wire()))
        while soas < 2:
            n = struct.unpack("!H", recv_exact(s, 2))[0]
            m = dns.message.from_wire(recv_exact(s, n), xfr=True, one_rr_per_rrset=True)
            msgs += 1
            if msgs == 1:
                # the zone changes while the transfer is on its first message
                signed_update_time(srv, "127.0.0.77", tcp=True)
            for rrset in m.answer:
                for rd in rrset:
                    if rrset.rdtype == dns.rdatatype.SOA:
                        soas += 1
                    else:
                        got.append((str(rrset.name), dns.rdatatype.to_text(rrset.rdtype),
                                    rd.to_text()))
    assert msgs > 10
    assert sorted(got) == before            # the zone as it was, whole
    # and the next transfer has the change
    assert ("redis.svc.test.", "A", "127.0.0.77") in zone_records(axfr_zone(srv))


# ------------------------------------------------------ out of descriptors

def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_out_of_descriptors_backs_off_logs_once_and_recovers(tmp_path, procs):
    srv = procs.add(Redisfo(tmp_path))
    srv.start()
    resource.prlimit(srv.proc.pid, resource.RLIMIT_NOFILE, (48, 48))
    held = []
    try:
        for i in range(120):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            # many addresses: the per-address limit is not what stops them
            s.bind(("127.0.%d.%d" % (3 + i // 50, 10 + i % 50), 0))
            s.connect_ex(("127.0.0.1", srv.port))
            held.append(s)
        wait_until(lambda: "cannot accept connections" in srv.log(), timeout=5,
                   what="the server to run out of descriptors")
        t0, cpu0 = time.monotonic(), cpu_seconds(srv.proc.pid)
        wait_until(lambda: time.monotonic() - t0 >= 3, timeout=5, interval=0.2,
                   what="three seconds out of descriptors")
        used = cpu_seconds(srv.proc.pid) - cpu0
        assert used < 0.5, "%.2f s of CPU in 3 s out of descriptors: spinning" % used
        assert srv.query("redis.svc.test.", "A").answer       # UDP goes on
    finally:
        for s in held:
            s.close()
    wait_until(lambda: tcp_answers(srv, timeout=1).answer, timeout=IDLE_TIMEOUT + 10,
               what="TCP answered again")
    log = srv.log()
    assert log.count("cannot accept connections") == 1, log[-3000:]
    assert "accepting connections again" in log
