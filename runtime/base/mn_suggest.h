/* mn_suggest.h: "did you mean ...?" for mistyped names: config keys and sections
 * (config.c) and the long options of every program (mnrun, mntrain, mninfo, mnbench,
 * mneval). One edit distance, one rule for "close enough", so that every program suggests
 * alike. */
#ifndef MN_SUGGEST_H
#define MN_SUGGEST_H

#include <getopt.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Edit distance with transpositions (optimal string alignment), letters compared without
 * case; 99 when either string is longer than 63 characters. */
int mn_suggest_distance(const char *a, const char *b);

/* Whether candidate is close enough to typed to suggest: at most 2 edits, and fewer edits
 * than the candidate has characters. */
int mn_suggest_close(const char *typed, const char *candidate);

/* The long option of longopts (a getopt_long table, ended by a NULL name) closest to the
 * command-line word arg ("--verison", "-verison=2": dashes and "=value" are ignored), or
 * NULL when none is close. */
const char *mn_suggest_option(const char *arg, const struct option *longopts);

/* An error message for an unknown command-line word arg into out[cap]: "unknown option
 * '--verison' (did you mean --version?)", without the suggestion when none is close.
 * Returns out. */
const char *mn_suggest_unknown_option(const char *arg, const struct option *longopts, char *out,
                                      unsigned long cap);

#ifdef __cplusplus
}
#endif
#endif /* MN_SUGGEST_H */
