/*
 * util.h - the base layer's small shared helpers: one monotonic clock, one
 * socket-address formatter, and files replaced whole.
 *
 * conf/ is the base layer shared by dnsd/ and failover/ (the config, the
 * command line, log, clock and address text).
 *
 * Every module that times something or prints a peer uses these, so a
 * duration means the same thing in the server's log, the switch's timeline
 * and the client's deadlines. The clock and the formatter never allocate
 * and never fail.
 */
#ifndef REDISFO_UTIL_H
#define REDISFO_UTIL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

/* Monotonic time since an arbitrary start, in milliseconds or microseconds. */
int64_t		 mono_ms(void);
int64_t		 mono_us(void);

/*
 * Wait until fd is ready for events or the monotonic deadline (mono_ms)
 * passes: 1 ready, 0 timed out (errno ETIMEDOUT), -1 error. EINTR is
 * waited through.
 */
int		 fd_wait(int fd, short events, int64_t deadline_ms);

/* Longest text addr_text writes: "[v6 address]:65535" and its NUL. */
#define ADDR_TEXT_MAX	64

/*
 * "192.0.2.1:53" or "[2001:db8::1]:53" into buf; returns buf. An address of
 * another family prints as "?".
 */
const char	*addr_text(const struct sockaddr_storage *ss, char *buf, size_t len);

/*
 * A file replaced whole: written to a temp file beside path, flushed and
 * fsynced, renamed over path, and the folder fsynced, so that a crash
 * leaves the old file or the new one, never a mix. Write to af->fp
 * between open and commit; abort instead of commit on any failure.
 */
struct atomic_file {
	FILE	*fp;
	char	 tmp[PATH_MAX];
	char	 path[PATH_MAX];
};

/* 0, or -1 with err naming the file (nothing left behind). */
int		 atomic_file_open(struct atomic_file *af, const char *path, char *err,
		    size_t errlen);
/*
 * Flush, fsync, rename over the path and, when sync_folder, fsync the
 * folder (leave it to a later write in the same folder otherwise). 0, or
 * -1 with err; the temp file is gone either way.
 */
int		 atomic_file_commit(struct atomic_file *af, int sync_folder, char *err,
		    size_t errlen);
void		 atomic_file_abort(struct atomic_file *af);
/* The folder that holds path ("." for a bare name, "/" for the root's files). */
void		 folder_of(const char *path, char *dir, size_t len);
/* fsync the folder that holds path, so that a rename in it is durable. */
int		 fsync_folder_of(const char *path);

/*
 * Start the program again, once, with glibc's malloc asking the kernel
 * for transparent huge pages (GLIBC_TUNABLES glibc.malloc.hugetlb=1,
 * unless the environment sets that tunable already): a loaded zone is
 * millions of small allocations, and with 4 KB pages every new page is a
 * fault and a TLB entry, half the time it takes to load 100,000
 * services. Returns only when it did not (already so, or exec failed).
 */
void		 heap_hugepages(char **argv);

#endif
