/* suggest.c: "did you mean ...?" for mistyped config keys and command-line options
 * (mn_suggest.h).
 *
 * Only string distance: what the candidates are (a key table, a getopt_long table) is the
 * caller's business. Nothing here prints. */
#include "mn_suggest.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

int mn_suggest_distance(const char *a, const char *b) {
  size_t n = strlen(a), m = strlen(b);
  if (n > 63 || m > 63) return 99;
  int d[64][64];
  for (size_t i = 0; i <= n; i++) d[i][0] = (int)i;
  for (size_t j = 0; j <= m; j++) d[0][j] = (int)j;
  for (size_t i = 1; i <= n; i++) {
    for (size_t j = 1; j <= m; j++) {
      int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
      int best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
      if (d[i - 1][j - 1] + cost < best) best = d[i - 1][j - 1] + cost;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
          d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1;
      d[i][j] = best;
    }
  }
  return d[n][m];
}

int mn_suggest_close(const char *typed, const char *candidate) {
  int dist = mn_suggest_distance(typed, candidate);
  return dist <= 2 && (size_t)dist < strlen(candidate);
}

const char *mn_suggest_option(const char *arg, const struct option *longopts) {
  if (!arg) return NULL;
  while (*arg == '-') arg++;
  char name[64];
  snprintf(name, sizeof name, "%.*s", (int)strcspn(arg, "="), arg);
  if (!name[0]) return NULL;
  const char *best = NULL;
  int best_dist = 99;
  for (const struct option *o = longopts; o->name; o++) {
    if (!mn_suggest_close(name, o->name)) continue;
    int dist = mn_suggest_distance(name, o->name);
    if (dist < best_dist) best = o->name, best_dist = dist;
  }
  return best;
}

const char *mn_suggest_unknown_option(const char *arg, const struct option *longopts, char *out,
                                      unsigned long cap) {
  const char *s = mn_suggest_option(arg, longopts);
  if (s)
    snprintf(out, cap, "unknown option '%s' (did you mean --%s?)", arg, s);
  else
    snprintf(out, cap, "unknown option '%s'", arg);
  return out;
}
