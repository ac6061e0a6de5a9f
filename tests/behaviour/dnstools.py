"""dnstools.py - how behaviour tests talk DNS to a server they started.

DnsClient is the query side of every server object in servers.py: ask a
name with dnspython over UDP or TCP, send raw bytes, read the SOA serial.
tool_query runs the real command-line clients (dig, kdig, drill) and
ToolReply parses what they print, so a test can check that a reply is
what those tools accept; need_tool skips a test whose tool is missing.
dnswire.py builds the packets dnspython refuses to.

It asks 127.0.0.1 or ::1 only, and every call has a timeout: it never
waits for a reply that may not come.
"""

import re
import shutil
import socket
import struct
import subprocess

import dns.message
import dns.query
import dns.rdataclass
import dns.rdatatype


def ipv6_loopback_available():
    """True when ::1 can be bound (the machine has IPv6 loopback)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


HAVE_IPV6 = ipv6_loopback_available()


def recv_exact(sock, n):
    """Read exactly n bytes from a stream socket; None if it closes first."""
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def need_tool(name):
    """The path of the program name; skips the calling test when it is
    not installed."""
    path = shutil.which(name)
    if path is None:
        import pytest
        pytest.skip("%s not installed" % name)
    return path


# --------------------------------------------------------------- dnspython

class DnsClient:
    """Queries to a server on loopback at self.port, whose zone is
    self.zone; mixed into the server classes of servers.py."""

    port = None
    zone = "svc.test."

    def addr(self, v6=False):
        return "::1" if v6 else "127.0.0.1"

    def make_query(self, name, rdtype, want_dnssec=False, use_edns=None,
                   payload=None, rdclass="IN", **kw):
        if isinstance(rdtype, str):
            rdtype = dns.rdatatype.from_text(rdtype)
        if isinstance(rdclass, str):
            rdclass = dns.rdataclass.from_text(rdclass)
        if payload is not None and use_edns is None:
            use_edns = 0
        return dns.message.make_query(name, rdtype, rdclass=rdclass,
                                      use_edns=use_edns, want_dnssec=want_dnssec,
                                      payload=payload, **kw)

    def send(self, msg, tcp=False, v6=False, timeout=2):
        """Send a dns.message.Message, return the reply Message."""
        if tcp:
            return dns.query.tcp(msg, self.addr(v6), port=self.port, timeout=timeout)
        return dns.query.udp(msg, self.addr(v6), port=self.port, timeout=timeout)

    def query(self, name, rdtype, tcp=False, v6=False, want_dnssec=False,
              use_edns=None, payload=None, timeout=2, **kw):
        """Ask name/rdtype; returns the reply as a dns.message.Message."""
        msg = self.make_query(name, rdtype, want_dnssec=want_dnssec,
                              use_edns=use_edns, payload=payload, **kw)
        return self.send(msg, tcp=tcp, v6=v6, timeout=timeout)

    def serial(self):
        """The serial of the zone's SOA as served now."""
        return self.query(self.zone, "SOA").answer[0][0].serial

    def raw(self, wire, tcp=False, v6=False, timeout=0.5):
        """Send raw bytes; return the raw reply bytes, or None on timeout.

        Over TCP the 2-byte length prefix is added here and stripped from
        the reply; a connection closed without a reply also gives None.
        """
        family = socket.AF_INET6 if v6 else socket.AF_INET
        addr = (self.addr(v6), self.port)
        if not tcp:
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.settimeout(timeout)
                s.connect(addr)
                s.send(wire)
                try:
                    return s.recv(65535)
                except (socket.timeout, ConnectionRefusedError):
                    return None
        with socket.create_connection(addr, timeout=timeout) as s:
            s.sendall(struct.pack("!H", len(wire)) + wire)
            try:
                head = recv_exact(s, 2)
                if head is None:
                    return None
                return recv_exact(s, struct.unpack("!H", head)[0])
            except (socket.timeout, ConnectionResetError):
                return None


# ------------------------------------------------------ real DNS clients

class ToolReply:
    """What dig, kdig or drill printed, parsed into the fields tests need.

    rcode (text, extended rcodes included when the tool shows them), id,
    flags (set of lower-case flag names), counts {QUERY, ANSWER, ...},
    answer/authority/additional as lists of (name, ttl, class, type, rdata)
    with names lower-cased, edns None or {version, udp, flags}, and text.
    """

    def __init__(self, tool, text):
        self.tool = tool
        self.text = text
        self.rcode = None
        self.id = None
        self.flags = set()
        self.counts = {}
        self.edns = None
        self.answer, self.authority, self.additional = [], [], []
        self._parse()

    def _parse(self):
        t = self.text
        m = re.search(r"->>HEADER<<- opcode: (\w+)[,;] (?:status|rcode): ([A-Z0-9]+)[,;] id: (\d+)", t)
        if m:
            self.opcode, self.rcode, self.id = m.group(1), m.group(2), int(m.group(3))
        m = re.search(r"^;; [Ff]lags: ?([a-z ]*?)\s*;", t, re.M)
        if m:
            self.flags = set(m.group(1).split())
        for k in ("QUERY", "ANSWER", "AUTHORITY", "ADDITIONAL"):
            m = re.search(r"\b%s: (\d+)" % k, t)
            if m:
                self.counts[k] = int(m.group(1))
        m = (re.search(r"EDNS: version: (\d+), flags:([a-z ]*); udp: (\d+)", t)          # dig
             or re.search(r"Version: (\d+); flags: ?([a-z ]*); UDP size: (\d+) B", t)    # kdig
             or re.search(r"EDNS: version (\d+); flags: ?([a-z ]*); udp: (\d+)", t))     # drill
        if m:
            self.edns = {"version": int(m.group(1)), "flags": set(m.group(2).split()),
                         "udp": int(m.group(3))}
        section = None
        for line in t.splitlines():
            m = re.match(r"^;; (ANSWER|AUTHORITY|ADDITIONAL) SECTION:", line)
            if m:
                section = getattr(self, m.group(1).lower())
                continue
            if not line.strip() or line.startswith(";"):
                if not line.strip():
                    section = None
                continue
            if section is None:
                continue
            parts = line.split(None, 4)
            if len(parts) >= 4 and parts[1].isdigit():
                rdata = parts[4] if len(parts) > 4 else ""
                if parts[3] in ("OPT",):
                    continue
                section.append((parts[0].lower(), int(parts[1]), parts[2].upper(),
                                parts[3].upper(), rdata))

    def rrs(self, section="answer", rdtype=None):
        rows = getattr(self, section)
        return [r for r in rows if rdtype is None or r[3] == rdtype.upper()]

    def __repr__(self):
        return "<%s reply %s flags=%s>\n%s" % (self.tool, self.rcode, sorted(self.flags), self.text)


DNS_TOOLS = ("dig", "kdig", "drill")


def tool_query(tool, port, name, rdtype="A", tcp=False, v6=False, edns=None,
               dnssec=False, extra=(), timeout=3, rdclass=None):
    """Ask name/rdtype with dig, kdig or drill at port on ::1/127.0.0.1.

    edns: None leaves the tool's default, False turns EDNS off, an int asks
    for that EDNS buffer size. Returns a ToolReply.
    """
    server = "::1" if v6 else "127.0.0.1"
    if tool in ("dig", "kdig"):
        # The two share their syntax but for retries and TCP.
        cmd = [tool, "@" + server, "-p", str(port), name, rdtype]
        if tool == "dig":
            cmd += ["+tries=1", "+time=2", "+nocookie", "+tcp" if tcp else "+notcp"]
        else:
            cmd += ["+retry=0", "+timeout=2"] + (["+tcp"] if tcp else [])
        if rdclass:
            cmd += ["-c", rdclass]
        if edns is False:
            cmd.append("+noedns")
        elif edns is not None:
            cmd += ["+edns=0", "+bufsize=%d" % edns]
        if dnssec:
            cmd.append("+dnssec")
    elif tool == "drill":
        cmd = ["drill", "-p", str(port), "-6" if v6 else "-4"]
        if tcp:
            cmd.append("-t")
        if edns not in (None, False):
            cmd += ["-b", str(edns)]
        if dnssec:
            cmd.append("-D")
        cmd += [name, rdtype]
        if rdclass:
            cmd.append(rdclass)
        cmd.append("@" + server)
    else:
        raise ValueError(tool)
    cmd += list(extra)
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 5)
    reply = ToolReply(tool, res.stdout + res.stderr)
    reply.cmd = cmd
    reply.returncode = res.returncode
    return reply


def transports(v6=True):
    """pytest params (tcp, v6) for UDP/TCP over IPv4 and, when the machine
    has it, IPv6; ids udp4, tcp4, udp6, tcp6."""
    import pytest
    out = [pytest.param(False, False, id="udp4"), pytest.param(True, False, id="tcp4")]
    if v6:
        mark = pytest.mark.skipif(not HAVE_IPV6, reason="no IPv6 loopback")
        out += [pytest.param(False, True, id="udp6", marks=mark),
                pytest.param(True, True, id="tcp6", marks=mark)]
    return out
