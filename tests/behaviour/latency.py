"""Send->reply and send->served times of UPDATEs, for the figures: one
loop for any RFC 2136 server (ours or an external primary)."""
import socket
import statistics
import time

import dns.message


def update_latency(port, make_update, n=100, name="redis.svc.test.", host="127.0.0.1"):
    """make_update(i) -> (wire, new_address). The first n UPDATEs time the
    reply; the next n poll the answer until the new address is served.
    Returns (reply_ms, served_ms) lists."""
    reply_ms, served_ms = [], []
    q = dns.message.make_query(name, "A").to_wire()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as us, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as qs:
        us.connect((host, port))
        qs.connect((host, port))
        us.settimeout(3)
        qs.settimeout(3)
        for i in range(2 * n):
            wire, addr = make_update(i)
            want = socket.inet_aton(addr)
            t0 = time.perf_counter()
            us.send(wire)
            if i < n:
                reply = us.recv(65535)
                reply_ms.append((time.perf_counter() - t0) * 1000)
                assert reply[3] & 0x0f == 0, "UPDATE answered rcode %d" % (reply[3] & 0x0f)
            else:
                deadline = t0 + 3
                while True:
                    qs.send(q)
                    if want in qs.recv(65535):
                        break
                    assert time.perf_counter() < deadline, "new answer not served"
                served_ms.append((time.perf_counter() - t0) * 1000)
                reply = us.recv(65535)
                assert reply[3] & 0x0f == 0
    return reply_ms, served_ms


def print_figures(label, reply_ms, served_ms):
    n = len(reply_ms)
    print("\nFIGURE %s send->reply median %.3f ms (n=%d, p90 %.3f ms)"
          % (label, statistics.median(reply_ms), n, sorted(reply_ms)[int(n * 0.9)]))
    print("FIGURE %s send->served median %.3f ms (n=%d, p90 %.3f ms)"
          % (label, statistics.median(served_ms), n, sorted(served_ms)[int(n * 0.9)]))
