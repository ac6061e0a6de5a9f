"""test_sdnotify.py - `serve` speaks systemd's notify protocol (Type=notify).

With NOTIFY_SOCKET naming an AF_UNIX datagram socket the test binds, the
server sends READY=1 once it answers (a query sent the moment READY=1
arrives is answered, over UDP and TCP, and so is a scrape of the metrics
endpoint when there is one), RELOADING=1 and then READY=1 around
a SIGHUP reload (the new zone is served by the time READY=1 comes), and
READY=1 too after a reload that fails (the old zone is still served), and
STOPPING=1 on SIGTERM before it exits 0. Every datagram comes from the
server's own PID, the one systemd's default NotifyAccess=main listens to.
A NOTIFY_SOCKET nobody listens on changes nothing.

Datagrams are newline-separated KEY=VALUE fields; other fields (STATUS=,
MONOTONIC_USEC=) may ride along, so tests look for the field, not the
whole datagram.
"""

import http.client
import os
import signal
import socket
import struct
import subprocess
import tempfile
import time

import dns.exception
import dns.rcode
import dns.rdatatype

from servers import Redisfo, free_port, wait_until

ZONE = """$ORIGIN svc.test.
$TTL 300
@        30 IN SOA ns1.svc.test. hostmaster.svc.test. {serial} 3600 600 86400 600
@        30 IN NS  ns1.svc.test.
ns1         IN A   127.0.0.1
redis     5 IN A   {redis}
"""


def zone(serial=7, redis="127.0.0.2", extra=""):
    return ZONE.format(serial=serial, redis=redis) + extra


class NotifyListener:
    """The systemd end: a bound AF_UNIX datagram socket that reads the
    sender's credentials (SO_PASSCRED) with every message."""

    def __init__(self):
        # a short folder of its own: sun_path holds 108 bytes, and
        # pytest's tmp_path can be longer than that
        self.dir = tempfile.mkdtemp(prefix="sdn-", dir="/tmp")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(self.path)
        self.messages = []          # every Message received, in order

    def recv(self, timeout):
        """The next message within timeout seconds, or None."""
        if timeout <= 0:
            return None
        self.sock.settimeout(timeout)
        try:
            data, anc, _flags, _addr = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            return None
        pid = None
        for level, kind, cdata in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", cdata[:12])[0]
        m = Message(data, pid, time.monotonic())
        self.messages.append(m)
        return m

    def wait_for(self, field, value, timeout=10.0, proc=None):
        """Read until a message holds field=value; the messages read on the
        way, that one last. Fails at the deadline, or when proc exits
        without having sent it."""
        deadline = time.monotonic() + timeout
        got = []
        while True:
            left = deadline - time.monotonic()
            m = self.recv(min(left, 0.2))
            if m is not None:
                got.append(m)
                if m.has(field, value):
                    return got
                continue
            if proc is not None and proc.poll() is not None:
                # whatever it sent before exiting is queued already
                m = self.recv(0.01)
                while m is not None:
                    got.append(m)
                    if m.has(field, value):
                        return got
                    m = self.recv(0.01)
                raise AssertionError("the server exited (%s) without sending %s=%s; got %r"
                                     % (proc.returncode, field, value, got))
            if left <= 0:
                raise AssertionError("no %s=%s within %.1fs; got %r" % (field, value, timeout, got))

    def stop(self):
        self.sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        os.rmdir(self.dir)


class Message:
    def __init__(self, data, pid, when):
        self.data = data
        self.pid = pid
        self.when = when
        self.fields = []
        for line in data.decode("utf-8", "replace").split("\n"):
            if line:
                k, sep, v = line.partition("=")
                assert sep, "not a KEY=VALUE line: %r in %r" % (line, data)
                self.fields.append((k, v))

    def has(self, field, value):
        return (field, value) in self.fields

    def get(self, field):
        return [v for k, v in self.fields if k == field]

    def __repr__(self):
        return "<pid %s %r>" % (self.pid, self.data)


def launch(srv):
    """Start `serve` without waiting for it to answer: READY=1 is what
    tells when it does."""
    logf = open(srv.log_path, "ab")
    try:
        srv.proc = subprocess.Popen([str(srv.binary), "-c", str(srv.conf_path), "serve"],
                                    stdout=logf, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, cwd=str(srv.dir), env=srv.env)
    finally:
        logf.close()
    return srv


def notified_server(tmp_path, procs, zone_text=None, dns=None):
    """(listener, server not started) with NOTIFY_SOCKET pointing at it."""
    listener = procs.add(NotifyListener())       # stopped after the server
    srv = procs.add(Redisfo(tmp_path, zone_text=zone() if zone_text is None else zone_text,
                            env={"NOTIFY_SOCKET": listener.path}, dns=dns))
    return listener, srv


def redis_a(srv, tcp=False):
    r = srv.query("redis.svc.test.", "A", tcp=tcp, timeout=1)
    assert r.rcode() == dns.rcode.NOERROR, r
    return sorted(rd.address for rrset in r.answer if rrset.rdtype == dns.rdatatype.A
                  for rd in rrset)


def serial(srv):
    return srv.query("svc.test.", "SOA", timeout=1).answer[0][0].serial


def assert_from_server(msgs, srv):
    for m in msgs:
        assert m.pid == srv.proc.pid, (
            "%r came from pid %s, not the server's %d: systemd (NotifyAccess=main) "
            "would ignore it" % (m, m.pid, srv.proc.pid))


def start_ready(listener, srv):
    launch(srv)
    try:
        msgs = listener.wait_for("READY", "1", timeout=10, proc=srv.proc)
    except AssertionError as exc:
        raise AssertionError("%s\n--- server log ---\n%s" % (exc, srv.log())) from None
    return msgs


def reload_cycle(listener, srv, timeout=10.0):
    """SIGHUP, then the messages up to READY=1; asserts RELOADING=1 came
    first. Returns (messages, monotonic µs before the signal, after READY)."""
    before_us = time.monotonic_ns() // 1000
    srv.signal(signal.SIGHUP)
    msgs = listener.wait_for("READY", "1", timeout=timeout, proc=srv.proc)
    after_us = time.monotonic_ns() // 1000
    reloading = [i for i, m in enumerate(msgs) if m.has("RELOADING", "1")]
    assert reloading and reloading[0] < len(msgs) - 1, (
        "READY=1 after SIGHUP without RELOADING=1 before it: %r" % msgs)
    assert not any(m.has("STOPPING", "1") for m in msgs), msgs
    assert_from_server(msgs, srv)
    # systemd (Type=notify-reload) wants MONOTONIC_USEC with RELOADING=1;
    # when it is there it must be the time of this reload
    for m in msgs:
        for v in m.get("MONOTONIC_USEC"):
            assert v.isdigit() and before_us <= int(v) <= after_us, (
                "MONOTONIC_USEC=%s is not between %d and %d" % (v, before_us, after_us))
    return msgs


# ------------------------------------------------------------------ tests

def test_ready_once_answering(tmp_path, procs):
    # enough names that loading takes a while: a READY=1 sent before the
    # zone is served would be caught in that window
    bulk = "".join("h%05d IN A 192.0.2.%d\n" % (i, i % 250 + 1) for i in range(40000))
    listener, srv = notified_server(tmp_path, procs, zone_text=zone(extra=bulk))
    msgs = start_ready(listener, srv)
    # asked the moment READY=1 arrives, no retry: it must answer already
    try:
        assert redis_a(srv) == ["127.0.0.2"], srv.log()
    except dns.exception.Timeout:
        raise AssertionError("no answer right after READY=1: sent before serving?\n"
                             + srv.log()) from None
    assert redis_a(srv, tcp=True) == ["127.0.0.2"], srv.log()
    assert serial(srv) == 7
    r = srv.query("h39999.svc.test.", "A", timeout=1)
    assert r.rcode() == dns.rcode.NOERROR and r.answer, r
    assert_from_server(msgs, srv)
    assert not any(m.has("RELOADING", "1") or m.has("STOPPING", "1") for m in msgs), msgs
    assert srv.running()


def test_ready_once_metrics_listen(tmp_path, procs):
    """The metrics endpoint is one of the sockets READY=1 waits for: a
    scrape sent the moment READY=1 arrives is answered."""
    mport = free_port("127.0.0.1")
    listener, srv = notified_server(tmp_path, procs,
                                    dns={"metrics_listen": "127.0.0.1:%d" % mport})
    start_ready(listener, srv)
    conn = http.client.HTTPConnection("127.0.0.1", mport, timeout=3)
    try:
        conn.request("GET", "/metrics")
        resp = conn.getresponse()
        body = resp.read().decode()
    except ConnectionRefusedError:
        raise AssertionError("READY=1 came before the metrics endpoint listened") from None
    finally:
        conn.close()
    assert resp.status == 200 and "redisfo_dns_zone_serial 7\n" in body, body


def test_reload_sends_reloading_then_ready(tmp_path, procs):
    listener, srv = notified_server(tmp_path, procs)
    start_ready(listener, srv)
    for n, addr in ((8, "127.0.0.3"), (9, "127.0.0.4")):
        srv.write_zone(zone(n, addr, "new%d IN A 192.0.2.%d\n" % (n, n)))
        reload_cycle(listener, srv)
        # READY=1 means the reload is done: the new zone is served at once
        assert serial(srv) == n, "READY=1 came before the reloaded zone was served"
        assert redis_a(srv) == [addr]
        r = srv.query("new%d.svc.test." % n, "A", timeout=1)
        assert r.rcode() == dns.rcode.NOERROR and r.answer, r
    assert srv.running()


def test_failed_reload_ends_ready(tmp_path, procs):
    listener, srv = notified_server(tmp_path, procs)
    start_ready(listener, srv)
    srv.write_zone(zone(8, "127.0.0.3", "broken IN A not-an-address\n"))
    reload_cycle(listener, srv)
    assert srv.running(), "the server died on a broken zone:\n" + srv.log()
    # the old zone keeps being served
    assert serial(srv) == 7
    assert redis_a(srv) == ["127.0.0.2"]
    assert redis_a(srv, tcp=True) == ["127.0.0.2"]
    # and once fixed, the next reload goes through the same way
    srv.write_zone(zone(9, "127.0.0.4"))
    reload_cycle(listener, srv)
    assert serial(srv) == 9 and redis_a(srv) == ["127.0.0.4"]


def test_stopping_on_sigterm(tmp_path, procs):
    listener, srv = notified_server(tmp_path, procs)
    start_ready(listener, srv)
    srv.signal(signal.SIGTERM)
    msgs = listener.wait_for("STOPPING", "1", timeout=10, proc=srv.proc)
    assert_from_server(msgs, srv)
    assert not any(m.has("READY", "1") for m in msgs), "READY=1 while stopping: %r" % msgs
    rc = srv.proc.wait(timeout=10)
    assert rc == 0, "exit %d on SIGTERM:\n%s" % (rc, srv.log())


def test_notify_socket_nobody_listens(tmp_path, procs):
    """A NOTIFY_SOCKET that is gone (a stale variable, systemd restarted)
    must not stop the server from starting, reloading or stopping."""
    gone = tempfile.mkdtemp(prefix="sdn-", dir="/tmp")
    try:
        srv = procs.add(Redisfo(tmp_path, zone_text=zone(),
                                env={"NOTIFY_SOCKET": os.path.join(gone, "notify")}))
        srv.start()
        assert redis_a(srv) == ["127.0.0.2"]
        srv.write_zone(zone(8, "127.0.0.3"))
        srv.signal(signal.SIGHUP)
        wait_until(lambda: serial(srv) == 8, timeout=10, what="the reload")
        assert srv.running()
        assert srv.stop() == 0, srv.log()
    finally:
        os.rmdir(gone)
