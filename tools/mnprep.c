/* mnprep: make mn datasets (docs/data.md).
 *
 *   mnprep teacher --out PREFIX ...   a synthetic set labelled by a fixed random network
 *   mnprep csv --in F.csv --out F.h5  rows "label,f1,...,fD" converted, streamed in chunks
 *
 * Every output holds /x float32 [N, D] and /y int32 [N], chunked, with the attributes
 * format = "mn-dataset-1" and classes on the root group, and is written atomically: to
 * "<path>.tmp.<pid>", flushed, fsync'd and renamed over the final path, so that a failed
 * run leaves nothing behind and never damages a file already there. It does not read
 * datasets back (runtime/data.c does) and keeps no whole dataset in memory.
 *
 * Exit codes: 0 done, 64 usage, 65 bad input data, 66 missing input, 74 cannot write. */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <getopt.h>
#include <hdf5.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mn_h5.h"
#include "mn_rng.h"
#include "mn_status.h"

#define FORMAT_NAME "mn-dataset-1"
#define MN_PREP_MAX_CLASSES (1 << 20) /* the most classes a dataset may have */

/* Random streams, named (seed, purpose, row) so that a row is the same whatever the
 * shard count. */
enum {
  STREAM_W1 = 101,
  STREAM_B1 = 102,
  STREAM_W2 = 103,
  STREAM_CALIB = 104,
  STREAM_TRAIN = 105,
  STREAM_VAL = 106,
  STREAM_CSV_SPLIT = 107,
  STREAM_MIX = 108,
};

static const char usage_text[] =
    "usage: mnprep teacher --out PREFIX [options]\n"
    "       mnprep csv --in FILE.csv --out FILE.h5 [options]\n"
    "\n"
    "Make mn datasets: HDF5 files with /x float32 [N, D] and /y int32 [N] (docs/data.md).\n"
    "Outputs are written atomically (temp file, fsync, rename).\n"
    "\n"
    "mnprep teacher: synthetic rows x = z A + noise with a latent z ~ N(0, 1)^L, a fixed\n"
    "random mixing A [L, D] and noise ~ N(0, 0.5^2)^D, labelled by argmax of a fixed random\n"
    "network relu(z W1 + b1) W2 + b2 (b2 balances the classes); with --latent 0, z = x ~\n"
    "N(0, 1)^D (much harder to generalise from). Writes PREFIX-train.h5\n"
    "(or PREFIX-train-00000-of-0000K.h5 ... with --shards K) and PREFIX-val.h5.\n"
    "  --out PREFIX       output prefix (required)\n"
    "  --samples N        training rows (default 60000)\n"
    "  --val N            validation rows, 0 for none (default 10000)\n"
    "  --dim D            features per row (default 784)\n"
    "  --classes C        classes (default 10)\n"
    "  --hidden H         hidden units of the teacher (default 16)\n"
    "  --latent L         latent dimensions, 0 for none (default 10)\n"
    "  --seed S           seed of teacher and rows (default 1)\n"
    "  --shards K         training shard files, rows split contiguously (default 1)\n"
    "  --chunk R          rows per HDF5 chunk, capped to N (default 256)\n"
    "\n"
    "mnprep csv: rows \"label,f1,...,fD\" (a first line with a non-numeric field is a\n"
    "header and skipped; blank lines are skipped).\n"
    "  --in FILE.csv      input (required)\n"
    "  --out FILE.h5      output (required); with --shards K: FILE-00000-of-0000K.h5 ...\n"
    "  --label first|last where the label is on each row (default first)\n"
    "  --classes C        labels must be below C (default: max label + 1)\n"
    "  --shards K         output shard files (default 1)\n"
    "  --val-fraction F   fraction of rows sent to --val-out, each row drawn from\n"
    "                     (seed, row) (default 0: none)\n"
    "  --val-out FILE.h5  validation output (required with --val-fraction > 0)\n"
    "  --seed S           seed of the validation draw (default 1)\n"
    "  --chunk R          rows per HDF5 chunk, capped to N (default 256)\n"
    "\n"
    "  -h, --help         this text\n"
    "\n"
    "Exit codes: 0 done, 64 usage, 65 bad input data, 66 missing input, 74 cannot write.\n";

/* ---- command-line numbers ------------------------------------------------------------ */

static mn_status_t parse_i64(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end)
    return mn_error(MN_ERR_USAGE, "--%s: '%s' is not an integer", opt, s);
  if (v < lo || v > hi)
    return mn_error(MN_ERR_USAGE, "--%s: %lld is outside [%lld, %lld]", opt, v, (long long)lo,
                    (long long)hi);
  *out = v;
  return MN_OK;
}

static mn_status_t parse_int(const char *opt, const char *s, int lo, int hi, int *out) {
  int64_t v;
  mn_status_t st = parse_i64(opt, s, lo, hi, &v);
  if (st == MN_OK) *out = (int)v;
  return st;
}

/* ---- atomic HDF5 outputs ------------------------------------------------------------- */

typedef struct out_file {
  char path[PATH_MAX];
  char tmp[PATH_MAX + 32];
  hid_t file, x, y;
  int dim;
  int64_t rows;  /* written so far */
  int64_t total; /* rows it will hold; -1: unknown */
  int32_t *hist; /* [classes] label histogram, may be NULL */
} out_file_t;

static void out_init(out_file_t *o) {
  memset(o, 0, sizeof *o);
  o->file = o->x = o->y = -1;
}

static mn_status_t create_dataset(out_file_t *o, const char *name, hid_t type, int rank,
                                  int64_t chunk, hid_t *out) {
  char why[256];
  hsize_t dims[2] = {0, (hsize_t)o->dim};
  hsize_t maxd[2] = {H5S_UNLIMITED, (hsize_t)o->dim};
  hsize_t cdims[2] = {(hsize_t)chunk, (hsize_t)o->dim};
  hid_t space = H5Screate_simple(rank, dims, maxd);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  hid_t d = -1;
  if (space >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, rank, cdims) >= 0)
    d = H5Dcreate2(o->file, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (dcpl >= 0) H5Pclose(dcpl);
  if (space >= 0) H5Sclose(space);
  if (d < 0)
    return mn_error(MN_ERR_IO, "%s: cannot create %s: %s", o->tmp, name, mn_h5_reason(why));
  *out = d;
  return MN_OK;
}

/* Create the directories above path that are missing (mkdir -p of its dirname). */
static mn_status_t make_parents(const char *path) {
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", path);
  for (char *p = dir + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
      return mn_error(MN_ERR_IO, "cannot write %s: cannot create %s: %s", path, dir,
                      strerror(errno));
    *p = '/';
  }
  return MN_OK;
}

/* Create "<path>.tmp.<pid>" with empty extendible /x [0, dim] and /y [0]. chunk: rows per
 * chunk (capped to total when total > 0). */
static mn_status_t out_open(out_file_t *o, const char *path, int dim, int64_t total, int64_t chunk,
                            int classes) {
  char why[256];
  if (snprintf(o->path, sizeof o->path, "%s", path) >= (int)sizeof o->path)
    return mn_error(MN_ERR_USAGE, "%s: path too long", path);
  snprintf(o->tmp, sizeof o->tmp, "%s.tmp.%ld", path, (long)getpid());
  o->dim = dim;
  o->total = total;
  struct stat sb;
  if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
    return mn_error(MN_ERR_IO, "cannot write %s: is a directory", path);
  mn_status_t st = make_parents(path);
  if (st != MN_OK) return st;
  /* Find out with open(2) whether the place is writable, for an errno-worded message. */
  int fd = open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return mn_error(MN_ERR_IO, "cannot write %s: %s", path, strerror(errno));
  close(fd);
  o->file = H5Fcreate(o->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (o->file < 0) {
    unlink(o->tmp);
    return mn_error(MN_ERR_IO, "cannot write %s: %s", path, mn_h5_reason(why));
  }
  if (total > 0 && chunk > total) chunk = total;
  st = create_dataset(o, "/x", H5T_IEEE_F32LE, 2, chunk, &o->x);
  if (st == MN_OK) st = create_dataset(o, "/y", H5T_STD_I32LE, 1, chunk, &o->y);
  if (st == MN_OK && classes > 0) {
    o->hist = calloc((size_t)classes, sizeof *o->hist);
    if (!o->hist) st = mn_error(MN_ERR_NOMEM, "out of memory");
  }
  return st;
}

static mn_status_t out_append(out_file_t *o, const float *x, const int32_t *y, int64_t n,
                              int classes) {
  char why[256];
  if (n == 0) return MN_OK;
  for (size_t i = 0; i < (size_t)n * (size_t)o->dim; i++) /* never a NaN or Inf on disk */
    if (!isfinite(x[i]))
      return mn_error(MN_ERR_NONFINITE, "%s: row %lld: feature %d is not finite: not written",
                      o->path, (long long)(o->rows + (int64_t)(i / (size_t)o->dim)),
                      (int)(i % (size_t)o->dim));
  hsize_t dims[2] = {(hsize_t)(o->rows + n), (hsize_t)o->dim};
  hsize_t start[2] = {(hsize_t)o->rows, 0}, cnt[2] = {(hsize_t)n, (hsize_t)o->dim};
  mn_status_t st = MN_OK;
  hid_t xs = -1, ys = -1, mx = -1, my = -1;
  if (H5Dset_extent(o->x, dims) < 0 || H5Dset_extent(o->y, dims) < 0) goto fail;
  xs = H5Dget_space(o->x);
  ys = H5Dget_space(o->y);
  mx = H5Screate_simple(2, cnt, NULL);
  my = H5Screate_simple(1, cnt, NULL);
  if (xs < 0 || ys < 0 || mx < 0 || my < 0 ||
      H5Sselect_hyperslab(xs, H5S_SELECT_SET, start, NULL, cnt, NULL) < 0 ||
      H5Sselect_hyperslab(ys, H5S_SELECT_SET, start, NULL, cnt, NULL) < 0 ||
      H5Dwrite(o->x, H5T_NATIVE_FLOAT, mx, xs, H5P_DEFAULT, x) < 0 ||
      H5Dwrite(o->y, H5T_NATIVE_INT32, my, ys, H5P_DEFAULT, y) < 0)
    goto fail;
  o->rows += n;
  if (o->hist)
    for (int64_t i = 0; i < n; i++)
      if (y[i] >= 0 && y[i] < classes) o->hist[y[i]]++;
  goto cleanup;
fail:
  st = mn_error(MN_ERR_IO, "cannot write %s: %s", o->path, mn_h5_reason(why));
cleanup:
  if (xs >= 0) H5Sclose(xs);
  if (ys >= 0) H5Sclose(ys);
  if (mx >= 0) H5Sclose(mx);
  if (my >= 0) H5Sclose(my);
  return st;
}

static mn_status_t attr_write(hid_t loc, const char *name, hid_t type, const void *value) {
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t a = space >= 0 ? H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
  herr_t rc = a >= 0 ? H5Awrite(a, type, value) : -1;
  if (a >= 0) H5Aclose(a);
  if (space >= 0) H5Sclose(space);
  return rc < 0 ? MN_ERR_IO : MN_OK;
}

/* format, classes, and (seed, hidden) when hidden > 0. */
static mn_status_t out_attrs(out_file_t *o, int classes, uint64_t seed, int hidden) {
  char why[256];
  hid_t str = H5Tcopy(H5T_C_S1);
  H5Tset_size(str, sizeof FORMAT_NAME);
  H5Tset_strpad(str, H5T_STR_NULLTERM);
  mn_status_t st = attr_write(o->file, "format", str, FORMAT_NAME);
  H5Tclose(str);
  if (st == MN_OK) st = attr_write(o->file, "classes", H5T_NATIVE_INT, &classes);
  if (st == MN_OK && hidden > 0) st = attr_write(o->file, "seed", H5T_NATIVE_UINT64, &seed);
  if (st == MN_OK && hidden > 0) st = attr_write(o->file, "hidden", H5T_NATIVE_INT, &hidden);
  if (st != MN_OK)
    return mn_error(MN_ERR_IO, "cannot write %s: attributes: %s", o->path, mn_h5_reason(why));
  return MN_OK;
}

static void out_close_handles(out_file_t *o) {
  if (o->y >= 0) H5Dclose(o->y);
  if (o->x >= 0) H5Dclose(o->x);
  if (o->file >= 0) H5Fclose(o->file);
  o->x = o->y = o->file = -1;
}

/* Flush, close and fsync the temp file (the rename comes in out_commit). */
static mn_status_t out_finish(out_file_t *o) {
  char why[256];
  if (H5Fflush(o->file, H5F_SCOPE_GLOBAL) < 0)
    return mn_error(MN_ERR_IO, "cannot write %s: %s", o->path, mn_h5_reason(why));
  out_close_handles(o);
  int fd = open(o->tmp, O_RDONLY);
  if (fd < 0 || fsync(fd) != 0) {
    int e = errno;
    if (fd >= 0) close(fd);
    return mn_error(MN_ERR_IO, "cannot write %s: fsync: %s", o->path, strerror(e));
  }
  close(fd);
  return MN_OK;
}

static mn_status_t out_commit(out_file_t *o) {
  if (rename(o->tmp, o->path) != 0)
    return mn_error(MN_ERR_IO, "cannot rename %s to %s: %s", o->tmp, o->path, strerror(errno));
  o->tmp[0] = '\0';
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", o->path);
  int fd = open(dirname(dir), O_RDONLY);
  if (fd >= 0) {
    fsync(fd); /* the rename itself durable; best effort */
    close(fd);
  }
  return MN_OK;
}

/* Undo whatever is not committed: close and remove the temp file. */
static void out_abort(out_file_t *o) {
  out_close_handles(o);
  if (o->tmp[0]) unlink(o->tmp);
  o->tmp[0] = '\0';
  free(o->hist);
  o->hist = NULL;
}

/* Finish every output, then rename them all; on a failure remove every temp file. */
static mn_status_t outs_commit(out_file_t *outs, int n) {
  mn_status_t st = MN_OK;
  for (int i = 0; i < n && st == MN_OK; i++) st = out_finish(&outs[i]);
  for (int i = 0; i < n && st == MN_OK; i++) st = out_commit(&outs[i]);
  return st;
}

static void print_written(const out_file_t *o, int classes) {
  printf("wrote %s: N=%lld D=%d classes=%d\n  class histogram:", o->path, (long long)o->rows,
         o->dim, classes);
  for (int c = 0; c < classes && o->hist; c++) printf(" %d:%d", c, (int)o->hist[c]);
  printf("\n");
}

/* Warn (no failure: small sets fluctuate) when a class has more than 3x the mean share. */
static void check_balance(const out_file_t *o, int classes) {
  if (!o->hist || o->rows == 0) return;
  for (int c = 0; c < classes; c++)
    if ((double)o->hist[c] > 3.0 * (double)o->rows / classes)
      fprintf(stderr, "mnprep: warning: %s: class %d has %d of %lld rows, over 3x the mean\n",
              o->path, c, (int)o->hist[c], (long long)o->rows);
}

/* ---- teacher ------------------------------------------------------------------------- */

typedef struct teacher_opts {
  const char *out;
  int64_t samples, val;
  int dim, classes, hidden, shards, latent;
  int64_t chunk;
  uint64_t seed;
} teacher_opts_t;

typedef struct teacher {
  int dim, hidden, classes;
  int latent;  /* 0: the teacher sees x itself */
  int in;      /* the teacher's input size: latent, or dim */
  double *mix; /* [latent, dim] */
  double *w1;  /* [in, hidden] */
  double *b1;  /* [hidden] */
  double *w2;  /* [hidden, classes] */
  double *b2;  /* [classes] */
  double *h;   /* [hidden] scratch */
  double *z;   /* [classes] scratch */
} teacher_t;

static void teacher_free(teacher_t *t) {
  free(t->mix);
  free(t->w1);
  free(t->b1);
  free(t->w2);
  free(t->b2);
  free(t->h);
  free(t->z);
}

/* logits z = relu(u W1 + b1) W2 (without b2) of the teacher input u (the latent, or x).
 * Plain double loops: the labels must not depend on a BLAS build. */
static void teacher_logits(teacher_t *t, const float *x, double *z) {
  int H = t->hidden, C = t->classes;
  for (int k = 0; k < H; k++) t->h[k] = t->b1[k];
  for (int d = 0; d < t->in; d++) {
    double xd = x[d];
    const double *w = t->w1 + (size_t)d * H;
    for (int k = 0; k < H; k++) t->h[k] += xd * w[k];
  }
  for (int c = 0; c < C; c++) z[c] = 0;
  for (int k = 0; k < H; k++) {
    double hk = t->h[k] > 0 ? t->h[k] : 0;
    const double *w = t->w2 + (size_t)k * C;
    for (int c = 0; c < C; c++) z[c] += hk * w[c];
  }
}

static int argmax_biased(const double *z, const double *b, int n) {
  int best = 0;
  for (int c = 1; c < n; c++)
    if (z[c] + b[c] > z[best] + b[best]) best = c;
  return best;
}

static int32_t teacher_label(teacher_t *t, const float *x) {
  teacher_logits(t, x, t->z);
  return argmax_biased(t->z, t->b2, t->classes);
}

/* The teacher input u[t->in] of a row (the latent, or x itself). */
static void draw_input(const teacher_t *t, uint64_t seed, int stream, int64_t row, float *u) {
  mn_rng_t rng;
  mn_rng_seed(&rng, seed, (uint64_t)stream, (uint64_t)row);
  for (int d = 0; d < t->in; d++) u[d] = (float)mn_rng_normal(&rng);
}

/* A row: its teacher input u, and x = u A + noise (x = u without a latent). */
static void draw_row(const teacher_t *t, uint64_t seed, int stream, int64_t row, float *u,
                     float *x) {
  draw_input(t, seed, stream, row, u);
  if (!t->latent) {
    memcpy(x, u, (size_t)t->dim * sizeof *x);
    return;
  }
  mn_rng_t rng;
  mn_rng_seed(&rng, seed ^ 0x9e3779b97f4a7c15ULL, (uint64_t)stream, (uint64_t)row);
  for (int d = 0; d < t->dim; d++) {
    double v = 0.5 * mn_rng_normal(&rng);
    for (int l = 0; l < t->latent; l++) v += u[l] * t->mix[(size_t)l * t->dim + d];
    x[d] = (float)v;
  }
}

/* b2 that balances the classes: start from minus the mean logit over a calibration draw,
 * then nudge each class's bias by the log of its share until the shares even out. */
static mn_status_t teacher_balance(teacher_t *t, uint64_t seed) {
  enum { M = 4096, ROUNDS = 60 };
  int C = t->classes;
  double *zs = malloc((size_t)M * C * sizeof *zs);
  float *x = malloc((size_t)t->in * sizeof *x);
  int *cnt = malloc((size_t)C * sizeof *cnt);
  if (!zs || !x || !cnt) {
    free(zs);
    free(x);
    free(cnt);
    return mn_error(MN_ERR_NOMEM, "out of memory");
  }
  double sd = 0;
  for (int c = 0; c < C; c++) t->b2[c] = 0;
  for (int i = 0; i < M; i++) {
    draw_input(t, seed, STREAM_CALIB, i, x);
    teacher_logits(t, x, zs + (size_t)i * C);
    for (int c = 0; c < C; c++) t->b2[c] -= zs[(size_t)i * C + c] / M;
  }
  for (int i = 0; i < M; i++)
    for (int c = 0; c < C; c++) {
      double v = zs[(size_t)i * C + c] + t->b2[c];
      sd += v * v;
    }
  sd = sqrt(sd / ((double)M * C));
  for (int round = 0; round < ROUNDS; round++) {
    for (int c = 0; c < C; c++) cnt[c] = 0;
    for (int i = 0; i < M; i++) cnt[argmax_biased(zs + (size_t)i * C, t->b2, C)]++;
    for (int c = 0; c < C; c++) {
      double share = (cnt[c] + 0.5) / ((double)M / C + 0.5);
      t->b2[c] -= 0.3 * sd * log(share);
    }
  }
  free(zs);
  free(x);
  free(cnt);
  return MN_OK;
}

static mn_status_t teacher_init(teacher_t *t, const teacher_opts_t *o) {
  memset(t, 0, sizeof *t);
  t->dim = o->dim;
  t->hidden = o->hidden;
  t->classes = o->classes;
  t->latent = o->latent;
  t->in = o->latent ? o->latent : o->dim;
  size_t D = (size_t)t->in, H = (size_t)o->hidden, C = (size_t)o->classes;
  size_t L = (size_t)o->latent;
  t->mix = malloc((L ? L : 1) * (size_t)o->dim * sizeof *t->mix);
  t->w1 = malloc(D * H * sizeof *t->w1);
  t->b1 = malloc(H * sizeof *t->b1);
  t->w2 = malloc(H * C * sizeof *t->w2);
  t->b2 = malloc(C * sizeof *t->b2);
  t->h = malloc(H * sizeof *t->h);
  t->z = malloc(C * sizeof *t->z);
  if (!t->mix || !t->w1 || !t->b1 || !t->w2 || !t->b2 || !t->h || !t->z) {
    teacher_free(t);
    return mn_error(MN_ERR_NOMEM, "out of memory for a teacher of %d x %d x %d", o->dim, o->hidden,
                    o->classes);
  }
  mn_rng_t rng;
  mn_rng_seed(&rng, o->seed, STREAM_MIX, 0); /* rows of unit variance before the noise */
  for (size_t i = 0; i < L * (size_t)o->dim; i++) t->mix[i] = mn_rng_normal(&rng) / sqrt((double)L);
  mn_rng_seed(&rng, o->seed, STREAM_W1, 0);
  for (size_t i = 0; i < D * H; i++) t->w1[i] = mn_rng_normal(&rng) * sqrt(2.0 / (double)D);
  mn_rng_seed(&rng, o->seed, STREAM_B1, 0);
  for (size_t i = 0; i < H; i++) t->b1[i] = mn_rng_normal(&rng) * 0.1;
  mn_rng_seed(&rng, o->seed, STREAM_W2, 0);
  for (size_t i = 0; i < H * C; i++) t->w2[i] = mn_rng_normal(&rng) * sqrt(1.0 / (double)H);
  return teacher_balance(t, o->seed);
}

/* Rows [first, first + n) of a stream into o, chunk rows at a time. */
static mn_status_t teacher_fill(teacher_t *t, const teacher_opts_t *opt, int stream, int64_t first,
                                int64_t n, out_file_t *o) {
  int64_t chunk = opt->chunk < n ? opt->chunk : n;
  if (chunk < 1024 && n >= 1024) chunk = 1024; /* fewer, larger writes */
  float *x = malloc((size_t)chunk * (size_t)t->dim * sizeof *x);
  float *u = malloc((size_t)t->in * sizeof *u);
  int32_t *y = malloc((size_t)chunk * sizeof *y);
  mn_status_t st = MN_OK;
  if (!x || !u || !y) st = mn_error(MN_ERR_NOMEM, "out of memory");
  for (int64_t done = 0; st == MN_OK && done < n; done += chunk) {
    int64_t m = n - done < chunk ? n - done : chunk;
    for (int64_t i = 0; i < m; i++) {
      float *row = x + (size_t)i * t->dim;
      draw_row(t, opt->seed, stream, first + done + i, u, row);
      y[i] = teacher_label(t, u);
    }
    st = out_append(o, x, y, m, t->classes);
  }
  free(x);
  free(u);
  free(y);
  return st;
}

static mn_status_t teacher_run(const teacher_opts_t *opt) {
  if (opt->shards > opt->samples)
    return mn_error(MN_ERR_USAGE, "--shards %d is more than --samples %lld", opt->shards,
                    (long long)opt->samples);
  int nout = opt->shards + (opt->val > 0 ? 1 : 0);
  out_file_t *outs = calloc((size_t)nout, sizeof *outs);
  if (!outs) return mn_error(MN_ERR_NOMEM, "out of memory");
  for (int i = 0; i < nout; i++) out_init(&outs[i]);
  teacher_t t;
  mn_status_t st = teacher_init(&t, opt);
  if (st != MN_OK) {
    free(outs);
    return st;
  }
  char path[PATH_MAX];
  for (int k = 0; k < opt->shards && st == MN_OK; k++) {
    if (opt->shards == 1)
      snprintf(path, sizeof path, "%s-train.h5", opt->out);
    else
      snprintf(path, sizeof path, "%s-train-%05d-of-%05d.h5", opt->out, k, opt->shards);
    int64_t lo = opt->samples * k / opt->shards, hi = opt->samples * (k + 1) / opt->shards;
    st = out_open(&outs[k], path, opt->dim, hi - lo, opt->chunk, opt->classes);
    if (st == MN_OK) st = teacher_fill(&t, opt, STREAM_TRAIN, lo, hi - lo, &outs[k]);
    if (st == MN_OK) st = out_attrs(&outs[k], opt->classes, opt->seed, opt->hidden);
  }
  if (st == MN_OK && opt->val > 0) {
    out_file_t *v = &outs[opt->shards];
    snprintf(path, sizeof path, "%s-val.h5", opt->out);
    st = out_open(v, path, opt->dim, opt->val, opt->chunk, opt->classes);
    if (st == MN_OK) st = teacher_fill(&t, opt, STREAM_VAL, 0, opt->val, v);
    if (st == MN_OK) st = out_attrs(v, opt->classes, opt->seed, opt->hidden);
  }
  if (st == MN_OK) st = outs_commit(outs, nout);
  if (st == MN_OK) {
    int32_t *all = calloc((size_t)opt->classes, sizeof *all);
    for (int i = 0; i < nout; i++) {
      print_written(&outs[i], opt->classes);
      if (all && i < opt->shards)
        for (int c = 0; c < opt->classes; c++) all[c] += outs[i].hist[c];
    }
    if (all) {
      out_file_t sum = outs[0];
      sum.hist = all;
      sum.rows = opt->samples;
      snprintf(sum.path, sizeof sum.path, "training set");
      check_balance(&sum, opt->classes);
      if (opt->val > 0) check_balance(&outs[opt->shards], opt->classes);
      free(all);
    }
  }
  for (int i = 0; i < nout; i++) out_abort(&outs[i]);
  free(outs);
  teacher_free(&t);
  return st;
}

static mn_status_t teacher_main(int argc, char **argv) {
  teacher_opts_t o = {.out = NULL,
                      .samples = 60000,
                      .val = 10000,
                      .dim = 784,
                      .classes = 10,
                      .hidden = 16,
                      .shards = 1,
                      .chunk = 256,
                      .seed = 1,
                      .latent = 10};
  static const struct option opts[] = {
      {"out", required_argument, NULL, 'o'},     {"samples", required_argument, NULL, 'n'},
      {"val", required_argument, NULL, 'v'},     {"dim", required_argument, NULL, 'd'},
      {"classes", required_argument, NULL, 'c'}, {"hidden", required_argument, NULL, 'H'},
      {"seed", required_argument, NULL, 's'},    {"shards", required_argument, NULL, 'k'},
      {"chunk", required_argument, NULL, 'r'},   {"help", no_argument, NULL, 'h'},
      {"latent", required_argument, NULL, 'l'},  {NULL, 0, NULL, 0}};
  mn_status_t st = MN_OK;
  int64_t seed = 1;
  int c;
  while (st == MN_OK && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'o': o.out = optarg; break;
    case 'n': st = parse_i64("samples", optarg, 1, INT64_C(1) << 40, &o.samples); break;
    case 'v': st = parse_i64("val", optarg, 0, INT64_C(1) << 40, &o.val); break;
    case 'd': st = parse_int("dim", optarg, 1, 1 << 24, &o.dim); break;
    case 'c': st = parse_int("classes", optarg, 2, MN_PREP_MAX_CLASSES, &o.classes); break;
    case 'H': st = parse_int("hidden", optarg, 1, 1 << 16, &o.hidden); break;
    case 'l': st = parse_int("latent", optarg, 0, 1 << 16, &o.latent); break;
    case 's': st = parse_i64("seed", optarg, 0, INT64_MAX, &seed); break;
    case 'k': st = parse_int("shards", optarg, 1, 99999, &o.shards); break;
    case 'r': st = parse_i64("chunk", optarg, 1, INT64_C(1) << 30, &o.chunk); break;
    case 'h': fputs(usage_text, stdout); exit(0);
    default: return mn_error(MN_ERR_USAGE, "bad option (see mnprep --help)");
    }
  }
  if (st != MN_OK) return st;
  if (optind < argc) return mn_error(MN_ERR_USAGE, "unexpected argument '%s'", argv[optind]);
  if (!o.out || !*o.out) return mn_error(MN_ERR_USAGE, "teacher: --out PREFIX is required");
  o.seed = (uint64_t)seed;
  return teacher_run(&o);
}

/* ---- csv ----------------------------------------------------------------------------- */

typedef struct csv_opts {
  const char *in, *out, *val_out;
  int label_last, classes, shards;
  double val_fraction;
  int64_t chunk;
  uint64_t seed;
} csv_opts_t;

typedef struct csv_reader {
  const char *path;
  FILE *f;
  char *line;
  size_t cap;
  int64_t lineno;
  int seen_first; /* a non-blank line was read (a header can only be the first) */
  int dim;        /* 0 until the first data row */
  float *x;       /* [dim] the current row */
  int32_t label;
} csv_reader_t;

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  size_t n = strlen(s);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
    s[--n] = '\0';
  return s;
}

/* A number as strtod reads it, "nan" and "inf" included (a first line holding them is a
 * data row to refuse, not a header to skip). */
static int is_number(const char *s) {
  char *end;
  if (!*s) return 0;
  (void)strtod(s, &end);
  return *end == '\0';
}

static int count_fields(const char *s) {
  int n = 1;
  for (; *s; s++) n += *s == ',';
  return n;
}

/* Parse the current line into r->x, r->label. out: *skip when blank or the header. */
static mn_status_t csv_parse(csv_reader_t *r, const csv_opts_t *o, int *skip) {
  char *s = trim(r->line);
  *skip = 0;
  if (!*s) {
    *skip = 1;
    return MN_OK;
  }
  int first = !r->seen_first;
  r->seen_first = 1;
  int nf = count_fields(s);
  if (first) { /* a header: any non-numeric field on the first line */
    char *copy = strdup(s), *save = NULL;
    int header = 0;
    if (!copy) return mn_error(MN_ERR_NOMEM, "out of memory");
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
      if (!is_number(trim(t))) header = 1;
    free(copy);
    if (header) {
      *skip = 1;
      return MN_OK;
    }
  }
  if (r->dim == 0) {
    if (nf < 2)
      return mn_error(MN_ERR_DATA,
                      "%s:%lld: expected a label and at least one feature, "
                      "found 1 field",
                      r->path, (long long)r->lineno);
    r->dim = nf - 1;
    r->x = malloc((size_t)r->dim * sizeof *r->x);
    if (!r->x) return mn_error(MN_ERR_NOMEM, "out of memory");
  }
  if (nf != r->dim + 1)
    return mn_error(MN_ERR_DATA, "%s:%lld: expected %d fields, found %d", r->path,
                    (long long)r->lineno, r->dim + 1, nf);
  int label_field = o->label_last ? nf : 1;
  char *p = s;
  for (int field = 1; field <= nf; field++) {
    char *comma = strchr(p, ',');
    if (comma) *comma = '\0';
    char *t = trim(p);
    char *end;
    if (field == label_field) {
      errno = 0;
      long v = strtol(t, &end, 10);
      if (!*t || *end || errno || v > INT32_MAX || v < INT32_MIN)
        return mn_error(MN_ERR_DATA, "%s:%lld: label '%s' is not an integer", r->path,
                        (long long)r->lineno, t);
      if (v < 0)
        return mn_error(MN_ERR_DATA, "%s:%lld: label '%s' is negative", r->path,
                        (long long)r->lineno, t);
      if (o->classes > 0 && v >= o->classes)
        return mn_error(MN_ERR_DATA, "%s:%lld: label %ld is not below --classes %d", r->path,
                        (long long)r->lineno, v, o->classes);
      if (v >= MN_PREP_MAX_CLASSES) /* the classes (max + 1) must fit, as for --classes */
        return mn_error(MN_ERR_DATA, "%s:%lld: label %ld is out of range (at most %d)", r->path,
                        (long long)r->lineno, v, MN_PREP_MAX_CLASSES - 1);
      r->label = (int32_t)v;
    } else {
      if (!is_number(t))
        return mn_error(MN_ERR_DATA, "%s:%lld: field %d '%s' is not a number", r->path,
                        (long long)r->lineno, field, t);
      int col = field - (o->label_last ? 1 : 2);
      double d = strtod(t, NULL);
      r->x[col] = strtof(t, NULL);
      if (!isfinite(d))
        return mn_error(MN_ERR_NONFINITE, "%s:%lld: field %d '%s' is NaN or infinite", r->path,
                        (long long)r->lineno, field, t);
      if (!isfinite(r->x[col])) /* finite as a double, not as a float32 */
        return mn_error(MN_ERR_NONFINITE,
                        "%s:%lld: field %d '%s' is out of the float32 range (+-%g)", r->path,
                        (long long)r->lineno, field, t, (double)FLT_MAX);
    }
    p = comma ? comma + 1 : p + strlen(p);
  }
  return MN_OK;
}

/* The next data row. out: *got (0 at the end of the file). */
static mn_status_t csv_next(csv_reader_t *r, const csv_opts_t *o, int *got) {
  for (;;) {
    errno = 0;
    ssize_t len = getline(&r->line, &r->cap, r->f);
    if (len < 0) {
      if (ferror(r->f))
        return mn_error(MN_ERR_NOINPUT, "%s: cannot read: %s", r->path, strerror(errno));
      *got = 0;
      return MN_OK;
    }
    r->lineno++;
    int skip;
    mn_status_t st = csv_parse(r, o, &skip);
    if (st != MN_OK) return st;
    if (!skip) {
      *got = 1;
      return MN_OK;
    }
  }
}

static mn_status_t csv_rewind(csv_reader_t *r) {
  if (r->f) fclose(r->f);
  r->f = fopen(r->path, "r");
  if (!r->f)
    return mn_error(MN_ERR_NOINPUT, "%s: %s", r->path,
                    errno == ENOENT ? "no such file" : strerror(errno));
  r->lineno = 0;
  r->seen_first = 0;
  return MN_OK;
}

static int csv_is_val(const csv_opts_t *o, int64_t row) {
  if (o->val_fraction <= 0) return 0;
  mn_rng_t rng;
  mn_rng_seed(&rng, o->seed, STREAM_CSV_SPLIT, (uint64_t)row);
  return mn_rng_uniform(&rng) < o->val_fraction;
}

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

static mn_status_t csv_run(const csv_opts_t *o) {
  csv_reader_t r = {.path = o->in};
  out_file_t *outs = NULL;
  row_buf_t tb = {0}, vb = {0};
  int nout = 0;
  int got = 0;
  /* Pass 1: check every row, count the rows of each split, find D and the classes. */
  int64_t ntrain = 0, nval = 0, row = 0;
  int32_t maxlabel = -1;
  mn_status_t st = csv_rewind(&r);
  while (st == MN_OK && (st = csv_next(&r, o, &got)) == MN_OK && got) {
    if (csv_is_val(o, row++))
      nval++;
    else
      ntrain++;
    if (r.label > maxlabel) maxlabel = r.label;
  }
  if (st != MN_OK) goto cleanup;
  int classes = o->classes > 0 ? o->classes : maxlabel + 1;
  if (row == 0) {
    st = mn_error(MN_ERR_DATA, "%s: no data rows", o->in);
    goto cleanup;
  }
  if (ntrain < o->shards) {
    st = mn_error(MN_ERR_DATA, "%s: %lld training rows cannot fill %d shards", o->in,
                  (long long)ntrain, o->shards);
    goto cleanup;
  }
  if (o->val_fraction > 0 && nval == 0) {
    st = mn_error(MN_ERR_DATA, "%s: --val-fraction %g of %lld rows leaves no validation row", o->in,
                  o->val_fraction, (long long)row);
    goto cleanup;
  }

  /* Pass 2: write, shard by shard, validation rows to their own file. */
  nout = o->shards + (nval > 0 ? 1 : 0);
  outs = calloc((size_t)nout, sizeof *outs);
  for (int i = 0; outs && i < nout; i++) out_init(&outs[i]);
  int64_t cap = o->chunk < 4096 ? 4096 : o->chunk;
  tb.x = malloc((size_t)cap * (size_t)r.dim * sizeof(float));
  tb.y = malloc((size_t)cap * sizeof(int32_t));
  vb.x = malloc((size_t)cap * (size_t)r.dim * sizeof(float));
  vb.y = malloc((size_t)cap * sizeof(int32_t));
  tb.cap = vb.cap = cap;
  if (!outs || !tb.x || !tb.y || !vb.x || !vb.y) {
    st = mn_error(MN_ERR_NOMEM, "out of memory");
    goto cleanup;
  }
  char path[PATH_MAX];
  for (int k = 0; k < o->shards && st == MN_OK; k++) {
    int64_t lo = ntrain * k / o->shards, hi = ntrain * (k + 1) / o->shards;
    shard_path(path, sizeof path, o->out, k, o->shards);
    st = out_open(&outs[k], path, r.dim, hi - lo, o->chunk, classes);
  }
  out_file_t *vout = nval > 0 ? &outs[o->shards] : NULL;
  if (st == MN_OK && vout) st = out_open(vout, o->val_out, r.dim, nval, o->chunk, classes);
  if (st == MN_OK) st = csv_rewind(&r);
  int k = 0;
  int64_t tdone = 0;
  row = 0;
  while (st == MN_OK && (st = csv_next(&r, o, &got)) == MN_OK && got) {
    if (csv_is_val(o, row++)) {
      st = buf_push(&vb, vout, r.x, r.label, r.dim, classes);
      continue;
    }
    while (tdone >= ntrain * (k + 1) / o->shards) { /* this row starts the next shard */
      st = buf_flush(&tb, &outs[k], classes);
      k++;
    }
    if (st == MN_OK) st = buf_push(&tb, &outs[k], r.x, r.label, r.dim, classes);
    tdone++;
  }
  if (st == MN_OK) st = buf_flush(&tb, &outs[k], classes);
  if (st == MN_OK && vout) st = buf_flush(&vb, vout, classes);
  for (int i = 0; i < nout && st == MN_OK; i++) st = out_attrs(&outs[i], classes, 0, 0);
  if (st == MN_OK) st = outs_commit(outs, nout);
  for (int i = 0; i < nout && st == MN_OK; i++) print_written(&outs[i], classes);
cleanup:
  for (int i = 0; outs && i < nout; i++) out_abort(&outs[i]);
  free(outs);
  free(tb.x);
  free(tb.y);
  free(vb.x);
  free(vb.y);
  if (r.f) fclose(r.f);
  free(r.line);
  free(r.x);
  return st;
}

static mn_status_t csv_main(int argc, char **argv) {
  csv_opts_t o = {.in = NULL,
                  .out = NULL,
                  .val_out = NULL,
                  .label_last = 0,
                  .classes = 0,
                  .shards = 1,
                  .val_fraction = 0,
                  .chunk = 256,
                  .seed = 1};
  static const struct option opts[] = {{"in", required_argument, NULL, 'i'},
                                       {"out", required_argument, NULL, 'o'},
                                       {"label", required_argument, NULL, 'l'},
                                       {"classes", required_argument, NULL, 'c'},
                                       {"shards", required_argument, NULL, 'k'},
                                       {"val-fraction", required_argument, NULL, 'f'},
                                       {"val-out", required_argument, NULL, 'V'},
                                       {"seed", required_argument, NULL, 's'},
                                       {"chunk", required_argument, NULL, 'r'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  mn_status_t st = MN_OK;
  int64_t seed = 1;
  char *end;
  int c;
  while (st == MN_OK && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'i': o.in = optarg; break;
    case 'o': o.out = optarg; break;
    case 'l':
      if (strcmp(optarg, "first") && strcmp(optarg, "last"))
        st = mn_error(MN_ERR_USAGE, "--label: '%s' is not first or last", optarg);
      o.label_last = strcmp(optarg, "last") == 0;
      break;
    case 'c': st = parse_int("classes", optarg, 2, MN_PREP_MAX_CLASSES, &o.classes); break;
    case 'k': st = parse_int("shards", optarg, 1, 99999, &o.shards); break;
    case 'f':
      o.val_fraction = strtod(optarg, &end);
      if (end == optarg || *end || !(o.val_fraction >= 0 && o.val_fraction < 1))
        st = mn_error(MN_ERR_USAGE, "--val-fraction: '%s' is not a number in [0, 1)", optarg);
      break;
    case 'V': o.val_out = optarg; break;
    case 's': st = parse_i64("seed", optarg, 0, INT64_MAX, &seed); break;
    case 'r': st = parse_i64("chunk", optarg, 1, INT64_C(1) << 30, &o.chunk); break;
    case 'h': fputs(usage_text, stdout); exit(0);
    default: return mn_error(MN_ERR_USAGE, "bad option (see mnprep --help)");
    }
  }
  if (st != MN_OK) return st;
  if (optind < argc) return mn_error(MN_ERR_USAGE, "unexpected argument '%s'", argv[optind]);
  if (!o.in || !o.out) return mn_error(MN_ERR_USAGE, "csv: --in and --out are required");
  if (o.val_fraction > 0 && !o.val_out)
    return mn_error(MN_ERR_USAGE, "csv: --val-fraction needs --val-out");
  if (o.val_out && o.val_fraction <= 0)
    return mn_error(MN_ERR_USAGE, "csv: --val-out needs --val-fraction > 0");
  o.seed = (uint64_t)seed;
  return csv_run(&o);
}

/* ---- main ---------------------------------------------------------------------------- */

int main(int argc, char **argv) {
  mn_h5_quiet();
  if (argc < 2) {
    fputs(usage_text, stderr);
    return MN_EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
    fputs(usage_text, stdout);
    return 0;
  }
  mn_status_t st;
  optind = 1;
  if (!strcmp(cmd, "teacher"))
    st = teacher_main(argc - 1, argv + 1);
  else if (!strcmp(cmd, "csv"))
    st = csv_main(argc - 1, argv + 1);
  else
    st = mn_error(MN_ERR_USAGE, "unknown command '%s' (teacher or csv; see --help)", cmd);
  if (st != MN_OK) {
    fprintf(stderr, "mnprep: error: %s\n", mn_error_message());
    return mn_status_exit_code(st);
  }
  return 0;
}
