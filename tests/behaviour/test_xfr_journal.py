"""test_xfr_journal.py - the UPDATE journal on disk (<zone_file>.journal).

Across a restart (SIGTERM, and SIGKILL right after the last UPDATE, before
the zone file is written): an IXFR from each serial the zone went through,
applied by dnspython to the zone at that serial, gives the AXFR; after a
SIGKILL every one of them is incremental, from the journal. A real NSD
secondary, in sync at the first serial before the restart and told by
NOTIFY after it, catches up and holds what we serve. After a clean stop
the zone file holds what AXFR gave, and AXFR holds what queries answer.

A damaged journal: a byte changed in its middle, or one written by a
server of another zone, makes `checkconf` and `serve` exit 2 naming the
file (and for the damage, an offset); a torn last entry (its end cut off)
is dropped, the server serves the state before it and carries on.
"""

import re
import shutil
import signal
import subprocess

import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.xfr
import dns.zone
import pytest

from confgen import TEST_ZONE_LOW_SOA_TTL, service_zone
from servers import NsdSecondary, Redisfo, stop_popen, wait_until

# serial 7, refresh 3600, redis A 127.0.0.2, and records enough that one
# change is less than the zone
ZONE = TEST_ZONE_LOW_SOA_TTL + "".join(
    'txt%d IN TXT "enough records that all the changes weigh less than the zone"\n' % i
    for i in range(40))
FIRST_SERIAL = 7


def journal_of(s):
    return s.zone_path.with_name(s.zone_path.name + ".journal")


def records(z):
    """The zone's records as sorted text lines, for comparing."""
    return sorted("%s %d %s %s" % (name, ttl, dns.rdatatype.to_text(rd.rdtype), rd.to_text())
                  for name, ttl, rd in z.iterate_rdatas())


def axfr(port):
    return dns.zone.from_xfr(dns.query.xfr("127.0.0.1", "svc.test.", port=port, timeout=5,
                                           relativize=False), relativize=False)


def ixfr_is_incremental(s, serial):
    """True when the IXFR from serial comes as changes (the newest SOA,
    then the SOA of serial), False when it comes as the whole zone."""
    recs = []
    for m in dns.query.xfr("127.0.0.1", "svc.test.", rdtype=dns.rdatatype.IXFR, serial=serial,
                           port=s.port, timeout=5, relativize=False):
        assert m.rcode() == 0
        recs.extend((rrset.rdtype, rd) for rrset in m.answer for rd in rrset)
        if len(recs) >= 2:
            break
    return len(recs) >= 2 and recs[1][0] == dns.rdatatype.SOA and recs[1][1].serial == serial


def update(s, *ops):
    u = s.update_message()
    for op in ops:
        getattr(u, op[0])(*op[1:])
    r = dns.query.tcp(u, "127.0.0.1", port=s.port, timeout=5)
    assert r.rcode() == 0, dns.rcode.to_text(r.rcode())


CHANGES = [
    [("replace", "redis", 5, "A", "127.0.0.10")],
    [("add", "fresh", 60, "TXT", '"new"')],
    [("delete", "txt0", "TXT")],
    [("replace", "redis", 5, "A", "127.0.0.11"), ("add", "redis", 5, "AAAA", "fd00::11")],
    [("replace", "fresh", 60, "TXT", '"newer"')],
    [("replace", "txt1", 120, "TXT", '"the TTL and the text change"')],
]


def make_changes(s):
    """Apply CHANGES; {serial: records} of the zone at each serial, first included."""
    at = {s.serial(): records(axfr(s.port))}
    for ops in CHANGES:
        update(s, *ops)
        at[s.serial()] = records(axfr(s.port))
    assert len(at) == len(CHANGES) + 1, sorted(at)
    return at


def zone_from(lines):
    return dns.zone.from_text("\n".join(lines) + "\n", origin="svc.test.", relativize=False)


def notify(sec):
    """A NOTIFY for svc.test. to the secondary, from 127.0.0.1 (its primary)."""
    m = dns.message.make_query("svc.test.", "SOA")
    m.set_opcode(dns.opcode.NOTIFY)
    m.flags |= dns.flags.AA
    m.flags &= ~dns.flags.RD
    r = dns.query.udp(m, "127.0.0.1", port=sec.port, timeout=3, source="127.0.0.1")
    assert r.rcode() == 0


@pytest.mark.parametrize("stop", ["sigterm", "sigkill"])
def test_ixfr_across_restart(tmp_path, procs, stop):
    s = procs.add(Redisfo(tmp_path, zone_text=ZONE, dns={"allow_transfer": ["127.0.0.1"]}))
    s.start()
    nsd = NsdSecondary(tmp_path)
    nsd.configure(s.port)
    conf = nsd.dir / "nsd.conf"
    conf.write_text(conf.read_text() + "    provide-xfr: 127.0.0.1 NOKEY\n")
    procs.add(nsd)
    nsd.start()
    wait_until(lambda: nsd.proc.poll() is None and nsd.serial() == FIRST_SERIAL, timeout=15,
               what="NSD's first transfer\n" + nsd.log()[-1500:])
    # No NOTIFY reaches NSD (none is configured): it stays at the first serial.
    at = make_changes(s)
    last = max(at)
    assert nsd.serial() == FIRST_SERIAL
    # Which IXFRs come as changes (the rest weigh more than the zone: it all).
    before = [serial for serial in sorted(at)[:-1] if ixfr_is_incremental(s, serial)]
    assert before == sorted(at)[:-1], "IXFRs that come whole before the restart"
    if stop == "sigterm":
        assert s.stop() == 0
    else:
        s.proc.send_signal(signal.SIGKILL)      # before the zone file is written
        s.proc.wait(timeout=10)
    s.start()
    assert s.serial() == last
    now = records(axfr(s.port))
    assert now == at[last]
    incremental = []
    for serial in sorted(at):
        if serial == last:
            continue
        z = zone_from(at[serial])
        q, got = dns.xfr.make_query(z)
        assert got == serial
        dns.query.inbound_xfr("127.0.0.1", z, query=q, port=s.port, timeout=5)
        assert records(z) == now, "IXFR from %d applied to the zone at %d" % (serial, serial)
        if ixfr_is_incremental(s, serial):
            incremental.append(serial)
    print("\nFIGURE after %s: IXFR from %d of %d earlier serials comes as changes"
          % (stop, len(incremental), len(at) - 1))
    # The journal holds them across the restart as it did before it.
    assert incremental == before
    # The secondary, told the zone changed, catches up and holds what we do.
    notify(nsd)
    wait_until(lambda: nsd.serial() == last, timeout=10,
               what="NSD at serial %d\n%s" % (last, nsd.log()[-1500:]))
    assert records(axfr(nsd.port)) == now
    if stop == "sigkill":
        assert re.search(r"IXFR to 127\.0\.0\.1:\d+: %d changes up to serial %d"
                         % (len(CHANGES), last), s.log()), s.log()[-2000:]
    # AXFR holds what queries answer, name by name.
    z = axfr(s.port)
    for name, node in z.nodes.items():
        for rds in node.rdatasets:
            r = s.query(name, rds.rdtype)
            got = [rrset for rrset in r.answer if rrset.name == name and
                   rrset.rdtype == rds.rdtype]
            assert got and set(got[0]) == set(rds), (name, rds)
    # A clean stop leaves the zone file holding the same.
    assert s.stop() == 0
    f = dns.zone.from_file(str(s.zone_path), origin="svc.test.", relativize=False)
    assert records(f) == now


# ---------------------------------------------------- a damaged journal

def killed_after_updates(s, addrs):
    """Start s, move redis A through addrs, SIGKILL it at once (the
    journal still holds the changes); the serial after each."""
    s.start()
    serials = []
    for a in addrs:
        update(s, ("replace", "redis", 5, "A", a))
        serials.append(s.serial())
    s.proc.send_signal(signal.SIGKILL)
    s.proc.wait(timeout=10)
    j = journal_of(s)
    assert j.exists() and j.stat().st_size > 0, "no journal beside %s" % s.zone_path
    return serials


def refused(s, journal):
    """checkconf and serve each exit 2 naming the journal; their output."""
    r = s.run("checkconf", timeout=20)
    outs = [r.stdout + r.stderr]
    assert r.returncode == 2, "checkconf exited %d:\n%s" % (r.returncode, outs[0][-1500:])
    with open(s.log_path, "ab") as logf:
        proc = subprocess.Popen([str(s.binary), "-c", str(s.conf_path), "serve"], stdout=logf,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=str(s.dir), env=s.env)
    try:
        code = proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        code = "none: it still runs after 5 s"
    finally:
        stop_popen(proc)
    outs.append(s.log())
    assert code == 2, "serve exited %s:\n%s" % (code, outs[1][-1500:])
    for cmd, out in zip(("checkconf", "serve"), outs):
        assert journal.name in out, "%s does not name %s:\n%s" % (cmd, journal, out[-1500:])
    return outs


def test_corrupt_journal_is_refused(tmp_path, procs):
    s = procs.add(Redisfo(tmp_path, zone_text=ZONE))
    killed_after_updates(s, ["127.0.0.%d" % (10 + i) for i in range(8)])
    j = journal_of(s)
    data = bytearray(j.read_bytes())
    at = len(data) * 2 // 5         # in an entry before the last one
    data[at] ^= 0x5A
    j.write_bytes(bytes(data))
    for out in refused(s, j):
        m = re.search(r"offset\D{0,3}(\d+)", out, re.I)
        assert m, "no offset named:\n" + out[-1500:]
        assert int(m.group(1)) <= at, "offset %s past the damage at %d" % (m.group(1), at)


def test_journal_of_another_zone_is_refused(tmp_path, procs):
    other = procs.add(Redisfo(tmp_path / "other", dns={"zone": "other.test."},
                              zone_text=service_zone("other.test.", "r1", "127.0.0.2")))
    killed_after_updates(other, ["127.0.0.20", "127.0.0.21"])
    s = procs.add(Redisfo(tmp_path / "ours", zone_text=ZONE))
    shutil.copyfile(journal_of(other), journal_of(s))
    refused(s, journal_of(s))


def test_torn_journal_tail_is_dropped(tmp_path, procs):
    s = procs.add(Redisfo(tmp_path, zone_text=ZONE))
    addrs = ["127.0.0.%d" % (10 + i) for i in range(5)]
    serials = killed_after_updates(s, addrs)
    j = journal_of(s)
    size = j.stat().st_size
    with open(j, "r+b") as f:
        f.truncate(size - 3)        # the last entry's end never reached the disk
    s.start()
    r = s.query("redis.svc.test.", "A")
    assert sorted(rd.to_text() for rrset in r.answer for rd in rrset) == [addrs[-2]]
    assert s.serial() == serials[-2]
    # It carries on from there: the next UPDATE survives another SIGKILL.
    update(s, ("replace", "redis", 5, "A", "127.0.0.99"))
    after = s.serial()
    assert after > serials[-2]
    s.proc.send_signal(signal.SIGKILL)
    s.proc.wait(timeout=10)
    s.start()
    r = s.query("redis.svc.test.", "A")
    assert sorted(rd.to_text() for rrset in r.answer for rd in rrset) == ["127.0.0.99"]
    assert s.serial() == after
