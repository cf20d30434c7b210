/* parse.c: mn_parse_int (mn_parse.h). */
#include "mn_parse.h"

#include <errno.h>
#include <stdlib.h>

int mn_parse_int(const char *s, int lo, int hi, int *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (!*s || *end || errno == ERANGE || v < lo || v > hi) return 0;
  *out = (int)v;
  return 1;
}
