/* tokens.c: token streams (mn_tokens.h, docs/data.md "Token datasets").
 *
 * Opens the files of a token dataset as one stream, checks at open what is cheap to check
 * (each file HDF5 with /tokens uint16 or int32 [n], vocab_size there and within the model's
 * vocabulary, one tokenizer for all files, every declared token stored, the stream at least
 * one window long), and reads windows of context + 1 tokens as int32 inputs and targets.
 * The token values are checked as they are read, not at open: a scan of billions of tokens
 * would hold up every start. Consecutive windows of a request are read as one run (one
 * hyperslab per file they touch). It does not know the sample order (mn_shard.h), locks
 * nothing (data.c serialises) and writes no files (tools/prep_text.c, prep_tokens.c do). */
#include "mn_tokens.h"
#include "mn_data.h"
#include "mn_data_h5.h"
#include "mn_h5.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define MN_TOKENS_CACHE_BYTES ((size_t)4 << 20) /* chunk cache of each file's /tokens */
#define MN_TOKENS_TOKENIZER_LEN 64

typedef struct tok_file {
  const char *path;
  hid_t file, dset, space;
  int64_t ntokens;
  int64_t vocab; /* its vocab_size: every token in [0, vocab) */
  char tokenizer[MN_TOKENS_TOKENIZER_LEN];
} tok_file_t;

struct win_ref {
  int64_t win; /* window */
  int pos;     /* where the caller wants it */
};

struct mn_tokens {
  int nfiles;
  tok_file_t *files;
  int64_t *first; /* [nfiles + 1]: the stream position where each file starts */
  int64_t ntokens, nwindows;
  int context;
  uint32_t input_crc, target_crc;
  /* scratch of the reads, grown on demand */
  int cap_refs;
  struct win_ref *refs;
  int64_t cap_stage;
  int32_t *stage;
};

/* ---- opening ------------------------------------------------------------------------- */

/* A string attribute (fixed or variable length) into buf; "" when absent or not a string. */
static void read_string_attr(hid_t obj, const char *name, char *buf, size_t len) {
  buf[0] = '\0';
  if (H5Aexists(obj, name) <= 0) return;
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  hid_t t = a >= 0 ? H5Aget_type(a) : -1;
  if (t >= 0 && H5Tget_class(t) == H5T_STRING) {
    if (H5Tis_variable_str(t) > 0) {
      char *s = NULL;
      hid_t mt = H5Tcopy(H5T_C_S1);
      H5Tset_size(mt, H5T_VARIABLE);
      if (H5Aread(a, mt, &s) >= 0 && s) snprintf(buf, len, "%s", s);
      if (s) H5free_memory(s);
      H5Tclose(mt);
    } else {
      size_t n = H5Tget_size(t);
      char *s = calloc(n + 1, 1);
      if (s && H5Aread(a, t, s) >= 0) snprintf(buf, len, "%s", s);
      free(s);
    }
  }
  if (t >= 0) H5Tclose(t);
  if (a >= 0) H5Aclose(a);
  H5Eclear2(H5E_DEFAULT);
}

/* The integer attribute vocab_size of /tokens, required. */
static mn_status_t read_vocab(const tok_file_t *f, int64_t *vocab) {
  long long v = 0;
  hid_t a = H5Aexists(f->dset, "vocab_size") > 0 ? H5Aopen(f->dset, "vocab_size", H5P_DEFAULT) : -1;
  hid_t t = a >= 0 ? H5Aget_type(a) : -1;
  hid_t sp = a >= 0 ? H5Aget_space(a) : -1;
  int ok = t >= 0 && sp >= 0 && H5Tget_class(t) == H5T_INTEGER &&
           H5Sget_simple_extent_npoints(sp) == 1 && H5Aread(a, H5T_NATIVE_LLONG, &v) >= 0;
  if (sp >= 0) H5Sclose(sp);
  if (t >= 0) H5Tclose(t);
  if (a >= 0) H5Aclose(a);
  H5Eclear2(H5E_DEFAULT);
  if (!ok)
    return mn_error(MN_ERR_DATA,
                    "%s: /tokens has no integer attribute vocab_size (the vocabulary size; "
                    "docs/data.md)",
                    f->path);
  if (v < 1 || v > INT32_MAX)
    return mn_error(MN_ERR_DATA, "%s: /tokens: vocab_size = %lld is outside [1, %d]", f->path, v,
                    INT32_MAX);
  *vocab = v;
  return MN_OK;
}

/* Open one file's /tokens and check it; out: f. */
static mn_status_t file_open(tok_file_t *f, int vocab) {
  char found[128];
  mn_status_t st = mn_data_open_file(f->path, &f->file);
  if (st != MN_OK) return st;
  if (!mn_data_has(f->file, "/tokens")) {
    if (mn_data_has(f->file, "/x") && mn_data_has(f->file, "/y"))
      return mn_error(MN_ERR_DATA,
                      "%s: is a sample dataset (/x, /y), not a token dataset (/tokens): a GPT "
                      "reads tokens, an MLP samples (docs/data.md)",
                      f->path);
    return mn_error(MN_ERR_DATA, "%s: no dataset /tokens (docs/data.md)", f->path);
  }
  st = mn_data_open_dataset(f->path, f->file, "/tokens", MN_TOKENS_CACHE_BYTES, &f->dset);
  if (st != MN_OK) return st;
  hid_t type = H5Dget_type(f->dset);
  f->space = H5Dget_space(f->dset);
  int wide = 0, ok = type >= 0 && f->space >= 0 && H5Tget_class(type) == H5T_INTEGER &&
                     H5Sget_simple_extent_type(f->space) == H5S_SIMPLE &&
                     H5Sget_simple_extent_ndims(f->space) == 1;
  if (ok) {
    size_t size = H5Tget_size(type);
    H5T_sign_t sign = H5Tget_sign(type);
    wide = size == 4 && sign == H5T_SGN_2;
    ok = wide || (size == 2 && sign == H5T_SGN_NONE);
  }
  if (type >= 0) H5Tclose(type);
  if (!ok) {
    mn_data_describe(f->dset, found, sizeof found);
    return mn_error(MN_ERR_DATA, "%s: dataset /tokens: expected uint16 [N] or int32 [N], found %s",
                    f->path, found);
  }
  hsize_t n = 0;
  H5Sget_simple_extent_dims(f->space, &n, NULL);
  st = mn_data_check_storage(f->path, "/tokens", f->dset, 1, &n, n * (wide ? 4 : 2));
  if (st == MN_OK) st = read_vocab(f, &f->vocab);
  if (st != MN_OK) return st;
  if (vocab > 0 && f->vocab > vocab)
    return mn_error(MN_ERR_DATA,
                    "%s: /tokens has vocab_size = %lld, more than the model's vocabulary of %d",
                    f->path, (long long)f->vocab, vocab);
  if (!wide && f->vocab > 65536)
    return mn_error(MN_ERR_DATA,
                    "%s: /tokens is uint16 but vocab_size = %lld (more than 65536 tokens need "
                    "int32)",
                    f->path, (long long)f->vocab);
  read_string_attr(f->dset, "tokenizer", f->tokenizer, sizeof f->tokenizer);
  f->ntokens = (int64_t)n;
  return MN_OK;
}

mn_status_t mn_tokens_open(const char *const *paths, int nfiles, int context, int vocab,
                           mn_tokens_t **out) {
  if (context < 1)
    return mn_error(MN_ERR_INTERNAL, "tokens: context %d must be at least 1", context);
  mn_tokens_t *tk = calloc(1, sizeof *tk);
  if (!tk) return mn_error(MN_ERR_NOMEM, "tokens: out of memory");
  tk->context = context;
  tk->files = calloc((size_t)nfiles, sizeof *tk->files);
  tk->first = malloc((size_t)(nfiles + 1) * sizeof *tk->first);
  mn_status_t st = tk->files && tk->first ? MN_OK : mn_error(MN_ERR_NOMEM, "tokens: out of memory");
  if (st != MN_OK) goto fail;
  tk->first[0] = 0;
  for (int i = 0; i < nfiles; i++) {
    tok_file_t *f = &tk->files[i];
    f->path = paths[i];
    f->file = f->dset = f->space = -1;
    tk->nfiles = i + 1;
    st = file_open(f, vocab);
    if (st != MN_OK) goto fail;
    if (i > 0 && strcmp(f->tokenizer, tk->files[0].tokenizer) != 0) {
      st = mn_error(MN_ERR_DATA,
                    "%s: /tokens has tokenizer '%s', but %s has '%s': one stream, "
                    "one tokenizer",
                    f->path, f->tokenizer, tk->files[0].path, tk->files[0].tokenizer);
      goto fail;
    }
    tk->first[i + 1] = tk->first[i] + f->ntokens;
  }
  tk->ntokens = tk->first[nfiles];
  if (tk->ntokens < (int64_t)context + 1) {
    st = mn_error(MN_ERR_DATA,
                  "%s%s: the token stream has %lld tokens, shorter than one sequence "
                  "(context %d + 1 tokens)",
                  paths[0], nfiles > 1 ? " and the files after it" : "", (long long)tk->ntokens,
                  context);
    goto fail;
  }
  tk->nwindows = (tk->ntokens - 1) / context;

  /* The identity: the fixed windows i * (N - 1) / (K - 1) (mn_data.h), read and checked. */
  int64_t n = tk->nwindows, idx[MN_DATA_FEATURE_ROWS];
  int k = n < MN_DATA_FEATURE_ROWS ? (int)n : MN_DATA_FEATURE_ROWS;
  for (int i = 0; i < k; i++) idx[i] = k > 1 ? (int64_t)i * (n - 1) / (k - 1) : 0;
  size_t nx = (size_t)k * (size_t)context;
  int32_t *x = malloc(nx * sizeof *x), *y = malloc(nx * sizeof *y);
  st = x && y ? mn_tokens_read(tk, idx, k, x, y) : mn_error(MN_ERR_NOMEM, "tokens: out of memory");
  if (st == MN_OK) {
    tk->input_crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)x, (uInt)(nx * 4));
    tk->target_crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)y, (uInt)(nx * 4));
  }
  free(x);
  free(y);
  if (st != MN_OK) goto fail;
  *out = tk;
  return MN_OK;
fail:
  mn_tokens_close(tk);
  return st;
}

void mn_tokens_close(mn_tokens_t *tk) {
  if (!tk) return;
  for (int i = 0; i < tk->nfiles; i++) {
    tok_file_t *f = &tk->files[i];
    if (f->space >= 0) H5Sclose(f->space);
    if (f->dset >= 0) H5Dclose(f->dset);
    if (f->file >= 0) H5Fclose(f->file);
  }
  free(tk->files);
  free(tk->first);
  free(tk->refs);
  free(tk->stage);
  free(tk);
}

int64_t mn_tokens_windows(const mn_tokens_t *tk) { return tk->nwindows; }
int64_t mn_tokens_file_tokens(const mn_tokens_t *tk, int file) {
  return file >= 0 && file < tk->nfiles ? tk->files[file].ntokens : 0;
}
uint32_t mn_tokens_input_crc(const mn_tokens_t *tk) { return tk->input_crc; }
uint32_t mn_tokens_target_crc(const mn_tokens_t *tk) { return tk->target_crc; }

/* ---- reading ------------------------------------------------------------------------- */

/* Stream tokens [pos, pos + len) into buf as int32, file by file (one hyperslab each),
 * every value checked against its file's vocab_size. */
static mn_status_t read_stream(const mn_tokens_t *tk, int64_t pos, int64_t len, int32_t *buf) {
  char why[256];
  int64_t done = 0;
  while (done < len) {
    int fi = (int)mn_prefix_find(tk->first, tk->nfiles, pos + done);
    const tok_file_t *f = &tk->files[fi];
    int64_t lo = pos + done - tk->first[fi];
    int64_t n = f->ntokens - lo < len - done ? f->ntokens - lo : len - done;
    hsize_t start = (hsize_t)lo, cnt = (hsize_t)n;
    int32_t *dst = buf + done;
    hid_t mem = H5Screate_simple(1, &cnt, NULL);
    herr_t rc =
        mem < 0 ? -1 : H5Sselect_hyperslab(f->space, H5S_SELECT_SET, &start, NULL, &cnt, NULL);
    if (rc >= 0) rc = H5Dread(f->dset, H5T_NATIVE_INT32, mem, f->space, H5P_DEFAULT, dst);
    if (mem >= 0) H5Sclose(mem);
    if (rc < 0)
      return mn_error(MN_ERR_DATA, "%s: dataset /tokens: cannot read tokens %lld..%lld: %s",
                      f->path, (long long)lo, (long long)(lo + n), mn_h5_reason(why));
    for (int64_t i = 0; i < n; i++)
      if (dst[i] < 0 || dst[i] >= f->vocab)
        return mn_error(MN_ERR_DATA, "%s: /tokens[%lld] = %d is outside [0, %lld) (vocab_size)",
                        f->path, (long long)(lo + i), (int)dst[i], (long long)f->vocab);
    done += n;
  }
  return MN_OK;
}

static mn_status_t grow_stage(mn_tokens_t *tk, int64_t windows) {
  int64_t need = windows * tk->context + 1;
  if (need <= tk->cap_stage) return MN_OK;
  int32_t *s = realloc(tk->stage, (size_t)need * sizeof *s);
  if (!s)
    return mn_error(MN_ERR_NOMEM, "tokens: out of memory for %lld windows", (long long)windows);
  tk->stage = s;
  tk->cap_stage = need;
  return MN_OK;
}

/* Windows [w0, w0 + nwin) into the staging buffer: tokens [w0*T, (w0 + nwin)*T + 1). */
static mn_status_t stage_run(mn_tokens_t *tk, int64_t w0, int64_t nwin) {
  mn_status_t st = grow_stage(tk, nwin);
  if (st != MN_OK) return st;
  return read_stream(tk, w0 * tk->context, nwin * tk->context + 1, tk->stage);
}

/* Window w0 + k of the staged run into x[pos], y[pos]. */
static void unstage(const mn_tokens_t *tk, int64_t k, int64_t pos, int32_t *x, int32_t *y) {
  size_t t = (size_t)tk->context;
  const int32_t *s = tk->stage + (size_t)k * t;
  memcpy(x + (size_t)pos * t, s, t * sizeof *x);
  memcpy(y + (size_t)pos * t, s + 1, t * sizeof *y);
}

mn_status_t mn_tokens_read_range(mn_tokens_t *tk, int64_t start, int64_t count, int32_t *x,
                                 int32_t *y) {
  mn_status_t st = count > 0 ? stage_run(tk, start, count) : MN_OK;
  for (int64_t k = 0; st == MN_OK && k < count; k++) unstage(tk, k, k, x, y);
  return st;
}

static int ref_cmp(const void *a, const void *b) {
  const struct win_ref *ra = a, *rb = b;
  if (ra->win != rb->win) return ra->win < rb->win ? -1 : 1;
  return ra->pos - rb->pos;
}

mn_status_t mn_tokens_read(mn_tokens_t *tk, const int64_t *idx, int count, int32_t *x, int32_t *y) {
  if (count <= 0) return MN_OK;
  if (count > tk->cap_refs) {
    struct win_ref *r = realloc(tk->refs, (size_t)count * sizeof *r);
    if (!r) return mn_error(MN_ERR_NOMEM, "tokens: out of memory for %d windows", count);
    tk->refs = r;
    tk->cap_refs = count;
  }
  for (int i = 0; i < count; i++) tk->refs[i] = (struct win_ref){idx[i], i};
  qsort(tk->refs, (size_t)count, sizeof *tk->refs, ref_cmp);
  /* Runs of consecutive windows (repeats folded in), one staged read each. */
  mn_status_t st = MN_OK;
  for (int a = 0; a < count && st == MN_OK;) {
    int64_t w0 = tk->refs[a].win, w1 = w0;
    int b = a + 1;
    while (b < count && tk->refs[b].win <= w1 + 1) w1 = tk->refs[b++].win;
    st = stage_run(tk, w0, w1 - w0 + 1);
    for (int i = a; st == MN_OK && i < b; i++)
      unstage(tk, tk->refs[i].win - w0, tk->refs[i].pos, x, y);
    a = b;
  }
  return st;
}
