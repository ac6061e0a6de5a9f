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
import time

import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from confgen import TEST_ZONE_LOW_SOA_TTL
from dnstools import HAVE_IPV6
from servers import KnotSecondary, NsdSecondary, Redisfo, free_port, wait_until

# The small zone (serial 7, redis A 127.0.0.2) and enough other records
# that one change is less than the zone.
ZONE = TEST_ZONE_LOW_SOA_TTL + "".join(
    "txt%d IN TXT \"enough records that one change is less than the zone\"\n" % i
    for i in range(8))


def do_update(srv, addr):
    u = srv.update_message()
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
    if family == "v6" and not HAVE_IPV6:
        pytest.skip("no IPv6 loopback")
    host = "::1" if family == "v6" else "127.0.0.1"
    sec = socket.socket(socket.AF_INET6 if family == "v6" else socket.AF_INET, socket.SOCK_DGRAM)
    sec.bind((host, 0))
    port = sec.getsockname()[1]
    target = "[::1]:%d" % port if family == "v6" else "127.0.0.1:%d" % port
    try:
        s = procs.add(Redisfo(tmp_path, zone_text=ZONE, dns={"notify": [target]}))
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


@pytest.mark.parametrize("kind", ["nsd", "knotd"])
def test_secondary_follows_updates(tmp_path, procs, kind):
    if shutil.which(kind) is None:
        pytest.skip("%s not installed" % kind)
    sec = (NsdSecondary if kind == "nsd" else KnotSecondary)(tmp_path)
    s = procs.add(Redisfo(tmp_path, zone_text=ZONE,
                          dns={"notify": ["127.0.0.1:%d" % sec.port],
                               "allow_transfer": ["127.0.0.1"]}))
    sec.configure(s.port)
    s.start()
    procs.add(sec)
    sec.start()

    def serves(addr):
        return lambda: sec.proc.poll() is None and sec.a() == [addr]
    wait_until(serves("127.0.0.2"), timeout=15,
               what="%s to transfer the zone\n%s" % (kind, sec.log()))
    delays = []
    for i, addr in enumerate(["127.0.0.3", "127.0.0.4", "127.0.0.5"]):
        t0 = do_update(s, addr)
        wait_until(serves(addr), timeout=2.0, interval=0.01,
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
    sec = NsdSecondary(tmp_path)
    stale = procs.add(Redisfo(tmp_path / "stale", zone_text=ZONE))
    dead = free_port("127.0.0.1")
    targets = ["127.0.0.1:%d" % p for p in (sec.port, stale.port, dead)]
    s = procs.add(Redisfo(tmp_path, zone_text=ZONE,
                          dns={"notify": targets, "allow_transfer": ["127.0.0.1"]},
                          failover={"probe_timeout_ms": 300}))
    sec.configure(s.port)
    stale.start()
    s.start()
    procs.add(sec)
    sec.start()
    before = json.loads(s.run("status", "--json").stdout)
    do_update(s, "127.0.0.3")
    wait_until(lambda: sec.proc.poll() is None and sec.a() == ["127.0.0.3"],
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


def stand_in_secondary():
    sec = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sec.bind(("127.0.0.1", 0))
    return sec, sec.getsockname()[1]


def first_notify(sec, timeout=3):
    got = recv_notify(sec, timeout)
    assert got is not None, "no NOTIFY"
    return got


@pytest.mark.parametrize("source", [None, "127.0.0.5"])
def test_notify_leaves_from_the_address_secondaries_know(tmp_path, procs, source):
    """Listening on 127.0.0.3 only, NOTIFY to a secondary on 127.0.0.1
    leaves from 127.0.0.3 (the kernel alone would pick 127.0.0.1), or from
    dns.notify_source when it is set; a REFUSED answer is logged by name."""
    sec, port = stand_in_secondary()
    try:
        dns_cfg = {"listen": ["127.0.0.3:%d" % free_port("127.0.0.3")],
                   "notify": ["127.0.0.1:%d" % port]}
        if source:
            dns_cfg["notify_source"] = [source]
        s = procs.add(Redisfo(tmp_path, zone_text=ZONE, dns=dns_cfg))
        s.start()
        m, peer, _ = first_notify(sec)
        assert peer[0] == (source or "127.0.0.3")
        r = dns.message.make_response(m)
        r.set_rcode(dns.rcode.REFUSED)
        sec.sendto(r.to_wire(), peer)
        wait_until(lambda: re.search(r"notify 127\.0\.0\.1:%d: answered REFUSED: it does "
                                     r"not take a NOTIFY from this server's address" % port,
                                     s.log()), timeout=3, what="REFUSED in the log")
        assert "answered rcode" not in s.log()
    finally:
        sec.close()


def test_notify_source_that_cannot_be_used_is_reported(tmp_path, procs):
    """An address not on this host: serve says so and sends no NOTIFY
    rather than one from an address the secondary would refuse; two
    addresses of one family are a config error."""
    sec, port = stand_in_secondary()
    try:
        s = procs.add(Redisfo(tmp_path, zone_text=ZONE,
                              dns={"notify": ["127.0.0.1:%d" % port],
                                   "notify_source": ["192.0.2.1"]}))
        s.start()
        wait_until(lambda: "cannot send NOTIFY from 192.0.2.1 (dns.notify_source)"
                   in s.log(), timeout=3, what="the error in the log")
        assert recv_notify(sec, 0.5) is None
        s.stop()
        s.dns_cfg["notify_source"] = ["127.0.0.1", "127.0.0.2"]
        s.write_conf()
        r = s.run("checkconf")
        assert r.returncode == 2
        assert "dns.notify_source" in r.stderr and "same family" in r.stderr, r.stderr
    finally:
        sec.close()
