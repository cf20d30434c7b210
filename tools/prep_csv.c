/* prep_csv.c: mnprep csv's input: rows "label,f1,...,fD" (or "f1,...,fD,label").
 *
 * The input is read once, line by line, through zlib's gzgets (a gzip file is decompressed,
 * a plain one read as is; "-" is standard input, and a pipe works), and each line is fed to
 * libcsv, which splits records by RFC 4180 (quoted fields, doubled quotes, CRLF). The
 * delimiter is comma, tab or semicolon: given, or the one of them most frequent outside
 * quotes on the first non-blank line. That line is a header only when none of its fields is
 * a number (or with --header yes), and skipping it is said on stderr; a header whose first
 * field is empty is pandas' to_csv() with its index, whose column is then dropped (said
 * too). Every value is checked and every error names the file, the line and the field.
 * It does not split or write anything (prep_write.c does). */
#include <csv.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "prep.h"

typedef struct csv_in {
  const prep_opts_t *o;
  const char *path;
  spool_t *sp;
  mn_status_t st;
  int64_t lineno;
  int records;    /* records seen, the header included */
  int skip_index; /* drop field 1 of every record */
  char *fbuf;     /* the current record's fields, each NUL-terminated */
  size_t flen, fcap;
  size_t *off; /* [nf] field offsets in fbuf */
  int nf, offcap;
  float *x; /* [sp->dim] */
} csv_in_t;

/* A number as strtod reads it, "nan" and "inf" included (a first line holding them is a
 * data row to refuse, not a header to skip). */
static int is_number(const char *s) {
  char *end;
  while (*s == ' ') s++;
  if (!*s) return 0;
  (void)strtod(s, &end);
  while (*end == ' ') end++;
  return *end == '\0';
}

static void on_field(void *s, size_t len, void *data) {
  csv_in_t *c = data;
  if (c->st != MN_OK) return;
  if (c->flen + len + 1 > c->fcap || c->nf == c->offcap) {
    size_t cap = (c->fcap + len + 1) * 2;
    int ocap = c->offcap ? 2 * c->offcap : 64;
    char *b = realloc(c->fbuf, cap);
    if (b) c->fbuf = b;
    size_t *off = b ? realloc(c->off, (size_t)ocap * sizeof *off) : NULL;
    if (off) c->off = off;
    if (!b || !off) {
      c->st = mn_error(MN_ERR_NOMEM, "out of memory");
      return;
    }
    c->fcap = cap;
    c->offcap = ocap;
  }
  if (len) memcpy(c->fbuf + c->flen, s, len);
  c->fbuf[c->flen + len] = '\0';
  c->off[c->nf++] = c->flen;
  c->flen += len + 1;
}

static const char *field(const csv_in_t *c, int i) { return c->fbuf + c->off[i]; }

/* The first record: a header when no field is a number (or --header yes). One field is no
 * header: a dataset has two columns at least, and a line of another delimiter is one field. */
static int is_header(const csv_in_t *c) {
  if (c->o->header != HEADER_AUTO) return c->o->header == HEADER_YES;
  if (c->nf < 2) return 0;
  for (int i = 0; i < c->nf; i++)
    if (is_number(field(c, i))) return 0;
  return 1;
}

static void header_note(csv_in_t *c) {
  char shown[80];
  size_t n = 0;
  for (int i = 0; i < c->nf && n < sizeof shown - 1; i++)
    n += (size_t)snprintf(shown + n, sizeof shown - n, "%s%s", i ? "," : "", field(c, i));
  if (n >= sizeof shown - 1) strcpy(shown + sizeof shown - 4, "...");
  fprintf(stderr, "mnprep: note: %s:%lld: skipped a header line: '%s'\n", c->path,
          (long long)c->lineno, shown);
  if (c->o->index == INDEX_AUTO && c->nf > 1 && field(c, 0)[0] == '\0') {
    c->skip_index = 1;
    fprintf(stderr,
            "mnprep: note: %s: the first column has no name (the index pandas' to_csv() "
            "writes): dropped (--index keep keeps it)\n",
            c->path);
  }
}

/* One record into c->x and its label, and on to the spool. */
static mn_status_t record(csv_in_t *c) {
  const prep_opts_t *o = c->o;
  const char *path = c->path;
  long long line = (long long)c->lineno;
  int first = c->records++ == 0;
  if (first && is_header(c)) {
    header_note(c);
    return MN_OK;
  }
  const char *hint = first ? " (if line 1 is a header: --header yes)" : "";
  int skip = c->skip_index ? 1 : 0;
  int nf = c->nf - skip;
  if (c->sp->dim == 0) {
    if (nf < 2)
      return mn_error(MN_ERR_DATA,
                      "%s:%lld: expected a label and at least one feature, found %d field%s%s",
                      path, line, nf, nf == 1 ? "" : "s",
                      c->nf == 1 ? " (is the delimiter right? --delimiter)" : "");
    mn_status_t st = spool_start(c->sp, o->out, nf - 1);
    if (st != MN_OK) return st;
    c->x = malloc((size_t)(nf - 1) * sizeof *c->x);
    if (!c->x) return mn_error(MN_ERR_NOMEM, "out of memory");
  }
  int dim = c->sp->dim;
  if (nf != dim + 1)
    return mn_error(MN_ERR_DATA, "%s:%lld: expected %d fields, found %d", path, line,
                    dim + 1 + skip, c->nf);
  int label_field = o->label_last ? c->nf : 1 + skip; /* from 1 */
  int32_t label = 0;
  for (int f = 1 + skip; f <= c->nf; f++) {
    const char *t = field(c, f - 1);
    while (*t == ' ') t++;
    char *end;
    if (f == label_field) {
      errno = 0;
      long long v = strtoll(t, &end, 10);
      while (*end == ' ') end++;
      if (!*t || *end)
        return mn_error(MN_ERR_DATA, "%s:%lld: label '%s' is not an integer%s", path, line, t,
                        hint);
      if (v < 0) return mn_error(MN_ERR_DATA, "%s:%lld: label '%s' is negative", path, line, t);
      if (errno == ERANGE)
        return mn_error(MN_ERR_DATA, "%s:%lld: label %s is out of range (at most %d)", path, line,
                        t, MN_PREP_MAX_CLASSES - 1);
      char where[PATH_MAX + 32];
      snprintf(where, sizeof where, "%s:%lld", path, line);
      mn_status_t st = label_check(o, where, v);
      if (st != MN_OK) return st;
      label = (int32_t)v;
    } else {
      if (!is_number(t))
        return mn_error(MN_ERR_DATA, "%s:%lld: field %d '%s' is not a number%s", path, line, f, t,
                        hint);
      int col = f - 1 - skip - (o->label_last ? 0 : 1);
      double d = strtod(t, NULL);
      c->x[col] = strtof(t, NULL);
      if (!isfinite(d))
        return mn_error(MN_ERR_NONFINITE, "%s:%lld: field %d '%s' is NaN or infinite", path, line,
                        f, t);
      if (!isfinite(c->x[col])) /* finite as a double, not as a float32 */
        return mn_error(MN_ERR_NONFINITE,
                        "%s:%lld: field %d '%s' is out of the float32 range "
                        "(+-%g)",
                        path, line, f, t, (double)FLT_MAX);
    }
  }
  return spool_push(c->sp, c->x, label);
}

static void on_record(int term, void *data) {
  csv_in_t *c = data;
  int blank = c->nf == 0 || (c->nf == 1 && !field(c, 0)[strspn(field(c, 0), " ")]);
  if (c->st == MN_OK && !blank) c->st = record(c);
  c->nf = 0;
  c->flen = 0;
}

static int space_only(unsigned char ch) { return ch == ' '; }

/* The most frequent of ',', '\t', ';' outside double quotes (',' on a tie or none). */
static int sniff_delimiter(const char *line) {
  int n[3] = {0, 0, 0}, quoted = 0;
  static const char cand[3] = {',', '\t', ';'};
  for (const char *p = line; *p; p++) {
    if (*p == '"') quoted = !quoted;
    for (int i = 0; i < 3 && !quoted; i++) n[i] += *p == cand[i];
  }
  int best = 0;
  for (int i = 1; i < 3; i++)
    if (n[i] > n[best]) best = i;
  return cand[best];
}

/* The next line into *buf (with its '\n', if any). out: *len, 0 at the end of the input. */
static mn_status_t read_line(gzFile g, const char *path, char **buf, size_t *cap, size_t *len) {
  *len = 0;
  for (;;) {
    if (*cap - *len < 2) {
      size_t ncap = *cap ? 2 * *cap : 65536;
      char *b = realloc(*buf, ncap);
      if (!b) return mn_error(MN_ERR_NOMEM, "out of memory");
      *buf = b;
      *cap = ncap;
    }
    if (!gzgets(g, *buf + *len, (int)(*cap - *len > INT_MAX ? INT_MAX : *cap - *len))) {
      int err;
      const char *msg = gzerror(g, &err);
      if (err == Z_ERRNO)
        return mn_error(MN_ERR_NOINPUT, "%s: cannot read: %s", path, strerror(errno));
      size_t n = strlen(path); /* zlib's message starts "path: " */
      if (!strncmp(msg, path, n) && !strncmp(msg + n, ": ", 2)) msg += n + 2;
      if (err != Z_OK) /* Z_BUF_ERROR: the gzip stream ends early (a truncated file) */
        return mn_error(MN_ERR_DATA, "%s: cannot decompress: %s", path, msg);
      return MN_OK;
    }
    *len += strlen(*buf + *len);
    if (*len && (*buf)[*len - 1] == '\n') return MN_OK;
    if (gzeof(g)) return MN_OK;
  }
}

mn_status_t csv_read(const prep_opts_t *o, spool_t *sp) {
  csv_in_t c = {.o = o, .path = o->in, .sp = sp, .st = MN_OK, .skip_index = o->index == INDEX_SKIP};
  struct csv_parser p;
  char *line = NULL;
  size_t cap = 0, len = 0;
  int delim = o->delimiter;
  int stdin_in = strcmp(o->in, "-") == 0;
  if (stdin_in) c.path = "(stdin)";
  gzFile g = stdin_in ? gzdopen(dup(STDIN_FILENO), "rb") : gzopen(o->in, "rb");
  if (!g)
    return mn_error(MN_ERR_NOINPUT, "%s: %s", o->in,
                    errno == ENOENT ? "no such file" : strerror(errno ? errno : ENOMEM));
  gzbuffer(g, 1 << 17);
  if (csv_init(&p, CSV_APPEND_NULL) != 0) {
    gzclose(g);
    return mn_error(MN_ERR_NOMEM, "out of memory");
  }
  csv_set_space_func(&p, space_only);
  mn_status_t st = MN_OK;
  while (st == MN_OK && c.st == MN_OK) {
    st = read_line(g, c.path, &line, &cap, &len);
    if (st != MN_OK || len == 0) break;
    c.lineno++;
    if (!delim && line[strspn(line, " \t\r\n")]) {
      delim = sniff_delimiter(line);
      if (delim != ',')
        fprintf(stderr, "mnprep: note: %s: delimiter '%s' (found on line %lld)\n", c.path,
                delim == '\t' ? "\\t" : ";", (long long)c.lineno);
    }
    csv_set_delim(&p, (unsigned char)(delim ? delim : ','));
    if (csv_parse(&p, line, len, on_field, on_record, &c) != len)
      st = mn_error(MN_ERR_DATA, "%s:%lld: %s", c.path, (long long)c.lineno,
                    csv_strerror(csv_error(&p)));
  }
  if (st == MN_OK && c.st == MN_OK) csv_fini(&p, on_field, on_record, &c);
  if (st == MN_OK) st = c.st;
  if (st == MN_OK && sp->n == 0) st = mn_error(MN_ERR_DATA, "%s: no data rows", c.path);
  csv_free(&p);
  gzclose(g);
  free(line);
  free(c.fbuf);
  free(c.off);
  free(c.x);
  return st;
}
