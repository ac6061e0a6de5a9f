"""The sweep: after a planned switch a helper drops the clients that came
back to the old primary through a resolver cache still naming it.

A plain client (redis-py, no READONLY handling: it reconnects on
connection errors only, resolving the name again each time) resolves
through a real caching resolver, unbound, in front of the server. The
demote kills it, it reconnects at once, the cache still names the old
primary, and there it gets READONLY for every write. The sweep kills it
once the cache has expired; the test asserts it ends on the new primary
within 2 x TTL + 2 s of each switch, five switches back and forth, and
that a helper never touches a node that became primary again.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import dns.exception
import dns.resolver
import pytest
import redis

from confgen import service_zone
from failover_env import Cluster
from servers import free_port, stop_popen, wait_until

TTL = 2
UNBOUND = shutil.which("unbound") or "/usr/sbin/unbound"
NAME = "redis.svc.test."


class Unbound:
    """unbound as a caching resolver on a random loopback port, every
    query forwarded to the redisfo-dns server (nothing leaves loopback)."""

    def __init__(self, tmpdir, upstream_port):
        self.dir = tmpdir / "unbound"
        self.dir.mkdir()
        self.port = free_port("127.0.0.1")
        self.conf = self.dir / "unbound.conf"
        fwd = "127.0.0.1@%d" % upstream_port
        self.conf.write_text(
            "server:\n"
            "  interface: 127.0.0.1\n"
            "  port: %d\n"
            "  do-ip6: no\n"
            "  do-daemonize: no\n"
            "  username: \"\"\n"
            "  chroot: \"\"\n"
            "  directory: \"%s\"\n"
            "  pidfile: \"\"\n"
            "  use-syslog: no\n"
            "  logfile: \"\"\n"
            "  verbosity: 1\n"
            "  num-threads: 1\n"
            "  access-control: 127.0.0.0/8 allow\n"
            "  do-not-query-localhost: no\n"
            "  module-config: \"iterator\"\n"
            "  local-zone: \"test.\" nodefault\n"
            "  domain-insecure: \"svc.test.\"\n"
            "remote-control:\n"
            "  control-enable: no\n"
            "forward-zone:\n"
            "  name: \"svc.test.\"\n"
            "  forward-addr: %s\n"
            "forward-zone:\n"
            "  name: \".\"\n"
            "  forward-addr: %s\n" % (self.port, self.dir, fwd, fwd))
        self.proc = None

    def resolver(self):
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = ["127.0.0.1"]
        r.port = self.port
        r.cache = None
        r.lifetime = 2.0
        return r

    def start(self):
        self.log = open(self.dir / "unbound.log", "w")
        self.proc = subprocess.Popen([UNBOUND, "-d", "-c", str(self.conf)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        res = self.resolver()
        wait_until(lambda: self.proc.poll() is None and res.resolve(NAME, "A"),
                   timeout=10, what="unbound answering")

    def stop(self):
        if self.proc is not None:
            stop_popen(self.proc)
            self.log.close()


class Helper:
    """A sweep helper the switch left behind (not our child): stopped at
    teardown if it still runs."""

    def __init__(self, pid):
        self.pid = pid

    def alive(self):
        try:
            with open("/proc/%d/cmdline" % self.pid, "rb") as f:
                return b"redisfo-dns" in f.read()
        except OSError:
            return False

    def stop(self):
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
            wait_until(lambda: not self.alive(), timeout=5,
                       what="sweep helper %d gone" % self.pid)


class ResolvingConnection(redis.connection.Connection):
    """redis-py's connection to a host name, the name resolved through the
    caching resolver at each connect, as getaddrinfo would on a host whose
    resolv.conf names unbound."""

    def __init__(self, resolver=None, on_connect_addr=None, **kw):
        super().__init__(**kw)
        self.resolver = resolver
        self.on_connect_addr = on_connect_addr

    def _connect(self):
        addr = self.resolver.resolve(self.host, "A")[0].address
        sock = socket.create_connection((addr, self.port), self.socket_connect_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self.socket_timeout)
        self.on_connect_addr(addr)
        return sock


class PlainClient(threading.Thread):
    """A plain redis-py client of redis.svc.test. writing in a loop: redis-py
    reconnects (resolving again) on a dropped connection; READONLY is an
    error reply like any other, only recorded."""

    def __init__(self, resolver, port):
        super().__init__(daemon=True)
        self.addr = None
        pool = redis.ConnectionPool(connection_class=ResolvingConnection, host=NAME,
                                    port=port, socket_timeout=2, socket_connect_timeout=2,
                                    resolver=resolver, on_connect_addr=self.connected)
        self.r = redis.Redis(connection_pool=pool)
        self.events = []        # (monotonic, address, "ok" | "readonly")
        self.connects = 0
        self.done = threading.Event()
        self.error = None

    def connected(self, addr):
        self.addr = addr
        self.connects += 1

    def run(self):
        while not self.done.is_set():
            try:
                self.r.incr("sweep:writes")
                self.events.append((time.monotonic(), self.addr, "ok"))
            except redis.exceptions.ReadOnlyError:
                self.events.append((time.monotonic(), self.addr, "readonly"))
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                    dns.exception.DNSException):
                pass    # the next command connects again
            except Exception as exc:  # noqa: BLE001 - reported by the test
                self.error = exc
                return
            self.done.wait(0.005)   # a steady write rate, not a busy loop

    def stop(self):
        self.done.set()
        self.join(timeout=10)
        self.r.close()


def audit_sweeps(c):
    """The rounds the helpers ran (not the switch's own "scheduled" line)."""
    path = c.rf.dir / "redisfo-audit.log"
    return [x for x in (json.loads(line) for line in path.read_text().splitlines() if line)
            if x["step"] == "sweep" and x["detail"].startswith("round ")]


def run_switch(c, procs, target):
    r = c.switch("-y", "--to", target)
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r"^  sweep +[0-9.]+ ms  ok +scheduled at \+%d s and \+%d s after the "
                  r"demote, on r\d \(helper pid (\d+)\)$" % (TTL + 1, 2 * TTL + 1),
                  r.stdout, re.M)
    assert m, r.stdout
    procs(Helper(int(m.group(1))))
    return int(m.group(1))


@pytest.fixture
def swept(tmp_path, procs):
    if not os.access(UNBOUND, os.X_OK):
        pytest.skip("unbound is not installed")
    c = Cluster(tmp_path, procs, dns={"ttl": TTL}, start_server=False)
    c.rf.write_zone(service_zone("svc.test.", "r1", c.nodes["r1"].host, ttl=TTL))
    c.rf.start()
    ub = procs(Unbound(tmp_path, c.rf.port))
    ub.start()
    return c, ub


def test_plain_client_ends_on_new_primary_after_each_switch(swept, procs):
    c, ub = swept
    client = PlainClient(ub.resolver(), c.port)
    procs(client)
    client.start()
    wait_until(lambda: any(e[2] == "ok" for e in client.events), timeout=10,
               what="the client writing")
    stale_switches = 0
    cur = "r1"
    for i in range(5):
        target = "r2" if cur == "r1" else "r1"
        new_addr = c.nodes[target].host
        # the resolver has the record fresh in its cache, as a busy one would
        ub.resolver().resolve(NAME, "A")
        t0 = time.monotonic()
        run_switch(c, procs, target)
        deadline = t0 + 2 * TTL + 2
        # watch a little past the deadline: the client must stay put
        wait_until(lambda: client.events[-1][0] > deadline + 1.0 or client.error,
                   timeout=2 * TTL + 10, what="the client writing past the deadline")
        assert client.error is None, client.error
        after = [e for e in client.events if e[0] > t0]
        if any(e[1] != new_addr and e[2] == "readonly" for e in after):
            stale_switches += 1
        off = [e for e in after if e[1] != new_addr or e[2] != "ok"]
        last_off = off[-1][0] - t0 if off else 0.0
        assert last_off <= 2 * TTL + 2, \
            "switch %d to %s: the client was still off the new primary %.2f s after " \
            "the switch (last: %s)" % (i + 1, target, last_off, off[-1])
        assert any(e[1] == new_addr and e[2] == "ok" for e in after)
        print("switch %d to %s: on the new primary for good %.2f s after the switch "
              "started%s" % (i + 1, target, last_off,
                             " (READONLY on the old one until then)" if off else ""))
        cur = target
        c.wait_links(master=cur)
    client.stop()
    assert client.error is None, client.error
    # the cache did send the client back to the old primary, and the sweep
    # is what moved it
    assert stale_switches >= 1, "the resolver never sent the client to the old primary"
    sweeps = audit_sweeps(c)
    assert sweeps and all(s["result"] in ("ok", "skipped") for s in sweeps), sweeps
    killed = [int(re.search(r": (\d+) clients that connected after the switch killed",
                            s["detail"]).group(1)) for s in sweeps if s["result"] == "ok"]
    assert sum(killed) >= stale_switches, sweeps


def test_helper_leaves_a_node_that_is_primary_again_alone(swept, procs):
    """Switched away and straight back: the first helper finds its old
    primary is the primary again and kills nobody there."""
    c, ub = swept
    pid1 = run_switch(c, procs, "r2")
    c.wait_links(master="r2")
    t_back = time.monotonic()
    run_switch(c, procs, "r1")
    assert time.monotonic() - t_back < TTL + 1, "too slow to beat the first sweep"
    # a client of r1, the primary again, connected after both switches
    r1 = redis.Redis(host=c.nodes["r1"].host, port=c.port, socket_timeout=2)
    r1.client_setname("keepme")
    r1.set("sweep:k", "v")
    helper1 = Helper(pid1)
    wait_until(lambda: not helper1.alive(), timeout=2 * TTL + 10,
               what="the first helper done")
    rounds = [s for s in audit_sweeps(c) if s["from"] == "r1" and s["to"] == "r2"]
    assert len(rounds) == 2, rounds
    assert all(s["result"] == "skipped" and "r1 not swept: it is master" in s["detail"]
               for s in rounds), rounds
    # still connected: the same connection answers
    assert r1.set("sweep:k", "w")
    names = [cl.get("name") for cl in r1.client_list()]
    assert "keepme" in names


def test_without_sweep_the_client_stays_on_the_old_primary(swept, procs):
    """The control: failover.sweep = false leaves no helper, and the same
    client, sent back to the old primary by the cache, gets READONLY there
    long after every cache has expired."""
    c, ub = swept
    c.rf.failover_cfg["sweep"] = False
    c.rf.write_conf()
    client = procs(PlainClient(ub.resolver(), c.port))
    client.start()
    wait_until(lambda: any(e[2] == "ok" for e in client.events), timeout=10,
               what="the client writing")
    ub.resolver().resolve(NAME, "A")
    t0 = time.monotonic()
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"^  sweep +[0-9.]+ ms  ok +off \(failover.sweep\)$", r.stdout, re.M), \
        r.stdout
    assert "helper pid" not in r.stdout
    deadline = t0 + 2 * TTL + 2
    wait_until(lambda: client.events[-1][0] > deadline + 1.0 or client.error,
               timeout=2 * TTL + 10, what="the client writing past the deadline")
    assert client.error is None, client.error
    last = client.events[-1]
    assert last[1] == c.nodes["r1"].host and last[2] == "readonly", last
    assert audit_sweeps(c) == []


def test_killed_helper_breaks_nothing(swept, procs):
    """SIGKILL the helper: no sweep happens, and the next switch runs."""
    c, ub = swept
    pid = run_switch(c, procs, "r2")
    helper = Helper(pid)
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not helper.alive(), timeout=5, what="the helper gone")
    c.wait_links(master="r2")
    run_switch(c, procs, "r1")
    assert c.roles()["r1"] == "master"
    assert not [s for s in audit_sweeps(c) if s["to"] == "r2"]


def raw_client(host, port, *commands):
    """A connection that sends inline commands and reads each reply's first
    line (enough for +OK and a SUBSCRIBE's or MONITOR's first answer)."""
    s = socket.create_connection((host, port), timeout=5)
    f = s.makefile("rb")
    for cmd in commands:
        s.sendall(cmd.encode() + b"\r\n")
        line = f.readline()
        assert line and not line.startswith(b"-"), (cmd, line)
    return s, f


def alive(conn):
    """The server has not closed it: a PING still gets an answer (a
    subscriber answers PING too, MONITOR sees it as +OK then the log)."""
    s, f = conn
    try:
        s.sendall(b"PING\r\n")
        return bool(f.readline())
    except OSError:
        return False


def test_sweep_spares_subscribers_and_monitors(swept, procs):
    """On the old primary after the switch: a plain client is swept, a
    Pub/Sub subscriber and a MONITOR connected just as late are not."""
    c, ub = swept
    run_switch(c, procs, "r2")
    host = c.nodes["r1"].host
    young = raw_client(host, c.port, "CLIENT SETNAME young", "GET sweep:x")
    sub = raw_client(host, c.port, "CLIENT SETNAME sub", "SUBSCRIBE sweep:ch")
    mon = raw_client(host, c.port, "CLIENT SETNAME mon", "MONITOR")
    try:
        round1 = wait_until(lambda: [s for s in audit_sweeps(c)
                                     if s["from"] == "r1" and s["detail"].startswith("round 1")],
                            timeout=2 * TTL + 10, what="the first round")
        assert round1[0]["result"] == "ok", round1
        assert re.search(r": [1-9]\d* clients that connected after the switch killed",
                         round1[0]["detail"]), round1
        assert not alive(young)
        assert alive(sub) and alive(mon)
    finally:
        for s, f in (young, sub, mon):
            f.close()
            s.close()
