"""test_xfr.py - outgoing zone transfers over TCP.

AXFR with dig and kdig from an allowed address (a zone big enough to take
several messages), REFUSED from another address (dig -b 127.0.0.5 while
only 127.0.0.1 may transfer), allowed from that address when signed with
the TSIG key (every message signed and checked by the tool), NOTAUTH with a
wrong key; IXFR with the current or a newer serial gives the SOA alone, an
older serial the whole zone; a transfer after an UPDATE carries the change.
"""

import re
import shutil
import socket
import struct
import subprocess

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.update
import pytest

import harness

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
    s = harness.Redisfo(tmp_path_factory.mktemp("xfr"), zone_text=zone_text(),
                        dns={"allow_transfer": allow})
    request.addfinalizer(s.stop)
    s.start()
    return s


def tool(name):
    if shutil.which(name) is None:
        pytest.skip("%s not installed" % name)
    return name


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


def keyarg(s):
    return "hmac-sha256:%s:%s" % (s.key_name, s.key_secret)


def xfr_first_rcode(s, source, wire_msg):
    """Send a transfer query over TCP from source; rcode of the first reply."""
    wire = wire_msg.to_wire()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as c:
        c.settimeout(3)
        c.bind((source, 0))
        c.connect(("127.0.0.1", s.port))
        c.sendall(struct.pack("!H", len(wire)) + wire)
        n = struct.unpack("!H", harness.recv_exact(c, 2))[0]
        return dns.message.from_wire(harness.recv_exact(c, n), keyring=wire_msg.keyring,
                                     request_mac=wire_msg.mac if wire_msg.keyring else b"")


def test_dig_axfr_allowed(xsrv):
    r = run(tool("dig"), "-p", str(xsrv.port), "@127.0.0.1", "svc.test.", "AXFR")
    recs = records(r.stdout)
    assert len(recs) == N_RECORDS, r.stdout[-2000:]
    assert recs[0] == ("svc.test.", "SOA") and recs[-1] == ("svc.test.", "SOA")
    m = re.search(r"XFR size: (\d+) records \(messages (\d+)", r.stdout)
    assert m and int(m.group(1)) == N_RECORDS
    assert int(m.group(2)) >= 3     # split into messages of at most ~16 KB


def test_kdig_axfr_allowed(xsrv):
    r = run(tool("kdig"), "-p", str(xsrv.port), "@127.0.0.1", "svc.test.", "AXFR")
    recs = records(r.stdout)
    assert len(recs) == N_RECORDS, r.stdout[-2000:] + r.stderr
    assert recs[0][1] == "SOA" and recs[-1][1] == "SOA"


def test_axfr_refused_from_other_address(xsrv):
    r = run(tool("dig"), "-b", "127.0.0.5", "-p", str(xsrv.port), "@127.0.0.1", "svc.test.", "AXFR")
    assert len(records(r.stdout)) == 0
    assert "Transfer failed" in r.stdout
    q = dns.message.make_query("svc.test.", "AXFR")
    assert xfr_first_rcode(xsrv, "127.0.0.5", q).rcode() == dns.rcode.REFUSED
    q = dns.message.make_query("svc.test.", "IXFR")
    assert xfr_first_rcode(xsrv, "127.0.0.5", q).rcode() == dns.rcode.REFUSED


def test_signed_axfr_allowed_from_other_address(xsrv):
    r = run(tool("dig"), "-b", "127.0.0.5", "-y", keyarg(xsrv), "-p", str(xsrv.port),
            "@127.0.0.1", "svc.test.", "AXFR")
    out = r.stdout + r.stderr
    assert "failure" not in out.lower() and "Transfer failed" not in out, out[-1500:]
    assert "Couldn't verify" not in out
    assert len([x for x in records(r.stdout) if x[1] != "TSIG"]) == N_RECORDS
    # Every message carries a TSIG (dig checks each one).
    m = re.search(r"XFR size: \d+ records \(messages (\d+)", r.stdout)
    assert m and int(m.group(1)) >= 3
    assert len([x for x in records(r.stdout) if x[1] == "TSIG"]) == int(m.group(1))
    r = run(tool("kdig"), "-b", "127.0.0.5", "-y", keyarg(xsrv), "-p", str(xsrv.port),
            "@127.0.0.1", "svc.test.", "AXFR")
    assert len([x for x in records(r.stdout) if x[1] != "TSIG"]) == N_RECORDS, \
        r.stdout[-1500:] + r.stderr
    assert ";; ERROR" not in r.stdout + r.stderr
    assert ";; WARNING" not in r.stdout + r.stderr


def test_signed_axfr_checked_message_by_message(xsrv):
    """dnspython verifies the chained TSIG of every message."""
    k = dns.tsig.Key(xsrv.key_name, xsrv.key_secret, xsrv.key_algorithm)
    msgs = list(dns.query.xfr("127.0.0.1", "svc.test.", port=xsrv.port, keyring=k,
                              keyname=xsrv.key_name, timeout=5, source="127.0.0.5"))
    assert len(msgs) >= 3
    assert all(m.had_tsig for m in msgs)
    assert sum(len(rrset) for m in msgs for rrset in m.answer) == N_RECORDS


def test_wrong_key_axfr_notauth(xsrv):
    k = dns.tsig.Key(xsrv.key_name, "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTAxMjM=",
                     xsrv.key_algorithm)
    q = dns.message.make_query("svc.test.", "AXFR")
    q.use_tsig(k)
    with pytest.raises(dns.tsig.PeerBadSignature):
        xfr_first_rcode(xsrv, "127.0.0.1", q)


def soa_serial(s):
    return s.query("svc.test.", "SOA").answer[0][0].serial


def test_ixfr_current_serial_gives_soa_alone(xsrv):
    cur = soa_serial(xsrv)
    for serial in (cur, cur + 5):
        r = run(tool("dig"), "-p", str(xsrv.port), "@127.0.0.1", "svc.test.", "IXFR=%d" % serial)
        recs = records(r.stdout)
        assert recs == [("svc.test.", "SOA")], r.stdout
    r = run(tool("dig"), "-p", str(xsrv.port), "@127.0.0.1", "svc.test.", "IXFR=%d" % (cur - 1))
    assert len(records(r.stdout)) == N_RECORDS
    r = run(tool("kdig"), "-p", str(xsrv.port), "@127.0.0.1", "svc.test.", "IXFR=%d" % cur)
    assert [t for _, t in records(r.stdout)] == ["SOA"], r.stdout


def test_axfr_after_update(tmp_path, procs):
    s = procs.add(harness.Redisfo(tmp_path, zone_text=zone_text(),
                                  dns={"allow_transfer": ["127.0.0.1"]}))
    s.start()
    u = dns.update.UpdateMessage("svc.test.", keyring=dns.tsig.Key(s.key_name, s.key_secret,
                                                                    s.key_algorithm))
    u.replace("redis", 5, "A", "127.0.0.42")
    assert dns.query.tcp(u, "127.0.0.1", port=s.port, timeout=3).rcode() == 0
    r = run(tool("dig"), "-p", str(s.port), "@127.0.0.1", "svc.test.", "AXFR")
    assert re.search(r"redis\.svc\.test\.\s+5\s+IN\s+A\s+127\.0\.0\.42", r.stdout)
    assert "127.0.0.2\n" not in r.stdout
    assert re.search(r"SOA\s+ns1\.svc\.test\. hostmaster\.svc\.test\. 42 ", r.stdout)


@pytest.mark.skipif(not harness.HAVE_IPV6, reason="no IPv6 loopback")
def test_axfr_over_ipv6(tmp_path, procs):
    s = procs.add(harness.Redisfo(tmp_path, zone_text=zone_text(),
                                  dns={"allow_transfer": ["127.0.0.1"]}))
    s.start()
    r = run(tool("dig"), "-p", str(s.port), "@::1", "svc.test.", "AXFR")
    assert len(records(r.stdout)) == 0 and "Transfer failed" in r.stdout
    s.stop()
    s.dns_cfg["allow_transfer"] = ["::1"]
    s.write_conf()
    s.start()
    r = run(tool("dig"), "-p", str(s.port), "@::1", "svc.test.", "AXFR")
    assert len(records(r.stdout)) == N_RECORDS


def test_axfr_of_another_zone_refused(xsrv):
    """Only our apex is transferred; signed or not, anything else is REFUSED."""
    k = dns.tsig.Key(xsrv.key_name, xsrv.key_secret, xsrv.key_algorithm)
    for name in ("other.test.", "redis.svc.test."):
        for signed in (False, True):
            q = dns.message.make_query(name, "AXFR")
            if signed:
                q.use_tsig(k)
            r = xfr_first_rcode(xsrv, "127.0.0.1", q)
            assert r.rcode() == dns.rcode.REFUSED and not r.answer, (name, signed)
