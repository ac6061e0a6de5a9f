"""EDNS(0) (RFC 6891) and reply sizes: the OPT and truncation rules.

An OPT in the request gets an OPT in the reply with our size 1232 and
version 0, unknown options ignored and not echoed, the DO bit copied
(RFC 3225); version > 0 gets BADVERS; two OPTs or an OPT not owned by the
root get FORMERR; no OPT in, no OPT out. Replies larger than 512 bytes
(no EDNS) or the client's size are truncated over UDP (TC=1) and complete
over TCP, and real clients retry over TCP and get it all.
"""

import struct

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

import dnswire as w
from dnstools import DNS_TOOLS, tool_query, transports

MEDIUM_N, BIG_N, HUGE_N = 4, 16, 60   # TXT records in confgen.TEST_ZONE


def ask_raw(server, wire, tcp=False, v6=False):
    reply = server.raw(wire, tcp=tcp, v6=v6, timeout=2)
    assert reply is not None and len(reply) >= 12, "no reply to %s" % wire.hex()
    return reply


# --------------------------------------------------------- OPT in, OPT out

@pytest.mark.parametrize("tcp,v6", transports())
@pytest.mark.parametrize("payload", [512, 1232, 4096, 65535])
def test_opt_in_reply(zserver, tcp, v6, payload):
    r = zserver.query("redis.svc.test.", "A", tcp=tcp, v6=v6, use_edns=0, payload=payload)
    assert r.rcode() == dns.rcode.NOERROR and len(r.answer) == 1
    assert r.edns == 0, "no OPT (or wrong version) in reply:\n%s" % r
    assert r.payload == 1232, "our size %d, want 1232" % r.payload
    assert r.options == [] or all(o.otype < 65001 for o in r.options)


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize("qname,qtype,rcode", [
    ("nope.svc.test.", "A", dns.rcode.NXDOMAIN),
    ("redis.svc.test.", "MX", dns.rcode.NOERROR),
    ("www.example.org.", "A", dns.rcode.REFUSED),
])
def test_opt_in_negative_replies(zserver, tcp, qname, qtype, rcode):
    r = zserver.query(qname, qtype, tcp=tcp, use_edns=0, payload=1232)
    assert r.rcode() == rcode
    assert r.edns == 0 and r.payload == 1232, r


def test_opt_in_notimp_reply(zserver):
    reply = ask_raw(zserver, w.query("redis.svc.test", opcode=2, edns=w.opt(4096)))
    m = dns.message.from_wire(reply)
    assert m.rcode() == dns.rcode.NOTIMP
    assert m.edns == 0 and m.payload == 1232, m


@pytest.mark.parametrize("tool", DNS_TOOLS)
@pytest.mark.parametrize("tcp,v6", transports())
def test_tool_opt(zserver, tool, tcp, v6):
    r = tool_query(tool, zserver.port, "redis.svc.test", "A", tcp=tcp, v6=v6, edns=4096)
    assert r.rcode == "NOERROR", repr(r)
    assert r.edns == {"version": 0, "flags": set(), "udp": 1232}, repr(r)


# ------------------------------------------------------------- no OPT in

@pytest.mark.parametrize("tcp,v6", transports())
def test_no_opt_no_opt(zserver, tcp, v6):
    for qname, qtype in (("redis.svc.test.", "A"), ("nope.svc.test.", "A"),
                         ("redis.svc.test.", "MX"), ("www.example.org.", "A")):
        r = zserver.query(qname, qtype, tcp=tcp, v6=v6)
        assert r.edns == -1, "OPT in reply to a query without one:\n%s" % r
    reply = ask_raw(zserver, w.query("redis.svc.test", opcode=2), tcp=tcp, v6=v6)
    assert w.parse_header(reply)["ar"] == 0, reply.hex()


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_no_opt_in_formerr(zserver, tcp):
    reply = ask_raw(zserver, w.header(qd=2) + w.question("a.svc.test") * 2, tcp=tcp)
    h = w.parse_header(reply)
    assert h["rcode"] == w.FORMERR and h["ar"] == 0, reply.hex()


@pytest.mark.parametrize("tool", ["dig", "kdig"])
def test_tool_no_opt(zserver, tool):
    r = tool_query(tool, zserver.port, "redis.svc.test", "A", edns=False)
    assert r.rcode == "NOERROR" and r.edns is None, repr(r)


# --------------------------------------------------------------- BADVERS

@pytest.mark.parametrize("tcp,v6", transports())
@pytest.mark.parametrize("version", [1, 2, 255])
def test_badvers(zserver, tcp, v6, version):
    reply = ask_raw(zserver, w.query("redis.svc.test", edns=w.opt(1232, version=version),
                                     id=0x5150), tcp=tcp, v6=v6)
    h = w.parse_header(reply)
    assert h["id"] == 0x5150 and h["qr"]
    m = dns.message.from_wire(reply)
    assert m.rcode() == dns.rcode.BADVERS, "rcode %s, want BADVERS\n%s" % (
        dns.rcode.to_text(m.rcode()), m)
    assert m.edns == 0, "reply OPT version %d, want 0" % m.edns
    assert m.payload == 1232
    assert len(m.answer) == 0


@pytest.mark.parametrize("tool", ["dig", "kdig"])
@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_tool_badvers(zserver, tool, tcp):
    extra = ["+edns=1"] + (["+noednsneg"] if tool == "dig" else [])
    r = tool_query(tool, zserver.port, "redis.svc.test", "A", tcp=tcp, extra=extra)
    assert r.rcode == "BADVERS", repr(r)
    assert r.edns is not None and r.edns["version"] == 0, repr(r)


# ---------------------------------------------------------- options, DO

@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_unknown_options_not_echoed(zserver, tcp):
    opts = (w.option(65001, b"\xab\xcd") + w.option(0xfde9, b"x" * 40)
            + w.option(20000) + w.option(65535, b"\x00" * 8))
    reply = ask_raw(zserver, w.query("redis.svc.test", edns=w.opt(1232, options=opts)), tcp=tcp)
    m = dns.message.from_wire(reply)
    assert m.rcode() == dns.rcode.NOERROR and len(m.answer) == 1
    assert m.edns == 0
    assert [o.otype for o in m.options] == [], "options echoed: %s" % m.options
    assert b"\xab\xcd" not in reply[12:] and b"x" * 40 not in reply


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_client_cookie_not_echoed_alone(zserver, tcp):
    """A client COOKIE (RFC 7873) is ignored, or answered with a server
    cookie; echoing the client's 8 bytes alone would be wrong."""
    cookie = bytes(range(1, 9))
    opts = w.option(10, cookie) + w.option(12, b"\x00" * 16)   # COOKIE + padding
    reply = ask_raw(zserver, w.query("redis.svc.test", edns=w.opt(1232, options=opts)), tcp=tcp)
    m = dns.message.from_wire(reply)
    assert m.rcode() == dns.rcode.NOERROR and len(m.answer) == 1
    for o in m.options:
        if o.otype == 10:
            assert len(o.to_wire()) >= 16, "client cookie echoed without a server cookie"


def test_tool_unknown_option(zserver):
    r = tool_query("dig", zserver.port, "redis.svc.test", "A", edns=1232,
                   extra=["+ednsopt=65001:abcd"])
    assert r.rcode == "NOERROR" and len(r.answer) == 1, repr(r)
    reply_head = r.text.split("Got answer")[1].split("QUESTION SECTION")[0]
    assert "65001" not in reply_head and "OPT=" not in reply_head, repr(r)


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_option_length_overruns_opt(zserver, tcp):
    bad = struct.pack("!HH", 65001, 50) + b"ab"          # claims 50, has 2
    reply = ask_raw(zserver, w.query("redis.svc.test", edns=w.opt(1232, options=bad)), tcp=tcp)
    assert w.parse_header(reply)["rcode"] == w.FORMERR


@pytest.mark.parametrize("tcp,v6", transports())
def test_do_bit_copied(zserver, tcp, v6):
    r = zserver.query("redis.svc.test.", "A", tcp=tcp, v6=v6, want_dnssec=True)
    assert r.rcode() == dns.rcode.NOERROR and len(r.answer) == 1
    assert r.ednsflags & dns.flags.DO, "DO not copied (RFC 3225 3)\n%s" % r
    r = zserver.query("redis.svc.test.", "A", tcp=tcp, v6=v6, use_edns=0)
    assert not r.ednsflags & dns.flags.DO


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_unknown_edns_flags_and_ext_rcode_ignored(zserver, tcp):
    """RFC 6891 6.1.4 / RFC 8906: unknown EDNS flags are ignored and not
    copied; an extended rcode in a query means nothing."""
    opt = w.opt(1232, do=True, ext_rcode=3)
    opt = opt[:7] + bytes([opt[7] | 0x7f, 0xff]) + opt[9:]     # every Z flag
    reply = ask_raw(zserver, w.query("redis.svc.test", edns=opt), tcp=tcp)
    m = dns.message.from_wire(reply)
    assert m.rcode() == dns.rcode.NOERROR and len(m.answer) == 1, m
    assert m.edns == 0
    assert m.ednsflags & 0xffff == dns.flags.DO, "flags 0x%04x" % (m.ednsflags & 0xffff)


@pytest.mark.parametrize("tool", DNS_TOOLS)
def test_tool_do_bit(zserver, tool):
    r = tool_query(tool, zserver.port, "redis.svc.test", "A", edns=1232, dnssec=True)
    assert r.rcode == "NOERROR", repr(r)
    assert r.edns is not None and "do" in r.edns["flags"], repr(r)


# --------------------------------------------------------------- FORMERR

@pytest.mark.parametrize("tcp,v6", transports())
def test_two_opts_formerr(zserver, tcp, v6):
    wire = w.query("redis.svc.test", edns=w.opt(1232) + w.opt(4096), ar=2, id=0x2002)
    reply = ask_raw(zserver, wire, tcp=tcp, v6=v6)
    h = w.parse_header(reply)
    assert h["rcode"] == w.FORMERR and h["id"] == 0x2002 and h["an"] == 0


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_opt_non_root_owner_formerr(zserver, tcp):
    wire = w.query("redis.svc.test", edns=w.opt(1232, owner=w.name("svc.test")), id=0x2003)
    h = w.parse_header(ask_raw(zserver, wire, tcp=tcp))
    assert h["rcode"] == w.FORMERR and h["an"] == 0


# ------------------------------------------------------ truncation, TCP

def txt_count(m, owner):
    return sum(len(s) for s in m.answer if s.rdtype == dns.rdatatype.TXT
               and s.name.to_text() == owner)


def assert_truncated(reply, limit, edns):
    h = w.parse_header(reply)
    assert h["tc"], "TC not set on a %d-byte reply (limit %d)" % (len(reply), limit)
    assert len(reply) <= limit, "reply %d bytes over the limit %d" % (len(reply), limit)
    assert h["qd"] == 1 and h["rcode"] == w.NOERROR
    m = dns.message.from_wire(reply)
    assert (m.edns == 0) == edns, "OPT %s in a TC reply, query had %s" % (m.edns, edns)


@pytest.mark.parametrize("v6", [False, True], ids=["v4", "v6"])
def test_tc_without_edns(zserver, v6):
    for owner in ("medium", "big", "huge"):
        reply = ask_raw(zserver, w.query(owner + ".svc.test", w.T_TXT), v6=v6)
        assert_truncated(reply, 512, edns=False)


@pytest.mark.parametrize("v6", [False, True], ids=["v4", "v6"])
def test_edns_1232_fits_medium(zserver, v6):
    reply = ask_raw(zserver, w.query("medium.svc.test", w.T_TXT, edns=w.opt(1232)), v6=v6)
    h = w.parse_header(reply)
    assert not h["tc"] and len(reply) <= 1232
    assert txt_count(dns.message.from_wire(reply), "medium.svc.test.") == MEDIUM_N


@pytest.mark.parametrize("size", [1232, 1400])
def test_edns_big_truncated(zserver, size):
    reply = ask_raw(zserver, w.query("big.svc.test", w.T_TXT, edns=w.opt(size)))
    assert_truncated(reply, min(size, 1232) if size <= 1232 else size, edns=True)


def test_edns_small_size_floor_512(zserver):
    """A client size below 512 counts as 512 (RFC 6891 6.2.5)."""
    reply = ask_raw(zserver, w.query("redis.svc.test", w.T_A, edns=w.opt(100)))
    h = w.parse_header(reply)
    assert h["rcode"] == w.NOERROR and h["an"] == 1 and not h["tc"]
    reply = ask_raw(zserver, w.query("medium.svc.test", w.T_TXT, edns=w.opt(100)))
    assert_truncated(reply, 512, edns=True)


def test_edns_large_client_size(zserver):
    """Client size 4096: big (~3.4 KB) comes whole, or TC within the size."""
    reply = ask_raw(zserver, w.query("big.svc.test", w.T_TXT, edns=w.opt(4096)))
    assert len(reply) <= 4096
    h = w.parse_header(reply)
    if not h["tc"]:
        assert txt_count(dns.message.from_wire(reply), "big.svc.test.") == BIG_N


@pytest.mark.parametrize("v6", [False, True], ids=["v4", "v6"])
@pytest.mark.parametrize("owner,n", [("medium", MEDIUM_N), ("big", BIG_N), ("huge", HUGE_N)])
def test_tcp_complete(zserver, v6, owner, n):
    for use_edns in (None, 0):
        r = zserver.query(owner + ".svc.test.", "TXT", tcp=True, v6=v6, use_edns=use_edns)
        assert not r.flags & dns.flags.TC
        assert txt_count(r, owner + ".svc.test.") == n


@pytest.mark.parametrize("tool", ["dig", "kdig"])
@pytest.mark.parametrize("v6", [False, True], ids=["v4", "v6"])
def test_tool_retries_over_tcp(zserver, tool, v6):
    for owner, n in (("big", BIG_N), ("huge", HUGE_N)):
        r = tool_query(tool, zserver.port, owner + ".svc.test", "TXT", v6=v6)
        assert r.rcode == "NOERROR", repr(r)
        assert "tc" not in r.flags, repr(r)
        assert len(r.rrs("answer", "TXT")) == n, repr(r)
    r = tool_query("dig", zserver.port, "medium.svc.test", "TXT", v6=v6, edns=False)
    assert "Truncated" in r.text and len(r.rrs("answer", "TXT")) == MEDIUM_N, repr(r)


@pytest.mark.parametrize("tool", DNS_TOOLS)
def test_tool_sees_tc(zserver, tool):
    extra = {"dig": ["+ignore"], "kdig": ["+ignore"], "drill": []}[tool]
    r = tool_query(tool, zserver.port, "big.svc.test", "TXT", edns=False, extra=extra)
    assert r.rcode == "NOERROR" and "tc" in r.flags, repr(r)
