"""fuzz_packets.py - random and mutated DNS requests for the stress test.

A seeded generator (random.Random) of hostile input for the query path:
valid queries first (names in and out of the zone, mixed case, every
interesting qtype and class, with and without OPT), then mutated: bit
flips, truncations, random counts, compression pointers and loops, long
and malformed names, random opcodes and flags, OPT garbage, spliced
packets, plain random bytes. Everything is bytes; nothing here touches the
network. The same seed gives the same packets, so a failure replays.
"""

import random
import struct

import dnswire as w

NAMES = [
    "redis.svc.test", "ReDiS.SvC.TeSt", "_redisfo.redis.svc.test", "svc.test", "nope.svc.test",
    "alias.svc.test", "chain.svc.test", "long1.svc.test", "outside.svc.test",
    "dangling.svc.test", "a.ent.svc.test", "ent.svc.test", "big.svc.test", "huge.svc.test",
    "medium.svc.test", "multi.svc.test", "www.example.org", "", "test", "x.y.z.svc.test",
]
QTYPES = [w.T_A, w.T_AAAA, w.T_TXT, w.T_ANY, w.T_SOA, w.T_NS, w.T_MX, w.T_CNAME, w.T_AXFR,
          w.T_IXFR, w.T_OPT, w.T_TSIG, w.T_TKEY, w.T_MAILA, 0, 65535, 99, 46, 48, 43]
QCLASSES = [w.C_IN] * 8 + [w.C_CH, w.C_NONE, w.C_ANY, 0, 2, 4, 0xffff]


class PacketFuzzer:
    """fuzz.next() -> bytes: one hostile (or sometimes valid) request."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.mutators = [
            (self.m_bitflip, 20), (self.m_truncate, 10), (self.m_counts, 10),
            (self.m_compression, 10), (self.m_long_name, 6), (self.m_bad_labels, 6),
            (self.m_flags, 10), (self.m_opt_garbage, 12), (self.m_splice, 4),
            (self.m_random, 6), (self.m_trailing, 4), (self.m_rr_sections, 6),
            (self.m_valid, 6),
        ]
        self.total = sum(wt for _, wt in self.mutators)

    # -- valid material

    def name(self):
        r = self.rng
        n = r.choice(NAMES)
        if n and r.random() < 0.3:
            n = "".join(c.upper() if r.random() < 0.5 else c for c in n)
        if r.random() < 0.1:
            n = ".".join(["l%d" % r.randrange(100)] * r.randrange(1, 5)) + ("." + n if n else "")
        return n

    def opt_rr(self):
        r = self.rng
        opts = b""
        for _ in range(r.choice([0, 0, 1, 2, 5])):
            opts += w.option(r.choice([3, 8, 10, 11, 12, 15, 65001, r.randrange(65536)]),
                             r.randbytes(r.choice([0, 2, 8, 32, r.randrange(100)])))
        return w.opt(size=r.choice([0, 1, 511, 512, 1232, 1400, 4096, 65535]),
                     version=r.choice([0, 0, 0, 1, 255]), do=r.random() < 0.3,
                     ext_rcode=r.choice([0, 0, 0, 1, 255]), options=opts)

    def valid(self):
        r = self.rng
        edns = self.opt_rr() if r.random() < 0.5 else None
        return w.query(self.name(), r.choice(QTYPES), r.choice(QCLASSES), id=r.randrange(65536),
                       flags=r.choice([0, w.RD, w.RD | w.CD, w.AD]), edns=edns)

    # -- mutations (each takes nothing, returns bytes)

    def m_valid(self):
        return self.valid()

    def m_bitflip(self):
        p = bytearray(self.valid())
        for _ in range(self.rng.choice([1, 1, 2, 3, 8])):
            i = self.rng.randrange(len(p))
            p[i] ^= 1 << self.rng.randrange(8)
        return bytes(p)

    def m_truncate(self):
        p = self.valid()
        return p[:self.rng.randrange(len(p) + 1)]

    def m_counts(self):
        p = bytearray(self.valid())
        r = self.rng
        for off in (4, 6, 8, 10):
            if r.random() < 0.5:
                p[off:off + 2] = struct.pack("!H", r.choice([0, 1, 2, 3, 255, 0xffff, r.randrange(65536)]))
        return bytes(p)

    def m_compression(self):
        r = self.rng
        pos = r.choice([12, 13, 14, 20, 0, 2, 0x3fff, r.randrange(0x4000)])
        ptr = struct.pack("!H", 0xc000 | pos)
        head = w.header(id=r.randrange(65536))
        kind = r.randrange(5)
        if kind == 0:
            q = ptr
        elif kind == 1:
            q = b"\x05redis" + ptr
        elif kind == 2:
            q = w.name("a.svc.test")[:-1] + ptr
        elif kind == 3:     # a chain of pointers
            q = b"".join(struct.pack("!H", 0xc000 | (12 + 2 * (i + 1))) for i in range(r.randrange(1, 40)))
        else:               # pointer in the OPT owner or a record's name
            return (w.header(ar=1) + w.question("redis.svc.test") + ptr
                    + struct.pack("!HHIH", w.T_OPT, 1232, 0, 0))
        return head + q + b"\x00\x01\x00\x01" + (self.opt_rr() if r.random() < 0.3 else b"")

    def m_long_name(self):
        r = self.rng
        labels = []
        for _ in range(r.randrange(1, 140)):
            n = r.choice([1, 2, 63, r.randrange(64)])
            labels.append(bytes([n]) + b"a" * n)
        q = b"".join(labels) + (b"\x00" if r.random() < 0.8 else b"")
        return w.header(id=r.randrange(65536)) + q + b"\x00\x01\x00\x01"

    def m_bad_labels(self):
        r = self.rng
        q = bytes([r.choice([0x40, 0x41, 0x7f, 0x80, 0xbf, 0xc0, 0xff, 63, 64])]) + r.randbytes(r.randrange(80))
        return w.header(id=r.randrange(65536)) + q + b"\x00\x01\x00\x01"

    def m_flags(self):
        p = bytearray(self.valid())
        p[2:4] = struct.pack("!H", self.rng.randrange(65536))
        if self.rng.random() < 0.5:     # keep QR clear so it is not just dropped
            p[2] &= 0x7f
        return bytes(p)

    def m_opt_garbage(self):
        r = self.rng
        owner = r.choice([b"\x00", b"\x00", w.name("svc.test"), b"\xc0\x0c"])
        rdata = r.randbytes(r.randrange(60))
        rdlen = r.choice([len(rdata), len(rdata) + r.randrange(1, 200), max(0, len(rdata) - 3), 0xffff])
        opt = owner + struct.pack("!HHIH", w.T_OPT, r.randrange(65536), r.getrandbits(32), rdlen) + rdata
        n_opt = r.choice([1, 1, 1, 2, 3])
        ar = r.choice([n_opt, n_opt, n_opt + 1, 0])
        return w.header(id=r.randrange(65536), ar=ar) + w.question(self.name(), w.T_A) + opt * n_opt

    def m_splice(self):
        a, b = self.valid(), self.valid()
        return a[:self.rng.randrange(len(a) + 1)] + b[self.rng.randrange(len(b) + 1):]

    def m_random(self):
        r = self.rng
        n = r.choice([12, 13, 17, 30, 100, 512, r.randrange(601)])
        p = bytearray(r.randbytes(n))
        if n >= 3 and r.random() < 0.8:
            p[2] &= 0x7f        # QR=0 so the parser looks further
        return bytes(p)

    def m_trailing(self):
        return self.valid() + self.rng.randbytes(self.rng.randrange(1, 300))

    def m_rr_sections(self):
        """Records where a query has none, or odd ones in additional (TSIG)."""
        r = self.rng
        rtype = r.choice([w.T_A, w.T_TSIG, w.T_OPT, w.T_SOA, w.T_CNAME, r.randrange(65536)])
        rdata = r.randbytes(r.randrange(40))
        rr = w.name(r.choice(["redis.svc.test", "redisfo-key", ""])) + struct.pack(
            "!HHIH", rtype, r.choice([1, 255, 254]), 0, len(rdata)) + rdata
        an, ns, ar = r.choice([(1, 0, 0), (0, 1, 0), (0, 0, 1), (0, 0, 2), (1, 1, 1)])
        return (w.header(id=r.randrange(65536), an=an, ns=ns, ar=ar,
                         opcode=r.choice([0, 0, 4, 5]))
                + w.question(self.name(), r.choice(QTYPES)) + rr * (an + ns + ar))

    def next(self):
        x = self.rng.randrange(self.total)
        for fn, weight in self.mutators:
            if x < weight:
                p = fn()
                return p[:600]
            x -= weight
        raise AssertionError("unreachable")

    def tcp_stream(self):
        """Bytes for one TCP connection: framed packets with lies in the
        length prefixes (short, long, zero, 0xffff), sometimes cut off."""
        r = self.rng
        out = b""
        for _ in range(r.randrange(1, 6)):
            p = self.next()
            kind = r.randrange(6)
            if kind == 0:
                n = len(p)
            elif kind == 1:
                n = max(0, len(p) - r.randrange(1, 20))
            elif kind == 2:
                n = len(p) + r.randrange(1, 100)
            elif kind == 3:
                n = 0
            elif kind == 4:
                n = 0xffff
            else:
                n = r.randrange(65536)
            out += struct.pack("!H", n) + p
        if r.random() < 0.3:
            out = out[:r.randrange(len(out) + 1)]
        return out


# ------------------------------------------------ TSIG-signed UPDATE fuzz

import base64  # noqa: E402
import hashlib  # noqa: E402
import hmac  # noqa: E402
import time  # noqa: E402

_HASHES = {"hmac-sha256": hashlib.sha256, "hmac-sha512": hashlib.sha512,
           "hmac-sha1": hashlib.sha1, "hmac-sha384": hashlib.sha384,
           "hmac-sha224": hashlib.sha224, "hmac-md5.sig-alg.reg.int": hashlib.md5}


def tsig_sign(wire, key_name, secret_b64, algorithm="hmac-sha256", now=None, fudge=300):
    """Append an RFC 8945 TSIG to wire, whatever wire holds.

    The MAC covers wire as given (its header counts without the TSIG) and
    the TSIG variables; ARCOUNT is then raised by one. Lets the stress test
    get hostile bodies past the signature check into the UPDATE code.
    """
    key = base64.b64decode(secret_b64 + "=" * (-len(secret_b64) % 4))
    if algorithm == "hmac-md5":
        algorithm = "hmac-md5.sig-alg.reg.int"
    kname = w.name(key_name.lower())
    aname = w.name(algorithm)
    t = int(time.time() if now is None else now)
    tvars = (kname + struct.pack("!HI", 255, 0) + aname
             + struct.pack("!HIH", t >> 32, t & 0xffffffff, fudge)
             + struct.pack("!HH", 0, 0))
    mac = hmac.new(key, wire + tvars, _HASHES[algorithm]).digest()
    rdata = (aname + struct.pack("!HIH", t >> 32, t & 0xffffffff, fudge)
             + struct.pack("!H", len(mac)) + mac + wire[:2] + struct.pack("!HH", 0, 0))
    rr = kname + struct.pack("!HHIH", w.T_TSIG, 255, 0, len(rdata)) + rdata
    head = bytearray(wire[:12])
    ar = struct.unpack("!H", head[10:12])[0]
    head[10:12] = struct.pack("!H", (ar + 1) & 0xffff)
    return bytes(head) + wire[12:] + rr


class UpdateFuzzer:
    """Hostile RFC 2136 UPDATE bodies for zone `zone` (signed by the caller).

    Only names under fz.<zone> are ever added on purpose, but mutations may
    hit anything: the point is that the server stays up and every zone it
    accepts and persists still loads.
    """

    def __init__(self, seed, zone="svc.test"):
        self.rng = random.Random(seed)
        self.zone = zone

    def rr(self, name, rtype, rclass, ttl, rdata):
        return w.name(name) + struct.pack("!HHIH", rtype, rclass, ttl, len(rdata)) + rdata

    def valid(self):
        r = self.rng
        z = self.zone
        pre, upd = [], []
        owner = "fz%d.fz.%s" % (r.randrange(50), z)
        for _ in range(r.randrange(3)):
            kind = r.randrange(4)
            if kind == 0:       # name in use
                pre.append(self.rr(owner, w.T_ANY, w.C_ANY, 0, b""))
            elif kind == 1:     # name not in use
                pre.append(self.rr(owner, w.T_ANY, w.C_NONE, 0, b""))
            elif kind == 2:     # RRset exists (value dependent)
                pre.append(self.rr(owner, w.T_A, w.C_IN, 0, bytes([192, 0, 2, r.randrange(256)])))
            else:               # RRset does not exist
                pre.append(self.rr(owner, w.T_TXT, w.C_NONE, 0, b""))
        for _ in range(r.randrange(1, 6)):
            kind = r.randrange(6)
            if kind == 0:
                upd.append(self.rr(owner, w.T_A, w.C_IN, r.choice([0, 5, 300, 0x7fffffff, 0xffffffff]),
                                   bytes([192, 0, 2, r.randrange(256)])))
            elif kind == 1:
                txt = r.randbytes(r.randrange(0, 255))
                upd.append(self.rr(owner, w.T_TXT, w.C_IN, 60, bytes([len(txt)]) + txt))
            elif kind == 2:     # delete an RRset
                upd.append(self.rr(owner, r.choice([w.T_A, w.T_TXT, w.T_CNAME]), w.C_ANY, 0, b""))
            elif kind == 3:     # delete all at a name
                upd.append(self.rr(owner, w.T_ANY, w.C_ANY, 0, b""))
            elif kind == 4:     # delete one RR
                upd.append(self.rr(owner, w.T_A, w.C_NONE, 0, bytes([192, 0, 2, r.randrange(256)])))
            else:               # a CNAME, conflicting with the rest
                upd.append(self.rr(owner, w.T_CNAME, w.C_IN, 60, w.name("redis." + z)))
        zone_sec = w.name(z) + struct.pack("!HH", w.T_SOA, w.C_IN)
        return (w.header(id=r.randrange(65536), flags=0, qd=1, an=len(pre), ns=len(upd), opcode=5)
                + zone_sec + b"".join(pre) + b"".join(upd))

    def next(self):
        r = self.rng
        p = bytearray(self.valid())
        kind = r.randrange(8)
        if kind == 0:
            pass
        elif kind == 1 and len(p) > 12:
            for _ in range(r.randrange(1, 4)):
                i = r.randrange(12, len(p))
                p[i] ^= 1 << r.randrange(8)
        elif kind == 2:
            p = p[:r.randrange(12, len(p) + 1)]
        elif kind == 3:
            for off in (4, 6, 8, 10):
                if r.random() < 0.4:
                    p[off:off + 2] = struct.pack("!H", r.choice([0, 1, 2, 5, 0xffff]))
        elif kind == 4:     # a random type and class on some record
            p += self.rr("fz.fz." + self.zone, r.randrange(65536), r.choice([1, 254, 255, 3]),
                         r.getrandbits(32), r.randbytes(r.randrange(30)))
            p[8:10] = struct.pack("!H", struct.unpack("!H", bytes(p[8:10]))[0] + 1)
        elif kind == 5:     # a compression pointer somewhere in a record
            i = r.randrange(12, len(p))
            p[i:i + 2] = struct.pack("!H", 0xc000 | r.randrange(len(p) + 20))
        elif kind == 6:     # another zone in the zone section
            return bytes(w.header(id=1, flags=0, qd=1, opcode=5) + w.name("example.org")
                         + struct.pack("!HH", w.T_SOA, w.C_IN))
        else:
            p += r.randbytes(r.randrange(1, 50))
        return bytes(p)
