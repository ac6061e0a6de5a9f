"""Answers from the zone: the positive and negative answers.

NOERROR+AA with the RRset, NODATA and NXDOMAIN with the SOA and the RFC 2308
negative TTL, REFUSED outside the zone with AA clear, CNAMEs followed inside
the zone, empty non-terminals, ANY per RFC 8482, and the header rules that
hold for every reply (ID, RD and the question's case copied, RA clear).
Each row is checked with dig, kdig and drill over UDP/TCP and IPv4/IPv6,
and with dnspython or raw bytes where the exact flags and sections matter.
"""

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

import dnswire
from confgen import TEST_ZONE_SOA_MINIMUM, TEST_ZONE_SOA_TTL
from dnstools import DNS_TOOLS, tool_query, transports

ZONE = "svc.test."
NEG_TTL = min(TEST_ZONE_SOA_TTL, TEST_ZONE_SOA_MINIMUM)


def rrsets(section):
    return {(r.name.to_text().lower(), dns.rdatatype.to_text(r.rdtype)): r for r in section}


def texts(rrset):
    return sorted(rd.to_text() for rd in rrset)


def assert_header(r, rcode, aa=True):
    assert r.rcode() == rcode, "rcode %s, want %s\n%s" % (
        dns.rcode.to_text(r.rcode()), dns.rcode.to_text(rcode), r)
    assert r.flags & dns.flags.QR
    assert bool(r.flags & dns.flags.AA) == aa, "AA %s, want %s\n%s" % (
        bool(r.flags & dns.flags.AA), aa, r)
    assert not r.flags & dns.flags.RA, "RA set\n%s" % r
    assert not r.flags & dns.flags.TC, "TC set\n%s" % r


def assert_negative_soa(r, ttl=NEG_TTL):
    """Exactly the zone's SOA in authority, with the negative TTL."""
    auth = rrsets(r.authority)
    assert list(auth) == [(ZONE, "SOA")], "authority is not the SOA:\n%s" % r
    soa = auth[(ZONE, "SOA")]
    assert len(soa) == 1
    assert soa.ttl == ttl, "negative TTL %d, want %d\n%s" % (soa.ttl, ttl, r)


def assert_tool_ok(reply, rcode, aa=True):
    assert reply.rcode == rcode, repr(reply)
    assert "qr" in reply.flags, repr(reply)
    assert ("aa" in reply.flags) == aa, repr(reply)
    assert "ra" not in reply.flags, repr(reply)
    assert "tc" not in reply.flags, repr(reply)


# ---------------------------------------------------------------- NOERROR

@pytest.mark.parametrize("tool", DNS_TOOLS)
@pytest.mark.parametrize("tcp,v6", transports())
def test_tool_service_a(zserver, tool, tcp, v6):
    r = tool_query(tool, zserver.port, "redis.svc.test", "A", tcp=tcp, v6=v6)
    assert_tool_ok(r, "NOERROR")
    assert r.answer == [("redis.svc.test.", 5, "IN", "A", "127.0.0.2")], repr(r)


@pytest.mark.parametrize("tool", DNS_TOOLS)
@pytest.mark.parametrize("tcp,v6", transports())
def test_tool_service_aaaa_and_txt(zserver, tool, tcp, v6):
    r = tool_query(tool, zserver.port, "redis.svc.test", "AAAA", tcp=tcp, v6=v6)
    assert_tool_ok(r, "NOERROR")
    assert r.answer == [("redis.svc.test.", 5, "IN", "AAAA", "fd00::2")], repr(r)
    r = tool_query(tool, zserver.port, "_redisfo.redis.svc.test", "TXT", tcp=tcp, v6=v6)
    assert_tool_ok(r, "NOERROR")
    assert len(r.answer) == 1 and r.answer[0][3] == "TXT", repr(r)
    assert "primary=r1 epoch=1" in r.answer[0][4], repr(r)


@pytest.mark.parametrize("tcp,v6", transports())
@pytest.mark.parametrize("qname,qtype,want", [
    ("redis.svc.test.", "A", ["127.0.0.2"]),
    ("redis.svc.test.", "AAAA", ["fd00::2"]),
    ("multi.svc.test.", "A", ["192.0.2.1", "192.0.2.2", "192.0.2.3"]),
    ("mxhost.svc.test.", "MX", ["10 redis.svc.test."]),
    ("svc.test.", "NS", ["ns1.svc.test."]),
    ("svc.test.", "SOA", ["ns1.svc.test. hostmaster.svc.test. 2024010101 3600 600 86400 60"]),
    ("_redisfo.redis.svc.test.", "TXT", ['"primary=r1 epoch=1 at=2024-01-01T00:00:00Z"']),
    ("REDIS.Svc.TEST.", "A", ["127.0.0.2"]),
    ("mixed.svc.test.", "A", ["192.0.2.5"]),          # owner in mixed case in the file
    ("MIXED.svc.test.", "A", ["192.0.2.5"]),
    ("esc\\.dot.svc.test.", "A", ["192.0.2.6"]),      # a label holding a dot
    ("unk.svc.test.", "TYPE65000", ["\\# 4 0a0b0c0d"]),  # RFC 3597 unknown type
    ("empty.svc.test.", "TXT", ['""']),
])
def test_noerror_exact(zserver, tcp, v6, qname, qtype, want):
    r = zserver.query(qname, qtype, tcp=tcp, v6=v6)
    assert_header(r, dns.rcode.NOERROR)
    assert r.flags & dns.flags.RD, "RD not copied"
    ans = rrsets(r.answer)
    assert list(ans) == [(qname.lower(), qtype)], r
    assert texts(ans[(qname.lower(), qtype)]) == sorted(want)
    assert r.edns < 0, "OPT in a reply to a query without one:\n%s" % r


def test_noerror_ttls(zserver):
    r = zserver.query("redis.svc.test.", "A")
    assert r.answer[0].ttl == 5
    r = zserver.query("svc.test.", "NS")
    assert r.answer[0].ttl == 3600
    r = zserver.query("multi.svc.test.", "A")
    assert r.answer[0].ttl == 300
    # the SOA asked for itself keeps its own TTL: the negative TTL is only
    # for the SOA of negative answers
    r = zserver.query("svc.test.", "SOA")
    assert r.answer[0].ttl == 3600 and r.answer[0][0].minimum == 60


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize("wire_name,rcode", [
    (b"\x0eredis.svc.test\x00", dnswire.REFUSED),               # one label with dots
    (b"\x05redis\x07svc.tes\x00", dnswire.REFUSED),
    (b"\x08svc.test\x00", dnswire.REFUSED),
    (b"\x06redis\x00\x03svc\x04test\x00", dnswire.NXDOMAIN),   # a 0 byte inside a label
    (b"\x05r\xe9dis\x03svc\x04test\x00", dnswire.NXDOMAIN),     # not ASCII
    (b"\x05REDIS\x03sVC\x04TEST\x00", dnswire.NOERROR),
    (b"\x05redi\xd3\x03svc\x04test\x00", dnswire.NXDOMAIN),     # 'S'|0x80 is not 's'
])
def test_binary_labels(zserver, tcp, wire_name, rcode):
    """Names are compared label by label, byte for byte (ASCII case aside)."""
    reply = zserver.raw(dnswire.header(id=0x99) + wire_name + b"\x00\x01\x00\x01", tcp=tcp,
                        timeout=2)
    h = dnswire.parse_header(reply)
    assert h is not None and h["rcode"] == rcode, (wire_name, h)
    assert h["an"] == (1 if rcode == dnswire.NOERROR else 0)
    assert reply[12:12 + len(wire_name)] == wire_name


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_rrset_rules(zserver, tcp):
    """RFC 2181 5: no duplicate records in an RRset, one TTL for all of it."""
    q = dns.message.make_query("dup.svc.test.", "A")
    reply = zserver.raw(q.to_wire(), tcp=tcp, timeout=2)
    assert dnswire.parse_header(reply)["an"] == 1, "duplicate record served twice"
    q = dns.message.make_query("ttls.svc.test.", "A")
    reply = zserver.raw(q.to_wire(), tcp=tcp, timeout=2)
    m = dns.message.from_wire(reply, one_rr_per_rrset=True)
    ttls = sorted(rrset.ttl for rrset in m.answer)
    assert len(ttls) == 2 and ttls[0] == ttls[1], "RRset with TTLs %s" % ttls


# ---------------------------------------------------------------- NODATA

@pytest.mark.parametrize("tool", DNS_TOOLS)
@pytest.mark.parametrize("tcp,v6", transports())
def test_tool_nodata(zserver, tool, tcp, v6):
    r = tool_query(tool, zserver.port, "redis.svc.test", "MX", tcp=tcp, v6=v6)
    assert_tool_ok(r, "NOERROR")
    assert r.answer == [], repr(r)
    soa = r.rrs("authority", "SOA")
    assert len(soa) == 1 and soa[0][0] == ZONE and soa[0][1] == NEG_TTL, repr(r)


@pytest.mark.parametrize("tcp,v6", transports())
@pytest.mark.parametrize("qname,qtype", [
    ("redis.svc.test.", "MX"),
    ("redis.svc.test.", "TXT"),
    ("redis.svc.test.", "CAA"),
    ("redis.svc.test.", "TYPE65280"),   # unknown type
    ("svc.test.", "A"),
    ("ns1.svc.test.", "AAAA"),
    ("v6only.svc.test.", "A"),
    ("unk.svc.test.", "TYPE65001"),
    ("esc\\.dot.svc.test.", "AAAA"),
])
def test_nodata_exact(zserver, tcp, v6, qname, qtype):
    r = zserver.query(qname, qtype, tcp=tcp, v6=v6)
    assert_header(r, dns.rcode.NOERROR)
    assert len(r.answer) == 0, r
    assert_negative_soa(r)


# -------------------------------------------------------------- NXDOMAIN

@pytest.mark.parametrize("tool", DNS_TOOLS)
@pytest.mark.parametrize("tcp,v6", transports())
def test_tool_nxdomain(zserver, tool, tcp, v6):
    r = tool_query(tool, zserver.port, "nope.svc.test", "A", tcp=tcp, v6=v6)
    assert_tool_ok(r, "NXDOMAIN")
    assert r.answer == [], repr(r)
    soa = r.rrs("authority", "SOA")
    assert len(soa) == 1 and soa[0][0] == ZONE and soa[0][1] == NEG_TTL, repr(r)


@pytest.mark.parametrize("tcp,v6", transports())
@pytest.mark.parametrize("qname,qtype", [
    ("nope.svc.test.", "A"),
    ("x.redis.svc.test.", "A"),        # below an existing name
    ("a.b.c.nope.svc.test.", "TXT"),
    ("redis2.svc.test.", "AAAA"),
    ("x.deep.a.ent.svc.test.", "A"),
    ("dot.svc.test.", "A"),               # not the label "esc.dot"
    ("esc.dot.svc.test.", "A"),
])
def test_nxdomain_exact(zserver, tcp, v6, qname, qtype):
    r = zserver.query(qname, qtype, tcp=tcp, v6=v6)
    assert_header(r, dns.rcode.NXDOMAIN)
    assert len(r.answer) == 0, r
    assert_negative_soa(r)


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_negative_ttl_soa_ttl_below_minimum(lowttl_server, tcp):
    """SOA TTL 30, MINIMUM 600: negative answers carry TTL 30 (RFC 2308 3)."""
    for qname, qtype, rcode in (("nope.svc.test.", "A", dns.rcode.NXDOMAIN),
                                ("redis.svc.test.", "MX", dns.rcode.NOERROR)):
        r = lowttl_server.query(qname, qtype, tcp=tcp)
        assert_header(r, rcode)
        assert_negative_soa(r, ttl=30)
        # the SOA record itself is not rewritten: MINIMUM stays 600
        assert r.authority[0][0].minimum == 600


def test_tool_negative_ttl_low(lowttl_server):
    for tool in DNS_TOOLS:
        r = tool_query(tool, lowttl_server.port, "nope.svc.test", "A")
        assert_tool_ok(r, "NXDOMAIN")
        assert [s[1] for s in r.rrs("authority", "SOA")] == [30], repr(r)


# --------------------------------------------------------------- REFUSED

@pytest.mark.parametrize("tool", DNS_TOOLS)
@pytest.mark.parametrize("tcp,v6", transports())
def test_tool_refused_outside_zone(zserver, tool, tcp, v6):
    r = tool_query(tool, zserver.port, "www.example.org", "A", tcp=tcp, v6=v6)
    assert_tool_ok(r, "REFUSED", aa=False)
    assert r.answer == [] and r.authority == [], repr(r)


@pytest.mark.parametrize("tcp,v6", transports())
@pytest.mark.parametrize("qname", [
    "www.example.org.", "example.org.", "test.", ".", "xsvc.test.",
    "svc.test.example.", "svc.tes.", "vc.test.",
])
def test_refused_exact(zserver, tcp, v6, qname):
    r = zserver.query(qname, "A", tcp=tcp, v6=v6)
    assert_header(r, dns.rcode.REFUSED, aa=False)
    assert len(r.answer) == 0 and len(r.authority) == 0, r


# ----------------------------------------------------------------- CNAME

@pytest.mark.parametrize("tool", DNS_TOOLS)
@pytest.mark.parametrize("tcp,v6", transports())
def test_tool_cname_followed(zserver, tool, tcp, v6):
    r = tool_query(tool, zserver.port, "chain.svc.test", "A", tcp=tcp, v6=v6)
    assert_tool_ok(r, "NOERROR")
    assert [(a[0], a[3], a[4]) for a in r.answer] == [
        ("chain.svc.test.", "CNAME", "alias.svc.test."),
        ("alias.svc.test.", "CNAME", "redis.svc.test."),
        ("redis.svc.test.", "A", "127.0.0.2"),
    ], repr(r)


@pytest.mark.parametrize("tcp,v6", transports())
def test_cname_followed_exact(zserver, tcp, v6):
    r = zserver.query("alias.svc.test.", "AAAA", tcp=tcp, v6=v6)
    assert_header(r, dns.rcode.NOERROR)
    got = [(s.name.to_text(), dns.rdatatype.to_text(s.rdtype), texts(s)) for s in r.answer]
    assert got == [("alias.svc.test.", "CNAME", ["redis.svc.test."]),
                   ("redis.svc.test.", "AAAA", ["fd00::2"])], r


def test_cname_query_for_cname_type(zserver):
    r = zserver.query("alias.svc.test.", "CNAME")
    assert_header(r, dns.rcode.NOERROR)
    assert [(s.name.to_text(), dns.rdatatype.to_text(s.rdtype)) for s in r.answer] == [
        ("alias.svc.test.", "CNAME")], r


def test_cname_target_nodata(zserver):
    """CNAME to a name without the type: the CNAME, then NODATA's SOA."""
    r = zserver.query("alias.svc.test.", "MX")
    assert_header(r, dns.rcode.NOERROR)
    assert [(s.name.to_text(), dns.rdatatype.to_text(s.rdtype)) for s in r.answer] == [
        ("alias.svc.test.", "CNAME")], r
    assert_negative_soa(r)


@pytest.mark.parametrize("qtype", ["TYPE65280", "TXT", "SOA"])
def test_cname_then_nodata_any_type(zserver, qtype):
    """Every type but CNAME is answered through the CNAME, unknown ones too."""
    r = zserver.query("chain.svc.test.", qtype)
    assert_header(r, dns.rcode.NOERROR)
    assert [(s.name.to_text(), dns.rdatatype.to_text(s.rdtype)) for s in r.answer] == [
        ("chain.svc.test.", "CNAME"), ("alias.svc.test.", "CNAME")], r
    assert_negative_soa(r)


def test_cname_target_nxdomain(zserver):
    """CNAME to a missing name in the zone: NXDOMAIN with the CNAME (RFC 6604)."""
    r = zserver.query("dangling.svc.test.", "A")
    assert_header(r, dns.rcode.NXDOMAIN)
    assert [(s.name.to_text(), dns.rdatatype.to_text(s.rdtype)) for s in r.answer] == [
        ("dangling.svc.test.", "CNAME")], r
    assert_negative_soa(r)


@pytest.mark.parametrize("tool", DNS_TOOLS)
@pytest.mark.parametrize("tcp,v6", transports())
def test_tool_cname_out_of_zone(zserver, tool, tcp, v6):
    r = tool_query(tool, zserver.port, "outside.svc.test", "A", tcp=tcp, v6=v6)
    assert_tool_ok(r, "NOERROR")
    assert [(a[0], a[3], a[4]) for a in r.answer] == [
        ("outside.svc.test.", "CNAME", "www.example.org.")], repr(r)


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_cname_out_of_zone_exact(zserver, tcp):
    """A CNAME leaving the zone is answered with the CNAME alone."""
    r = zserver.query("outside.svc.test.", "A", tcp=tcp)
    assert_header(r, dns.rcode.NOERROR)
    assert [(s.name.to_text(), dns.rdatatype.to_text(s.rdtype), texts(s)) for s in r.answer] == [
        ("outside.svc.test.", "CNAME", ["www.example.org."])], r
    assert len(r.authority) == 0 or all(s.rdtype != dns.rdatatype.SOA for s in r.authority), r


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_long_cname_chain_answered(zserver, tcp):
    """A CNAME chain longer than the server follows gets a bounded answer."""
    r = zserver.query("long1.svc.test.", "A", tcp=tcp, timeout=2)
    assert r.rcode() in (dns.rcode.NOERROR, dns.rcode.SERVFAIL), r
    assert not r.flags & dns.flags.RA
    assert sum(len(s) for s in r.answer) <= 16, r
    assert all(s.rdtype == dns.rdatatype.CNAME for s in r.answer), r
    # and the server still answers normally
    assert zserver.query("redis.svc.test.", "A").answer


# ------------------------------------------------- empty non-terminals

@pytest.mark.parametrize("tool", DNS_TOOLS)
@pytest.mark.parametrize("tcp,v6", transports())
def test_tool_empty_non_terminal(zserver, tool, tcp, v6):
    r = tool_query(tool, zserver.port, "a.ent.svc.test", "A", tcp=tcp, v6=v6)
    assert_tool_ok(r, "NOERROR")
    assert r.answer == [], repr(r)
    assert [s[1] for s in r.rrs("authority", "SOA")] == [NEG_TTL], repr(r)


@pytest.mark.parametrize("tcp,v6", transports())
@pytest.mark.parametrize("qname", ["ent.svc.test.", "a.ent.svc.test.", "A.Ent.SVC.test."])
def test_empty_non_terminal_nodata(zserver, tcp, v6, qname):
    r = zserver.query(qname, "A", tcp=tcp, v6=v6)
    assert_header(r, dns.rcode.NOERROR)
    assert len(r.answer) == 0, r
    assert_negative_soa(r)
    r = zserver.query("deep.a.ent.svc.test.", "A", tcp=tcp, v6=v6)
    assert_header(r, dns.rcode.NOERROR)
    assert texts(r.answer[0]) == ["192.0.2.9"]


# ------------------------------------------------------------------- ANY

def assert_single_rrset(r, qname):
    assert_header(r, dns.rcode.NOERROR)
    assert len(r.answer) == 1, "ANY answered with %d RRsets, RFC 8482 wants one:\n%s" % (
        len(r.answer), r)
    rr = r.answer[0]
    assert rr.name.to_text().lower() == qname


@pytest.mark.parametrize("tcp,v6", transports())
@pytest.mark.parametrize("qname", ["redis.svc.test.", "svc.test.", "multi.svc.test.",
                                   "alias.svc.test."])
def test_any_single_rrset(zserver, tcp, v6, qname):
    r = zserver.query(qname, "ANY", tcp=tcp, v6=v6)
    assert_single_rrset(r, qname)
    rr = r.answer[0]
    if rr.rdtype != dns.rdatatype.HINFO:
        # a real RRset of the name, complete, as a type query would give it
        full = zserver.query(qname, dns.rdatatype.to_text(rr.rdtype), tcp=True)
        assert texts(full.answer[0]) == texts(rr)


@pytest.mark.parametrize("tool", DNS_TOOLS)
@pytest.mark.parametrize("tcp,v6", transports())
def test_tool_any(zserver, tool, tcp, v6):
    r = tool_query(tool, zserver.port, "redis.svc.test", "ANY", tcp=tcp, v6=v6)
    assert_tool_ok(r, "NOERROR")
    types = {a[3] for a in r.answer}
    assert len(types) == 1 and len(r.answer) >= 1, repr(r)


@pytest.mark.parametrize("qname,rcode", [("nope.svc.test.", dns.rcode.NXDOMAIN),
                                         ("ent.svc.test.", dns.rcode.NOERROR)])
def test_any_negative(zserver, qname, rcode):
    r = zserver.query(qname, "ANY")
    assert_header(r, rcode)
    assert len(r.answer) == 0
    assert_negative_soa(r)


# ----------------------------------------- header rules on every reply

@pytest.mark.parametrize("tcp,v6", transports())
def test_0x20_case_kept(zserver, tcp, v6):
    for qname in ("ReDiS.sVc.TeSt", "_REDISFO.redis.SVC.test", "NoPe.SvC.tEsT", "WWW.Example.ORG"):
        wire = dnswire.query(qname, dnswire.T_A, id=0x4242)
        reply = zserver.raw(wire, tcp=tcp, v6=v6, timeout=2)
        assert reply is not None, "no reply to %s" % qname
        q = wire[12:]
        assert reply[12:12 + len(q)] == q, "question not copied byte for byte: %r vs %r" % (
            reply[12:12 + len(q)], q)
        h = dnswire.parse_header(reply)
        assert h["qd"] == 1


@pytest.mark.parametrize("tcp,v6", transports())
def test_id_rd_copied_ra_clear(zserver, tcp, v6):
    for qid in (0, 1, 0x8000, 0xabcd, 0xffff):
        for rd in (0, dnswire.RD):
            for qname in ("redis.svc.test", "nope.svc.test", "www.example.org"):
                wire = dnswire.query(qname, dnswire.T_A, id=qid, flags=rd)
                reply = zserver.raw(wire, tcp=tcp, v6=v6, timeout=2)
                h = dnswire.parse_header(reply)
                assert h is not None, "no reply to %s id %d" % (qname, qid)
                assert h["id"] == qid
                assert h["qr"]
                assert h["rd"] == bool(rd), "RD not copied for %s" % qname
                assert not h["ra"], "RA set"
                assert not h["z"]


def test_z_and_cd_ad_bits_in_query(zserver):
    """A query with Z/AD/CD set is answered normally; Z is zero in the reply."""
    wire = dnswire.query("redis.svc.test", dnswire.T_A,
                         flags=dnswire.RD | dnswire.Z | dnswire.AD | dnswire.CD)
    h = dnswire.parse_header(zserver.raw(wire, timeout=2))
    assert h is not None and h["rcode"] == dnswire.NOERROR and h["an"] == 1
    assert not h["z"]
    assert h["cd"], "CD not copied (RFC 4035 3.1.6)"
    assert not h["ad"], "AD set for data from an unsigned zone"
    for qname in ("nope.svc.test", "www.example.org"):
        wire = dnswire.query(qname, dnswire.T_A, flags=dnswire.CD | dnswire.AD)
        h = dnswire.parse_header(zserver.raw(wire, timeout=2))
        assert h["cd"] and not h["ad"] and not h["z"]
