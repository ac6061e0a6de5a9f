"""Malformed and unsupported requests: the error rows of the server's contract.

Dropped: shorter than 12 bytes, QR=1. NOTIMP: opcodes other than QUERY,
NOTIFY and UPDATE. FORMERR: QDCOUNT != 1, answer/authority records in a
QUERY, a bad question (label over 63, name over 255, compression pointer,
truncated). REFUSED: classes other than IN. AXFR/IXFR over UDP: FORMERR or
TC. Meta types never produce records. The packets are built byte by byte
(dnswire); after each kind of bad input the server must still answer.
"""

import struct

import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

import dnswire as w
from dnstools import HAVE_IPV6, tool_query, transports


def ask(server, wire, tcp=False, v6=False, timeout=2):
    reply = server.raw(wire, tcp=tcp, v6=v6, timeout=timeout)
    h = w.parse_header(reply)
    assert h is not None, "no reply (or < 12 bytes) to %s" % wire.hex()
    return h, reply


def assert_error(server, wire, rcode, tcp=False, v6=False, opcode=0):
    h, reply = ask(server, wire, tcp=tcp, v6=v6)
    qid = struct.unpack("!H", wire[:2])[0]
    assert h["rcode"] == rcode, "rcode %d, want %d for %s" % (h["rcode"], rcode, wire.hex())
    assert h["qr"] and h["id"] == qid and h["opcode"] == opcode
    assert not h["ra"]
    assert not h["aa"], "AA set on an error reply"
    assert h["an"] == 0 and h["ns"] == 0, "records in an error reply: %s" % reply.hex()
    return h, reply


def assert_alive(server):
    h, _ = ask(server, w.query("redis.svc.test", w.T_A, id=0x7777))
    assert h["rcode"] == w.NOERROR and h["an"] == 1 and h["id"] == 0x7777


# ----------------------------------------------------------------- drop

@pytest.mark.parametrize("v6", [False, True], ids=["v4", "v6"])
def test_short_packets_dropped(zserver, v6):
    good = w.query("redis.svc.test", w.T_A)
    for n in (0, 1, 2, 11):
        assert zserver.raw(good[:n], v6=v6, timeout=0.3) is None, "reply to %d bytes" % n
    assert_alive(zserver)


@pytest.mark.parametrize("tcp,v6", transports())
def test_qr_set_dropped(zserver, tcp, v6):
    for name in ("redis.svc.test", "nope.svc.test", "www.example.org"):
        wire = w.query(name, w.T_A, flags=w.QR | w.RD)
        assert zserver.raw(wire, tcp=tcp, v6=v6, timeout=0.3) is None, "reply to QR=1"
    # a response-looking packet with an error rcode too (no reply loops)
    wire = w.header(flags=w.QR, qd=0, rcode=w.FORMERR)
    assert zserver.raw(wire, tcp=tcp, v6=v6, timeout=0.3) is None
    assert_alive(zserver)


def test_tcp_short_message_dropped(zserver):
    assert zserver.raw(b"\x12\x34\x01\x00", tcp=True, timeout=0.5) is None
    assert_alive(zserver)


# --------------------------------------------------------------- NOTIMP

@pytest.mark.parametrize("tcp,v6", transports())
@pytest.mark.parametrize("opcode", [1, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
def test_notimp_opcodes(zserver, tcp, v6, opcode):
    wire = w.query("redis.svc.test", w.T_A, opcode=opcode, id=0x1000 + opcode)
    h, _ = assert_error(zserver, wire, w.NOTIMP, tcp=tcp, v6=v6, opcode=opcode)


def test_notimp_header_only(zserver):
    """IQUERY/STATUS with no question at all still get NOTIMP."""
    for opcode in (1, 2):
        assert_error(zserver, w.header(id=0x2000 + opcode, qd=0, opcode=opcode), w.NOTIMP,
                     opcode=opcode)


@pytest.mark.parametrize("tcp,v6", transports())
def test_tool_notimp(zserver, tcp, v6):
    r = tool_query("dig", zserver.port, "redis.svc.test", "A", tcp=tcp, v6=v6,
                   extra=["+opcode=status"])
    assert r.rcode == "NOTIMP", repr(r)
    assert "qr" in r.flags and "aa" not in r.flags, repr(r)


# -------------------------------------------------------------- FORMERR

@pytest.mark.parametrize("tcp,v6", transports())
def test_formerr_qdcount(zserver, tcp, v6):
    q = w.question("redis.svc.test")
    assert_error(zserver, w.header(id=1, qd=0), w.FORMERR, tcp=tcp, v6=v6)
    assert_error(zserver, w.header(id=2, qd=2) + q + q, w.FORMERR, tcp=tcp, v6=v6)
    assert_error(zserver, w.header(id=3, qd=2) + q, w.FORMERR, tcp=tcp, v6=v6)
    assert_error(zserver, w.header(id=4, qd=0xffff) + q, w.FORMERR, tcp=tcp, v6=v6)
    assert_alive(zserver)


RR_A = w.name("redis.svc.test") + struct.pack("!HHIH", w.T_A, w.C_IN, 5, 4) + bytes([127, 0, 0, 2])


@pytest.mark.parametrize("tcp,v6", transports())
def test_formerr_answer_or_authority_in_query(zserver, tcp, v6):
    q = w.question("redis.svc.test")
    assert_error(zserver, w.header(id=5, an=1) + q + RR_A, w.FORMERR, tcp=tcp, v6=v6)
    assert_error(zserver, w.header(id=6, ns=1) + q + RR_A, w.FORMERR, tcp=tcp, v6=v6)
    assert_error(zserver, w.header(id=7, an=1) + q, w.FORMERR, tcp=tcp, v6=v6)
    assert_error(zserver, w.header(id=8, an=1, ns=1) + q + RR_A + RR_A, w.FORMERR, tcp=tcp, v6=v6)
    assert_alive(zserver)


def _label_seq(total_len, suffix="svc.test"):
    """A wire name of exactly total_len bytes ending in suffix."""
    tail = w.name(suffix)
    need = total_len - len(tail)
    out = b""
    while need > 0:
        n = min(63, need - 1)
        if need - (n + 1) == 1:     # avoid leaving one byte: no 0-length label
            n -= 1
        out += bytes([n]) + b"a" * n
        need -= n + 1
    assert need == 0
    return out + tail


def test_label_seq_helper():
    assert len(_label_seq(255)) == 255 and len(_label_seq(256)) == 256


@pytest.mark.parametrize("tcp,v6", transports())
def test_formerr_bad_labels(zserver, tcp, v6):
    bad = [
        b"\x40" + b"a" * 64 + w.name("svc.test"),          # 64: the 01 label type
        b"\x7f" + b"a" * 127 + w.name("svc.test"),
        b"\x80\x05redis" + w.name("svc.test"),             # 10 label type
        b"\x41" + b"a" * 65 + b"\x00",
    ]
    for i, qname in enumerate(bad):
        assert_error(zserver, w.header(id=0x100 + i) + qname + b"\x00\x01\x00\x01",
                     w.FORMERR, tcp=tcp, v6=v6)
    # 63 is fine (NXDOMAIN inside the zone)
    ok = b"\x3f" + b"a" * 63 + w.name("svc.test")
    h, _ = ask(zserver, w.header(id=0x1ff) + ok + b"\x00\x01\x00\x01", tcp=tcp, v6=v6)
    assert h["rcode"] == w.NXDOMAIN
    assert_alive(zserver)


@pytest.mark.parametrize("tcp,v6", transports())
def test_formerr_name_too_long(zserver, tcp, v6):
    for n, rcode in ((255, w.NXDOMAIN), (256, w.FORMERR), (300, w.FORMERR)):
        qname = _label_seq(n)
        h, _ = ask(zserver, w.header(id=n) + qname + b"\x00\x01\x00\x01", tcp=tcp, v6=v6)
        assert h["rcode"] == rcode, "name of %d bytes: rcode %d, want %d" % (n, h["rcode"], rcode)
        if rcode == w.NXDOMAIN:     # the SOA's owner points into a long question
            m = dns.message.from_wire(zserver.raw(w.header(id=n) + qname + b"\x00\x01\x00\x01",
                                                  tcp=tcp, v6=v6, timeout=2))
            assert m.authority[0].name.to_text() == "svc.test."
            assert m.question[0].name.to_wire() == qname
    # many short labels: 130 labels of 1 byte = 261 bytes
    qname = b"\x01a" * 130 + b"\x00"
    assert_error(zserver, w.header(id=0x300) + qname + b"\x00\x01\x00\x01", w.FORMERR,
                 tcp=tcp, v6=v6)
    assert_alive(zserver)


@pytest.mark.parametrize("tcp,v6", transports())
def test_formerr_compression_in_question(zserver, tcp, v6):
    cases = [
        b"\xc0\x0c",                                   # points at itself
        b"\x05redis\xc0\x0c",                          # loop back to the start
        b"\x05redis\xc0\x12",                          # a forward pointer
        b"\xc0\x00",                                   # into the header
        b"\xff\xff",
    ]
    for i, qname in enumerate(cases):
        assert_error(zserver, w.header(id=0x400 + i) + qname + b"\x00\x01\x00\x01",
                     w.FORMERR, tcp=tcp, v6=v6)
    # a pointer to a real name placed after the question
    target = w.name("redis.svc.test")
    qname = b"\x03www\xc0\x12"
    pkt = w.header(id=0x4ff) + qname + b"\x00\x01\x00\x01" + target
    assert_error(zserver, pkt, w.FORMERR, tcp=tcp, v6=v6)
    assert_alive(zserver)


@pytest.mark.parametrize("tcp,v6", transports())
def test_formerr_truncated_question(zserver, tcp, v6):
    full = w.query("redis.svc.test", w.T_A, id=0x500)
    qlen = len(w.name("redis.svc.test"))
    for cut in (13, 14, 18, 12 + qlen - 1, 12 + qlen, 12 + qlen + 1, 12 + qlen + 2, 12 + qlen + 3):
        assert_error(zserver, full[:cut], w.FORMERR, tcp=tcp, v6=v6)
    assert_alive(zserver)


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_formerr_missing_additional(zserver, tcp):
    """ARCOUNT says 1 but nothing follows the question."""
    assert_error(zserver, w.query("redis.svc.test", w.T_A, ar=1, id=0x600), w.FORMERR, tcp=tcp)
    assert_error(zserver, w.query("redis.svc.test", w.T_A, edns=w.opt()[:5], id=0x601),
                 w.FORMERR, tcp=tcp)


def test_trailing_garbage_bounded(zserver):
    """Bytes after the counted sections: answered (or FORMERR), never more."""
    h, _ = ask(zserver, w.query("redis.svc.test", w.T_A, tail=b"\xde\xad\xbe\xef"))
    assert h["rcode"] in (w.NOERROR, w.FORMERR)
    # datagrams larger than any query buffer: answered, refused or dropped
    for n in (1232, 4096, 8000, 65000):
        reply = zserver.raw(w.query("redis.svc.test", w.T_A, tail=b"\x00" * n), timeout=0.5)
        h = w.parse_header(reply)
        assert h is None or h["rcode"] in (w.NOERROR, w.FORMERR)
    assert_alive(zserver)


# ---------------------------------------------------------------- class

@pytest.mark.parametrize("tcp,v6", transports())
@pytest.mark.parametrize("qclass", [w.C_CH, 4, w.C_NONE, w.C_ANY, 42, 0xffff])
def test_class_not_in_refused(zserver, tcp, v6, qclass):
    h, _ = assert_error(zserver, w.query("redis.svc.test", w.T_A, qclass=qclass, id=qclass),
                        w.REFUSED, tcp=tcp, v6=v6)
    assert not h["aa"]


@pytest.mark.parametrize("qname", ["version.bind", "id.server", "hostname.bind"])
def test_chaos_txt(zserver, qname):
    """CH TXT version.bind/id.server: REFUSED, or an answer of CH TXT."""
    h, reply = ask(zserver, w.query(qname, w.T_TXT, qclass=w.C_CH, id=0x777))
    assert h["rcode"] in (w.REFUSED, w.NOERROR), h
    if h["rcode"] == w.NOERROR:
        m = dns.message.from_wire(reply)
        assert all(rr.rdclass == w.C_CH for rr in m.answer)
    else:
        assert h["an"] == 0 and not h["aa"]


@pytest.mark.parametrize("tool", ["dig", "kdig", "drill"])
@pytest.mark.parametrize("tcp,v6", transports())
def test_tool_class_ch(zserver, tool, tcp, v6):
    r = tool_query(tool, zserver.port, "redis.svc.test", "A", rdclass="CH", tcp=tcp, v6=v6)
    assert r.rcode == "REFUSED", repr(r)
    assert "aa" not in r.flags and r.answer == [], repr(r)


# ------------------------------------------------ transfers and meta types

@pytest.mark.parametrize("v6", [False, True], ids=["v4", "v6"])
@pytest.mark.parametrize("qtype", [w.T_AXFR, w.T_IXFR])
def test_xfr_over_udp(zserver, v6, qtype):
    h, reply = ask(zserver, w.query("svc.test", qtype, id=qtype), v6=v6)
    assert h["rcode"] == w.FORMERR or h["tc"], "%d over UDP: rcode %d tc %s" % (
        qtype, h["rcode"], h["tc"])
    assert h["an"] == 0, "zone content over UDP"


def test_axfr_over_udp_dnspython(zserver):
    q = dns.message.make_query("svc.test.", "AXFR")
    rep = dns.query.udp(q, "127.0.0.1", port=zserver.port, timeout=2)
    assert rep.rcode() == dns.rcode.FORMERR or rep.flags & dns.flags.TC, rep
    assert len(rep.answer) == 0


@pytest.mark.parametrize("tool", ["dig", "kdig"])
@pytest.mark.parametrize("v6", [False, pytest.param(True, marks=pytest.mark.skipif(
    not HAVE_IPV6, reason="no IPv6"))], ids=["v4", "v6"])
def test_tool_axfr_not_allowed_refused(zserver, tool, v6):
    """Over TCP a transfer goes only to allowed peers (none configured here)."""
    r = tool_query(tool, zserver.port, "svc.test", "AXFR", v6=v6)
    assert "REFUSED" in r.text or "Transfer failed" in r.text, r.text
    assert "127.0.0.2" not in r.text, "zone content sent to a peer not allowed"


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize("qtype", [w.T_OPT, w.T_TSIG, w.T_TKEY, w.T_MAILA, w.T_MAILB, 0, 128])
def test_meta_qtypes_no_records(zserver, tcp, qtype):
    """Meta and reserved qtypes: a reply, never records from the zone."""
    h, _ = ask(zserver, w.query("redis.svc.test", qtype, id=0x900 + qtype), tcp=tcp)
    assert h["rcode"] in (w.NOERROR, w.FORMERR, w.NOTIMP, w.REFUSED), h
    assert h["an"] == 0, "records for meta qtype %d" % qtype
    if h["rcode"] == w.NOERROR:
        assert h["aa"] and h["ns"] == 1     # NODATA with the SOA
    assert_alive(zserver)
