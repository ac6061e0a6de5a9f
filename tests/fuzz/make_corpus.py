#!/usr/bin/python3
"""make_corpus.py - write the seed corpus of each fuzz target into
tests/fuzz/corpus/<target>/: a handful of valid inputs each, built by hand
in wire or text form (no library), so the fuzzer starts from messages the
server really answers. Run once; the files are committed.

The targets' first byte is a mode where they have one (see each
fuzz_*.c); the seeds cover every mode.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")

T_A, T_NS, T_SOA, T_CNAME, T_MX, T_TXT, T_AAAA, T_SRV = 1, 2, 6, 5, 15, 16, 28, 33
T_OPT, T_IXFR, T_AXFR, T_ANY = 41, 251, 252, 255
C_IN, C_NONE, C_ANY = 1, 254, 255


def name(text):
    out = b""
    for label in text.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def header(qid, flags, qd, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def question(qname, qtype, qclass=C_IN):
    return name(qname) + struct.pack("!HH", qtype, qclass)


def rr(owner, rtype, rclass, ttl, rdata):
    return name(owner) + struct.pack("!HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def opt(size=1232, do=False, options=b""):
    return b"\0" + struct.pack("!HHIH", T_OPT, size, 0x8000 if do else 0, len(options)) + options


def soa_rdata(serial):
    return name("ns1.svc.test.") + name("hostmaster.svc.test.") + \
        struct.pack("!IIIII", serial, 3600, 600, 86400, 5)


def query(qname, qtype, edns=None, qid=0x1234, flags=0x0100):
    ar = b"" if edns is None else edns
    return header(qid, flags, 1, 0, 0, 1 if edns is not None else 0) + \
        question(qname, qtype) + ar


def update(prereq, updates, qid=0x4242):
    """An UPDATE for svc.test.: zone section, prerequisites, updates."""
    return header(qid, 5 << 11, 1, len(prereq), len(updates)) + \
        question("svc.test.", T_SOA) + b"".join(prereq) + b"".join(updates)


# A TSIG record with a made-up MAC: it parses, it does not verify.
def tsig(mac=b"\x11" * 32, time_signed=1764460800, error=0):
    rdata = name("hmac-sha256.") + struct.pack("!HIH", time_signed >> 32,
                                              time_signed & 0xffffffff, 300)
    rdata += struct.pack("!H", len(mac)) + mac + struct.pack("!HHH", 0x1234, error, 0)
    return rr("redisfo-key.", 250, C_ANY, 0, rdata)


def a(addr):
    return bytes(int(x) for x in addr.split("."))


QUERIES = {
    "a-redis": query("redis.svc.test.", T_A),
    "aaaa-redis-edns": query("redis.svc.test.", T_AAAA, opt()),
    "txt-state-do": query("_redisfo.redis.svc.test.", T_TXT, opt(4096, True)),
    "soa-apex": query("svc.test.", T_SOA),
    "any-apex-edns": query("svc.test.", T_ANY, opt(512)),
    "cname-www": query("WWW.svc.test.", T_A, opt(1400, False, struct.pack("!HH", 10, 8) + b"\1" * 8)),
    "nxdomain": query("nope.svc.test.", T_A),
    "srv": query("_svc._tcp.svc.test.", T_SRV),
    "refused-other-zone": query("example.org.", T_A),
    "signed": header(0x1234, 0x0100, 1, 0, 0, 1) + question("redis.svc.test.", T_A) + tsig(),
    "compressed-formerr": header(0x1234, 0x0100, 1) + b"\xc0\x0c" + struct.pack("!HH", T_A, C_IN),
    "badvers": query("redis.svc.test.", T_A, b"\0" + struct.pack("!HHIH", T_OPT, 1232, 1 << 16, 0)),
}

UPDATES = {
    "replace-a": update(
        [rr("redis.svc.test.", T_A, C_IN, 0, a("127.0.0.2"))],
        [rr("redis.svc.test.", T_A, C_ANY, 0, b""),
         rr("redis.svc.test.", T_A, C_IN, 5, a("127.0.0.3"))]),
    "txt-state": update(
        [rr("redis.svc.test.", T_A, C_ANY, 0, b"")],
        [rr("_redisfo.redis.svc.test.", T_TXT, C_ANY, 0, b""),
         rr("_redisfo.redis.svc.test.", T_TXT, C_IN, 5, b"\x0fprimary=r2 ep=2")]),
    "prereq-absent": update(
        [rr("new.svc.test.", 255, C_NONE, 0, b"")],
        [rr("new.svc.test.", T_AAAA, C_IN, 60, bytes(15) + b"\1")]),
    "delete-rr": update(
        [],
        [rr("redis.svc.test.", T_AAAA, C_NONE, 0, b" \1\x0d\xb8" + bytes(11) + b"\2")]),
    "delete-name": update([], [rr("mail.svc.test.", 255, C_ANY, 0, b"")]),
    "soa-serial": update([], [rr("svc.test.", T_SOA, C_IN, 60, soa_rdata(500))]),
    "cname-clash": update([], [rr("redis.svc.test.", T_CNAME, C_IN, 60, name("www.svc.test."))]),
}


def xfr_query(qtype, serial=None, qid=0x7777):
    if serial is None:
        return header(qid, 0, 1) + question("svc.test.", qtype)
    return header(qid, 0, 1, 0, 1) + question("svc.test.", qtype) + \
        rr("svc.test.", T_SOA, C_IN, 60, soa_rdata(serial))


ZONES = {
    "sample": open(os.path.join(HERE, "..", "..", "zones", "svc.test.zone"), "rb").read(),
    "types": b"""$ORIGIN svc.test.
$TTL 60
@ IN SOA ns1 hostmaster ( 2026113001 3600 600
	86400 5 )
@ IN NS ns1
@ 300 IN MX 10 mail
ns1 IN A 127.0.0.1
ns1 IN AAAA ::1
mail IN A 192.0.2.25
redis 5 IN A 127.0.0.2
redis 5 IN A 127.0.0.3
www IN CNAME redis
_svc._tcp IN SRV 0 5 6379 redis
txt IN TXT "a \\"quoted\\" string" "two;" third
Mixed.Case IN CAA 0 issue "ca.example"
""",
    "relative": b"""$TTL 5
svc.test. IN SOA ns1.svc.test. hostmaster.svc.test. 1 1 1 1 1
svc.test. IN NS ns1.svc.test.
ns1.svc.test. IN A 127.0.0.1
r.svc.test. IN TXT "semi;colon" "back\\\\slash" "\\065\\066"
""",
}

def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82f63b78 if crc & 1 else crc >> 1
    return crc ^ 0xffffffff


def journal_header(origin="svc.test."):
    """dnsd/journal.c: magic, version 1, the origin in wire form, CRC-32C."""
    head = b"RFDNSJNL" + struct.pack("!HH", 1, len(name(origin))) + name(origin)
    return head + struct.pack("!I", crc32c(head))


def journal_record(replay=None, change=None):
    """replay: (time signed, rcode, MAC); change: (serial, removed, added)."""
    payload = bytes([(1 if replay else 0) | (2 if change else 0)])
    if replay:
        t, rcode, mac = replay
        payload += struct.pack("!HIHB", t >> 32, t & 0xffffffff, rcode, len(mac)) + mac
    if change:
        serial, removed, added = change
        payload += rr("svc.test.", T_SOA, C_IN, 3600, soa_rdata(serial))
        payload += rr("svc.test.", T_SOA, C_IN, 3600, soa_rdata(serial + 1))
        payload += struct.pack("!I", len(removed)) + b"".join(removed)
        payload += struct.pack("!I", len(added)) + b"".join(added)
    length = struct.pack("!I", len(payload))
    return length + struct.pack("!II", crc32c(length), crc32c(payload)) + payload


JOURNAL_SWITCH = journal_record(
    (1764460800, 0, b"\x11" * 32),
    (100, [rr("redis.svc.test.", T_A, C_IN, 5, a("127.0.0.2"))],
     [rr("redis.svc.test.", T_A, C_IN, 5, a("127.0.0.3")),
      rr("_redisfo.redis.svc.test.", T_TXT, C_IN, 5, b"\x0fprimary=r2 ep=2")]))

JOURNALS = {
    "empty": journal_header(),
    "replay-only": journal_header() + journal_record((1764460800, 9, b"\xab" * 64)),
    "change-only": journal_header() + journal_record(None, (
        7, [], [rr("new.svc.test.", T_AAAA, C_IN, 60, bytes(15) + b"\1"),
                rr("_svc._tcp.svc.test.", T_SRV, C_IN, 60,
                   struct.pack("!HHH", 0, 5, 6379) + name("redis.svc.test."))])),
    "both-chain": journal_header() + JOURNAL_SWITCH + journal_record(
        (1764460801, 0, b"\x22" * 32),
        (101, [rr("redis.svc.test.", T_A, C_IN, 5, a("127.0.0.3"))],
         [rr("redis.svc.test.", T_A, C_IN, 5, a("127.0.0.2"))])) +
        journal_record((1764460802, 5, b"")),
    "torn-tail": journal_header() + JOURNAL_SWITCH + JOURNAL_SWITCH[:-7],
}


CONF = b"""dns = {
  listen = [ "127.0.0.1:5353", "[::1]:5353" ];
  zone = "svc.test.";
  zone_file = "svc.test.zone";
  ttl = 5;
  workers = 1;
  update_key = {
    name = "redisfo-key.";
    algorithm = "hmac-sha256";
    secret = "RWRZs56tM1jMe7AKi94LNMm9xuUy1J+uvT3GIqfcjpQ=";
  };
  allow_transfer = [ "127.0.0.1", "::1" ];
  notify = [ "127.0.0.1:5301" ];
  rrl = { rate = 100; slip = 2; };
};
failover = {
  server = "127.0.0.1:5353";
  probe_timeout_ms = 500;
  probes = 3;
  pause_timeout_ms = 2000;
  max_lag_bytes = 1048576;
  lock_file = "redisfo.lock";
  audit_log = "redisfo-audit.log";
  pre_hook = "";
  post_hook = "";
  hook_timeout_ms = 30000;
};
services = (
  {
    name = "redis";
    user = "app";
    password = "secret";
    nodes = (
      { name = "r1"; host = "127.0.0.2"; port = 6379; },
      { name = "r2"; host = "127.0.0.3"; port = 6380; address = "10.1.0.3"; priority = 100; },
      { name = "r3"; host = "::1"; port = 6381; address = [ "10.1.0.4", "2001:db8::4" ]; }
    );
  }
);
"""

CONF_MIN = b"""dns = { listen = [ "127.0.0.1" ]; zone = "svc.test."; zone_file = "z.zone"; };
services = ( { name = "redis"; nodes = ( { name = "a"; host = "127.0.0.2"; } ); } );
"""


def reply(qname, qtype, answers, qid=0, flags=0x8400, rcode=0, extra=b"", ar=0):
    return header(qid, flags | rcode, 1, len(answers), 0, ar) + question(qname, qtype) + \
        b"".join(answers) + extra


def main():
    corpus = {
        # query: the message.
        "query": QUERIES,
        # tsig: mode byte (bit 0: sign, bit 1: sha512, bit 2: no key), message.
        "tsig": {
            "raw-unsigned": b"\0" + QUERIES["a-redis"],
            "raw-signed": b"\0" + QUERIES["signed"],
            "sign-query": b"\1" + QUERIES["a-redis"],
            "sign-sha512-update": b"\3" + UPDATES["replace-a"],
            "nokey-signed": b"\4" + QUERIES["signed"],
            "sign-edns": b"\1" + QUERIES["txt-state-do"],
        },
        # update: mode byte (0: key, raw; 1: key, signed; 2: no key), message.
        "update": dict([("signed-" + k, b"\1" + v) for k, v in UPDATES.items()] +
                       [("unsigned-replace-a", b"\0" + UPDATES["replace-a"]),
                        ("nokey-txt-state", b"\2" + UPDATES["txt-state"]),
                        ("bad-tsig", b"\0" + UPDATES["delete-rr"][:11] + b"\1" + UPDATES["delete-rr"][12:] + tsig())]),
        # xfr: mode byte (bits 0-1: peer, bit 2: sign, bit 3: no journal), request.
        "xfr": {
            "axfr-allowed": b"\0" + xfr_query(T_AXFR),
            "axfr-refused-peer": b"\1" + xfr_query(T_AXFR),
            "axfr-signed-peer": b"\5" + xfr_query(T_AXFR),
            "ixfr-100": b"\0" + xfr_query(T_IXFR, 100),
            "ixfr-101-v6": b"\3" + xfr_query(T_IXFR, 101),
            "ixfr-current": b"\2" + xfr_query(T_IXFR, 102),
            "ixfr-nojournal": b"\x08" + xfr_query(T_IXFR, 100),
            "ixfr-signed": b"\5" + xfr_query(T_IXFR, 101),
        },
        # zone: the text of a zone file for svc.test.
        "zone": ZONES,
        # dnsclient: byte 0 picks the call (see fuzz_dnsclient.c), then the reply.
        "dnsclient": {
            "a-two": b"\0" + reply("redis.svc.test.", T_A, [
                rr("redis.svc.test.", T_A, C_IN, 5, a("127.0.0.2")),
                rr("redis.svc.test.", T_A, C_IN, 5, a("127.0.0.3"))]),
            "aaaa": b"\1" + reply("redis.svc.test.", T_AAAA, [
                rr("redis.svc.test.", T_AAAA, C_IN, 5, b" \1\x0d\xb8" + bytes(11) + b"\2")]),
            "txt": b"\2" + reply("_redisfo.redis.svc.test.", T_TXT, [
                rr("_redisfo.redis.svc.test.", T_TXT, C_IN, 5, b"\x0aprimary=r1\x07epoch=1")]),
            "soa": b"\3" + reply("svc.test.", T_SOA, [rr("svc.test.", T_SOA, C_IN, 60, soa_rdata(7))]),
            "nxdomain": b"\0" + reply("redis.svc.test.", T_A, [], rcode=3),
            "truncated": b"\0" + reply("redis.svc.test.", T_A, [], flags=0x8600),
            "update-ok": b"\4" + header(0, 0xa800, 1) + question("svc.test.", T_SOA),
            "update-nxrrset": b"\4" + header(0, 0xa808, 1) + question("svc.test.", T_SOA),
            "update-notauth-signed": b"\5" + header(0, 0xa809, 1, 0, 0, 1) +
                question("svc.test.", T_SOA) + tsig(b"", error=16),
        },
        # journal: mode byte (bit 0: the fuzzer fixes the checksums), a
        # journal of svc.test. (dnsd/journal.c).
        "journal": dict([(k, b"\0" + v) for k, v in JOURNALS.items()] +
                        [("fix-" + k, b"\1" + v) for k, v in JOURNALS.items()]),
        # conf: the text of a config file.
        "conf": {"sample": CONF, "minimal": CONF_MIN,
                 "bad-key": CONF_MIN.replace(b"zone_file", b"zone_fiel")},
    }
    for target, seeds in corpus.items():
        d = os.path.join(OUT, target)
        os.makedirs(d, exist_ok=True)
        for old in os.listdir(d):
            os.unlink(os.path.join(d, old))
        for seed, data in seeds.items():
            with open(os.path.join(d, seed), "wb") as f:
                f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
