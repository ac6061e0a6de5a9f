/*
 * hook.c - hooks and held signals for the switch (hook.h).
 *
 * A hook runs with /bin/sh -c in its own process group, with the signals
 * the switch holds or ignores put back to normal, and is killed with its
 * whole group when it runs over failover.hook_timeout_ms: a hung hook
 * cannot hang the switch. The failover lock is close-on-exec, so a hook
 * never inherits it. From the first step that changes something to the
 * end, SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGTSTP are held: a switch
 * stopped half-way (after the promote, say) leaves two masters, and one
 * suspended by ^Z outlives its pause, so it finishes or rolls back first
 * and says afterwards that it was asked to stop. SIGPIPE is ignored for
 * the whole command: an operator's `| head` or a closed terminal must not
 * end it half-way either. SIGKILL cannot be held (see switch.c's head).
 *
 * This file never decides whether a switch goes on: it runs what it is
 * given and returns how it ended; the switch decides. It prints only the
 * signals that arrived while held.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf/util.h"
#include "failover/hook.h"
#include "failover/msg.h"

/* Wait for the hook pid until timeout_ms; 0 with *status, or -1 when it
 * was killed for taking too long. */
static int
hook_wait(pid_t pid, int timeout_ms, int *status)
{
	long long	deadline = mono_us() + (long long)timeout_ms * 1000, left;
	struct pollfd	pfd = { .fd = -1, .events = POLLIN };
	struct timespec	ts = { 0, 5 * 1000000 };
	pid_t		w;

	pfd.fd = (int)syscall(SYS_pidfd_open, pid, 0);	/* -1: poll by sleeping */
	for (;;) {
		w = waitpid(pid, status, WNOHANG);
		if (w == pid || (w == -1 && errno != EINTR))
			break;
		left = deadline - mono_us();
		if (left <= 0) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitpid(pid, status, 0) == -1 && errno == EINTR)
				;
			if (pfd.fd != -1)
				close(pfd.fd);
			return -1;
		}
		if (pfd.fd != -1)
			poll(&pfd, 1, (int)(left / 1000) + 1);
		else
			nanosleep(&ts, NULL);
	}
	if (pfd.fd != -1)
		close(pfd.fd);
	if (w == -1) {
		*status = 0x7f00;	/* "exited 127": it could not be waited for */
	}
	return 0;
}

int
hook_run(const char *cmd, const struct hook_env *env, const struct hook_signals *sig,
    int timeout_ms, char *why, size_t whylen)
{
	char	epoch[32];
	pid_t	pid;
	int	status;

	snprintf(epoch, sizeof(epoch), "%lld", env->epoch);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == -1) {
		snprintf(why, whylen, "cannot start: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/* Its own process group (so a timeout kills all of it), and the
		 * signals the switch holds or ignores back to normal. */
		setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL);
		sigprocmask(SIG_SETMASK, &sig->old_mask, NULL);
		setenv("REDISFO_SERVICE", env->service, 1);
		setenv("REDISFO_MODE", env->mode, 1);
		setenv("REDISFO_OLD", env->old_name, 1);
		setenv("REDISFO_NEW", env->new_name, 1);
		if (env->old_address)
			setenv("REDISFO_OLD_ADDRESS", env->old_address, 1);
		if (env->new_address)
			setenv("REDISFO_NEW_ADDRESS", env->new_address, 1);
		setenv("REDISFO_ZONE", env->zone, 1);
		setenv("REDISFO_EPOCH", epoch, 1);
		if (env->result)
			setenv("REDISFO_RESULT", env->result, 1);
		if (env->step)
			setenv("REDISFO_STEP", env->step, 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);	/* both sides, whichever runs first */
	if (hook_wait(pid, timeout_ms, &status) == -1) {
		snprintf(why, whylen, "killed after %d ms (the hook timeout)", timeout_ms);
		return -1;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static void
hook_signals_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
	sigaddset(set, SIGTSTP);
}

void
hook_signals_init(struct hook_signals *sig)
{
	signal(SIGPIPE, SIG_IGN);
	sigprocmask(SIG_SETMASK, NULL, &sig->old_mask);
	sig->held = 0;
}

void
hook_signals_hold(struct hook_signals *sig)
{
	sigset_t set;

	if (sig->held)
		return;
	hook_signals_set(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sig->held = 1;
}

int
hook_signals_release(struct hook_signals *sig)
{
	struct timespec	zero = { 0, 0 };
	sigset_t	set;
	int		signo, got = 0;

	if (!sig->held)
		return 0;
	hook_signals_set(&set);
	while ((signo = sigtimedwait(&set, NULL, &zero)) > 0) {
		msg_warnx("%s arrived during the switch: held until the switch had "
		    "finished or rolled back", strsignal(signo));
		got = 1;
	}
	sigprocmask(SIG_SETMASK, &sig->old_mask, NULL);
	sig->held = 0;
	return got;
}
