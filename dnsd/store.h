/*
 * store.h - the zone's durable state, and how it is kept: the zone file,
 * the journal of the changes since (<zone_file>.journal) and the replay
 * cache of signed UPDATEs (<zone_file>.replay).
 *
 * A change is made durable by one record appended to the journal and
 * synced, before its reply goes out; the zone file is written again now
 * and then ("compaction"), in a thread of its own, from a version of the
 * zone that stays alive while it is written: when the journal holds
 * STORE_COMPACT_CHANGES changes the file does not, STORE_COMPACT_IDLE_MS
 * after the last change, and at a clean stop. Then the replay cache is
 * saved, and the journal cut to the changes IXFR may still send.
 *
 * At start, the zone file is loaded and the journal's changes after its
 * serial applied; the journal's changes also fill the IXFR journal, so
 * secondaries that are behind get increments after a restart too.
 *
 * Control thread only (the compaction thread reads its version, and
 * writes nothing the control thread reads until it is joined).
 */
#ifndef REDISFO_STORE_H
#define REDISFO_STORE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <ldns/ldns.h>

struct conf_dns;
struct journal;
struct snapshot;
struct update_replay;
struct xfr_journal;

#define STORE_COMPACT_CHANGES	128
#define STORE_COMPACT_IDLE_MS	1000

/* A change record in the journal file: where, and the serial it leads to. */
struct store_rec {
	off_t		off;
	uint32_t	to_serial;
};

struct store {
	char			 zone_file[4096];
	char			 origin[256];
	unsigned		 fudge_max;	/* dns.tsig_fudge_max, for the replay cache */
	struct journal		*j;
	struct store_rec	*recs;		/* the change records in the file, oldest first */
	size_t			 nrecs, caprecs;
	size_t			 behind;	/* changes the zone file does not hold */
	uint32_t		 file_serial;	/* the serial the zone file holds */
	int64_t			 last_change_ms;
	uint64_t		 file_digest;	/* the zone file as last written or read */
	int			 done_fd[2];	/* the compaction thread says it is done */
	pthread_t		 thread;
	int			 running;
	struct snapshot		*cver;		/* the version being written */
	int			 crc;
	uint64_t		 cdigest;	/* of the file it wrote */
	char			 cerr[512];
};

/*
 * Read the journal beside dns->zone_file and bring *ver (built from the
 * zone file) up to its last change, teaching replay (may be NULL) the
 * signed UPDATEs it records and xj (may be NULL) its changes. With st,
 * the journal is then open for appending (st is set up); without (a
 * check), nothing is written. 0, or -1 with err naming the file and the
 * offset of what is wrong.
 */
int	store_open(struct store *st, const struct conf_dns *dns, struct snapshot **ver,
	    struct update_replay *replay, struct xfr_journal *xj, char *err, size_t errlen);
/*
 * Make one UPDATE durable: its replay facts (has_replay) and, when ver is
 * not NULL, the change from old to ver (removed and added, SOAs aside).
 * 0, or -1 with err: then nothing of it is on disk.
 */
int	store_append(struct store *st, const uint64_t *time_signed, const uint8_t *mac,
	    size_t mac_len, int rcode, const struct snapshot *old, const struct snapshot *ver,
	    const ldns_rr_list *removed, const ldns_rr_list *added, char *err, size_t errlen);
/* The descriptor that turns readable when a compaction is done. */
int	store_fd(const struct store *st);
/*
 * Start a compaction of ver when one is due (no wait), or finish one that
 * is done (done: the thread signalled), saving replay. Logs what happens.
 */
void	store_tick(struct store *st, struct snapshot *ver, struct update_replay *replay,
	    size_t ixfr_changes, int done);
/* ms until store_tick has something to do, or -1. */
int	store_timeout_ms(const struct store *st, const struct snapshot *ver);
/* What the zone file at path holds, in 64 bits; 0 = no file. */
uint64_t store_digest(const char *path);
/*
 * Is the zone file, whose digest is now now, other than the server last
 * wrote or read (or gone)? 1 or 0.
 */
int	store_file_changed(const struct store *st, uint64_t now);
/*
 * A zone loaded again from the file (SIGHUP), whose digest was digest
 * while it was read (0: it changed meanwhile, read it again next time),
 * replaces old: the change is journaled like any other, and the file is
 * the state from now on.
 */
int	store_reloaded(struct store *st, const struct snapshot *old, const struct snapshot *ver,
	    uint64_t digest, const ldns_rr_list *removed, const ldns_rr_list *added, char *err,
	    size_t errlen);
/* Write the zone file now, from ver, and cut the journal (a stop, a file that went). */
void	store_write_now(struct store *st, struct snapshot *ver, struct update_replay *replay,
	    size_t ixfr_changes);
/* Finish: wait for a compaction under way, write the file when behind, close. */
void	store_close(struct store *st, struct snapshot *ver, struct update_replay *replay,
	    size_t ixfr_changes);

#endif
