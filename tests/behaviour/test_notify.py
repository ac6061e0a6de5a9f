"""test_notify.py - RFC 1996 NOTIFY to secondaries, and a real NSD secondary.

A stand-in secondary (a UDP socket) sees a well-formed NOTIFY, carrying the
new SOA, after each change, retried about a second later while it does not answer, and no more
once it answers. A real NSD (and a real knotd), started on its own loopback port with a
generated config, transfers the zone from the server and, after an UPDATE,
serves the new record within 2 seconds: its refresh timer is an hour, so
only the NOTIFY can explain it. After its first AXFR it asks for IXFR and
gets each change alone. `status` shows each secondary's serial.
"""

import json
import re
import shutil
import socket
import subprocess
import time

import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.update
import pytest

import harness

ZONE = """$ORIGIN svc.test.
$TTL 300
@        30 IN SOA ns1.svc.test. hostmaster.svc.test. 7 3600 600 86400 600
@        30 IN NS  ns1.svc.test.
ns1         IN A   127.0.0.1
redis     5 IN A   127.0.0.2
""" + "".join("txt%d IN TXT \"enough records that one change is less than the zone\"\n" % i
              for i in range(8))


def do_update(srv, addr):
    u = dns.update.UpdateMessage("svc.test.", keyring=dns.tsig.Key(srv.key_name, srv.key_secret,
                                                                    srv.key_algorithm))
    u.replace("redis", 5, "A", addr)
    r = dns.query.udp(u, "127.0.0.1", port=srv.port, timeout=3)
    assert r.rcode() == dns.rcode.NOERROR
    return time.monotonic()


def recv_notify(sock, timeout):
    """The next NOTIFY on sock within timeout seconds: (message, peer) or None."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            wire, peer = sock.recvfrom(65535)
        except socket.timeout:
            return None
        m = dns.message.from_wire(wire)
        if m.opcode() == dns.opcode.NOTIFY:
            return m, peer, time.monotonic()


def answer(sock, m, peer):
    r = dns.message.make_response(m)
    sock.sendto(r.to_wire(), peer)


@pytest.mark.parametrize("family", ["v4", "v6"])
def test_notify_sent_retried_and_stopped(tmp_path, procs, family):
    if family == "v6" and not harness.HAVE_IPV6:
        pytest.skip("no IPv6 loopback")
    host = "::1" if family == "v6" else "127.0.0.1"
    sec = socket.socket(socket.AF_INET6 if family == "v6" else socket.AF_INET, socket.SOCK_DGRAM)
    sec.bind((host, 0))
    port = sec.getsockname()[1]
    target = "[::1]:%d" % port if family == "v6" else "127.0.0.1:%d" % port
    try:
        s = procs.add(harness.Redisfo(tmp_path, zone_text=ZONE, dns={"notify": [target]}))
        s.start()
        # Drain what startup sent (answering it), then change the zone.
        while True:
            got = recv_notify(sec, 0.3)
            if got is None:
                break
            answer(sec, got[0], got[1])
        t0 = do_update(s, "127.0.0.3")
        got = recv_notify(sec, 2)
        assert got is not None, "no NOTIFY after an update"
        m, peer, t1 = got
        assert t1 - t0 < 1.0
        assert m.flags & dns.flags.AA
        assert not m.flags & dns.flags.QR
        assert len(m.question) == 1
        assert m.question[0].name.to_text().lower() == "svc.test."
        assert m.question[0].rdtype == dns.rdatatype.SOA
        # The new SOA rides along (RFC 1996 3.7), so the secondary knows it is behind.
        serial = s.query("svc.test.", "SOA").answer[0][0].serial
        assert [(r.rdtype, r[0].serial) for r in m.answer] == [(dns.rdatatype.SOA, serial)]
        # Not answered: the same NOTIFY again about a second later.
        got = recv_notify(sec, 3)
        assert got is not None, "NOTIFY not retried"
        m2, peer2, t2 = got
        assert m2.id == m.id
        assert 0.7 < t2 - t1 < 2.5
        # Answered: no more tries (the next would come 2 s later).
        answer(sec, m2, peer2)
        assert recv_notify(sec, 3.0) is None
        # A new change notifies again, with a new round.
        do_update(s, "127.0.0.4")
        got = recv_notify(sec, 2)
        assert got is not None
        answer(sec, got[0], got[1])
    finally:
        sec.close()


NSD_CONF = """server:
    ip-address: 127.0.0.1@{port}
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "{dir}"
    pidfile: "{dir}/nsd.pid"
    database: ""
    xfrdfile: "{dir}/xfrd.state"
    xfrdir: "{dir}"
    zonelistfile: "{dir}/zone.list"
    logfile: "{dir}/nsd.log"
    server-count: 1
    verbosity: 2
    xfrd-reload-timeout: 0
    hide-version: yes
remote-control:
    control-enable: no
zone:
    name: "svc.test."
    zonefile: "svc.test.zone"
    request-xfr: 127.0.0.1@{primary} NOKEY
    allow-notify: 127.0.0.1 NOKEY
"""


class Nsd:
    """nsd as a secondary of the server, on its own port, config in tmpdir."""

    def __init__(self, tmpdir):
        self.dir = tmpdir / "nsd"
        self.dir.mkdir()
        self.port = harness.free_port("127.0.0.1")
        self.proc = None

    def configure(self, primary_port):
        (self.dir / "nsd.conf").write_text(NSD_CONF.format(port=self.port, dir=self.dir,
                                                           primary=primary_port))

    def start(self):
        self.proc = subprocess.Popen(["nsd", "-d", "-c", str(self.dir / "nsd.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL)
        return self

    def log(self):
        try:
            return (self.dir / "nsd.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def a(self):
        q = dns.message.make_query("redis.svc.test.", "A")
        r = dns.query.udp(q, "127.0.0.1", port=self.port, timeout=0.3)
        return sorted(rd.to_text() for rrset in r.answer for rd in rrset)

    def stop(self):
        if self.proc is not None:
            harness._stop_popen(self.proc)


KNOT_CONF = """server:
    rundir: "{dir}"
    listen: 127.0.0.1@{port}
log:
  - target: "{dir}/knot.log"
    any: info
database:
    storage: "{dir}"
remote:
  - id: primary
    address: 127.0.0.1@{primary}
acl:
  - id: notify_from_primary
    address: 127.0.0.1
    action: notify
zone:
  - domain: svc.test.
    master: primary
    acl: notify_from_primary
    storage: "{dir}"
    zonefile-sync: -1
    journal-content: none
"""


class Knot(Nsd):
    """knotd as the secondary (same interface as Nsd)."""

    def __init__(self, tmpdir):
        self.dir = tmpdir / "knot"
        self.dir.mkdir()
        self.port = harness.free_port("127.0.0.1")
        self.proc = None

    def configure(self, primary_port):
        (self.dir / "knot.conf").write_text(KNOT_CONF.format(port=self.port, dir=self.dir,
                                                             primary=primary_port))

    def start(self):
        self.proc = subprocess.Popen(["knotd", "-c", str(self.dir / "knot.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL)
        return self

    def log(self):
        try:
            return (self.dir / "knot.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""


@pytest.mark.parametrize("kind", ["nsd", "knotd"])
def test_secondary_follows_updates(tmp_path, procs, kind):
    if shutil.which(kind) is None:
        pytest.skip("%s not installed" % kind)
    sec = (Nsd if kind == "nsd" else Knot)(tmp_path)
    s = procs.add(harness.Redisfo(tmp_path, zone_text=ZONE,
                                  dns={"notify": ["127.0.0.1:%d" % sec.port],
                                       "allow_transfer": ["127.0.0.1"]}))
    sec.configure(s.port)
    s.start()
    procs.add(sec)
    sec.start()

    def serves(addr):
        return lambda: sec.proc.poll() is None and sec.a() == [addr]
    harness.wait_until(serves("127.0.0.2"), timeout=15,
                       what="%s to transfer the zone\n%s" % (kind, sec.log()))
    delays = []
    for i, addr in enumerate(["127.0.0.3", "127.0.0.4", "127.0.0.5"]):
        t0 = do_update(s, addr)
        harness.wait_until(serves(addr), timeout=2.0, interval=0.01,
                           what="%s to serve %s within 2 s of the UPDATE (%s)" % (kind, addr, sec.log()[-800:]))
        delays.append(time.monotonic() - t0)
    print("\nFIGURE %s secondary serves the update after %s ms"
          % (kind, ", ".join("%.0f" % (d * 1000) for d in delays)))
    assert max(delays) < 2.0
    # After its first AXFR, the secondary asks for IXFR and gets the change alone;
    # the SOA in the NOTIFY told it the serial.
    assert re.search(r"IXFR to 127\.0\.0\.1:\d+: 1 change up to serial", s.log()), s.log()
    if kind == "knotd":
        assert not re.search(r"notify, incoming.*serial none", sec.log()), sec.log()


def test_status_shows_each_secondary(tmp_path, procs):
    """`status` asks each dns.notify target for the zone's serial: a real NSD
    secondary is in sync after an UPDATE, one serving an older serial is
    behind, one that does not answer says why; none changes the verdict."""
    if shutil.which("nsd") is None:
        pytest.skip("nsd not installed")
    sec = Nsd(tmp_path)
    stale = procs.add(harness.Redisfo(tmp_path / "stale", zone_text=ZONE))
    dead = harness.free_port("127.0.0.1")
    targets = ["127.0.0.1:%d" % p for p in (sec.port, stale.port, dead)]
    s = procs.add(harness.Redisfo(tmp_path, zone_text=ZONE,
                                  dns={"notify": targets, "allow_transfer": ["127.0.0.1"]},
                                  failover={"probe_timeout_ms": 300}))
    sec.configure(s.port)
    stale.start()
    s.start()
    procs.add(sec)
    sec.start()
    before = json.loads(s.run("status", "--json").stdout)
    do_update(s, "127.0.0.3")
    harness.wait_until(lambda: sec.proc.poll() is None and sec.a() == ["127.0.0.3"],
                       timeout=15, what="nsd to take the update\n%s" % sec.log())
    serial = s.query("svc.test.", "SOA").answer[0][0].serial
    r = s.run("status", "--json")
    st = json.loads(r.stdout)
    assert st["secondaries"][:2] == [
        {"address": targets[0], "serial": serial, "sync": "in sync", "error": None},
        {"address": targets[1], "serial": serial - 1, "sync": "behind", "error": None}], r.stdout
    assert st["secondaries"][2]["address"] == targets[2]
    assert st["secondaries"][2]["serial"] is None and st["secondaries"][2]["error"]
    assert st["verdict"] == before["verdict"]
    r = s.run("status")
    assert "secondary %s: serial %d, in sync" % (targets[0], serial) in r.stdout, r.stdout
    assert "secondary %s: serial %d, behind" % (targets[1], serial - 1) in r.stdout, r.stdout
    assert "secondary %s: " % targets[2] in r.stdout
