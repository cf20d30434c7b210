/* mn_parse.h: a command-line number, read strictly: the whole word a decimal integer within
 * bounds (strtol alone takes "12abc" and "", and wraps out of range). For the programs' and
 * benches' options; train.conf's values have their own checks (config.c). */
#ifndef MN_PARSE_H
#define MN_PARSE_H

#ifdef __cplusplus
extern "C" {
#endif

/* in: s, lo, hi; out: *out, only when s is a whole decimal integer in [lo, hi]. Returns 1
 * then, else 0. */
int mn_parse_int(const char *s, int lo, int hi, int *out);

#ifdef __cplusplus
}
#endif
#endif /* MN_PARSE_H */
