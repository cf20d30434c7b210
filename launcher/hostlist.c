/* hostlist.c: Slurm hostlist expressions expanded to host names (mn_hostlist.h).
 *
 * "gpu[01-04,07],login1" is gpu01 gpu02 gpu03 gpu04 gpu07 login1. Commas inside brackets
 * separate ranges, commas outside separate items. A number keeps the width of its range's
 * lower bound, as in Slurm (gpu[08-11] gives gpu08..gpu11, n[8-11] gives n8..n11, n[1-010]
 * gives n1..n10). Several groups in one item give every combination, the first group varying
 * slowest (rack[1-2]-n[01-02]: rack1-n01 rack1-n02 rack2-n01 rack2-n02). Whitespace around
 * the expression is trimmed (environment values may end in a newline); inside it, it is an
 * error, as is anything Slurm would not accept. Names are not checked as host names and
 * duplicates are kept: the host list does both. */
#include "mn_hostlist.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NUMBER_DIGITS_MAX 18 /* fits an unsigned long long with room to count */

typedef struct range {
  unsigned long long lo, hi;
  int width; /* digits of the lower bound: numbers are zero-padded to it */
} range_t;

/* An item cut into segments: literal text, then one bracket group (none in the last). */
typedef struct segment {
  const char *text;
  size_t len;
  const range_t *ranges;
  int nranges; /* 0: no group */
} segment_t;

/* The expression being expanded, for messages, and the names so far. */
typedef struct expansion {
  const char *expr;
  int item; /* 1.. the item being expanded */
  char **names;
  int n, cap;
} expansion_t;

/* MN_ERR_USAGE naming the expression, what is wrong, and where: the part (if any) and the
 * item it is in. */
static mn_status_t bad(const expansion_t *x, const char *what, const char *part, size_t part_len,
                       const char *item, size_t item_len) {
  if (!part)
    return mn_error(MN_ERR_USAGE, "hostlist '%s': %s in '%.*s'", x->expr, what, (int)item_len,
                    item);
  return mn_error(MN_ERR_USAGE, "hostlist '%s': %s '%.*s' in '%.*s'", x->expr, what, (int)part_len,
                  part, (int)item_len, item);
}

/* More names than MN_HOSTLIST_MAX_NAMES, in item (or in all the items so far). */
static mn_status_t too_many(const expansion_t *x, const char *item, size_t item_len) {
  return mn_error(MN_ERR_USAGE, "hostlist '%s': more than %d names in '%.*s'", x->expr,
                  MN_HOSTLIST_MAX_NAMES, (int)item_len, item);
}

/* The length of the item at item: up to the first comma outside brackets. */
static size_t item_length(const char *item) {
  int depth = 0;
  const char *p = item;
  for (; *p && !(*p == ',' && depth <= 0); p++) {
    if (*p == '[') depth++;
    if (*p == ']') depth--;
  }
  return (size_t)(p - item);
}

/* Brackets balanced and not nested, no whitespace, not empty. Returns the number of groups
 * through *ngroups. */
static mn_status_t check_item(const expansion_t *x, const char *item, size_t len, int *ngroups) {
  if (len == 0)
    return mn_error(MN_ERR_USAGE, "hostlist '%s': item %d is empty (two commas, or one at an end)",
                    x->expr, x->item);
  int depth = 0, groups = 0;
  for (size_t i = 0; i < len; i++) {
    char c = item[i];
    if (isspace((unsigned char)c)) return bad(x, "whitespace", NULL, 0, item, len);
    if (c == '[' && depth) return bad(x, "nested '['", NULL, 0, item, len);
    if (c == ']' && !depth) return bad(x, "unbalanced ']'", NULL, 0, item, len);
    if (c == '[') groups++;
    if (c == '[' || c == ']') depth = !depth;
  }
  if (depth) return bad(x, "unbalanced '['", NULL, 0, item, len);
  *ngroups = groups;
  return MN_OK;
}

/* A number: 1 to NUMBER_DIGITS_MAX digits and nothing else. Returns 0 on success. */
static int parse_number(const char *s, size_t len, unsigned long long *out) {
  if (len == 0 || len > NUMBER_DIGITS_MAX) return -1;
  unsigned long long v = 0;
  for (size_t i = 0; i < len; i++) {
    if (!isdigit((unsigned char)s[i])) return -1;
    v = v * 10 + (unsigned long long)(s[i] - '0');
  }
  *out = v;
  return 0;
}

/* One range of a group, "N" or "LO-HI". */
static mn_status_t parse_range(const expansion_t *x, const char *s, size_t len, const char *item,
                               size_t item_len, range_t *r) {
  if (len == 0)
    return bad(x, "empty range (two commas, or a comma at an end of [])", NULL, 0, item, item_len);
  const char *dash = memchr(s, '-', len);
  size_t lo_len = dash ? (size_t)(dash - s) : len;
  if (parse_number(s, lo_len, &r->lo) != 0 ||
      (dash && parse_number(dash + 1, len - lo_len - 1, &r->hi) != 0))
    return bad(x, "range is not N or LO-HI of up to 18 digits:", s, len, item, item_len);
  if (!dash) r->hi = r->lo;
  if (r->hi < r->lo) return bad(x, "reversed range", s, len, item, item_len);
  if (r->hi - r->lo >= MN_HOSTLIST_MAX_NAMES) return too_many(x, item, item_len);
  r->width = (int)lo_len;
  return MN_OK;
}

/* The ranges between '[' and ']' (text, len) into ranges; *nranges and *count (names). */
static mn_status_t parse_group(const expansion_t *x, const char *text, size_t len, const char *item,
                               size_t item_len, range_t *ranges, int *nranges,
                               unsigned long long *count) {
  if (len == 0) return bad(x, "empty brackets", NULL, 0, item, item_len);
  int n = 0;
  unsigned long long total = 0;
  for (size_t start = 0; start <= len;) {
    const char *comma = memchr(text + start, ',', len - start);
    size_t end = comma ? (size_t)(comma - text) : len;
    mn_status_t st = parse_range(x, text + start, end - start, item, item_len, &ranges[n]);
    if (st != MN_OK) return st;
    total += ranges[n].hi - ranges[n].lo + 1;
    if (total > MN_HOSTLIST_MAX_NAMES) return too_many(x, item, item_len);
    n++;
    start = end + 1;
  }
  *nranges = n;
  *count = total;
  return MN_OK;
}

/* Cut a checked item into segments (ranges: room for len ranges). *count: names it gives. */
static mn_status_t parse_item(const expansion_t *x, const char *item, size_t len, segment_t *segs,
                              int *nsegs, range_t *ranges, unsigned long long *count) {
  int n = 0;
  unsigned long long total = 1;
  const char *p = item, *end = item + len;
  for (;;) {
    const char *open = memchr(p, '[', (size_t)(end - p));
    segs[n] = (segment_t){.text = p, .len = (size_t)((open ? open : end) - p)};
    if (!open) break;
    const char *close = memchr(open, ']', (size_t)(end - open)); /* there: checked */
    unsigned long long group = 0;
    mn_status_t st = parse_group(x, open + 1, (size_t)(close - open - 1), item, len, ranges,
                                 &segs[n].nranges, &group);
    if (st != MN_OK) return st;
    segs[n].ranges = ranges;
    ranges += segs[n].nranges;
    total *= group; /* both <= MN_HOSTLIST_MAX_NAMES: no overflow before the check */
    if (total > MN_HOSTLIST_MAX_NAMES) return too_many(x, item, len);
    n++;
    p = close + 1;
  }
  *nsegs = n + 1;
  *count = total;
  return MN_OK;
}

static mn_status_t push_name(expansion_t *x, const char *name) {
  if (x->n == x->cap) {
    int cap = x->cap ? 2 * x->cap : 16;
    char **grown = realloc(x->names, (size_t)cap * sizeof *grown);
    if (!grown) return mn_error(MN_ERR_NOMEM, "out of memory expanding hostlist '%s'", x->expr);
    x->names = grown;
    x->cap = cap;
  }
  x->names[x->n] = strdup(name);
  if (!x->names[x->n])
    return mn_error(MN_ERR_NOMEM, "out of memory expanding hostlist '%s'", x->expr);
  x->n++;
  return MN_OK;
}

/* Every name of segments [i, nsegs), after the prefix buf[0..used). */
static mn_status_t emit(expansion_t *x, const segment_t *segs, int nsegs, int i, char *buf,
                        size_t used) {
  if (i == nsegs) {
    buf[used] = '\0';
    return push_name(x, buf);
  }
  const segment_t *s = &segs[i];
  memcpy(buf + used, s->text, s->len);
  used += s->len;
  if (!s->nranges) return emit(x, segs, nsegs, i + 1, buf, used);
  for (int r = 0; r < s->nranges; r++)
    for (unsigned long long v = s->ranges[r].lo; v <= s->ranges[r].hi; v++) {
      int w = snprintf(buf + used, NUMBER_DIGITS_MAX + 2, "%0*llu", s->ranges[r].width, v);
      mn_status_t st = emit(x, segs, nsegs, i + 1, buf, used + (size_t)w);
      if (st != MN_OK) return st;
    }
  return MN_OK;
}

/* Check, parse and expand one item of len characters. */
static mn_status_t expand_item(expansion_t *x, const char *item, size_t len) {
  int ngroups = 0;
  mn_status_t st = check_item(x, item, len, &ngroups);
  if (st != MN_OK) return st;
  segment_t *segs = calloc((size_t)ngroups + 1, sizeof *segs);
  range_t *ranges = calloc(len, sizeof *ranges); /* a range takes at least one character */
  char *buf = malloc(len + (size_t)ngroups * (NUMBER_DIGITS_MAX + 2) + 1);
  if (!segs || !ranges || !buf) {
    st = mn_error(MN_ERR_NOMEM, "out of memory expanding hostlist '%s'", x->expr);
    goto free_all;
  }
  int nsegs = 0;
  unsigned long long count = 0;
  st = parse_item(x, item, len, segs, &nsegs, ranges, &count);
  if (st != MN_OK) goto free_all;
  if (count > (unsigned long long)(MN_HOSTLIST_MAX_NAMES - x->n)) {
    st = too_many(x, x->expr, strlen(x->expr));
    goto free_all;
  }
  st = emit(x, segs, nsegs, 0, buf, 0);
free_all:
  free(buf);
  free(ranges);
  free(segs);
  return st;
}

mn_status_t mn_hostlist_expand(const char *expr, char ***names, int *n) {
  while (isspace((unsigned char)*expr)) expr++;
  size_t len = strlen(expr);
  while (len && isspace((unsigned char)expr[len - 1])) len--;
  char *text = strndup(expr, len);
  if (!text) return mn_error(MN_ERR_NOMEM, "out of memory expanding a hostlist");
  expansion_t x = {.expr = text};
  mn_status_t st = MN_OK;
  if (!len) {
    st = mn_error(MN_ERR_USAGE, "hostlist '': empty");
    goto free_names;
  }
  for (const char *item = text;;) {
    x.item++;
    size_t item_len = item_length(item);
    st = expand_item(&x, item, item_len);
    if (st != MN_OK) goto free_names;
    if (!item[item_len]) break;
    item += item_len + 1;
  }
  free(text);
  *names = x.names;
  *n = x.n;
  return MN_OK;
free_names:
  mn_hostlist_free_names(x.names, x.n);
  free(text);
  return st;
}

void mn_hostlist_free_names(char **names, int n) {
  for (int i = 0; names && i < n; i++) free(names[i]);
  free(names);
}
