/*
 * hook.h - what a switch runs besides Redis and DNS: the operator's hooks
 * (failover.pre_hook, failover.post_hook, REDISFO_STEP_HOOK), each in its
 * own process group under a timeout, and the signals a switch holds while
 * it must not be stopped half-way.
 */
#ifndef REDISFO_FAILOVER_HOOK_H
#define REDISFO_FAILOVER_HOOK_H

#include <signal.h>
#include <stddef.h>

/* The switch as a hook sees it, in its environment (REDISFO_*). */
struct hook_env {
	const char	*service;	/* REDISFO_SERVICE */
	const char	*mode;		/* REDISFO_MODE: planned, failover, repair */
	const char	*old_name;	/* REDISFO_OLD ("" when none) */
	const char	*new_name;	/* REDISFO_NEW ("" when none) */
	const char	*old_address;	/* REDISFO_OLD_ADDRESS, NULL = unset */
	const char	*new_address;	/* REDISFO_NEW_ADDRESS, NULL = unset */
	const char	*zone;		/* REDISFO_ZONE */
	long long	 epoch;		/* REDISFO_EPOCH */
	const char	*result;	/* REDISFO_RESULT, NULL = unset */
	const char	*step;		/* REDISFO_STEP, NULL = unset */
};

/* The signals held from the first step that changes something to the end. */
struct hook_signals {
	sigset_t	old_mask;	/* the mask to restore, and a hook's */
	int		held;
};

/*
 * Run cmd with /bin/sh -c and env, in its own process group with the
 * signal mask sig->old_mask, killed with its group after timeout_ms.
 * Returns its exit status, 128+N when killed by signal N, or -1 when it
 * could not be started or ran over the timeout (*why says which).
 */
int	hook_run(const char *cmd, const struct hook_env *env,
	    const struct hook_signals *sig, int timeout_ms, char *why, size_t whylen);

/* Ignore SIGPIPE for the whole command and remember the signal mask. */
void	hook_signals_init(struct hook_signals *sig);
/* Hold SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGTSTP (once; again is a no-op). */
void	hook_signals_hold(struct hook_signals *sig);
/* Take each signal that arrived while held, say so on stderr, and restore
 * the mask; 1 if one did arrive. */
int	hook_signals_release(struct hook_signals *sig);

#endif
