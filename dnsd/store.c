/*
 * store.c - the zone's durable state: zone file, journal, replay cache.
 *
 * See store.h for the rules. The journal's format is journal.c's; here is
 * when it is written, read and cut, and how the zone file follows it.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/log.h"
#include "conf/util.h"
#include "dnsd/journal.h"
#include "dnsd/snapshot.h"
#include "dnsd/store.h"
#include "dnsd/update.h"
#include "dnsd/xfr.h"
#include "dnsd/zone.h"

static uint32_t
soa_serial(const ldns_rr *soa)
{
	return ldns_rdf2native_int32(ldns_rr_rdf(soa, 2));
}

/* ---- start: the zone file, then the journal ---- */

/* The journal's records, as read, kept until it is known which apply. */
struct jrecs {
	struct journal_rec	*v;
	off_t			*off;
	size_t			 n, cap;
};

static int
rec_copy(struct journal_rec *d, const struct journal_rec *s)
{
	*d = *s;
	d->from_soa = d->to_soa = NULL;
	d->removed = d->added = NULL;
	if (!s->has_change)
		return 0;
	if ((d->from_soa = ldns_rr_clone(s->from_soa)) == NULL ||
	    (d->to_soa = ldns_rr_clone(s->to_soa)) == NULL ||
	    (d->removed = ldns_rr_list_clone(s->removed)) == NULL ||
	    (d->added = ldns_rr_list_clone(s->added)) == NULL)
		return -1;
	return 0;
}

static void
rec_free(struct journal_rec *r)
{
	if (r->from_soa)
		ldns_rr_free(r->from_soa);
	if (r->to_soa)
		ldns_rr_free(r->to_soa);
	ldns_rr_list_deep_free(r->removed);
	ldns_rr_list_deep_free(r->added);
}

static int
jrecs_add(void *arg, const struct journal_rec *rec, off_t off)
{
	struct jrecs *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct journal_rec *v = realloc(l->v, cap * sizeof(*v));
		off_t *o;

		if (v == NULL)
			return -1;
		l->v = v;
		if ((o = realloc(l->off, cap * sizeof(*o))) == NULL)
			return -1;
		l->off = o;
		l->cap = cap;
	}
	if (rec_copy(&l->v[l->n], rec) == -1) {
		rec_free(&l->v[l->n]);
		return -1;
	}
	l->off[l->n++] = off;
	return 0;
}

static void
jrecs_free(struct jrecs *l)
{
	for (size_t i = 0; i < l->n; i++)
		rec_free(&l->v[i]);
	free(l->v);
	free(l->off);
}

static int
rr_in(const ldns_rr *rr, const ldns_rr_list *l)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++)
		if (ldns_rr_compare(rr, ldns_rr_list_rr(l, i)) == 0 &&
		    ldns_rr_ttl(rr) == ldns_rr_ttl(ldns_rr_list_rr(l, i)))
			return 1;
	return 0;
}

/* Add the owner of rr to the edit, with its records in ver as the record changes them. */
static int
edit_name(struct zone_edit *e, const struct snapshot *ver, const ldns_rdf *owner,
    const struct journal_rec *r)
{
	ldns_rr_list	*now = ldns_rr_list_new(), *after = ldns_rr_list_new();
	size_t		 i;

	for (i = 0; i < e->n; i++)
		if (zone_name_eq(e->names[i].owner, owner))
			goto done;
	if (now == NULL || after == NULL || snapshot_name_rrs(ver, owner, now) == -1)
		goto fail;
	for (i = 0; i < ldns_rr_list_rr_count(now); i++) {
		ldns_rr *rr = ldns_rr_list_rr(now, i), *c;

		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA)
			rr = r->to_soa;
		else if (rr_in(rr, r->removed))
			continue;
		if ((c = ldns_rr_clone(rr)) == NULL || !ldns_rr_list_push_rr(after, c))
			goto fail;
	}
	for (i = 0; i < ldns_rr_list_rr_count(r->added); i++) {
		ldns_rr *rr = ldns_rr_list_rr(r->added, i), *c;

		if (!zone_name_eq(ldns_rr_owner(rr), owner))
			continue;
		if ((c = ldns_rr_clone(rr)) == NULL || !ldns_rr_list_push_rr(after, c))
			goto fail;
	}
	if (zone_edit_add(e, owner, after) == -1)
		goto fail;
	after = NULL;
done:
	ldns_rr_list_free(now);
	ldns_rr_list_deep_free(after);
	return 0;
fail:
	if (now != NULL)
		ldns_rr_list_free(now);
	ldns_rr_list_deep_free(after);
	return -1;
}

/* Apply one journal change to *ver. */
static int
store_apply(struct snapshot **ver, const struct journal_rec *r, char *why, size_t whylen)
{
	struct zone_edit	 e;
	struct snapshot		*nv;
	ldns_rr_list		*rm = NULL, *ad = NULL;
	size_t			 i;
	int			 rc = -1;

	memset(&e, 0, sizeof(e));
	if (edit_name(&e, *ver, ldns_rr_owner(r->to_soa), r) == -1)
		goto oom;
	for (i = 0; i < ldns_rr_list_rr_count(r->removed); i++)
		if (edit_name(&e, *ver, ldns_rr_owner(ldns_rr_list_rr(r->removed, i)), r) == -1)
			goto oom;
	for (i = 0; i < ldns_rr_list_rr_count(r->added); i++)
		if (edit_name(&e, *ver, ldns_rr_owner(ldns_rr_list_rr(r->added, i)), r) == -1)
			goto oom;
	if ((nv = snapshot_apply(*ver, &e, &rm, &ad, why, whylen)) != NULL) {
		snapshot_free(*ver);
		*ver = nv;
		rc = 0;
	}
	ldns_rr_list_deep_free(rm);
	ldns_rr_list_deep_free(ad);
	zone_edit_free(&e);
	return rc;
oom:
	snprintf(why, whylen, "out of memory");
	zone_edit_free(&e);
	return -1;
}

static int
store_push_rec(struct store *st, off_t off, uint32_t to_serial)
{
	if (st->nrecs == st->caprecs) {
		size_t cap = st->caprecs ? st->caprecs * 2 : 256;
		struct store_rec *v = realloc(st->recs, cap * sizeof(*v));

		if (v == NULL)
			return -1;
		st->recs = v;
		st->caprecs = cap;
	}
	st->recs[st->nrecs].off = off;
	st->recs[st->nrecs++].to_serial = to_serial;
	return 0;
}

/*
 * What the zone file holds, in 64 bits (0 = no file): a file replaced in
 * the same tick with the same size and inode number is still told apart.
 * Eight bytes a step, FNV-1a style: a digest to tell edits, not a defence.
 */
uint64_t
store_digest(const char *path)
{
	uint64_t	 buf[8192], h = 14695981039346656037ull;
	ssize_t		 n, i;
	int		 fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (n % 8 != 0)
			memset((uint8_t *)buf + n, 0, (size_t)(8 - n % 8));
		for (i = 0; i < (n + 7) / 8; i++)
			h = (h ^ buf[i]) * 1099511628211ull;
		h ^= (uint64_t)n;
	}
	close(fd);
	return n < 0 || h == 0 ? 1 : h;
}

int
store_open(struct store *st, const struct conf_dns *dns, struct snapshot **ver,
    struct update_replay *replay, struct xfr_journal *xj, char *err, size_t errlen)
{
	struct jrecs	 l;
	char		 path[4096 + 16], why[512];
	off_t		 end = 0, torn = -1;
	uint32_t	 z = (*ver)->serial;
	size_t		 i, from = 0, nchanges = 0, applied = 0;
	ssize_t		 last = -1;
	int		 found = 0, fresh = 0;

	memset(&l, 0, sizeof(l));
	if (st != NULL)
		st->done_fd[0] = st->done_fd[1] = -1;
	if (journal_path(dns->zone_file, path, sizeof(path)) == -1) {
		snprintf(err, errlen, "%.400s: path too long for its journal", dns->zone_file);
		return -1;
	}
	if (journal_read(path, dns->zone, jrecs_add, &l, &end, &torn, err, errlen) == -1)
		goto fail;
	if (torn >= 0)
		log_warnx("%s: offset %lld: a record cut short by a crash, never acknowledged: "
		    "dropped", path, (long long)torn);
	/*
	 * The zone file holds the zone at one serial of the journal's chain:
	 * the last change that leads to it (or the first change's start);
	 * what follows it applies. A file whose serial is ahead of the whole
	 * chain was edited by hand while the server was stopped: the journal
	 * is history then, and starts over. One behind or beside it would
	 * serve older data than was acknowledged.
	 */
	for (i = 0; i < l.n; i++) {
		if (!l.v[i].has_change)
			continue;
		if (nchanges++ == 0 && soa_serial(l.v[i].from_soa) == z) {
			found = 1;
			from = i;
		}
		if (soa_serial(l.v[i].to_soa) == z) {
			found = 1;
			from = i + 1;
		}
		last = (ssize_t)i;
	}
	if (nchanges > 0 && !found) {
		uint32_t first = 0, tail = soa_serial(l.v[last].to_soa);

		for (i = 0; i < l.n && !l.v[i].has_change; i++)
			;
		first = soa_serial(l.v[i].from_soa);
		if ((int32_t)(z - tail) <= 0) {
			snprintf(err, errlen, "%s: its changes run from serial %u to %u, and the "
			    "zone file %s holds serial %u, none of them and not after them: it is "
			    "older than what was acknowledged (restore it, or move the journal "
			    "aside to serve the file as it is)", path, first, tail, dns->zone_file, z);
			goto fail;
		}
		log_warnx("%s holds serial %u, after the journal's last (%u): it was edited "
		    "while the server was stopped; the journal starts over", dns->zone_file, z, tail);
		fresh = 1;
	}
	for (i = 0; i < l.n; i++) {
		if (replay != NULL && l.v[i].has_replay)
			update_replay_note(replay, l.v[i].time_signed, l.v[i].mac, l.v[i].mac_len,
			    l.v[i].rcode);
		if (!l.v[i].has_change || fresh)
			continue;
		if (i >= from) {
			if (soa_serial(l.v[i].from_soa) != (*ver)->serial ||
			    store_apply(ver, &l.v[i], why, sizeof(why)) == -1) {
				if (soa_serial(l.v[i].from_soa) != (*ver)->serial)
					snprintf(why, sizeof(why), "the change from serial %u does not "
					    "follow the zone at serial %u", soa_serial(l.v[i].from_soa),
					    (*ver)->serial);
				snprintf(err, errlen, "%s: offset %lld: %s", path, (long long)l.off[i], why);
				goto fail;
			}
			applied++;
		}
		if (xj != NULL)
			xfr_journal_add(xj, ldns_rr_clone(l.v[i].from_soa), ldns_rr_clone(l.v[i].to_soa),
			    ldns_rr_list_clone(l.v[i].removed), ldns_rr_list_clone(l.v[i].added),
			    (*ver)->nrrs);
		if (st != NULL && store_push_rec(st, l.off[i], soa_serial(l.v[i].to_soa)) == -1) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	if (st == NULL) {
		jrecs_free(&l);
		return 0;
	}
	snprintf(st->zone_file, sizeof(st->zone_file), "%s", dns->zone_file);
	snprintf(st->origin, sizeof(st->origin), "%s", dns->zone);
	st->fudge_max = (unsigned)dns->tsig_fudge_max;
	st->file_serial = z;
	st->behind = applied;
	st->last_change_ms = mono_ms();
	st->file_digest = store_digest(dns->zone_file);
	if (pipe2(st->done_fd, O_CLOEXEC | O_NONBLOCK) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto fail;
	}
	if ((st->j = journal_open(path, dns->zone, end, err, errlen)) == NULL)
		goto fail;
	if (fresh && journal_compact(st->j, journal_size(st->j), err, errlen) == -1)
		goto fail;
	if (fresh)
		st->nrecs = 0;
	if (applied > 0)
		log_info("%s: %zu changes after the zone file's serial %u applied, serial now %u",
		    path, applied, z, (*ver)->serial);
	jrecs_free(&l);
	return 0;
fail:
	jrecs_free(&l);
	if (st != NULL) {
		free(st->recs);
		st->recs = NULL;
		st->nrecs = st->caprecs = 0;
		if (st->j != NULL)
			journal_close(st->j);
		st->j = NULL;
		for (i = 0; i < 2; i++)
			if (st->done_fd[i] >= 0)
				close(st->done_fd[i]);
		st->done_fd[0] = st->done_fd[1] = -1;
	}
	return -1;
}

/* ---- changes ---- */

static int
store_write(struct store *st, struct journal_rec *rec, uint32_t to_serial, char *err,
    size_t errlen)
{
	off_t off = journal_append(st->j, rec, err, errlen);

	if (off == -1)
		return -1;
	if (rec->has_change) {
		if (store_push_rec(st, off, to_serial) == -1) {
			/* Durable already: only IXFR after a compaction loses it. */
			log_warnx("out of memory keeping the journal's offsets");
		}
		st->behind++;
		st->last_change_ms = mono_ms();
	}
	return 0;
}

int
store_append(struct store *st, const uint64_t *time_signed, const uint8_t *mac, size_t mac_len,
    int rcode, const struct snapshot *old, const struct snapshot *ver,
    const ldns_rr_list *removed, const ldns_rr_list *added, char *err, size_t errlen)
{
	struct journal_rec rec;

	memset(&rec, 0, sizeof(rec));
	if (time_signed != NULL && mac_len <= sizeof(rec.mac)) {
		rec.has_replay = 1;
		rec.time_signed = *time_signed;
		memcpy(rec.mac, mac, mac_len);
		rec.mac_len = mac_len;
		rec.rcode = rcode;
	}
	if (ver != NULL) {
		rec.has_change = 1;
		rec.from_soa = (ldns_rr *)(uintptr_t)old->soa_rr;
		rec.to_soa = (ldns_rr *)(uintptr_t)ver->soa_rr;
		rec.removed = (ldns_rr_list *)(uintptr_t)removed;
		rec.added = (ldns_rr_list *)(uintptr_t)added;
	}
	if (!rec.has_replay && !rec.has_change)
		return 0;
	return store_write(st, &rec, ver != NULL ? ver->serial : 0, err, errlen);
}

int
store_reloaded(struct store *st, const struct snapshot *old, const struct snapshot *ver,
    uint64_t digest, const ldns_rr_list *removed, const ldns_rr_list *added, char *err,
    size_t errlen)
{
	if (store_append(st, NULL, NULL, 0, 0, old, ver, removed, added, err, errlen) == -1)
		return -1;
	st->behind = 0;
	st->file_serial = ver->serial;
	st->file_digest = digest;
	return 0;
}

int
store_file_changed(const struct store *st, uint64_t now)
{
	return now == 0 || now != st->file_digest;
}

/* ---- compaction ---- */

static void *
store_compact_thread(void *arg)
{
	struct store	*st = arg;
	ldns_zone	*view = snapshot_zone_view(st->cver, 1);

	if (view == NULL) {
		snprintf(st->cerr, sizeof(st->cerr), "out of memory");
		st->crc = -1;
	} else {
		st->crc = zone_write_atomic(view, st->zone_file, st->cerr, sizeof(st->cerr));
		snapshot_zone_view_free(view);
		st->cdigest = st->crc == 0 ? store_digest(st->zone_file) : 0;
	}
	if (st->done_fd[1] >= 0)
		(void)!write(st->done_fd[1], "", 1);
	return NULL;
}

int
store_fd(const struct store *st)
{
	return st->done_fd[0];
}

int
store_timeout_ms(const struct store *st, const struct snapshot *ver)
{
	int64_t left;

	if (st->j == NULL || st->running || ver->serial == st->file_serial)
		return -1;
	if (st->behind >= STORE_COMPACT_CHANGES)
		return 0;
	left = st->last_change_ms + STORE_COMPACT_IDLE_MS - mono_ms();
	return left < 0 ? 0 : (int)left;
}

/* The zone file is written: save the replay cache, and cut the journal. */
static void
store_compacted(struct store *st, struct update_replay *replay, size_t ixfr_changes)
{
	uint32_t	 serial = st->cver->serial;
	char		 path[4096 + 16], err[512];
	size_t		 after = 0, keep, i;
	off_t		 keep_from, moved;

	st->file_serial = serial;
	st->file_digest = st->cdigest;
	/* The changes the file does not hold yet are the ones after serial's. */
	for (i = st->nrecs; i > 0 && st->recs[i - 1].to_serial != serial; i--)
		;
	after = i;
	st->behind = st->nrecs - after;
	log_info("zone file written, serial %u (%zu changes since in the journal)", serial,
	    st->behind);
	if (replay != NULL && (update_replay_path(st->zone_file, path, sizeof(path)) == -1 ||
	    update_replay_save(replay, path, st->origin, (uint64_t)time(NULL), st->fudge_max, 1,
	    err, sizeof(err)) == -1)) {
		log_warnx("journal kept whole: cannot save the replay cache: %s", err);
		return;
	}
	keep = st->nrecs - (ixfr_changes < st->nrecs ? ixfr_changes : st->nrecs);
	if (after < keep)
		keep = after;
	keep_from = keep < st->nrecs ? st->recs[keep].off : journal_size(st->j);
	if ((moved = journal_compact(st->j, keep_from, err, sizeof(err))) == -1) {
		log_warnx("journal kept whole: %s", err);
		return;
	}
	memmove(st->recs, st->recs + keep, (st->nrecs - keep) * sizeof(*st->recs));
	st->nrecs -= keep;
	for (i = 0; i < st->nrecs; i++)
		st->recs[i].off = st->recs[i].off - keep_from + moved;
}

/*
 * A write of the zone file ended (the thread joined, or run here): take
 * its word from the pipe, then keep what it wrote, or say why not and
 * try again after the next quiet second. The version it wrote goes.
 */
static void
store_written(struct store *st, struct update_replay *replay, size_t ixfr_changes)
{
	char c;

	while (read(st->done_fd[0], &c, 1) == 1)
		;
	if (st->crc == 0)
		store_compacted(st, replay, ixfr_changes);
	else {
		log_errorx("cannot write the zone file (the journal holds every change): %s",
		    st->cerr);
		st->last_change_ms = mono_ms();
	}
	snapshot_free(st->cver);
	st->cver = NULL;
}

void
store_tick(struct store *st, struct snapshot *ver, struct update_replay *replay,
    size_t ixfr_changes, int done)
{
	if (st->j == NULL)
		return;
	if (done && st->running) {
		pthread_join(st->thread, NULL);
		st->running = 0;
		store_written(st, replay, ixfr_changes);
		return;
	}
	if (st->running || store_timeout_ms(st, ver) != 0)
		return;
	snapshot_ref(ver);
	st->cver = ver;
	st->crc = -1;
	st->cerr[0] = '\0';
	if (pthread_create(&st->thread, NULL, store_compact_thread, st) != 0) {
		log_warnx("cannot start the zone file's writer: %s", strerror(errno));
		snapshot_free(ver);
		st->cver = NULL;
		st->last_change_ms = mono_ms();
		return;
	}
	st->running = 1;
}

void
store_write_now(struct store *st, struct snapshot *ver, struct update_replay *replay,
    size_t ixfr_changes)
{
	if (st->j == NULL)
		return;
	if (st->running)
		store_tick(st, ver, replay, ixfr_changes, 1);
	snapshot_ref(ver);
	st->cver = ver;
	store_compact_thread(st);
	store_written(st, replay, ixfr_changes);
}

void
store_close(struct store *st, struct snapshot *ver, struct update_replay *replay,
    size_t ixfr_changes)
{
	if (st->j == NULL)
		return;
	/* A compaction under way: wait for it, and finish it. */
	if (st->running)
		store_tick(st, ver, replay, ixfr_changes, 1);
	if (ver != NULL && ver->serial != st->file_serial)
		store_write_now(st, ver, replay, ixfr_changes);
	journal_close(st->j);
	st->j = NULL;
	close(st->done_fd[0]);
	close(st->done_fd[1]);
	free(st->recs);
	st->recs = NULL;
}
