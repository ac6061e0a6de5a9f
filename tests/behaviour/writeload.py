"""writeload.py - a Redis client that writes through a switch, like an app.

It resolves the service name over DNS (straight from the redisfo-dns
server, no cache) before each connection, writes increasing numbers with
SADD (pipelines of `batch` commands, paced to `rate` writes/s when given),
records every write the server acknowledged with the address that took it,
and on any error drops the connection, resolves again and reconnects. A
write that raised is never counted as acknowledged, so `acked` is a subset
of what any primary may hold: after a switch, every one must be on the new
primary.
"""

import threading
import time

import dns.message
import dns.query
import dns.rdatatype
import redis

SET_KEY = "writeload"


class WriteLoad:
    def __init__(self, dns_port, name="redis.svc.test.", redis_port=6379,
                 rate=None, batch=1, password=None, redis_kw=None):
        self.dns_port = dns_port
        self.name = name
        self.redis_port = redis_port
        self.rate = rate
        self.batch = batch
        self.password = password
        self.redis_kw = dict(redis_kw or {})     # e.g. ssl=True, ssl_ca_certs=...
        self.acked = []          # numbers acknowledged, in order
        self.acks = []           # (monotonic time, address) per acked batch
        self.errors = 0
        self.resolves = 0
        self.seq = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.lock = threading.Lock()

    def resolve(self):
        q = dns.message.make_query(self.name, "A")
        r = dns.query.udp(q, "127.0.0.1", port=self.dns_port, timeout=0.5)
        self.resolves += 1
        for rrset in r.answer:
            if rrset.rdtype == dns.rdatatype.A:
                for rr in rrset:
                    return rr.address
        raise RuntimeError("no A record")

    def _run(self):
        conn = None
        addr = None
        t_next = time.monotonic()
        while not self._stop.is_set():
            try:
                if conn is None:
                    addr = self.resolve()
                    conn = redis.Redis(host=addr, port=self.redis_port,
                                       password=self.password,
                                       socket_timeout=2, socket_connect_timeout=1,
                                       **self.redis_kw)
                nums = list(range(self.seq, self.seq + self.batch))
                self.seq += self.batch
                if self.batch == 1:
                    conn.sadd(SET_KEY, nums[0])
                else:
                    pipe = conn.pipeline(transaction=False)
                    for n in nums:
                        pipe.sadd(SET_KEY, n)
                    pipe.execute()
                now = time.monotonic()
                with self.lock:
                    self.acked.extend(nums)
                    self.acks.append((now, addr))
            except Exception:  # noqa: BLE001 - any failure: reconnect
                self.errors += 1
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:  # noqa: BLE001
                        pass
                conn = None
                time.sleep(0.001)
                continue
            if self.rate:
                t_next += self.batch / float(self.rate)
                delay = t_next - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                else:
                    t_next = time.monotonic()
        if conn is not None:
            conn.close()

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=10)

    def snapshot(self):
        with self.lock:
            return list(self.acked), list(self.acks)

    def wait_acks(self, n, timeout=10):
        deadline = time.monotonic() + timeout
        start = len(self.acked)
        while len(self.acked) < start + n:
            if time.monotonic() > deadline:
                raise AssertionError("write load made no progress (%d errors)" % self.errors)
            time.sleep(0.005)

    def missing_on(self, client):
        """Acknowledged numbers that client's node does not hold."""
        acked, _ = self.snapshot()
        held = set(int(x) for x in client.smembers(SET_KEY))
        return [n for n in acked if n not in held]

    def rate_measured(self, seconds=1.0):
        a0 = len(self.acked)
        time.sleep(seconds)
        return (len(self.acked) - a0) / seconds

    def switch_gap(self, t_from, old_addr, new_addr):
        """(last ack on old, first ack on new after t_from) times."""
        _, acks = self.snapshot()
        last_old = max((t for t, a in acks if a == old_addr), default=None)
        first_new = min((t for t, a in acks if a == new_addr and t >= t_from), default=None)
        return last_old, first_new
