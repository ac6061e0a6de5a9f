/*
 * wire.h - DNS wire format, in one place: the header's offsets and flag
 * bits, the opcode, rcode, type and class numbers the server speaks, the
 * big-endian readers and writers, and the walkers over wire-form names.
 *
 * Every dnsd file that reads or writes a message by hand takes its numbers
 * and helpers from here, so that a constant is spelled once. Everything is
 * static inline: the query fast path uses it, so nothing here may
 * allocate, block, touch global state or call ldns. The readers do not
 * check lengths; the walkers over names that come from the network do,
 * and say so.
 */
#ifndef REDISFO_WIRE_H
#define REDISFO_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define DNS_HEADER_LEN		12
#define DNS_NAME_MAX		255	/* octets of a wire-form name, root included */
#define DNS_LABEL_MAX		63
#define EDNS_OUR_SIZE		1232	/* the UDP size we offer and answer within */

/* Header offsets: ID, the two flag octets, the four counts. */
#define DNS_OFF_ID		0
#define DNS_OFF_FLAGS1		2	/* QR, opcode, AA, TC, RD */
#define DNS_OFF_FLAGS2		3	/* RA, Z, AD, CD, rcode */
#define DNS_OFF_QDCOUNT		4
#define DNS_OFF_ANCOUNT		6
#define DNS_OFF_NSCOUNT		8
#define DNS_OFF_ARCOUNT		10

/* Bits of the first flag octet (offset 2). */
#define DNS_FLAG_QR		0x80
#define DNS_FLAG_AA		0x04
#define DNS_FLAG_TC		0x02
#define DNS_FLAG_RD		0x01
#define DNS_OPCODE_SHIFT	3
#define DNS_OPCODE_MASK		0x0f	/* after the shift */
/* Bits of the second flag octet (offset 3). */
#define DNS_FLAG_RA		0x80
#define DNS_FLAG_CD		0x10
#define DNS_RCODE_MASK		0x0f

#define DNS_OPCODE_QUERY	0
#define DNS_OPCODE_NOTIFY	4
#define DNS_OPCODE_UPDATE	5

/*
 * Rcodes: the header's four bits, then the extended ones (EDNS, and the
 * TSIG error field of RFC 8945, where 16 is BADSIG rather than BADVERS).
 */
#define DNS_RCODE_NOERROR	0
#define DNS_RCODE_FORMERR	1
#define DNS_RCODE_SERVFAIL	2
#define DNS_RCODE_NXDOMAIN	3
#define DNS_RCODE_NOTIMP	4
#define DNS_RCODE_REFUSED	5
#define DNS_RCODE_YXDOMAIN	6
#define DNS_RCODE_YXRRSET	7
#define DNS_RCODE_NXRRSET	8
#define DNS_RCODE_NOTAUTH	9
#define DNS_RCODE_NOTZONE	10
#define DNS_RCODE_BADVERS	16	/* in an OPT */
#define DNS_RCODE_BADSIG	16	/* in a TSIG */
#define DNS_RCODE_BADKEY	17
#define DNS_RCODE_BADTIME	18
#define DNS_RCODE_BADTRUNC	22

#define DNS_TYPE_SOA		6
#define DNS_TYPE_OPT		41
#define DNS_TYPE_TKEY		249
#define DNS_TYPE_TSIG		250
#define DNS_TYPE_IXFR		251
#define DNS_TYPE_AXFR		252

#define DNS_CLASS_IN		1
#define DNS_CLASS_ANY		255

#define DNS_OPT_LEN		11	/* an OPT record without options */
#define DNS_PTR_MASK		0xc0	/* the top bits of a label's length octet */
#define DNS_PTR			0xc0	/* ... when it is a compression pointer */

static inline uint16_t
dns_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void
dns_wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint32_t
dns_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void
dns_wr32(uint8_t *p, uint32_t v)
{
	dns_wr16(p, (uint16_t)(v >> 16));
	dns_wr16(p + 2, (uint16_t)v);
}

/* The 48-bit times of TSIG. */
static inline uint64_t
dns_rd48(const uint8_t *p)
{
	return (uint64_t)dns_rd16(p) << 32 | dns_rd32(p + 2);
}

static inline void
dns_wr48(uint8_t *p, uint64_t v)
{
	dns_wr16(p, (uint16_t)(v >> 32));
	dns_wr32(p + 2, (uint32_t)v);
}

static inline unsigned
dns_opcode(const uint8_t *wire)
{
	return (wire[DNS_OFF_FLAGS1] >> DNS_OPCODE_SHIFT) & DNS_OPCODE_MASK;
}

static inline unsigned
dns_rcode(const uint8_t *wire)
{
	return wire[DNS_OFF_FLAGS2] & DNS_RCODE_MASK;
}

/* ASCII lower case only: DNS names compare without regard to locale. */
static inline uint8_t
dns_lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/*
 * Lower-case a wire-form name of len octets into dst (which may be src).
 * Length octets (< 64) and pointers (>= 0xc0) fold to themselves, so the
 * octets can be taken one by one.
 */
static inline void
dns_name_lower(uint8_t *dst, const uint8_t *src, size_t len)
{
	for (size_t i = 0; i < len; i++)
		dst[i] = dns_lower(src[i]);
}

/* Two wire-form names, equal ignoring ASCII case (octet by octet, as above). */
static inline int
dns_name_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	if (alen != blen)
		return 0;
	for (size_t i = 0; i < alen; i++)
		if (a[i] != b[i] && dns_lower(a[i]) != dns_lower(b[i]))
			return 0;
	return 1;
}

/*
 * Skip the possibly compressed name at pos of a message of len octets,
 * without following a pointer. Returns the offset just past it, or 0 when
 * it runs off the end, is longer than a name may be, or is not a name.
 */
static inline size_t
dns_name_skip(const uint8_t *wire, size_t len, size_t pos)
{
	size_t total = 0;

	while (pos < len) {
		uint8_t b = wire[pos];

		if (b == 0)
			return pos + 1;
		if ((b & DNS_PTR_MASK) == DNS_PTR)
			return pos + 2 <= len ? pos + 2 : 0;
		if (b & DNS_PTR_MASK)
			return 0;
		total += b + 1;
		if (total > DNS_NAME_MAX)
			return 0;
		pos += 1 + b;
	}
	return 0;
}

/*
 * Read the possibly compressed name at *off into out (at least
 * DNS_NAME_MAX octets) as an uncompressed wire-form name, following
 * pointers (at most 64 jumps); *off moves past the name as it stands in
 * the message. -1 when it is malformed or runs off the end.
 */
static inline int
dns_name_read(const uint8_t *wire, size_t len, size_t *off, uint8_t *out,
    size_t *out_len)
{
	size_t	p = *off, o = 0, end = 0;
	int	jumps = 0;

	for (;;) {
		uint8_t c;

		if (p >= len)
			return -1;
		c = wire[p];
		if ((c & DNS_PTR_MASK) == DNS_PTR) {
			if (p + 1 >= len || ++jumps > 64)
				return -1;
			if (end == 0)
				end = p + 2;
			p = (size_t)((c & ~DNS_PTR_MASK) << 8 | wire[p + 1]);
			continue;
		}
		if (c & DNS_PTR_MASK)
			return -1;
		if (p + 1 + c > len || o + 1 + c > DNS_NAME_MAX)
			return -1;
		memcpy(out + o, wire + p, (size_t)c + 1);
		o += (size_t)c + 1;
		p += (size_t)c + 1;
		if (c == 0)
			break;
	}
	*off = end ? end : p;
	*out_len = o;
	return 0;
}

/*
 * A presentation name ("svc.test.", final dot optional; "" or "." the
 * root) to wire form in out (DNS_NAME_MAX octets), case kept. Returns its
 * length, 0 for an empty label, a label over 63 octets or a name over 255.
 */
static inline size_t
dns_name_from_text(const char *text, uint8_t *out)
{
	size_t	o = 0;

	if (strcmp(text, ".") == 0)
		text++;
	while (*text != '\0') {
		const char	*dot = strchr(text, '.');
		size_t		 l = dot ? (size_t)(dot - text) : strlen(text);

		if (l == 0 || l > DNS_LABEL_MAX || o + l + 2 > DNS_NAME_MAX)
			return 0;
		out[o++] = (uint8_t)l;
		memcpy(out + o, text, l);
		o += l;
		text += l;
		if (*text == '.')
			text++;
	}
	out[o++] = 0;
	return o;
}

#endif
