/*
 * journal.h - the zone's durable change journal, "<zone_file>.journal".
 *
 * Before the server answers an UPDATE it appends one record here and
 * fdatasyncs it, so an acknowledged change survives a crash without the
 * zone file being rewritten each time; the zone file is rewritten now and
 * then, and the journal then compacted. At start the server reads the zone
 * file, then this journal, and applies the changes after the file's
 * serial. A record also carries the replay facts of a signed request (its
 * Time Signed, MAC and answer), so none is run twice across a restart.
 *
 * This module only reads and writes the file: it never decides which
 * changes apply, never touches the zone or the served snapshot, and never
 * prints. The format is described at the top of journal.c.
 */
#ifndef REDISFO_JOURNAL_H
#define REDISFO_JOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <ldns/ldns.h>

/* One record: a signed request's replay facts, a zone change, or both. */
struct journal_rec {
	int		 has_replay;
	uint64_t	 time_signed;	/* the request's TSIG Time Signed (48 bits) */
	uint8_t		 mac[64];
	size_t		 mac_len;	/* 0..64 */
	int		 rcode;		/* the answer it got, 0..65535 */
	int		 has_change;
	ldns_rr		*from_soa, *to_soa;	/* the whole SOA before and after */
	ldns_rr_list	*removed, *added;	/* the change's records, SOAs excluded */
};

/* "<zone_file>.journal"; -1 when it does not fit. */
int		 journal_path(const char *zone_file, char *path, size_t len);

/*
 * Read the journal at path, written for zone origin (an absolute name,
 * "svc.test."), calling fn(arg, rec, offset) for each record in order (fn
 * may be NULL: the file is only checked). rec and its ldns objects are
 * fn's to read only, freed after it returns; a change's removed and added
 * lists are never NULL. fn returning -1 stops the read with that error (fn
 * fills err itself). A missing file is no records (0, *end = 0).
 *
 * A torn last record (the file ends inside it; or its checksum fails and
 * nothing follows it; or its length is damaged and no good record follows)
 * is not a record: it is dropped, *torn = its offset (else -1), and 0
 * returned.
 * Anything else (not a journal, another zone's, an unknown version, a
 * damaged record with data after it, a record that does not parse, a
 * change whose from-serial is not the previous change's to-serial) is -1
 * with err "PATH: offset N: WHAT", N the offset of the bad record or
 * header field. *end = the offset just after the last good record, where
 * appending continues.
 */
int		 journal_read(const char *path, const char *origin,
		    int (*fn)(void *arg, const struct journal_rec *rec, off_t off), void *arg,
		    off_t *end, off_t *torn, char *err, size_t errlen);

struct journal;

/*
 * Open path for appending at offset end, as journal_read gave it: a torn
 * tail past end is cut off and that made durable. A missing file is
 * created with its header for origin (end must then be 0, as journal_read
 * gives for a missing file) and its folder fsynced. A file whose header is
 * not origin's is refused. NULL with err.
 */
struct journal	*journal_open(const char *path, const char *origin, off_t end,
		    char *err, size_t errlen);
/*
 * Append one record and make it durable (one write, one fdatasync) before
 * returning (a change's NULL list is an empty one). The record is checked
 * first to read back as journal_read reads it, and a change's from-serial
 * to follow the to-serial of the last change appended through j. Returns the offset the record starts at, or
 * -1 with err; on failure the file is cut back to where it was. If even
 * that fails, every later append and compaction through j fails too: the
 * file's tail is unknown until it is read again.
 */
off_t		 journal_append(struct journal *j, const struct journal_rec *rec,
		    char *err, size_t errlen);
/* Bytes in the file, header included: the offset the next record takes. */
off_t		 journal_size(const struct journal *j);
/*
 * Replace the journal by one that keeps only its records from offset
 * keep_from on (a record start journal_append returned or journal_read
 * reported; journal_size(j) keeps none): a new file with the header and
 * those bytes, fsynced, renamed over the old one, the folder fsynced; j
 * appends to the new file afterwards. Returns the offset in the new file
 * that keep_from moved to (callers shift the offsets they keep by the
 * difference), or -1 with err and the old file in place. Should the
 * folder's fsync fail after the rename, j refuses appends from then on:
 * a crash could bring the old file back without what they would add.
 */
off_t		 journal_compact(struct journal *j, off_t keep_from, char *err,
		    size_t errlen);
void		 journal_close(struct journal *j);

/* CRC-32C (Castagnoli) of len bytes, as the journal's checksums use it. */
uint32_t	 journal_crc32c(const void *buf, size_t len);

#endif
