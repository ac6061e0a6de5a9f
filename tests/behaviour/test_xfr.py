"""test_xfr.py - outgoing zone transfers over TCP.

AXFR with dig and kdig from an allowed address (a zone big enough to take
several messages), REFUSED from another address (dig -b 127.0.0.5 while
only 127.0.0.1 may transfer), allowed from that address when signed with
the TSIG key (every message signed and checked by the tool), NOTAUTH with a
wrong key; IXFR with the current or a newer serial gives the SOA alone, an
older serial the whole zone; a transfer after an UPDATE carries the change.
"""

import re
import signal
import socket
import struct
import subprocess

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import pytest

from dnstools import HAVE_IPV6, need_tool, recv_exact
from servers import Redisfo, wait_until

N_TXT = 400


def zone_text():
    lines = ["$ORIGIN svc.test.", "$TTL 300",
             "@ 30 IN SOA ns1.svc.test. hostmaster.svc.test. 41 3600 600 86400 600",
             "@ 30 IN NS ns1.svc.test.",
             "ns1 IN A 127.0.0.1",
             "redis 5 IN A 127.0.0.2",
             "redis 5 IN AAAA fd00::2"]
    for i in range(N_TXT):
        lines.append('t%03d IN TXT "%s"' % (i, "record-%03d-" % i + "y" * 100))
    return "\n".join(lines) + "\n"


N_RECORDS = 2 + 3 + N_TXT + 1   # SOA, NS, ns1 A, redis A+AAAA, TXTs, closing SOA


@pytest.fixture(scope="module")
def xsrv(tmp_path_factory, request):
    allow = ["127.0.0.1"]
    s = Redisfo(tmp_path_factory.mktemp("xfr"), zone_text=zone_text(),
                dns={"allow_transfer": allow})
    request.addfinalizer(s.stop)
    s.start()
    return s


def run(*args):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=30)


def records(out):
    """(name, type) of each record line of dig/kdig output."""
    recs = []
    for line in out.splitlines():
        if not line or line.startswith(";"):
            continue
        f = line.split()
        if len(f) >= 4 and f[2] in ("IN", "ANY"):
            recs.append((f[0].lower(), f[3]))
        elif len(f) >= 5 and f[3] in ("IN", "ANY"):
            recs.append((f[0].lower(), f[4]))
    return recs


def transfer_server(tmp_path, procs):
    """A started server with zone_text(), 127.0.0.1 allowed to transfer."""
    s = procs.add(Redisfo(tmp_path, zone_text=zone_text(),
                          dns={"allow_transfer": ["127.0.0.1"]}))
    s.start()
    return s


def send_update(s, u):
    assert dns.query.tcp(u, "127.0.0.1", port=s.port, timeout=3).rcode() == 0


def xfr_first_rcode(s, source, wire_msg):
    """Send a transfer query over TCP from source; rcode of the first reply."""
    wire = wire_msg.to_wire()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as c:
        c.settimeout(3)
        c.bind((source, 0))
        c.connect(("127.0.0.1", s.port))
        c.sendall(struct.pack("!H", len(wire)) + wire)
        n = struct.unpack("!H", recv_exact(c, 2))[0]
        return dns.message.from_wire(recv_exact(c, n), keyring=wire_msg.keyring,
                                     request_mac=wire_msg.mac if wire_msg.keyring else b"")


def test_dig_axfr_allowed(xsrv):
    r = run(need_tool("dig"), "-p", str(xsrv.port), "@127.0.0.1", "svc.test.", "AXFR")
    recs = records(r.stdout)
    assert len(recs) == N_RECORDS, r.stdout[-2000:]
    assert recs[0] == ("svc.test.", "SOA") and recs[-1] == ("svc.test.", "SOA")
    m = re.search(r"XFR size: (\d+) records \(messages (\d+)", r.stdout)
    assert m and int(m.group(1)) == N_RECORDS
    assert int(m.group(2)) >= 3     # split into messages of at most ~16 KB


def test_kdig_axfr_allowed(xsrv):
    r = run(need_tool("kdig"), "-p", str(xsrv.port), "@127.0.0.1", "svc.test.", "AXFR")
    recs = records(r.stdout)
    assert len(recs) == N_RECORDS, r.stdout[-2000:] + r.stderr
    assert recs[0][1] == "SOA" and recs[-1][1] == "SOA"


def test_axfr_refused_from_other_address(xsrv):
    r = run(need_tool("dig"), "-b", "127.0.0.5", "-p", str(xsrv.port), "@127.0.0.1", "svc.test.", "AXFR")
    assert len(records(r.stdout)) == 0
    assert "Transfer failed" in r.stdout
    q = dns.message.make_query("svc.test.", "AXFR")
    assert xfr_first_rcode(xsrv, "127.0.0.5", q).rcode() == dns.rcode.REFUSED
    q = dns.message.make_query("svc.test.", "IXFR")
    assert xfr_first_rcode(xsrv, "127.0.0.5", q).rcode() == dns.rcode.REFUSED


def test_signed_axfr_allowed_from_other_address(xsrv):
    r = run(need_tool("dig"), "-b", "127.0.0.5", "-y", xsrv.tsig_arg(), "-p", str(xsrv.port),
            "@127.0.0.1", "svc.test.", "AXFR")
    out = r.stdout + r.stderr
    assert "failure" not in out.lower() and "Transfer failed" not in out, out[-1500:]
    assert "Couldn't verify" not in out
    assert len([x for x in records(r.stdout) if x[1] != "TSIG"]) == N_RECORDS
    # Every message carries a TSIG (dig checks each one).
    m = re.search(r"XFR size: \d+ records \(messages (\d+)", r.stdout)
    assert m and int(m.group(1)) >= 3
    assert len([x for x in records(r.stdout) if x[1] == "TSIG"]) == int(m.group(1))
    r = run(need_tool("kdig"), "-b", "127.0.0.5", "-y", xsrv.tsig_arg(), "-p", str(xsrv.port),
            "@127.0.0.1", "svc.test.", "AXFR")
    assert len([x for x in records(r.stdout) if x[1] != "TSIG"]) == N_RECORDS, \
        r.stdout[-1500:] + r.stderr
    assert ";; ERROR" not in r.stdout + r.stderr
    assert ";; WARNING" not in r.stdout + r.stderr


def test_signed_axfr_checked_message_by_message(xsrv):
    """dnspython verifies the chained TSIG of every message."""
    k = xsrv.tsig_key()
    msgs = list(dns.query.xfr("127.0.0.1", "svc.test.", port=xsrv.port, keyring=k,
                              keyname=xsrv.key_name, timeout=5, source="127.0.0.5"))
    assert len(msgs) >= 3
    assert all(m.had_tsig for m in msgs)
    assert sum(len(rrset) for m in msgs for rrset in m.answer) == N_RECORDS


def test_wrong_key_axfr_notauth(xsrv):
    k = xsrv.tsig_key(secret="c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTAxMjM=")
    q = dns.message.make_query("svc.test.", "AXFR")
    q.use_tsig(k)
    with pytest.raises(dns.tsig.PeerBadSignature):
        xfr_first_rcode(xsrv, "127.0.0.1", q)


def test_ixfr_current_serial_gives_soa_alone(xsrv):
    cur = xsrv.serial()
    for serial in (cur, cur + 5):
        r = run(need_tool("dig"), "-p", str(xsrv.port), "@127.0.0.1", "svc.test.", "IXFR=%d" % serial)
        recs = records(r.stdout)
        assert recs == [("svc.test.", "SOA")], r.stdout
    r = run(need_tool("dig"), "-p", str(xsrv.port), "@127.0.0.1", "svc.test.", "IXFR=%d" % (cur - 1))
    assert len(records(r.stdout)) == N_RECORDS
    r = run(need_tool("kdig"), "-p", str(xsrv.port), "@127.0.0.1", "svc.test.", "IXFR=%d" % cur)
    assert [t for _, t in records(r.stdout)] == ["SOA"], r.stdout


def test_axfr_after_update(tmp_path, procs):
    s = transfer_server(tmp_path, procs)
    u = s.update_message()
    u.replace("redis", 5, "A", "127.0.0.42")
    send_update(s, u)
    r = run(need_tool("dig"), "-p", str(s.port), "@127.0.0.1", "svc.test.", "AXFR")
    assert re.search(r"redis\.svc\.test\.\s+5\s+IN\s+A\s+127\.0\.0\.42", r.stdout)
    assert "127.0.0.2\n" not in r.stdout
    assert re.search(r"SOA\s+ns1\.svc\.test\. hostmaster\.svc\.test\. 42 ", r.stdout)


@pytest.mark.skipif(not HAVE_IPV6, reason="no IPv6 loopback")
def test_axfr_over_ipv6(tmp_path, procs):
    s = transfer_server(tmp_path, procs)
    r = run(need_tool("dig"), "-p", str(s.port), "@::1", "svc.test.", "AXFR")
    assert len(records(r.stdout)) == 0 and "Transfer failed" in r.stdout
    s.stop()
    s.dns_cfg["allow_transfer"] = ["::1"]
    s.write_conf()
    s.start()
    r = run(need_tool("dig"), "-p", str(s.port), "@::1", "svc.test.", "AXFR")
    assert len(records(r.stdout)) == N_RECORDS


def test_axfr_of_another_zone_refused(xsrv):
    """Only our apex is transferred; signed or not, anything else is REFUSED."""
    k = xsrv.tsig_key()
    for name in ("other.test.", "redis.svc.test."):
        for signed in (False, True):
            q = dns.message.make_query(name, "AXFR")
            if signed:
                q.use_tsig(k)
            r = xfr_first_rcode(xsrv, "127.0.0.1", q)
            assert r.rcode() == dns.rcode.REFUSED and not r.answer, (name, signed)


# ---------------------------------------------------------------- IXFR

def ixfr_records(s, serial):
    """The answer records of an IXFR from serial, in order, as text."""
    out = []
    for m in dns.query.xfr("127.0.0.1", "svc.test.", rdtype=dns.rdatatype.IXFR,
                           serial=serial, port=s.port, timeout=5, relativize=False):
        assert m.rcode() == 0
        for rrset in m.answer:
            for rd in rrset:
                out.append("%s %d %s %s" % (rrset.name, rrset.ttl,
                                            dns.rdatatype.to_text(rrset.rdtype), rd))
    return out


def soa_text(serial):
    return "svc.test. 30 SOA ns1.svc.test. hostmaster.svc.test. %d 3600 600 86400 600" % serial


@pytest.fixture
def changed(tmp_path, procs):
    """A server whose zone went 41 -> 42 -> 43 -> 44 by three UPDATEs."""
    s = transfer_server(tmp_path, procs)
    u = s.update_message()
    u.replace("redis", 5, "A", "127.0.0.42")
    send_update(s, u)
    u = s.update_message()
    u.add("fresh", 60, "TXT", '"new"')
    send_update(s, u)
    u = s.update_message()
    u.delete("t000", "TXT")
    u.replace("redis", 7, "AAAA", "fd00::2")	# the TTL alone changes
    send_update(s, u)
    assert s.serial() == 44
    return s


def segments(records):
    """Records grouped after each SOA: [(soa, set of what follows)], for
    comparing transfers whose records may come in any order between SOAs."""
    out = []
    for r in records:
        if " SOA " in r:
            out.append((r, set()))
        else:
            out[-1][1].add(r)
    return out


T000 = 't000.svc.test. 300 TXT "record-000-%s"' % ("y" * 100)


def test_ixfr_sends_the_changes(changed):
    """RFC 1995: newest SOA, then per change old SOA, removed, new SOA, added."""
    got = ixfr_records(changed, 41)
    assert segments(got) == [
        (soa_text(44), set()),
        (soa_text(41), {"redis.svc.test. 5 A 127.0.0.2"}),
        (soa_text(42), {"redis.svc.test. 5 A 127.0.0.42"}),
        (soa_text(42), set()),
        (soa_text(43), {'fresh.svc.test. 60 TXT "new"'}),
        (soa_text(43), {"redis.svc.test. 5 AAAA fd00::2", T000}),
        (soa_text(44), {"redis.svc.test. 7 AAAA fd00::2"}),
        (soa_text(44), set())], "\n".join(got)
    assert segments(ixfr_records(changed, 43)) == [
        (soa_text(44), set()),
        (soa_text(43), {"redis.svc.test. 5 AAAA fd00::2", T000}),
        (soa_text(44), {"redis.svc.test. 7 AAAA fd00::2"}),
        (soa_text(44), set())]


def test_ixfr_from_an_unknown_serial_sends_the_zone(changed):
    """Serial 40 was never served and 45 is ahead: the whole zone, or the SOA."""
    got = ixfr_records(changed, 40)
    assert got[0] == soa_text(44) and got[-1] == soa_text(44)
    assert len(got) == N_RECORDS  # one TXT gone, one added
    assert ixfr_records(changed, 45) == [soa_text(44)]


def test_ixfr_applied_by_a_client_gives_the_served_zone(changed):
    """dnspython applies the IXFR to the zone at serial 41: it equals an AXFR."""
    import dns.xfr
    import dns.zone

    old = dns.zone.from_text(zone_text(), origin="svc.test.", relativize=False)
    q, serial = dns.xfr.make_query(old)
    assert serial == 41
    dns.query.inbound_xfr("127.0.0.1", old, query=q, port=changed.port, timeout=5)
    fresh = dns.zone.from_xfr(dns.query.xfr("127.0.0.1", "svc.test.", port=changed.port,
                                            relativize=False),
                              relativize=False)
    assert sorted(old.to_text().splitlines()) == sorted(fresh.to_text().splitlines())
    assert old.get_rdataset("redis", "A")[0].address == "127.0.0.42"


def test_reload_of_an_edited_zone_is_a_change_too(tmp_path, procs):
    """A SIGHUP of a file edited with a higher serial joins the journal, one
    that changed nothing keeps it, and one with records changed under the
    same serial starts it over (clients behind get it all)."""
    s = transfer_server(tmp_path, procs)
    text = zone_text().replace(" 41 3600", " 50 3600").replace("127.0.0.2", "127.0.0.9")
    s.write_zone(text)
    s.signal(signal.SIGHUP)
    wait_until(lambda: s.serial() == 50, what="serial 50 served")
    incremental = [soa_text(50), soa_text(41), "redis.svc.test. 5 A 127.0.0.2",
                   soa_text(50), "redis.svc.test. 5 A 127.0.0.9", soa_text(50)]
    assert ixfr_records(s, 41) == incremental
    # A reload that changes nothing keeps the journal.
    s.signal(signal.SIGHUP)
    wait_until(lambda: "still serving serial 50" in s.log(),
               what="the second reload to be done")
    assert ixfr_records(s, 41) == incremental
    s.write_zone(text.replace("127.0.0.9", "127.0.0.10"))
    s.signal(signal.SIGHUP)
    wait_until(lambda: s.query("redis.svc.test.", "A").answer[0][0].address ==
                       "127.0.0.10", what="edited record served")
    assert len(ixfr_records(s, 41)) == N_RECORDS
