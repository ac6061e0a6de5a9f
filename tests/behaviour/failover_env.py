"""failover_env.py - a Redis service of three real nodes behind a real server.

Used by the failover tests (switch, status, check, rejoin, dnsclient): it
starts r1 (master) on 127.0.0.2 and r2, r3 (its replicas) on 127.0.0.3 and
127.0.0.4 with random ports, a `redisfo-dns serve` whose zone names r1, and
reads the state back (roles, the record, the serial) so a test can show
that "nothing changed". It also runs Knot as an external primary with
dynamic updates allowed by the TSIG key, for `failover.server` pointing at
existing DNS.

Everything started is registered with the `procs` fixture, so it is
stopped whatever happens. Every wait is a bounded poll.
"""

import os
import shutil
import subprocess
import time
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype

from harness import (REDIS_SERVER, RedisNode, Redisfo, free_port, recv_exact,
                     wait_until, _stop_popen)

HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
NAMES = ("r1", "r2", "r3")


def zone_text(zone, primary_name, primary_addr, ttl=5, serial=1):
    return (
        "$ORIGIN %s\n"
        "@ 3600 IN SOA ns1 hostmaster %d 3600 600 86400 5\n"
        "@ 3600 IN NS ns1\n"
        "ns1 3600 IN A 127.0.0.1\n"
        "redis %d IN A %s\n"
        '_redisfo.redis %d IN TXT "primary=%s epoch=1 at=2026-01-01T00:00:00Z"\n'
        % (zone, serial, ttl, primary_addr, ttl, primary_name))


class Cluster:
    """Three Redis nodes (r1 master) and a redisfo-dns server naming r1."""

    def __init__(self, tmp_path, procs, failover=None, password=None,
                 start_server=True, dns_server=None, extra=(), node_conf=None,
                 bare=(), service_auth=None):
        self.tmp = Path(tmp_path)
        self.procs = procs
        self.nodes = {}
        master = None
        # One port on the three addresses: a client resolves the name and
        # connects to <address>:<port>, like a real one.
        self.port = free_port(HOSTS[0], also=HOSTS[1:])
        # full syncs start at once (the default waits 5 s for more replicas)
        extra = ["repl-diskless-sync-delay 0"] + list(extra)
        for name, host in zip(NAMES, HOSTS):
            cls = BareRedis if name in bare else RedisNode
            node = cls(self.tmp / name, host=host, port=self.port,
                       replicaof=master, password=password, extra=extra)
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
        self.rf = Redisfo(self.tmp / "rf", services=[svc], failover=fo,
                          zone_text=zone_text("svc.test.", "r1", HOSTS[0]))
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
        r = self.rf.query("svc.test.", "SOA")
        return [rr.serial for rrset in r.answer for rr in rrset][0]

    def snapshot(self):
        """What a refusal must leave as it was."""
        return {"roles": self.roles(), "record": self.record(),
                "serial": self.serial(), "txt": self.txt()}

    def snapshot_dns(self):
        """The record side only (for when a node is down)."""
        return {"record": self.record(), "serial": self.serial(), "txt": self.txt()}

    def switch(self, *args, timeout=60):
        return self.rf.run("switch", *args, timeout=timeout, input="")


class BareRedis(RedisNode):
    """A redis-server started with arguments only: no config file, so
    CONFIG REWRITE fails ("The server is running without a config file")."""

    def start(self, timeout=10.0):
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", self.host,
                "--dir", str(self.dir), "--save", "", "--appendonly", "no",
                "--protected-mode", "no", "--repl-diskless-sync-delay", "0"]
        if self.replicaof is not None:
            args += ["--replicaof", self.replicaof.host, str(self.replicaof.port)]
        logf = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(args, stdout=logf, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=str(self.dir))
        finally:
            logf.close()
        c = self.client(socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            wait_until(c.ping, timeout=timeout, what="bare redis-server %s" % self.host)
        finally:
            c.close()
        return self


class Knot:
    """knotd as an external primary for svc.test. with dynamic updates
    allowed by the given TSIG key, on 127.0.0.1 and a random port."""

    def __init__(self, tmpdir, key_name, key_algorithm, key_secret, zone_body):
        self.dir = Path(tmpdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port("127.0.0.1")
        (self.dir / "svc.test.zone").write_text(zone_body)
        (self.dir / "knot.conf").write_text(
            "server:\n"
            '    rundir: "%(d)s"\n'
            "    listen: 127.0.0.1@%(port)d\n"
            "log:\n"
            "  - target: stderr\n"
            "    any: info\n"
            "database:\n"
            '    storage: "%(d)s"\n'
            "control:\n"
            '    listen: "%(d)s/knot.sock"\n'
            "key:\n"
            "  - id: %(kn)s\n"
            "    algorithm: %(ka)s\n"
            "    secret: %(ks)s\n"
            "acl:\n"
            "  - id: update_acl\n"
            "    key: %(kn)s\n"
            "    action: update\n"
            "zone:\n"
            "  - domain: svc.test.\n"
            '    storage: "%(d)s"\n'
            '    file: "svc.test.zone"\n'
            "    acl: update_acl\n"
            % {"d": self.dir, "port": self.port, "kn": key_name,
               "ka": key_algorithm, "ks": key_secret})
        self.proc = None

    def start(self):
        knotd = shutil.which("knotd") or "/usr/sbin/knotd"
        self.log = open(self.dir / "knot.log", "wb")
        self.proc = subprocess.Popen([knotd, "-c", str(self.dir / "knot.conf")],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

        def answers():
            if self.proc.poll() is not None:
                raise AssertionError("knotd exited:\n" + self.logtext())
            q = dns.message.make_query("svc.test.", "SOA")
            r = dns.query.udp(q, "127.0.0.1", port=self.port, timeout=0.3)
            return len(r.answer) == 1
        wait_until(answers, timeout=15, what="knotd answering SOA")
        return self

    def logtext(self):
        try:
            return (self.dir / "knot.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def query(self, name, rdtype):
        q = dns.message.make_query(name, rdtype)
        return dns.query.udp(q, "127.0.0.1", port=self.port, timeout=2)

    def stop(self):
        if self.proc is not None:
            _stop_popen(self.proc)
            self.proc = None
        if getattr(self, "log", None):
            self.log.close()
            self.log = None


def knot_cluster(tmp_path, procs):
    """A Cluster whose switches send their UPDATEs and queries to a knotd
    primary holding the same zone (no redisfo-dns server started)."""
    c = Cluster(tmp_path, procs, start_server=False)
    knot = procs(Knot(Path(tmp_path) / "knot", c.rf.key_name, c.rf.key_algorithm,
                      c.rf.key_secret, zone_text("svc.test.", "r1", "127.0.0.2")))
    knot.start()
    c.rf.failover_cfg["server"] = "127.0.0.1:%d" % knot.port
    c.rf.write_conf()
    return c, knot


def have_knotd():
    return shutil.which("knotd") is not None or os.path.exists("/usr/sbin/knotd")


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2.0


def elapsed(t0):
    return time.monotonic() - t0


class DnsFaultProxy:
    """A DNS man-in-the-middle on 127.0.0.1 in front of the redisfo-dns
    server, for faults no signal can time: UDP queries and TCP messages
    are passed through, except that the first UPDATE is handled by mode:

    - "lose_reply": the UPDATE reaches the server (it is applied) but the
      reply never comes back, and the next `drop_after` UDP queries are
      dropped (a server that stalls right after applying it);
    - "hold": the UPDATE is kept back, unanswered, until release() sends
      it on (a late UPDATE, applied after the switch gave up on it);
    - "slow_reply": the UPDATE is applied at once and its reply sent
      `delay` seconds later (a slow link or a busy server).
    """

    def __init__(self, upstream_port, mode, drop_after=0, delay=0.0):
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
        self.port = free_port("127.0.0.1")
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.udp.settimeout(0.1)
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen(16)
        self.tcp.settimeout(0.1)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=f, daemon=True)
                         for f in (self._udp_loop, self._tcp_loop)]
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
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as up:
                up.settimeout(2)
                up.sendto(data, self.upstream)
                try:
                    self.udp.sendto(up.recv(65535), peer)
                except socket.timeout:
                    pass

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
            is_update = ((msg[2] >> 3) & 0xF) == 5
            if is_update and self.updates == 0:
                self.updates += 1
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
        self.tcp.close()
