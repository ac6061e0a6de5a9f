"""test_killtest.py - an acknowledged UPDATE survives SIGKILL.

A stream of updates, each moving redis.svc.test. A to a new address; the
server is killed with SIGKILL at random moments (between updates and in the
middle of one), restarted, and checked: the zone file loads (the server
starts from it, and dnspython parses it), and the served record is the last
acknowledged update, or the one after it if that one was in flight when
the server died, never an older one. At least 200 kills; prints the count
of kills and of mismatches (which must be 0):

    cd tests/behaviour && /usr/bin/python3 -m pytest -q -s test_killtest.py
"""

import random
import signal
import socket
import time

import dns.message
import dns.rcode
import dns.update
import dns.zone

from servers import Redisfo

ZONE = """$ORIGIN svc.test.
$TTL 300
@        30 IN SOA ns1.svc.test. hostmaster.svc.test. 1 3600 600 86400 600
@        30 IN NS  ns1.svc.test.
ns1         IN A   127.0.0.1
redis     5 IN A   10.0.0.0
"""

KILLS = 200
BUDGET_S = 85


def addr_of(k):
    return "10.%d.%d.%d" % ((k >> 16) & 255, (k >> 8) & 255, k & 255)


def test_sigkill_during_updates(tmp_path, procs):
    s = procs.add(Redisfo(tmp_path, zone_text=ZONE))
    key = s.tsig_key()
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    acked = 0           # last update whose NOERROR reply we received
    sent = 0            # last update sent
    last_serial = 1
    kills = mismatches = 0
    outcome = {"acknowledged": 0, "applied, reply lost": 0, "not applied": 0}
    problems = []
    t_start = time.monotonic()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        while kills < KILLS and time.monotonic() - t_start < BUDGET_S:
            s.start()
            # After the restart: the file loads and the record is right.
            served = s.query("redis.svc.test.", "A", timeout=2)
            got = [rd.to_text() for rrset in served.answer for rd in rrset]
            ok = {addr_of(acked), addr_of(sent)}
            if len(got) != 1 or got[0] not in ok:
                mismatches += 1
                problems.append("kill %d: served %s, acked %s, sent %s"
                                % (kills, got, addr_of(acked), addr_of(sent)))
            z = dns.zone.from_file(str(s.zone_path), origin="svc.test.", relativize=False)
            serial = z.find_rdataset("svc.test.", "SOA")[0].serial
            if serial < last_serial:
                mismatches += 1
                problems.append("kill %d: serial went back from %d to %d"
                                % (kills, last_serial, serial))
            last_serial = serial
            if sent != acked:
                outcome["applied, reply lost" if got and got[0] == addr_of(sent)
                        else "not applied"] += 1
            elif kills:
                outcome["acknowledged"] += 1
            if got and got[0] == addr_of(sent):
                acked = sent     # the in-flight one made it: it is the base now
            # A few complete updates...
            sock.settimeout(2)
            for _ in range(rng.randrange(0, 4)):
                sent += 1
                u = dns.update.UpdateMessage("svc.test.", keyring=key)
                u.replace("redis", 5, "A", addr_of(sent))
                sock.sendto(u.to_wire(), ("127.0.0.1", s.port))
                reply = sock.recv(65535)
                assert reply[0] << 8 | reply[1] == u.id
                assert reply[3] & 0x0f == dns.rcode.NOERROR, "update refused"
                acked = sent
            # ...then one more, and SIGKILL at a random moment around it.
            sent += 1
            u = dns.update.UpdateMessage("svc.test.", keyring=key)
            u.id = (sent & 0xffff)
            u.replace("redis", 5, "A", addr_of(sent))
            sock.sendto(u.to_wire(), ("127.0.0.1", s.port))
            time.sleep(rng.uniform(0, 0.004))
            s.proc.send_signal(signal.SIGKILL)
            s.proc.wait(timeout=10)
            kills += 1
            # A reply that left before the kill is an acknowledgement.
            sock.settimeout(0.05)
            try:
                while True:
                    reply = sock.recv(65535)
                    if reply[0] << 8 | reply[1] == u.id and reply[3] & 0x0f == 0:
                        acked = sent
            except socket.timeout:
                pass
        # The final state after the last kill.
        s.start()
        got = [rd.to_text() for rrset in s.query("redis.svc.test.", "A").answer for rd in rrset]
        if sent != acked:
            outcome["applied, reply lost" if got and got[0] == addr_of(sent)
                    else "not applied"] += 1
        else:
            outcome["acknowledged"] += 1
        if len(got) != 1 or got[0] not in {addr_of(acked), addr_of(sent)}:
            mismatches += 1
            problems.append("final: served %s, acked %s" % (got, addr_of(acked)))
    finally:
        sock.close()
    elapsed = time.monotonic() - t_start
    print("\nFIGURE kill test: %d kills, %d mismatches, %d updates sent, %.1f s (seed %d)"
          % (kills, mismatches, sent, elapsed, seed))
    print("FIGURE kill test: last update before each kill: %s"
          % ", ".join("%s %d" % kv for kv in outcome.items()))
    assert mismatches == 0, problems[:10]
    assert kills >= KILLS, "only %d kills in %d s" % (kills, BUDGET_S)
