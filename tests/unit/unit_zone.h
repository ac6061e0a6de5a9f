/*
 * unit_zone.h - for the unit tests: an ldns zone from text in memory, so
 * each test states its zone where it is used.
 */
#ifndef REDISFO_UNIT_ZONE_H
#define REDISFO_UNIT_ZONE_H

#include <stdio.h>
#include <string.h>
#include <ldns/ldns.h>

/* The zone in text (master file format) with apex origin; fails the test on error. */
static inline ldns_zone *
unit_zone_from_text(const char *origin, const char *text)
{
	FILE		*f = fmemopen((void *)text, strlen(text), "r");
	ldns_zone	*z = NULL;
	ldns_rdf	*o = ldns_dname_new_frm_str(origin);
	int		 line = 0;

	assert_non_null(f);
	assert_int_equal(ldns_zone_new_frm_fp_l(&z, f, o, 60, LDNS_RR_CLASS_IN, &line),
	    LDNS_STATUS_OK);
	fclose(f);
	ldns_rdf_deep_free(o);
	return z;
}

#endif
