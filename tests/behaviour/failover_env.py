"""failover_env.py - a Redis service of three real nodes behind a real server.

Used by the failover tests (switch, status, check, rejoin, dnsclient): it
starts r1 (master) on 127.0.0.2 and r2, r3 (its replicas) on 127.0.0.3 and
127.0.0.4 with random ports, a `redisfo-dns serve` whose zone names r1, and
reads the state back (roles, the record, the serial) so a test can show
that "nothing changed". external_cluster (knot_cluster) puts an external
primary (servers.KnotPrimary, BindPrimary, PdnsPrimary), with dynamic
updates allowed by the TSIG key, where the server would be, for
`failover.server` pointing at existing DNS; DnsFaultProxy stands between
a switch and the server to lose, hold or slow its UPDATE.

Everything started is registered with the `procs` fixture, so it is
stopped whatever happens. Every wait is a bounded poll.
"""

import time
from pathlib import Path

import dns.rdatatype

from confgen import service_zone
from dnstools import recv_exact
from servers import (BareRedis, KnotPrimary, RedisNode, Redisfo, TlsRedisNode, free_port,
                     wait_until)

HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
# A switch or rejoin moves the serial twice besides its own change: taking
# the lease (_lock._redisfo.<service>) and giving it back.
LEASE_MOVES = 2
NAMES = ("r1", "r2", "r3")


class Cluster:
    """Three Redis nodes (r1 master) and a redisfo-dns server naming r1."""

    def __init__(self, tmp_path, procs, failover=None, password=None,
                 start_server=True, dns_server=None, extra=(), node_conf=None,
                 bare=(), service_auth=None, tls=None, hosts=HOSTS, dns=None, ports=None,
                 create_zone=False):
        self.tmp = Path(tmp_path)
        self.procs = procs
        self.nodes = {}
        master = None
        # One port on the three addresses: a client resolves the name and
        # connects to <address>:<port>, like a real one.
        self.port = free_port(hosts[0], also=hosts[1:])
        # full syncs start at once (the default waits 5 s for more replicas)
        extra = ["repl-diskless-sync-delay 0"] + list(extra)
        for name, host in zip(NAMES, hosts):
            cls = BareRedis if name in bare else RedisNode
            kw = {}
            if tls is not None:     # tlscerts.Certs: every node on TLS only
                cls, kw = TlsRedisNode, {"certs": tls}
            # ports="distinct": each node on a port of its own (SRV tests)
            port = free_port(host) if ports == "distinct" else self.port
            node = cls(self.tmp / name, host=host, port=port,
                       replicaof=master, password=password, extra=extra, **kw)
            procs(node)
            node.start()
            self.nodes[name] = node
            if master is None:
                master = node
        fo = {"probe_timeout_ms": 300, "probes": 2, "pause_timeout_ms": 2000}
        if dns_server is not None:
            fo["server"] = dns_server
        fo.update(failover or {})
        svc = {"name": "redis", "nodes": [
            dict({"name": n, "host": self.nodes[n].host, "port": self.nodes[n].port},
                 **(node_conf or {}).get(n, {}))
            for n in NAMES]}
        if password:
            svc["password"] = password
        if service_auth:
            svc.update(service_auth)
        if tls is not None:
            svc.setdefault("tls", {"enabled": True, "ca_file": str(tls.ca)})
        self.rf = Redisfo(self.tmp / "rf", services=[svc], failover=fo, dns=dns,
                          zone_text=None if create_zone else
                          service_zone("svc.test.", "r1", hosts[0]))
        procs(self.rf)
        if start_server:
            self.rf.start()
        self.wait_links()

    # -- Redis side

    def info(self, name):
        return self.nodes[name].client().info("replication")

    def role(self, name):
        """'master', or 'replica of rN' (by port), or 'down'."""
        try:
            inf = self.info(name)
        except Exception:  # noqa: BLE001
            return "down"
        if inf["role"] == "master":
            return "master"
        port = int(inf["master_port"])
        for n, node in self.nodes.items():
            if node.port == port and node.host == inf["master_host"]:
                return "replica of %s" % n
        return "replica of %s:%s" % (inf["master_host"], port)

    def roles(self):
        return {n: self.role(n) for n in self.nodes}

    def wait_links(self, master="r1", timeout=15):
        def linked():
            for n in self.nodes:
                if n == master:
                    continue
                inf = self.info(n)
                if inf.get("master_link_status") != "up":
                    return False
                if int(inf["master_port"]) != self.nodes[master].port:
                    return False
            return True
        wait_until(linked, timeout=timeout, what="replicas of %s linked" % master)
        # After a full sync the master holds the stream back until the
        # replica's first ACK (up to a second): wait until a write flows.
        m = self.nodes[master].client()
        m.incr("failover_env:warmup")
        want = int(m.info("replication")["master_repl_offset"])

        def flowing():
            return all(int(self.info(n)["slave_repl_offset"]) >= want
                       for n in self.nodes if n != master)
        wait_until(flowing, timeout=timeout, what="replication stream from %s" % master)

    def node_by_addr(self, addr):
        for n, node in self.nodes.items():
            if node.host == addr:
                return n
        return None

    # -- DNS side

    def record(self, rdtype="A"):
        """The A (or AAAA) values of redis.svc.test. as served, sorted."""
        r = self.rf.query("redis.svc.test.", rdtype)
        want = dns.rdatatype.from_text(rdtype)
        return sorted(rr.address for rrset in r.answer for rr in rrset
                      if rrset.rdtype == want)

    def served(self):
        rec = self.record()
        return self.node_by_addr(rec[0]) if len(rec) == 1 else None

    def txt(self):
        r = self.rf.query("_redisfo.redis.svc.test.", "TXT")
        return " ".join(b"".join(rr.strings).decode() for rrset in r.answer
                        for rr in rrset if rrset.rdtype == dns.rdatatype.TXT)

    def serial(self):
        return self.rf.serial()

    def lease(self):
        """The switch lease's TXT (_lock._redisfo.redis.svc.test.), "" when none."""
        r = self.rf.query("_lock._redisfo.redis.svc.test.", "TXT")
        return " ".join(b"".join(rr.strings).decode() for rrset in r.answer
                        for rr in rrset if rrset.rdtype == dns.rdatatype.TXT)

    def snapshot(self):
        """What a refusal must leave as it was. Not the serial: a switch
        takes and gives back its lease in the zone (LEASE_MOVES) even when
        it is refused; the lease must be gone again."""
        return {"roles": self.roles(), "record": self.record(),
                "txt": self.txt(), "lease": self.lease()}

    def snapshot_dns(self):
        """The record side only (for when a node is down)."""
        return {"record": self.record(), "txt": self.txt(), "lease": self.lease()}

    def switch(self, *args, timeout=60):
        return self.rf.run("switch", *args, timeout=timeout, input="")


def knot_cluster(tmp_path, procs):
    """A Cluster whose switches send their UPDATEs and queries to a knotd
    primary holding the same zone (no redisfo-dns server started)."""
    return external_cluster(tmp_path, procs, KnotPrimary)


def external_cluster(tmp_path, procs, primary_class):
    """A Cluster whose switches send their UPDATEs and queries to an
    external primary (servers.KnotPrimary, BindPrimary or PdnsPrimary)
    holding the same zone; no redisfo-dns server is started, and the
    Cluster's record(), txt() and serial() read from that primary."""
    c = Cluster(tmp_path, procs, start_server=False)
    primary = procs(primary_class(Path(tmp_path) / (getattr(primary_class, "name", None) or "knot"),
                                  c.rf.key_name, c.rf.key_algorithm, c.rf.key_secret,
                                  service_zone("svc.test.", "r1", "127.0.0.2")))
    primary.start()
    c.rf.failover_cfg["server"] = "127.0.0.1:%d" % primary.port
    c.rf.write_conf()
    c.rf.port = primary.port
    return c, primary


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2.0


def elapsed(t0):
    return time.monotonic() - t0


class DnsFaultProxy:
    """A DNS man-in-the-middle on 127.0.0.1 in front of the redisfo-dns
    server, for faults no signal can time: UDP queries and TCP messages
    are passed through, except that the first UPDATE that changes
    something (a check UPDATE, prerequisites only, and the switch lease's
    UPDATEs pass) is handled by
    mode:

    - "lose_reply": the UPDATE reaches the server (it is applied) but the
      reply never comes back, and the next `drop_after` UDP queries are
      dropped (a server that stalls right after applying it);
    - "hold": the UPDATE is kept back, unanswered, until release() sends
      it on (a late UPDATE, applied after the switch gave up on it);
    - "slow_reply": the UPDATE is applied at once and its reply sent
      `delay` seconds later (a slow link or a busy server);
    - "pass": nothing is done to it;
    - "unsigned_refused": the UPDATE never reaches the server and is
      answered REFUSED without a TSIG (PowerDNS's answer to a key it
      does not like).

    tcp="refuse" leaves TCP unbound (connections refused), tcp="close"
    reads each message and closes the connection without an answer,
    tcp="apply_close" does the same to an UPDATE that changes something
    after sending it on (applied, then the connection lost): UPDATEs then
    go over UDP, and udp_updates counts those seen there.
    """

    def __init__(self, upstream_port, mode, drop_after=0, delay=0.0, tcp="pass"):
        import socket
        import threading
        self.upstream = ("127.0.0.1", upstream_port)
        self.mode = mode
        self.drop_left = 0
        self.drop_after = drop_after
        self.delay = delay
        self.dropped = 0
        self.held = None
        self.updates = 0
        self.udp_updates = 0
        self.tcp_mode = tcp
        self.port = free_port("127.0.0.1")
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.udp.settimeout(0.1)
        self.tcp = None
        if tcp != "refuse":
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.tcp.bind(("127.0.0.1", self.port))
            self.tcp.listen(16)
            self.tcp.settimeout(0.1)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=f, daemon=True)
                         for f in (self._udp_loop, self._tcp_loop) if
                         f != self._tcp_loop or self.tcp is not None]
        for t in self._threads:
            t.start()

    def _udp_loop(self):
        import socket
        while not self._stop.is_set():
            try:
                data, peer = self.udp.recvfrom(65535)
            except socket.timeout:
                continue
            if self.drop_left > 0:
                self.drop_left -= 1
                self.dropped += 1
                continue
            if self._is_update(data):
                self.udp_updates += 1
                if self._changes(data) and self.updates == 0 \
                        and self.mode == "unsigned_refused":
                    self.updates += 1
                    self.udp.sendto(self.refused(data), peer)
                    continue
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as up:
                up.settimeout(2)
                up.sendto(data, self.upstream)
                try:
                    self.udp.sendto(up.recv(65535), peer)
                except socket.timeout:
                    pass

    @staticmethod
    def _is_update(msg):
        """An UPDATE, but not one of the switch lease's (_lock._redisfo.*):
        the faults are for the record's swap, the lease passes."""
        return len(msg) >= 12 and ((msg[2] >> 3) & 0xF) == 5 and \
            b"\x05_lock\x08_redisfo" not in msg

    @staticmethod
    def _changes(msg):
        """An UPDATE whose update section is not empty."""
        return int.from_bytes(msg[8:10], "big") > 0

    @staticmethod
    def refused(msg):
        """REFUSED to msg, its zone section copied, no TSIG."""
        end = 12
        while msg[end] != 0:                    # the zone's name, uncompressed
            end += 1 + msg[end]
        end += 1 + 4                            # root label, type, class
        flags = bytes([0x80 | (msg[2] & 0x78), 5])
        return msg[:2] + flags + b"\x00\x01" + b"\x00" * 6 + msg[12:end]

    @staticmethod
    def _read_msg(sock):
        hdr = recv_exact(sock, 2)
        return None if hdr is None else recv_exact(sock, int.from_bytes(hdr, "big"))

    def _exchange(self, msg):
        import socket
        with socket.create_connection(self.upstream, timeout=3) as up:
            up.sendall(len(msg).to_bytes(2, "big") + msg)
            return self._read_msg(up)

    def _tcp_loop(self):
        import socket
        import threading
        while not self._stop.is_set():
            try:
                conn, _ = self.tcp.accept()
            except socket.timeout:
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            conn.settimeout(5)
            try:
                msg = self._read_msg(conn)
            except OSError:
                return
            if msg is None:
                return
            if self.tcp_mode == "close":
                return
            is_update = self._is_update(msg) and self._changes(msg)
            if is_update and self.tcp_mode == "apply_close":
                self._exchange(msg)             # applied; the connection drops
                return
            if is_update and self.updates == 0 and self.mode != "pass":
                self.updates += 1
                if self.mode == "unsigned_refused":
                    reply = self.refused(msg)
                    conn.sendall(len(reply).to_bytes(2, "big") + reply)
                    return
                if self.mode == "slow_reply":
                    reply = self._exchange(msg)
                    time.sleep(self.delay)
                    try:
                        conn.sendall(len(reply).to_bytes(2, "big") + reply)
                    except OSError:
                        pass                    # the client gave up first
                    return
                if self.mode == "hold":
                    self.held = msg
                else:
                    self._exchange(msg)         # applied; the reply is lost
                    self.drop_left = self.drop_after
                try:                            # silent until the client gives up
                    while conn.recv(512):
                        pass
                except OSError:
                    pass
                return
            reply = self._exchange(msg)
            if reply is not None:
                conn.sendall(len(reply).to_bytes(2, "big") + reply)

    def release(self):
        """Send the held UPDATE on now; True when the server applied it."""
        reply = self._exchange(self.held)
        return reply is not None and (reply[3] & 0xF) == 0

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2)
        self.udp.close()
        if self.tcp is not None:
            self.tcp.close()
