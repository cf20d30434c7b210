/* prep_write.c: what mnprep does with the rows of an input once a reader has checked them.
 *
 * A reader pushes rows, in input order, into a spool: the features go to an unlinked temp
 * file (in $TMPDIR, or else beside the output, or else in /tmp), the labels stay in memory.
 * The input is thus read once (a pipe works) and never held in memory whole. Then, from
 * the spool:
 *
 *   - the labels are checked as a whole: one class only, or a label column that counts the
 *     rows 0, 1, 2, ... (an index), is refused with a hint;
 *   - the validation split takes exactly round(N * F) rows, drawn by a shuffle seeded by
 *     --seed; with --stratify each class gives round-ish n_c * F rows (largest remainders,
 *     so that the total is still round(N * F));
 *   - --standardize computes each feature's mean and standard deviation over the training
 *     rows (Welford, in double; a constant feature gets std 1) and applies them to both
 *     splits, storing them as /x attributes;
 *   - rows are written in input order to K contiguous shards and the validation file, and
 *     --split-out lists each row's split. Everything is committed together (prep_out.c).
 *
 * It parses no input format (prep_csv.c, prep_npy.c, prep_h5.c do). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mn_rng.h"
#include "prep.h"

/* ---- spool --------------------------------------------------------------------------- */

mn_status_t spool_start(spool_t *sp, const char *out, int dim) {
  char path[PATH_MAX + 32], dir[PATH_MAX];
  const char *tmpdir = getenv("TMPDIR");
  if (tmpdir && *tmpdir) {
    snprintf(dir, sizeof dir, "%s", tmpdir);
  } else { /* beside the output: the space it needs is the output's, and not a tmpfs */
    char copy[PATH_MAX];
    struct stat sb;
    snprintf(copy, sizeof copy, "%s", out);
    snprintf(dir, sizeof dir, "%s", dirname(copy));
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) snprintf(dir, sizeof dir, "/tmp");
  }
  snprintf(path, sizeof path, "%s/.mnprep-spool.XXXXXX", dir);
  int fd = mkstemp(path);
  if (fd < 0)
    return mn_error(MN_ERR_IO, "cannot create a temp file in %s: %s", dir, strerror(errno));
  unlink(path); /* gone whatever happens next; the open descriptor keeps it */
  sp->f = fdopen(fd, "w+b");
  if (!sp->f) {
    close(fd);
    return mn_error(MN_ERR_NOMEM, "out of memory");
  }
  sp->dim = dim;
  sp->maxlabel = -1;
  return MN_OK;
}

mn_status_t spool_push(spool_t *sp, const float *x, int32_t y) {
  if (sp->n == sp->cap) {
    int64_t cap = sp->cap ? 2 * sp->cap : 4096;
    int32_t *ny = realloc(sp->y, (size_t)cap * sizeof *ny);
    if (!ny) return mn_error(MN_ERR_NOMEM, "out of memory");
    sp->y = ny;
    sp->cap = cap;
  }
  if (fwrite(x, sizeof *x, (size_t)sp->dim, sp->f) != (size_t)sp->dim)
    return mn_error(MN_ERR_IO, "cannot write the temp file (TMPDIR or beside --out): %s",
                    strerror(errno));
  if (y == sp->n) sp->counting++;
  if (y > sp->maxlabel) sp->maxlabel = y;
  sp->y[sp->n++] = y;
  return MN_OK;
}

void spool_free(spool_t *sp) {
  if (sp->f) fclose(sp->f);
  free(sp->y);
  memset(sp, 0, sizeof *sp);
}

mn_status_t label_check(const prep_opts_t *o, const char *where, int64_t v) {
  if (v < 0) return mn_error(MN_ERR_DATA, "%s: label '%lld' is negative", where, (long long)v);
  if (o->classes > 0 && v >= o->classes)
    return mn_error(MN_ERR_DATA, "%s: label %lld is not below --classes %d", where, (long long)v,
                    o->classes);
  if (v >= MN_PREP_MAX_CLASSES) /* the classes (max + 1) must fit, as for --classes */
    return mn_error(MN_ERR_DATA, "%s: label %lld is out of range (at most %d)", where, (long long)v,
                    MN_PREP_MAX_CLASSES - 1);
  return MN_OK;
}

/* ---- the split ----------------------------------------------------------------------- */

/* out: val[i] = 1 for the round(N * F) validation rows. */
static mn_status_t split_draw(const prep_opts_t *o, const spool_t *sp, int classes, uint8_t *val) {
  int64_t n = sp->n, nval = llround((double)n * o->val_fraction);
  int nq = o->stratify ? classes : 1;
  int64_t *quota = calloc((size_t)nq, sizeof *quota);
  int64_t *count = calloc((size_t)nq, sizeof *count);
  double *frac = calloc((size_t)nq, sizeof *frac);
  int64_t *order = malloc((size_t)n * sizeof *order);
  mn_status_t st = MN_OK;
  if (!quota || !count || !frac || !order) {
    st = mn_error(MN_ERR_NOMEM, "out of memory");
    goto cleanup;
  }
  for (int64_t i = 0; i < n; i++) count[o->stratify ? sp->y[i] : 0]++;
  int64_t given = 0;
  for (int c = 0; c < nq; c++) {
    double want = (double)count[c] * o->val_fraction;
    quota[c] = (int64_t)floor(want);
    frac[c] = want - (double)quota[c];
    given += quota[c];
  }
  for (; given < nval; given++) { /* largest remainders first, then the lower class */
    int best = -1;
    for (int c = 0; c < nq; c++)
      if (quota[c] < count[c] && (best < 0 || frac[c] > frac[best])) best = c;
    if (best < 0) break;
    quota[best]++;
    frac[best] = -1;
  }
  mn_rng_t rng;
  mn_rng_seed(&rng, o->seed, STREAM_CSV_SPLIT, 0);
  for (int64_t i = 0; i < n; i++) order[i] = i;
  mn_rng_shuffle_i64(&rng, order, n);
  for (int64_t i = 0; i < n; i++) {
    int c = o->stratify ? sp->y[order[i]] : 0;
    if (quota[c] > 0) {
      val[order[i]] = 1;
      quota[c]--;
    }
  }
cleanup:
  free(quota);
  free(count);
  free(frac);
  free(order);
  return st;
}

/* ---- standardization ----------------------------------------------------------------- */

static mn_status_t spool_read(spool_t *sp, float *x, int64_t rows) {
  size_t want = (size_t)rows * (size_t)sp->dim;
  if (fread(x, sizeof *x, want, sp->f) != want)
    return mn_error(MN_ERR_IO, "cannot read back the temp file: %s",
                    ferror(sp->f) ? strerror(errno) : "short read");
  return MN_OK;
}

/* Mean and standard deviation (population, as NumPy's std and scikit-learn's
 * StandardScaler) of every feature over the training rows, by Welford's update in double. */
static mn_status_t standardize_fit(spool_t *sp, const uint8_t *val, float *buf, int64_t cap,
                                   double *mean, double *std) {
  int dim = sp->dim;
  int64_t seen = 0;
  memset(mean, 0, (size_t)dim * sizeof *mean);
  memset(std, 0, (size_t)dim * sizeof *std); /* holds M2 until the end */
  rewind(sp->f);
  for (int64_t lo = 0; lo < sp->n; lo += cap) {
    int64_t rows = sp->n - lo < cap ? sp->n - lo : cap;
    mn_status_t st = spool_read(sp, buf, rows);
    if (st != MN_OK) return st;
    for (int64_t i = 0; i < rows; i++) {
      if (val && val[lo + i]) continue;
      seen++;
      const float *x = buf + (size_t)i * dim;
      for (int d = 0; d < dim; d++) {
        double delta = x[d] - mean[d];
        mean[d] += delta / (double)seen;
        std[d] += delta * (x[d] - mean[d]);
      }
    }
  }
  for (int d = 0; d < dim; d++) {
    std[d] = seen > 0 ? sqrt(std[d] / (double)seen) : 0;
    if (!(std[d] > 0)) std[d] = 1; /* a constant feature: centred, not scaled */
  }
  return MN_OK;
}

/* ---- writing ------------------------------------------------------------------------- */

/* A buffered writer of one output at a time (rows arrive one by one). */
typedef struct row_buf {
  float *x;
  int32_t *y;
  int64_t n, cap;
} row_buf_t;

static mn_status_t buf_flush(row_buf_t *b, out_file_t *o, int classes) {
  mn_status_t st = out_append(o, b->x, b->y, b->n, classes);
  b->n = 0;
  return st;
}

static mn_status_t buf_push(row_buf_t *b, out_file_t *o, const float *x, int32_t y, int dim,
                            int classes) {
  memcpy(b->x + (size_t)b->n * dim, x, (size_t)dim * sizeof *x);
  b->y[b->n++] = y;
  return b->n == b->cap ? buf_flush(b, o, classes) : MN_OK;
}

static void shard_path(char *buf, size_t len, const char *out, int k, int shards) {
  if (shards == 1) {
    snprintf(buf, len, "%s", out);
    return;
  }
  size_t n = strlen(out);
  int ext = n > 3 && strcmp(out + n - 3, ".h5") == 0;
  snprintf(buf, len, "%.*s-%05d-of-%05d%s", (int)(ext ? n - 3 : n), out, k, shards,
           ext ? ".h5" : "");
}

/* --split-out: "row,split" then one line per input row (from 0), "train" or "val", into
 * "<path>.tmp.<pid>" (renamed by the caller). */
static mn_status_t split_file_write(const char *path, char *tmp, size_t tmplen, const uint8_t *val,
                                    int64_t n) {
  snprintf(tmp, tmplen, "%s.tmp.%ld", path, (long)getpid());
  mn_status_t st = make_parents(path);
  if (st != MN_OK) return st;
  FILE *f = fopen(tmp, "w");
  if (!f) return mn_error(MN_ERR_IO, "cannot write %s: %s", path, strerror(errno));
  fputs("row,split\n", f);
  for (int64_t i = 0; i < n; i++) fprintf(f, "%lld,%s\n", (long long)i, val[i] ? "val" : "train");
  int bad = fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0;
  int e = errno;
  if (fclose(f) != 0 && !bad) {
    bad = 1;
    e = errno;
  }
  if (bad) {
    unlink(tmp);
    tmp[0] = '\0';
    return mn_error(MN_ERR_IO, "cannot write %s: %s", path, strerror(e));
  }
  return MN_OK;
}

/* The label column as a whole: more than one class, and not a count of the rows. */
static mn_status_t labels_check(const spool_t *sp, const char *what, const char *hint) {
  int32_t first = sp->y[0];
  int64_t same = 0;
  for (int64_t i = 0; i < sp->n; i++) same += sp->y[i] == first;
  if (same == sp->n)
    return mn_error(MN_ERR_DATA,
                    "%s: every one of the %lld rows has label %d: one class cannot be learnt "
                    "(it would train to a false 100%% accuracy)%s%s",
                    what, (long long)sp->n, (int)first, hint[0] ? "; " : "", hint);
  if (sp->counting == sp->n && sp->n >= 3)
    return mn_error(MN_ERR_DATA,
                    "%s: the labels are 0, 1, 2, ... %lld, the row numbers: that is a row index "
                    "(such as pandas' to_csv() index), not a label%s%s",
                    what, (long long)sp->n - 1, hint[0] ? "; " : "", hint);
  return MN_OK;
}

mn_status_t prep_write(const prep_opts_t *o, spool_t *sp, const char *what, const char *hint) {
  out_file_t *outs = NULL;
  row_buf_t tb = {0}, vb = {0};
  uint8_t *val = NULL;
  double *mean = NULL, *std = NULL;
  float *buf = NULL;
  char split_tmp[PATH_MAX + 32] = "";
  int nout = 0, dim = sp->dim;
  mn_status_t st = MN_OK;
  if (sp->n == 0) return mn_error(MN_ERR_DATA, "%s: no data rows", what);
  int classes = o->classes > 0 ? o->classes : sp->maxlabel + 1;
  st = labels_check(sp, what, hint);
  if (st != MN_OK) return st;

  int64_t nval = o->val_fraction > 0 ? llround((double)sp->n * o->val_fraction) : 0;
  int64_t ntrain = sp->n - nval;
  if (o->val_fraction > 0 && nval == 0)
    return mn_error(MN_ERR_DATA, "%s: --val-fraction %g of %lld rows leaves no validation row",
                    what, o->val_fraction, (long long)sp->n);
  if (ntrain < o->shards)
    return mn_error(MN_ERR_DATA, "%s: %lld training rows cannot fill %d shards", what,
                    (long long)ntrain, o->shards);
  int64_t cap = o->chunk < 4096 ? 4096 : o->chunk;
  val = calloc((size_t)sp->n, 1);
  buf = malloc((size_t)cap * (size_t)dim * sizeof *buf);
  nout = o->shards + (nval > 0 ? 1 : 0);
  outs = calloc((size_t)nout, sizeof *outs);
  for (int i = 0; outs && i < nout; i++) out_init(&outs[i]);
  tb.x = malloc((size_t)cap * (size_t)dim * sizeof(float));
  tb.y = malloc((size_t)cap * sizeof(int32_t));
  vb.x = malloc((size_t)cap * (size_t)dim * sizeof(float));
  vb.y = malloc((size_t)cap * sizeof(int32_t));
  tb.cap = vb.cap = cap;
  if (o->standardize) {
    mean = malloc((size_t)dim * sizeof *mean);
    std = malloc((size_t)dim * sizeof *std);
  }
  if (!val || !buf || !outs || !tb.x || !tb.y || !vb.x || !vb.y ||
      (o->standardize && (!mean || !std))) {
    st = mn_error(MN_ERR_NOMEM, "out of memory");
    goto cleanup;
  }
  if (nval > 0) st = split_draw(o, sp, classes, val);
  if (st == MN_OK && o->standardize) st = standardize_fit(sp, val, buf, cap, mean, std);
  if (st != MN_OK) goto cleanup;

  char path[PATH_MAX];
  for (int k = 0; k < o->shards && st == MN_OK; k++) {
    int64_t lo = ntrain * k / o->shards, hi = ntrain * (k + 1) / o->shards;
    shard_path(path, sizeof path, o->out, k, o->shards);
    st = out_open(&outs[k], path, dim, hi - lo, o->chunk, classes);
  }
  out_file_t *vout = nval > 0 ? &outs[o->shards] : NULL;
  if (st == MN_OK && vout) st = out_open(vout, o->val_out, dim, nval, o->chunk, classes);
  if (st != MN_OK) goto cleanup;

  int k = 0;
  int64_t tdone = 0;
  rewind(sp->f);
  for (int64_t lo = 0; lo < sp->n && st == MN_OK; lo += cap) {
    int64_t rows = sp->n - lo < cap ? sp->n - lo : cap;
    st = spool_read(sp, buf, rows);
    for (int64_t i = 0; i < rows && st == MN_OK; i++) {
      float *x = buf + (size_t)i * dim;
      int32_t y = sp->y[lo + i];
      if (o->standardize)
        for (int d = 0; d < dim; d++) x[d] = (float)((x[d] - mean[d]) / std[d]);
      if (val[lo + i]) {
        st = buf_push(&vb, vout, x, y, dim, classes);
        continue;
      }
      while (st == MN_OK && tdone >= ntrain * (k + 1) / o->shards) { /* the next shard */
        st = buf_flush(&tb, &outs[k], classes);
        k++;
      }
      if (st == MN_OK) st = buf_push(&tb, &outs[k], x, y, dim, classes);
      tdone++;
    }
  }
  if (st == MN_OK) st = buf_flush(&tb, &outs[k], classes);
  if (st == MN_OK && vout) st = buf_flush(&vb, vout, classes);
  for (int i = 0; i < nout && st == MN_OK; i++) st = out_attrs(&outs[i], classes, 0, 0);
  for (int i = 0; i < nout && st == MN_OK && o->standardize; i++)
    st = out_standardized(&outs[i], mean, std);
  if (st == MN_OK && o->split_out)
    st = split_file_write(o->split_out, split_tmp, sizeof split_tmp, val, sp->n);
  if (st == MN_OK) st = outs_commit(outs, nout);
  if (st == MN_OK && split_tmp[0]) {
    if (rename(split_tmp, o->split_out) != 0)
      st = mn_error(MN_ERR_IO, "cannot rename %s to %s: %s", split_tmp, o->split_out,
                    strerror(errno));
    else
      split_tmp[0] = '\0';
  }
  for (int i = 0; i < nout && st == MN_OK; i++) print_written(&outs[i], classes);
  if (st == MN_OK && o->standardize)
    printf("standardized with the mean and std of the %lld training rows (/x attributes mean, "
           "std)\n",
           (long long)ntrain);
  if (st == MN_OK && o->split_out)
    printf("wrote %s: %lld train, %lld val\n", o->split_out, (long long)ntrain, (long long)nval);
cleanup:
  if (split_tmp[0]) unlink(split_tmp);
  for (int i = 0; outs && i < nout; i++) out_abort(&outs[i]);
  free(outs);
  free(tb.x);
  free(tb.y);
  free(vb.x);
  free(vb.y);
  free(val);
  free(buf);
  free(mean);
  free(std);
  return st;
}
