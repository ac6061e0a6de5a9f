"""dnswire.py - build and pick apart DNS packets byte by byte for tests.

dnspython refuses to build most malformed packets, and the tests need
exactly those: wrong counts, bad labels, compression in the question, odd
opcodes, several OPT records. These helpers write the wire format by hand
(RFC 1035 section 4, RFC 6891 for OPT) and read back the header of a
reply without trusting it.
"""

import random
import struct

QR, AA, TC, RD, RA, Z, AD, CD = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080, 0x0040, 0x0020, 0x0010

T_A, T_NS, T_CNAME, T_SOA, T_MX, T_TXT, T_AAAA, T_OPT = 1, 2, 5, 6, 15, 16, 28, 41
T_IXFR, T_AXFR, T_MAILB, T_MAILA, T_ANY, T_TKEY, T_TSIG = 251, 252, 253, 254, 255, 249, 250
C_IN, C_CH, C_NONE, C_ANY = 1, 3, 254, 255

NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, NOTAUTH = 0, 1, 2, 3, 4, 5, 9
BADVERS = 16


def name(text):
    """Wire form of a presentation name, case kept, no compression."""
    text = text.rstrip(".")
    out = b""
    if text:
        for label in text.split("."):
            raw = label.encode()
            out += bytes([len(raw)]) + raw
    return out + b"\x00"


def header(id=0x1234, flags=RD, qd=1, an=0, ns=0, ar=0, opcode=0, rcode=0):
    flags = (flags & ~0x7800 & ~0x000f) | ((opcode & 0xf) << 11) | (rcode & 0xf)
    return struct.pack("!HHHHHH", id & 0xffff, flags & 0xffff, qd, an, ns, ar)


def question(qname, qtype=T_A, qclass=C_IN):
    raw = qname if isinstance(qname, bytes) else name(qname)
    return raw + struct.pack("!HH", qtype, qclass)


def opt(size=1232, version=0, do=False, ext_rcode=0, options=b"", owner=b"\x00"):
    """An OPT pseudo-RR (RFC 6891 6.1.2)."""
    ttl = (ext_rcode << 24) | (version << 16) | (0x8000 if do else 0)
    return owner + struct.pack("!HHIH", T_OPT, size, ttl, len(options)) + options


def option(code, data=b""):
    return struct.pack("!HH", code, len(data)) + data


def query(qname, qtype=T_A, qclass=C_IN, id=0x1234, flags=RD, opcode=0,
          edns=None, qd=None, an=0, ns=0, ar=None, tail=b""):
    """A query packet; edns is the bytes of OPT RR(s) to append, or None."""
    extra = edns or b""
    if ar is None:
        ar = 0 if edns is None else 1
    return (header(id, flags, 1 if qd is None else qd, an, ns, ar, opcode)
            + question(qname, qtype, qclass) + extra + tail)


def parse_header(wire):
    """The reply header as a dict, or None when shorter than 12 bytes."""
    if wire is None or len(wire) < 12:
        return None
    id_, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", wire[:12])
    return {
        "id": id_, "flags": flags, "qr": bool(flags & QR), "opcode": (flags >> 11) & 0xf,
        "aa": bool(flags & AA), "tc": bool(flags & TC), "rd": bool(flags & RD),
        "ra": bool(flags & RA), "z": bool(flags & Z), "ad": bool(flags & AD),
        "cd": bool(flags & CD), "rcode": flags & 0xf,
        "qd": qd, "an": an, "ns": ns, "ar": ar,
    }


def random_id(rng=random):
    return rng.randrange(0, 65536)
