"""test_zone_roundtrip.py - what the server takes in, it writes so that it loads again.

Signed UPDATEs add records whose names and data hold every octet a master
file gives a meaning to (quotes, backslashes, parentheses, semicolons,
spaces, dots inside labels, @ and $, NUL, non-ASCII, an owner far longer
than 254 characters once escaped, an SOA RNAME with a quote). The zone
read back by AXFR is the same, to the octet and the letter case, after a
SIGHUP and after a restart. A record no zone file reader could take is
refused with the reason in the log, and nothing changes.

checkconf and serve refuse, naming the file and line, a parenthesis that
is never closed, CNAME loops, and a zone_file in a folder that does not
exist; a SIGHUP to such a zone keeps the old one. An UPDATE that wraps
the serial from 4294967295 to 0 is logged and NOTIFYed, and NSD follows.
Under ASan, a zone with CERT records loads, takes a CERT of type 0 and is
written back with no leak, and checkconf on a config with an unclosed
quote leaks nothing either.
"""

import re
import shutil
import signal
import socket
import time

import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

from confgen import TEST_ZONE_LOW_SOA_TTL
from servers import ASAN_BINARY, NsdSecondary, Redisfo, wait_until

ZONE = TEST_ZONE_LOW_SOA_TTL


def name(*labels):
    return dns.name.Name([l if isinstance(l, bytes) else l.encode() for l in labels]
                         + [b"svc", b"test", b""])


def rdata(rdtype, text):
    return dns.rdata.from_text(dns.rdataclass.IN, rdtype, text)


# (owner, ttl, type, rdata): every one of them must survive a write and a load.
LONG_OWNER = name(b"\xc3" * 63, b'"' * 63, b"\xc3\xa9" * 31)
AWKWARD = [
    (name("mx"), 60, "MX", '10 a\\"b.svc.test.'),
    (name('q"uote'), 60, "A", "192.0.2.1"),
    (name("back\\slash"), 60, "A", "192.0.2.2"),
    (name("pa(re)n;semi"), 60, "TXT",
     '"a;b(c)" "quote\\"" "back\\\\" "" "\\000\\255" "caf\\195\\169" "x\\\\"'),
    (name("sp ace\ttab"), 60, "A", "192.0.2.3"),
    (name("dot.inside"), 60, "A", "192.0.2.4"),
    (name("@at"), 60, "A", "192.0.2.5"),
    (name("$dollar"), 60, "A", "192.0.2.6"),
    (name(b"\x00nul\xff"), 60, "A", "192.0.2.7"),
    (name("caf\u00e9".encode()), 60, "A", "192.0.2.8"),
    (name("MiXeD"), 60, "CNAME", 'TaRgEt\\".svc.test.'),
    (name("_redis", "_tcp"), 60, "SRV", "0 0 6379 r\\(1\\)\\;.svc.test."),
    (name("hinfo"), 60, "HINFO", '"a b" "c\\"d"'),
    (name("naptr"), 60, "NAPTR", '100 10 "S" "SIP+D2U" "!^.*$!sip:x@y!" _sip._udp.svc.test.'),
    (name("caa"), 60, "CAA", '0 issue "ca;\\"x(y)"'),
    (name("cert"), 60, "CERT", "\\# 7 00000000000102"),
    (name("unknown"), 60, "TYPE65400", "\\# 3 010203"),
    (LONG_OWNER, 60, "TXT", '"long owner"'),
]


def axfr(srv):
    """The zone by signed AXFR, as a set of (owner, ttl, type, rdata) wire forms."""
    out = set()
    for m in dns.query.xfr("127.0.0.1", srv.zone, port=srv.port, keyring=srv.tsig_key(), relativize=False,
                           lifetime=10):
        for rrset in m.answer:
            for rd in rrset:
                out.add((rrset.name.to_wire(), rrset.ttl, rrset.rdtype,
                         rd.to_wire()))
    return out


def update(srv, build, tcp=False):
    u = srv.update_message()
    build(u)
    q = dns.query.tcp if tcp else dns.query.udp
    return q(u, "127.0.0.1", port=srv.port, timeout=5)


def wait_reloaded(srv, before):
    """After a SIGHUP: the new zone served, or the refusal logged."""
    wait_until(lambda: re.search(r"serving svc\.test\. serial|still serving serial|reload refused",
                                 srv.log()[before:]),
               timeout=10, what="the reload to finish:\n" + srv.log()[before:])
    return srv.log()[before:]


def test_awkward_updates_survive_reload_and_restart(tmp_path, procs):
    srv = procs.add(Redisfo(tmp_path, zone_text=ZONE)).start()
    for owner, ttl, rdtype, text in AWKWARD:
        r = update(srv, lambda u: u.add(owner, ttl, rdata(rdtype, text)), tcp=True)
        assert r.rcode() == dns.rcode.NOERROR, (owner, rdtype, r, srv.log()[-600:])
    # The SOA itself, with a quote and a dot inside the RNAME's first label.
    soa = 'ns1.svc.test. host\\"master\\.x.svc.test. 1000 3600 600 86400 600'
    r = update(srv, lambda u: u.replace(srv.zone, 30, rdata("SOA", soa)))
    assert r.rcode() == dns.rcode.NOERROR
    served = axfr(srv)
    for owner, ttl, rdtype, text in AWKWARD:
        want = (owner.to_wire(), ttl, dns.rdatatype.from_text(rdtype),
                rdata(rdtype, text).to_wire())
        assert want in served, "%s %s not served after the UPDATE" % (owner, rdtype)
    assert srv.query("svc.test.", "SOA").answer[0][0].rname == name('host"master.x')
    # SIGHUP reads the file the UPDATEs wrote.
    before = len(srv.log())
    srv.signal(signal.SIGHUP)
    text = wait_reloaded(srv, before)
    assert "reload refused" not in text, text
    assert axfr(srv) == served
    # So does a restart.
    assert srv.stop() == 0
    srv.start()
    assert axfr(srv) == served
    # And what was written is written again the same way.
    first = srv.zone_path.read_bytes().split(b"\n", 1)[1]
    r = update(srv, lambda u: u.add("new", 60, rdata("A", "192.0.2.99")))
    assert r.rcode() == dns.rcode.NOERROR
    second = srv.zone_path.read_bytes().split(b"\n", 1)[1]
    assert set(first.splitlines()) - set(second.splitlines()) <= {
        l for l in first.splitlines() if b"\tSOA\t" in l}


def test_unwritable_update_refused(tmp_path, procs):
    """A TXT of 40800 octets of 0xff: \\DDD text or generic hex, longer than ldns reads."""
    srv = procs.add(Redisfo(tmp_path, zone_text=ZONE)).start()
    big = " ".join(['"' + "\\255" * 255 + '"'] * 160)
    before = srv.zone_path.read_bytes()
    r = update(srv, lambda u: u.add("big", 60, rdata("TXT", big)), tcp=True)
    assert r.rcode() == dns.rcode.REFUSED, r
    wait_until(lambda: "cannot be written to the zone file" in srv.log(), timeout=5,
               what="the reason in the log:\n" + srv.log()[-600:])
    assert srv.query("big.svc.test.", "TXT").rcode() == dns.rcode.NXDOMAIN
    assert srv.zone_path.read_bytes() == before
    assert srv.query("svc.test.", "SOA").answer[0][0].serial == 7


GOOD_HEAD = ZONE
BAD_ZONES = {
    # name: (zone text, line the message names, what it says)
    "unclosed_paren": (GOOD_HEAD + "txt IN TXT ( \"a\"\nwww IN A 192.0.2.1\n"
                       "mail IN A 192.0.2.2\n", 7, "parenthesis is never closed"),
    "paren_swallows_record": (GOOD_HEAD + "txt IN TXT ( \"a\"\nwww IN TXT ( \"b\" )\n",
                              8, "opened inside the one opened on line 7"),
    "cname_self": (GOOD_HEAD + "self IN CNAME self\n", 7, "CNAME loop"),
    "cname_pair": (GOOD_HEAD + "a IN CNAME b\nb IN CNAME A.svc.test.\n", None, "CNAME loop"),
    "cname_chain": (GOOD_HEAD + "start IN CNAME c1\nc1 IN CNAME c2\nc2 IN CNAME c3\n"
                    "c3 IN CNAME c1\n", None,
                    "c1.svc.test. -> c2.svc.test. -> c3.svc.test. -> c1.svc.test."),
}


def assert_names(text, srv, line, needle):
    assert srv.zone_path.name in text, text
    if line is not None:
        assert ":%d:" % line in text, "line %d not named:\n%s" % (line, text)
    assert needle in text, text


@pytest.mark.parametrize("case", sorted(BAD_ZONES))
def test_zone_mistake_refused(tmp_path, procs, case):
    text, line, needle = BAD_ZONES[case]
    srv = procs.add(Redisfo(tmp_path, zone_text=text))
    res = srv.run("checkconf", timeout=15)
    out = res.stdout + res.stderr
    assert res.returncode == 2 and "configuration OK" not in out, out
    assert_names(out, srv, line, needle)
    # serve: exits 2 at start...
    with pytest.raises(AssertionError):
        srv.start(timeout=5)
    assert srv.proc.wait(timeout=5) == 2
    assert_names(srv.log(), srv, line, needle)
    # ...and at reload keeps the zone it serves.
    srv2 = procs.add(Redisfo(tmp_path / "reload", zone_text=ZONE)).start()
    srv2.write_zone(text.replace(" 7 3600", " 8 3600"))
    before = len(srv2.log())
    srv2.signal(signal.SIGHUP)
    log = wait_reloaded(srv2, before)
    assert "reload refused" in log, log
    assert_names(log, srv2, line, needle)
    assert srv2.query("svc.test.", "SOA").answer[0][0].serial == 7


def test_zone_folder_missing(tmp_path, procs):
    srv = procs.add(Redisfo(tmp_path, dns={"zone_file": str(tmp_path / "nowhere" / "z.zone")}))
    res = srv.run("checkconf", timeout=15)
    out = res.stdout + res.stderr
    assert res.returncode == 2, out
    assert "dns.zone_file" in out and "nowhere does not exist" in out, out
    with pytest.raises(AssertionError):
        srv.start(timeout=5)
    assert srv.proc.wait(timeout=5) == 2
    assert "nowhere does not exist" in srv.log(), srv.log()


def recv_notify(sock, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            wire, peer = sock.recvfrom(65535)
        except socket.timeout:
            return None
        m = dns.message.from_wire(wire)
        if m.opcode() == dns.opcode.NOTIFY:
            sock.sendto(dns.message.make_response(m).to_wire(), peer)
            return m
    return None


def test_serial_wrap_notifies_and_nsd_follows(tmp_path, procs):
    if shutil.which("nsd") is None:
        pytest.skip("nsd not installed")
    zone = ZONE.replace(" 7 3600", " 4294967295 3600")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    try:
        sec = NsdSecondary(tmp_path)
        srv = procs.add(Redisfo(tmp_path, zone_text=zone, dns={
            "notify": ["127.0.0.1:%d" % sock.getsockname()[1], "127.0.0.1:%d" % sec.port],
            "allow_transfer": ["127.0.0.1"]}))
        sec.configure(srv.port)
        srv.start()
        procs.add(sec)
        sec.start()
        wait_until(lambda: sec.proc.poll() is None and sec.a() == ["127.0.0.2"], timeout=15,
                   what="nsd to transfer the zone\n" + sec.log())
        while recv_notify(sock, 0.3) is not None:   # what startup sent
            pass
        r = update(srv, lambda u: u.replace("redis", 5, "A", "127.0.0.3"))
        assert r.rcode() == dns.rcode.NOERROR
        assert srv.query("svc.test.", "SOA").answer[0][0].serial == 0
        m = recv_notify(sock, 3)
        assert m is not None, "no NOTIFY after the UPDATE that wrapped the serial"
        assert [r[0].serial for r in m.answer] == [0]
        wait_until(lambda: "update applied, serial 0" in srv.log(), timeout=5,
                   what="the update in the log:\n" + srv.log()[-600:])
        wait_until(lambda: sec.proc.poll() is None and sec.a() == ["127.0.0.3"], timeout=5,
                   what="nsd to follow serial 0\n" + sec.log()[-800:])
    finally:
        sock.close()


CERT_ZONE = ZONE + ("c1 IN CERT PGP 0 0 AAECAw==\nc2 IN CERT URI 1 RSASHA1 AAECAw==\n"
                    "c3 IN CERT 65535 2 255 AAECAw==\n")


def test_no_leak_cert_and_unclosed_quote(tmp_path, procs):
    assert ASAN_BINARY.exists(), "%s is missing: run `make redisfo-dns-asan`" % ASAN_BINARY
    env = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=99"}
    srv = procs.add(Redisfo(tmp_path, zone_text=CERT_ZONE, binary=ASAN_BINARY, env=env))
    srv.start(timeout=30)
    # A CERT of type 0 from the wire: ldns's text for it leaks when read back.
    r = update(srv, lambda u: u.add("c0", 60, rdata("CERT", "\\# 7 00000000000102")))
    assert r.rcode() == dns.rcode.NOERROR
    before = len(srv.log())
    srv.signal(signal.SIGHUP)
    assert "reload refused" not in wait_reloaded(srv, before)
    assert srv.stop(timeout=20) == 0, srv.log()
    assert "LeakSanitizer" not in srv.log(), srv.log()
    assert b"c0.svc.test.\t60\tIN\tCERT\t\\# 7" in srv.zone_path.read_bytes()
    res = srv.run("checkconf", timeout=30)
    assert res.returncode == 0, res.stdout + res.stderr
    # A config with an unclosed quote: refused with its line, nothing leaked.
    # (The key name's shape made libconfig drop a string buffer.)
    good = srv.conf_text()
    for was, now in (('name = "redisfo-key.";', 'name = "redisfo-key.;'),
                     ('zone = "svc.test.";', 'zone = "svc.test.;')):
        text = good.replace(was, now, 1)
        assert text != good
        srv.write_conf(text)
        res = srv.run("checkconf", timeout=30)
        out = res.stdout + res.stderr
        assert res.returncode == 2, out
        line = good[:good.index(was)].count("\n") + 1
        assert "redisfo.conf:%d: a string is never closed on its line" % line in out, out
        assert "LeakSanitizer" not in out, out
