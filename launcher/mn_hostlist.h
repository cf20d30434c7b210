/* mn_hostlist.h: Slurm hostlist expressions ("gpu[01-04,07],login1") expanded to host names.
 *
 * The syntax is Slurm's (docs/launcher.md, "Slurm"): items separated by commas at the top
 * level; an item is text with zero or more bracket groups, each a comma-separated list of
 * numbers and ranges lo-hi; several groups give every combination, the first group varying
 * slowest. This only expands: checking that a name is a host name, and merging duplicates,
 * belong to the host list (mn_hosts.h). */
#ifndef MN_HOSTLIST_H
#define MN_HOSTLIST_H

#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most names one expression may give (a typo such as n[1-1000000000] is an error). */
#define MN_HOSTLIST_MAX_NAMES 1000000

/* Expand expr into the names it stands for, in order, duplicates kept.
 * in: expr (whitespace around it is ignored; inside it, an error).
 * out: names (an array of n strings), n >= 1; written only on success; free with
 * mn_hostlist_free_names. Errors (MN_ERR_USAGE) name expr and the offending part: unbalanced
 * or nested brackets, an empty item or empty brackets, a range that is not lo-hi of digits, a
 * reversed range, more than MN_HOSTLIST_MAX_NAMES names; MN_ERR_NOMEM. */
mn_status_t mn_hostlist_expand(const char *expr, char ***names, int *n);

/* Free what mn_hostlist_expand gave (NULL is fine). */
void mn_hostlist_free_names(char **names, int n);

#ifdef __cplusplus
}
#endif
#endif /* MN_HOSTLIST_H */
