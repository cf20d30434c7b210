/* prep_out.c: mnprep's outputs: atomic HDF5 dataset files (samples, and token streams),
 * command-line numbers, and lists of input files (paths and sorted globs).
 *
 * An output is created as "<path>.tmp.<pid>" with empty extendible /x float32 [0, D] and /y
 * int32 [0], grows by appended rows (each checked finite), gets its attributes, and is
 * flushed, fsync'd and renamed over the final path only when every output of the run is
 * complete (outs_commit); out_abort removes the temp file. It does not read any input
 * and does not decide which row goes where (prep_write.c does). */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
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
#include "mn_suggest.h"
#include "prep.h"

/* ---- command-line numbers ------------------------------------------------------------ */

mn_status_t parse_i64(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out) {
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

mn_status_t prep_bad_option(const char *arg, const struct option *opts) {
  char msg[256];
  return mn_error(MN_ERR_USAGE, "%s (see mnprep --help)",
                  mn_suggest_unknown_option(arg, opts, msg, sizeof msg));
}

mn_status_t parse_int(const char *opt, const char *s, int lo, int hi, int *out) {
  int64_t v = 0;
  mn_status_t st = parse_i64(opt, s, lo, hi, &v);
  if (st == MN_OK) *out = (int)v;
  return st;
}

/* ---- atomic HDF5 outputs ------------------------------------------------------------- */

void out_init(out_file_t *o) {
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
  /* no modification times in the object headers: the same inputs give the same bytes */
  if (space >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, rank, cdims) >= 0 &&
      H5Pset_obj_track_times(dcpl, 0) >= 0)
    d = H5Dcreate2(o->file, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (dcpl >= 0) H5Pclose(dcpl);
  if (space >= 0) H5Sclose(space);
  if (d < 0)
    return mn_error(MN_ERR_IO, "%s: cannot create %s: %s", o->tmp, name, mn_h5_reason(why));
  *out = d;
  return MN_OK;
}

/* Create the directories above path that are missing (mkdir -p of its dirname). */
mn_status_t make_parents(const char *path) {
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

/* Create "<path>.tmp.<pid>" (directories above made), empty, for o. */
static mn_status_t out_create(out_file_t *o, const char *path) {
  char why[256];
  if (snprintf(o->path, sizeof o->path, "%s", path) >= (int)sizeof o->path)
    return mn_error(MN_ERR_USAGE, "%s: path too long", path);
  snprintf(o->tmp, sizeof o->tmp, "%s.tmp.%ld", path, (long)getpid());
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
    o->tmp[0] = '\0';
    return mn_error(MN_ERR_IO, "cannot write %s: %s", path, mn_h5_reason(why));
  }
  return MN_OK;
}

/* Create "<path>.tmp.<pid>" with empty extendible /x [0, dim] and /y [0]. chunk: rows per
 * chunk (capped to total when total > 0). */
mn_status_t out_open(out_file_t *o, const char *path, int dim, int64_t total, int64_t chunk,
                     int classes) {
  o->dim = dim;
  o->total = total;
  mn_status_t st = out_create(o, path);
  if (st != MN_OK) return st;
  if (total > 0 && chunk > total) chunk = total;
  st = create_dataset(o, "/x", H5T_IEEE_F32LE, 2, chunk, &o->x);
  if (st == MN_OK) st = create_dataset(o, "/y", H5T_STD_I32LE, 1, chunk, &o->y);
  if (st == MN_OK && classes > 0) {
    o->hist = calloc((size_t)classes, sizeof *o->hist);
    if (!o->hist) st = mn_error(MN_ERR_NOMEM, "out of memory");
  }
  return st;
}

mn_status_t out_append(out_file_t *o, const float *x, const int32_t *y, int64_t n, int classes) {
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

mn_status_t attr_write(hid_t loc, const char *name, hid_t type, const void *value) {
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t a = space >= 0 ? H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
  herr_t rc = a >= 0 ? H5Awrite(a, type, value) : -1;
  if (a >= 0) H5Aclose(a);
  if (space >= 0) H5Sclose(space);
  return rc < 0 ? MN_ERR_IO : MN_OK;
}

/* format, classes, and (seed, hidden) when hidden > 0. */
mn_status_t out_attrs(out_file_t *o, int classes, uint64_t seed, int hidden) {
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
void out_abort(out_file_t *o) {
  out_close_handles(o);
  if (o->tmp[0]) unlink(o->tmp);
  o->tmp[0] = '\0';
  free(o->hist);
  o->hist = NULL;
}

/* Finish every output, then rename them all; on a failure remove every temp file. */
mn_status_t outs_commit(out_file_t *outs, int n) {
  mn_status_t st = MN_OK;
  for (int i = 0; i < n && st == MN_OK; i++) st = out_finish(&outs[i]);
  for (int i = 0; i < n && st == MN_OK; i++) st = out_commit(&outs[i]);
  return st;
}

void print_written(const out_file_t *o, int classes) {
  printf("wrote %s: N=%lld D=%d classes=%d\n  class histogram:", o->path, (long long)o->rows,
         o->dim, classes);
  for (int c = 0; c < classes && o->hist; c++) printf(" %d:%d", c, (int)o->hist[c]);
  printf("\n");
}

/* Warn (no failure: small sets fluctuate) when a class has more than 3x the mean share. */
void check_balance(const out_file_t *o, int classes) {
  if (!o->hist || o->rows == 0) return;
  for (int c = 0; c < classes; c++)
    if ((double)o->hist[c] > 3.0 * (double)o->rows / classes)
      fprintf(stderr, "mnprep: warning: %s: class %d has %d of %lld rows, over 3x the mean\n",
              o->path, c, (int)o->hist[c], (long long)o->rows);
}

/* ---- token outputs -------------------------------------------------------------------- */

/* Token files are written uncompressed (the loader reads them at memory speed) in chunks of
 * MN_PREP_TOKEN_CHUNK tokens: 128 KiB of uint16. */
#define MN_PREP_TOKEN_CHUNK 65536

mn_status_t out_open_tokens(out_file_t *o, const char *path, int vocab) {
  o->dim = 1;
  o->total = -1;
  mn_status_t st = out_create(o, path);
  if (st != MN_OK) return st;
  hid_t type = vocab <= 65536 ? H5T_STD_U16LE : H5T_STD_I32LE;
  st = create_dataset(o, "/tokens", type, 1, MN_PREP_TOKEN_CHUNK, &o->x);
  if (st != MN_OK) return st;
  char why[256];
  hid_t str = H5Tcopy(H5T_C_S1);
  H5Tset_size(str, sizeof "mn-tokens-1");
  H5Tset_strpad(str, H5T_STR_NULLTERM);
  st = attr_write(o->file, "format", str, "mn-tokens-1");
  H5Tclose(str);
  if (st == MN_OK) st = attr_write(o->x, "vocab_size", H5T_STD_I32LE, &vocab);
  if (st != MN_OK)
    return mn_error(MN_ERR_IO, "cannot write %s: attributes: %s", o->path, mn_h5_reason(why));
  return MN_OK;
}

mn_status_t out_tokenizer(out_file_t *o, const char *tokenizer) {
  char why[256];
  hid_t str = H5Tcopy(H5T_C_S1);
  H5Tset_size(str, strlen(tokenizer) + 1);
  H5Tset_strpad(str, H5T_STR_NULLTERM);
  mn_status_t st = attr_write(o->x, "tokenizer", str, tokenizer);
  H5Tclose(str);
  if (st != MN_OK)
    return mn_error(MN_ERR_IO, "cannot write %s: attributes: %s", o->path, mn_h5_reason(why));
  return MN_OK;
}

mn_status_t out_append_tokens(out_file_t *o, const int32_t *v, int64_t n) {
  char why[256];
  if (n == 0) return MN_OK;
  hsize_t dims[1] = {(hsize_t)(o->rows + n)}, start[1] = {(hsize_t)o->rows}, cnt[1] = {(hsize_t)n};
  hid_t fs = -1, ms = -1;
  int ok = H5Dset_extent(o->x, dims) >= 0 && (fs = H5Dget_space(o->x)) >= 0 &&
           (ms = H5Screate_simple(1, cnt, NULL)) >= 0 &&
           H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL) >= 0 &&
           H5Dwrite(o->x, H5T_NATIVE_INT32, ms, fs, H5P_DEFAULT, v) >= 0;
  if (fs >= 0) H5Sclose(fs);
  if (ms >= 0) H5Sclose(ms);
  if (!ok) return mn_error(MN_ERR_IO, "cannot write %s: %s", o->path, mn_h5_reason(why));
  o->rows += n;
  return MN_OK;
}

/* ---- input lists ---------------------------------------------------------------------- */

void inputs_free(inputs_t *in) {
  for (int i = 0; i < in->n; i++) free(in->paths[i]);
  free(in->paths);
  memset(in, 0, sizeof *in);
}

static mn_status_t inputs_add(inputs_t *in, const char *path) {
  if (in->n == in->cap) {
    int cap = in->cap ? 2 * in->cap : 16;
    char **p = realloc(in->paths, (size_t)cap * sizeof *p);
    if (!p) return mn_error(MN_ERR_NOMEM, "out of memory");
    in->paths = p;
    in->cap = cap;
  }
  in->paths[in->n] = strdup(path);
  if (!in->paths[in->n]) return mn_error(MN_ERR_NOMEM, "out of memory");
  in->n++;
  return MN_OK;
}

/* A path named on the command line must be a readable regular file (symlinks followed). */
static mn_status_t input_check(const char *path) {
  struct stat sb;
  if (stat(path, &sb) != 0)
    return mn_error(MN_ERR_NOINPUT, "%s: %s", path,
                    errno == ENOENT ? "no such file" : strerror(errno));
  if (!S_ISREG(sb.st_mode))
    return mn_error(MN_ERR_NOINPUT, "%s: is %s", path,
                    S_ISDIR(sb.st_mode) ? "a directory" : "not a regular file");
  if (access(path, R_OK) != 0) return mn_error(MN_ERR_NOINPUT, "%s: %s", path, strerror(errno));
  return MN_OK;
}

mn_status_t inputs_expand(char *const *args, int nargs, inputs_t *in) {
  mn_status_t st = MN_OK;
  memset(in, 0, sizeof *in);
  for (int a = 0; a < nargs && st == MN_OK; a++) {
    if (!strpbrk(args[a], "*?[")) {
      st = input_check(args[a]);
      if (st == MN_OK) st = inputs_add(in, args[a]);
      continue;
    }
    glob_t g;
    int rc = glob(args[a], 0, NULL, &g); /* sorted */
    if (rc == GLOB_NOMATCH)
      st = mn_error(MN_ERR_NOINPUT, "%s: no file matches", args[a]);
    else if (rc != 0)
      st = mn_error(MN_ERR_NOINPUT, "%s: cannot expand the pattern", args[a]);
    int added = 0;
    for (size_t i = 0; rc == 0 && i < g.gl_pathc && st == MN_OK; i++) {
      const char *p = g.gl_pathv[i];
      if (input_check(p) != MN_OK) { /* a pattern may match directories: noted, skipped */
        fprintf(stderr, "mnprep: note: %s: skipped: %s\n", args[a], mn_error_message());
        continue;
      }
      st = inputs_add(in, p);
      added++;
    }
    if (rc == 0 && st == MN_OK && !added)
      st = mn_error(MN_ERR_NOINPUT, "%s: no readable file matches", args[a]);
    if (rc == 0 || rc == GLOB_NOMATCH) globfree(&g);
  }
  if (st == MN_OK && in->n == 0) st = mn_error(MN_ERR_USAGE, "no input files (see mnprep --help)");
  if (st != MN_OK) inputs_free(in);
  return st;
}

static mn_status_t attr_write_vec(hid_t loc, const char *name, const double *v, int n) {
  hsize_t dims[1] = {(hsize_t)n};
  hid_t space = H5Screate_simple(1, dims, NULL);
  hid_t a =
      space >= 0 ? H5Acreate2(loc, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
  herr_t rc = a >= 0 ? H5Awrite(a, H5T_NATIVE_DOUBLE, v) : -1;
  if (a >= 0) H5Aclose(a);
  if (space >= 0) H5Sclose(space);
  return rc < 0 ? MN_ERR_IO : MN_OK;
}

mn_status_t out_standardized(out_file_t *o, const double *mean, const double *std) {
  char why[256];
  int one = 1;
  mn_status_t st = attr_write_vec(o->x, "mean", mean, o->dim);
  if (st == MN_OK) st = attr_write_vec(o->x, "std", std, o->dim);
  if (st == MN_OK) st = attr_write(o->x, "standardized", H5T_NATIVE_INT, &one);
  if (st != MN_OK)
    return mn_error(MN_ERR_IO, "cannot write %s: /x attributes: %s", o->path, mn_h5_reason(why));
  return MN_OK;
}
