/* data.c: HDF5 datasets as mn reads them (mn_data.h, docs/data.md).
 *
 * The one dataset handle of both kinds: a token dataset's files are opened and read by
 * tokens.c, which this file dispatches to (under the same lock); the rest is samples.
 * Opens one file or several shard files (a path, a comma-separated list, or a sorted glob)
 * as one dataset of rows, checks at open everything a run depends on (both datasets there,
 * their types and shapes, equal D, every label in [0, classes)), and reads rows by index
 * or by range (sorted, merged into contiguous runs, one regular hyperslab read per run,
 * labels from memory), checking that every feature read is finite. Each HDF5 failure becomes
 * an mn_error message naming the file and the dataset. It does not log (but for one warning
 * on rank 0 about features far from unit scale, scale_check), does not know about ranks
 * or the sample order (mn_shard.h), and does not write files (tools/mnprep.c does). */
#include "mn_data.h"
#include "mn_data_h5.h"
#include "mn_h5.h"
#include "mn_log.h"
#include "mn_tokens.h"

#include <errno.h>
#include <glob.h>
#include <hdf5.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* Chunk cache of /x: big enough for the chunks of a shuffle window, so that the steps of
 * one window read (and decompress) each chunk once. The budget is shared by the files of a
 * dataset (a window's blocks are spread over them), with a floor per file (its nslots:
 * MN_DATA_CACHE_SLOTS, mn_data_h5.h). */
#define MN_DATA_CACHE_BYTES ((size_t)64 << 20)
#define MN_DATA_CACHE_MIN_BYTES ((size_t)4 << 20)
#define MN_DATA_LABEL_CHUNK 65536 /* labels checked per read at open */
/* Labels are checked at open anyway; up to this many bytes of them (all files together)
 * are kept in memory, which halves the HDF5 calls of a read. */
#define MN_DATA_LABEL_KEEP_BYTES ((int64_t)256 << 20)

typedef struct mn_data_file {
  char *path;
  hid_t file, x, y;
  hid_t xspace, yspace; /* file spaces of x and y, reused by every read */
  int64_t rows;
  int32_t *labels; /* [rows] /y in memory, or NULL: read from the file */
} mn_data_file_t;

struct mn_dataset {
  int nfiles;
  mn_data_file_t *files;
  int64_t *first; /* [nfiles + 1]: the dataset row where each file starts */
  int64_t n;      /* rows, or windows of a token dataset */
  int dim;        /* D, or the context T of a token dataset */
  mn_tokens_t *tokens;  /* a token dataset (tokens.c reads it), or NULL */
  uint32_t label_crc;   /* CRC-32 of all labels in dataset order */
  uint32_t feature_crc; /* CRC-32 of the features of the MN_DATA_FEATURE_ROWS fixed rows */
  int feature_crc_done; /* feature_crc is known (read at the first mn_dataset_feature_crc) */
  pthread_mutex_t lock; /* one reader at a time: the scratch buffers below are shared */
  /* scratch of mn_dataset_read, grown on demand */
  int cap;
  struct row_ref *refs;
  float *stage_x;
  int32_t *stage_y;
};

struct row_ref {
  int64_t row; /* dataset row */
  int pos;     /* where the caller wants it */
};

/* ---- HDF5 helpers --------------------------------------------------------------------- */

/* Check one dataset's type class, size, sign and rank; out: dims. */
static mn_status_t check_dataset(const char *path, const char *name, hid_t dset,
                                 H5T_class_t want_class, int want_rank, hsize_t dims[2]) {
  const char *want = want_class == H5T_FLOAT ? "float32 [N, D]" : "int32 [N]";
  hid_t type = H5Dget_type(dset);
  hid_t space = H5Dget_space(dset);
  int ok = type >= 0 && space >= 0 && H5Tget_class(type) == want_class && H5Tget_size(type) == 4 &&
           (want_class != H5T_INTEGER || H5Tget_sign(type) == H5T_SGN_2) &&
           H5Sget_simple_extent_type(space) == H5S_SIMPLE &&
           H5Sget_simple_extent_ndims(space) == want_rank;
  if (ok) H5Sget_simple_extent_dims(space, dims, NULL);
  if (type >= 0) H5Tclose(type);
  if (space >= 0) H5Sclose(space);
  if (!ok) {
    char found[128];
    mn_data_describe(dset, found, sizeof found);
    return mn_error(MN_ERR_DATA, "%s: dataset %s: expected %s, found %s", path, name, want, found);
  }
  return MN_OK;
}

/* ---- opening ------------------------------------------------------------------------- */

static void file_close(mn_data_file_t *f) {
  if (f->xspace >= 0) H5Sclose(f->xspace);
  if (f->yspace >= 0) H5Sclose(f->yspace);
  if (f->y >= 0) H5Dclose(f->y);
  if (f->x >= 0) H5Dclose(f->x);
  if (f->file >= 0) H5Fclose(f->file);
  f->x = f->y = f->file = f->xspace = f->yspace = -1;
}

/* Labels of /y in [0, classes), read in chunks (classes <= 0: only y >= 0). keep: hold
 * them in f->labels. *crc: CRC-32 carried on over the labels (the dataset's identity). */
static mn_status_t check_labels(mn_data_file_t *f, int classes, int keep, uint32_t *crc) {
  mn_status_t st = MN_OK;
  char why[256];
  if (keep) f->labels = malloc((size_t)f->rows * sizeof *f->labels);
  int32_t *buf = f->labels ? NULL : malloc(MN_DATA_LABEL_CHUNK * sizeof *buf);
  hid_t fspace = H5Dget_space(f->y);
  if ((!buf && !f->labels) || fspace < 0) {
    st = mn_error(MN_ERR_NOMEM, "%s: dataset /y: out of memory checking labels", f->path);
    goto cleanup;
  }
  for (int64_t start = 0; start < f->rows; start += MN_DATA_LABEL_CHUNK) {
    hsize_t off = (hsize_t)start;
    hsize_t cnt =
        (hsize_t)(f->rows - start < MN_DATA_LABEL_CHUNK ? f->rows - start : MN_DATA_LABEL_CHUNK);
    int32_t *dst = f->labels ? f->labels + start : buf;
    hid_t mspace = H5Screate_simple(1, &cnt, NULL);
    herr_t rc = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &off, NULL, &cnt, NULL);
    if (rc >= 0) rc = H5Dread(f->y, H5T_NATIVE_INT32, mspace, fspace, H5P_DEFAULT, dst);
    H5Sclose(mspace);
    if (rc < 0) {
      st = mn_error(MN_ERR_DATA, "%s: dataset /y: cannot read rows %lld..%lld: %s", f->path,
                    (long long)start, (long long)(start + (int64_t)cnt), mn_h5_reason(why));
      goto cleanup;
    }
    *crc = (uint32_t)crc32(*crc, (const Bytef *)dst, (uInt)(cnt * sizeof *dst));
    for (hsize_t i = 0; i < cnt; i++) {
      int32_t v = dst[i];
      if (v < 0 || (classes > 0 && v >= classes)) {
        if (classes > 0)
          st =
              mn_error(MN_ERR_DATA, "%s: /y[%lld] = %d is outside [0, %d) (the model's %d classes)",
                       f->path, (long long)(start + (int64_t)i), (int)v, classes, classes);
        else
          st = mn_error(MN_ERR_DATA, "%s: /y[%lld] = %d is negative", f->path,
                        (long long)(start + (int64_t)i), (int)v);
        goto cleanup;
      }
    }
  }
cleanup:
  if (fspace >= 0) H5Sclose(fspace);
  free(buf);
  return st;
}

/* Open one file and check its two datasets; out: f (rows, handles), *dim. */
static mn_status_t file_open(mn_data_file_t *f, size_t cache_bytes, int *dim) {
  char why[256];
  mn_status_t st = mn_data_open_file(f->path, &f->file);
  if (st != MN_OK) return st;
  if (!mn_data_has(f->file, "/x") && mn_data_has(f->file, "/tokens"))
    return mn_error(MN_ERR_DATA,
                    "%s: is a token dataset (/tokens), not a sample dataset (/x, /y): an MLP "
                    "reads samples, a GPT tokens (docs/data.md)",
                    f->path);
  st = mn_data_open_dataset(f->path, f->file, "/x", cache_bytes, &f->x);
  if (st == MN_OK)
    st = mn_data_open_dataset(f->path, f->file, "/y", MN_DATA_CACHE_MIN_BYTES, &f->y);
  if (st != MN_OK) return st;
  hsize_t xd[2], yd[2];
  st = check_dataset(f->path, "/x", f->x, H5T_FLOAT, 2, xd);
  if (st == MN_OK) st = check_dataset(f->path, "/y", f->y, H5T_INTEGER, 1, yd);
  if (st != MN_OK) return st;
  if (xd[0] < 1 || xd[1] < 1)
    return mn_error(MN_ERR_DATA, "%s: dataset /x is empty: [%llu, %llu]", f->path,
                    (unsigned long long)xd[0], (unsigned long long)xd[1]);
  if (xd[1] > (hsize_t)1 << 30)
    return mn_error(MN_ERR_DATA, "%s: dataset /x: D=%llu is too large", f->path,
                    (unsigned long long)xd[1]);
  if (yd[0] != xd[0])
    return mn_error(MN_ERR_DATA, "%s: /x has %llu rows but /y has %llu", f->path,
                    (unsigned long long)xd[0], (unsigned long long)yd[0]);
  st = mn_data_check_storage(f->path, "/x", f->x, 2, xd, xd[0] * xd[1] * 4);
  if (st == MN_OK) st = mn_data_check_storage(f->path, "/y", f->y, 1, yd, yd[0] * 4);
  if (st != MN_OK) return st;
  f->rows = (int64_t)xd[0];
  f->xspace = H5Dget_space(f->x);
  f->yspace = H5Dget_space(f->y);
  if (f->xspace < 0 || f->yspace < 0)
    return mn_error(MN_ERR_DATA, "%s: cannot get the dataspaces: %s", f->path, mn_h5_reason(why));
  *dim = (int)xd[1];
  return MN_OK;
}

static int has_glob_chars(const char *s) { return strpbrk(s, "*?[") != NULL; }

static mn_status_t add_path(mn_dataset_t *ds, int *cap, const char *path) {
  if (ds->nfiles == *cap) {
    int ncap = *cap ? *cap * 2 : 8;
    mn_data_file_t *nf = realloc(ds->files, (size_t)ncap * sizeof *nf);
    if (!nf) return mn_error(MN_ERR_NOMEM, "dataset: out of memory");
    ds->files = nf;
    *cap = ncap;
  }
  mn_data_file_t *f = &ds->files[ds->nfiles];
  memset(f, 0, sizeof *f);
  f->file = f->x = f->y = f->xspace = f->yspace = -1;
  f->path = strdup(path);
  if (!f->path) return mn_error(MN_ERR_NOMEM, "dataset: out of memory");
  ds->nfiles++;
  return MN_OK;
}

/* Split spec at commas; expand globs (sorted by glob(3)). */
static mn_status_t expand_spec(mn_dataset_t *ds, const char *spec) {
  mn_status_t st = MN_OK;
  int cap = 0;
  char *copy = strdup(spec);
  if (!copy) return mn_error(MN_ERR_NOMEM, "dataset: out of memory");
  char *save = NULL;
  for (char *part = strtok_r(copy, ",", &save); part && st == MN_OK;
       part = strtok_r(NULL, ",", &save)) {
    while (*part == ' ' || *part == '\t') part++;
    size_t len = strlen(part);
    while (len && (part[len - 1] == ' ' || part[len - 1] == '\t')) part[--len] = '\0';
    if (!len) continue;
    if (!has_glob_chars(part)) {
      st = add_path(ds, &cap, part);
      continue;
    }
    glob_t g;
    int rc = glob(part, 0, NULL, &g);
    if (rc == GLOB_NOMATCH)
      st = mn_error(MN_ERR_NOINPUT, "%s: no file matches", part);
    else if (rc != 0)
      st = mn_error(MN_ERR_NOINPUT, "%s: cannot expand the pattern", part);
    for (size_t i = 0; rc == 0 && i < g.gl_pathc && st == MN_OK; i++)
      st = add_path(ds, &cap, g.gl_pathv[i]);
    if (rc == 0 || rc == GLOB_NOMATCH) globfree(&g);
  }
  free(copy);
  if (st == MN_OK && ds->nfiles == 0)
    st = mn_error(MN_ERR_NOINPUT, "dataset '%s': no file named", spec);
  return st;
}

/* Warn once per process, on rank 0, when the first dataset opened (the training set) is far
 * from unit scale: max |x| > MN_DATA_SCALE_WARN over its first rows (at most 256 rows and 2^20
 * values of the first file), unless /x says it is standardized (mnprep --standardize).
 * Training on raw pixels 0..255 and the like diverges or stalls without a word. A cheap
 * look, never an error: a failed read here is left to the checked reads of training. */
#define MN_DATA_SCALE_WARN 100.0
static void scale_check(const mn_dataset_t *ds) {
  static int looked;
  if (looked++ || !mn_log_is_root() || ds->nfiles == 0) return;
  const mn_data_file_t *f = &ds->files[0];
  if (H5Aexists(f->x, "standardized") > 0) return;
  int64_t cols = ds->dim < (1 << 20) ? ds->dim : (1 << 20);
  int64_t rows = f->rows < 256 ? f->rows : 256;
  if (rows * cols > (1 << 20)) rows = (1 << 20) / cols;
  hsize_t start[2] = {0, 0}, cnt[2] = {(hsize_t)rows, (hsize_t)cols};
  float *x = malloc((size_t)(rows * cols) * sizeof *x);
  hid_t space = H5Dget_space(f->x), mem = H5Screate_simple(2, cnt, NULL);
  double max = 0;
  if (x && rows > 0 && space >= 0 && mem >= 0 &&
      H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, cnt, NULL) >= 0 &&
      H5Dread(f->x, H5T_NATIVE_FLOAT, mem, space, H5P_DEFAULT, x) >= 0)
    for (size_t i = 0; i < (size_t)(rows * cols); i++)
      if (fabs(x[i]) > max) max = fabs(x[i]); /* a NaN is caught when its row is read */
  if (mem >= 0) H5Sclose(mem);
  if (space >= 0) H5Sclose(space);
  free(x);
  if (max > MN_DATA_SCALE_WARN)
    mn_log_warn("%s: features reach |x| = %g in the first %lld rows and /x is not standardized: "
                "training may diverge or stall; rescale them (mnprep --standardize)",
                f->path, max, (long long)rows);
}

mn_status_t mn_dataset_open(const char *spec, int dim, int classes, mn_dataset_t **out) {
  mn_h5_quiet();
  mn_dataset_t *ds = calloc(1, sizeof *ds);
  if (!ds) return mn_error(MN_ERR_NOMEM, "dataset: out of memory");
  pthread_mutex_init(&ds->lock, NULL);
  mn_status_t st = expand_spec(ds, spec);
  if (st != MN_OK) goto fail;
  ds->first = malloc((size_t)(ds->nfiles + 1) * sizeof *ds->first);
  if (!ds->first) {
    st = mn_error(MN_ERR_NOMEM, "dataset: out of memory");
    goto fail;
  }
  ds->first[0] = 0;
  size_t cache_bytes = MN_DATA_CACHE_BYTES / (size_t)ds->nfiles;
  if (cache_bytes < MN_DATA_CACHE_MIN_BYTES) cache_bytes = MN_DATA_CACHE_MIN_BYTES;
  for (int i = 0; i < ds->nfiles; i++) {
    mn_data_file_t *f = &ds->files[i];
    int d = 0;
    st = file_open(f, cache_bytes, &d);
    if (st != MN_OK) goto fail;
    if (i == 0 && dim > 0 && d != dim) {
      st = mn_error(MN_ERR_DATA, "%s: /x has D=%d but the model's input width is %d", f->path, d,
                    dim);
      goto fail;
    }
    if (i > 0 && d != ds->dim) {
      st = mn_error(MN_ERR_DATA, "%s: /x has D=%d, but %s has D=%d", f->path, d, ds->files[0].path,
                    ds->dim);
      goto fail;
    }
    ds->dim = d;
    int64_t kept_bytes = (ds->first[i] + f->rows) * (int64_t)sizeof(int32_t);
    st = check_labels(f, classes, kept_bytes <= MN_DATA_LABEL_KEEP_BYTES, &ds->label_crc);
    if (st != MN_OK) goto fail;
    ds->first[i + 1] = ds->first[i] + f->rows;
  }
  ds->n = ds->first[ds->nfiles];
  scale_check(ds);
  *out = ds;
  return MN_OK;
fail:
  mn_dataset_close(ds);
  return st;
}

mn_status_t mn_dataset_open_tokens(const char *spec, int context, int vocab, mn_dataset_t **out) {
  mn_h5_quiet();
  mn_dataset_t *ds = calloc(1, sizeof *ds);
  if (!ds) return mn_error(MN_ERR_NOMEM, "dataset: out of memory");
  pthread_mutex_init(&ds->lock, NULL);
  const char **paths = NULL;
  mn_status_t st = expand_spec(ds, spec);
  if (st == MN_OK) {
    paths = malloc((size_t)ds->nfiles * sizeof *paths);
    if (!paths) st = mn_error(MN_ERR_NOMEM, "dataset: out of memory");
  }
  for (int i = 0; st == MN_OK && i < ds->nfiles; i++) paths[i] = ds->files[i].path;
  if (st == MN_OK) st = mn_tokens_open(paths, ds->nfiles, context, vocab, &ds->tokens);
  free(paths);
  if (st != MN_OK) {
    mn_dataset_close(ds);
    return st;
  }
  ds->n = mn_tokens_windows(ds->tokens);
  ds->dim = context;
  ds->label_crc = mn_tokens_target_crc(ds->tokens);
  ds->feature_crc = mn_tokens_input_crc(ds->tokens);
  ds->feature_crc_done = 1;
  *out = ds;
  return MN_OK;
}

void mn_dataset_close(mn_dataset_t *ds) {
  if (!ds) return;
  mn_tokens_close(ds->tokens);
  for (int i = 0; i < ds->nfiles; i++) {
    file_close(&ds->files[i]);
    free(ds->files[i].labels);
    free(ds->files[i].path);
  }
  free(ds->files);
  free(ds->first);
  free(ds->refs);
  free(ds->stage_x);
  free(ds->stage_y);
  pthread_mutex_destroy(&ds->lock);
  free(ds);
}

int64_t mn_dataset_size(const mn_dataset_t *ds) { return ds->n; }
int mn_dataset_dim(const mn_dataset_t *ds) { return ds->dim; }
int mn_dataset_label_width(const mn_dataset_t *ds) { return ds->tokens ? ds->dim : 1; }
int mn_dataset_is_tokens(const mn_dataset_t *ds) { return ds->tokens != NULL; }
int mn_dataset_nfiles(const mn_dataset_t *ds) { return ds->nfiles; }
const char *mn_dataset_path(const mn_dataset_t *ds, int file) {
  return file >= 0 && file < ds->nfiles ? ds->files[file].path : NULL;
}
int64_t mn_dataset_file_rows(const mn_dataset_t *ds, int file) {
  if (ds->tokens) return mn_tokens_file_tokens(ds->tokens, file);
  return file >= 0 && file < ds->nfiles ? ds->files[file].rows : 0;
}
uint32_t mn_dataset_label_crc(const mn_dataset_t *ds) { return ds->label_crc; }
mn_status_t mn_dataset_feature_crc(mn_dataset_t *ds, uint32_t *crc) {
  if (!ds->feature_crc_done) {
    int64_t n = ds->n, idx[MN_DATA_FEATURE_ROWS];
    int k = n < MN_DATA_FEATURE_ROWS ? (int)n : MN_DATA_FEATURE_ROWS;
    size_t dim = (size_t)ds->dim;
    for (int i = 0; i < k; i++) idx[i] = k > 1 ? (int64_t)i * (n - 1) / (k - 1) : 0;
    float *x = malloc((size_t)(k > 0 ? k : 1) * dim * sizeof *x);
    int32_t y[MN_DATA_FEATURE_ROWS];
    mn_status_t st = x ? MN_OK : mn_error(MN_ERR_NOMEM, "dataset: out of memory");
    if (st == MN_OK && k > 0) st = mn_dataset_read(ds, idx, k, x, y);
    if (st == MN_OK)
      ds->feature_crc =
          (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)x, (uInt)((size_t)k * dim * 4));
    free(x);
    if (st != MN_OK) return st;
    ds->feature_crc_done = 1;
  }
  *crc = ds->feature_crc;
  return MN_OK;
}

/* ---- reading ------------------------------------------------------------------------- */

/* The file that holds dataset row `row`. */
static int file_of_row(const mn_dataset_t *ds, int64_t row) {
  return (int)mn_prefix_find(ds->first, ds->nfiles, row);
}

/* Read /x or /y rows [lo, lo + count) of f into buf: one regular hyperslab, one H5Dread.
 * (A union of hyperslabs would make one call, but HDF5 1.10 maps an irregular selection
 * to chunks element by element: measured 6x slower than a call per run.) */
static mn_status_t read_rows(const mn_data_file_t *f, const char *name, hid_t dset, hid_t space,
                             hid_t memtype, int64_t lo, int64_t count, int dim, void *buf) {
  char why[256];
  int rank = dim > 0 ? 2 : 1;
  hsize_t start[2] = {(hsize_t)lo, 0}, cnt[2] = {(hsize_t)count, (hsize_t)dim};
  hid_t mem = H5Screate_simple(rank, cnt, NULL);
  herr_t rc = mem < 0 ? -1 : H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, cnt, NULL);
  if (rc >= 0) rc = H5Dread(dset, memtype, mem, space, H5P_DEFAULT, buf);
  if (mem >= 0) H5Sclose(mem);
  if (rc < 0)
    return mn_error(MN_ERR_DATA, "%s: dataset %s: cannot read rows %lld..%lld: %s", f->path, name,
                    (long long)lo, (long long)(lo + count), mn_h5_reason(why));
  return MN_OK;
}

/* Every feature of rows [lo, lo + count) of f (file-relative), read into x, finite: a NaN
 * or an Inf would train to NaN weights. One pass over what was just read (in the cache). */
static mn_status_t check_finite(const mn_data_file_t *f, int64_t lo, int64_t count, int dim,
                                const float *x) {
  size_t n = (size_t)count * (size_t)dim;
  for (size_t i = 0; i < n; i++) {
    if (isfinite(x[i])) continue;
    const char *what = isnan(x[i]) ? "NaN" : x[i] > 0 ? "+Inf" : "-Inf";
    return mn_error(MN_ERR_NONFINITE, "%s: /x row %lld: %s in feature %d", f->path,
                    (long long)(lo + (int64_t)(i / (size_t)dim)), what, (int)(i % (size_t)dim));
  }
  return MN_OK;
}

/* Rows [lo, lo + count) of file f (file-relative) into x, y. */
static mn_status_t read_file_span(const mn_dataset_t *ds, const mn_data_file_t *f, int64_t lo,
                                  int64_t count, float *x, int32_t *y) {
  mn_status_t st = read_rows(f, "/x", f->x, f->xspace, H5T_NATIVE_FLOAT, lo, count, ds->dim, x);
  if (st == MN_OK) st = check_finite(f, lo, count, ds->dim, x);
  if (st != MN_OK) return st;
  if (f->labels) {
    memcpy(y, f->labels + lo, (size_t)count * sizeof *y);
    return MN_OK;
  }
  return read_rows(f, "/y", f->y, f->yspace, H5T_NATIVE_INT32, lo, count, 0, y);
}

mn_status_t mn_dataset_read_range(mn_dataset_t *ds, int64_t start, int64_t count, void *xv,
                                  int32_t *y) {
  if (start < 0 || count < 0 || start + count > ds->n)
    return mn_error(MN_ERR_INTERNAL, "dataset: rows %lld..%lld outside [0, %lld)", (long long)start,
                    (long long)(start + count), (long long)ds->n);
  mn_h5_quiet();
  mn_status_t st = MN_OK;
  pthread_mutex_lock(&ds->lock);
  if (ds->tokens) {
    st = mn_tokens_read_range(ds->tokens, start, count, xv, y);
    pthread_mutex_unlock(&ds->lock);
    return st;
  }
  float *x = xv;
  int64_t done = 0;
  while (done < count && st == MN_OK) {
    int64_t row = start + done;
    int fi = file_of_row(ds, row);
    int64_t lo = row - ds->first[fi];
    int64_t n = ds->files[fi].rows - lo;
    if (n > count - done) n = count - done;
    st = read_file_span(ds, &ds->files[fi], lo, n, x + done * ds->dim, y + done);
    done += n;
  }
  pthread_mutex_unlock(&ds->lock);
  return st;
}

static int ref_cmp(const void *a, const void *b) {
  const struct row_ref *ra = a, *rb = b;
  if (ra->row != rb->row) return ra->row < rb->row ? -1 : 1;
  return ra->pos - rb->pos;
}

static mn_status_t grow_scratch(mn_dataset_t *ds, int count) {
  if (count <= ds->cap) return MN_OK;
  struct row_ref *r = realloc(ds->refs, (size_t)count * sizeof *r);
  if (r) ds->refs = r;
  float *sx = realloc(ds->stage_x, (size_t)count * (size_t)ds->dim * sizeof *sx);
  if (sx) ds->stage_x = sx;
  int32_t *sy = realloc(ds->stage_y, (size_t)count * sizeof *sy);
  if (sy) ds->stage_y = sy;
  if (!r || !sx || !sy)
    return mn_error(MN_ERR_NOMEM, "dataset: out of memory for a batch of %d rows", count);
  ds->cap = count;
  return MN_OK;
}

/* Read the distinct sorted rows refs[a..b) that lie in file fi into the staging buffer at
 * staged row s0, one read per contiguous run. out: *nstaged, the distinct rows staged. */
static mn_status_t read_file_rows(mn_dataset_t *ds, int fi, int a, int b, int s0, int *nstaged) {
  const mn_data_file_t *f = &ds->files[fi];
  mn_status_t st = MN_OK;
  int distinct = 0;
  for (int i = a; i < b && st == MN_OK;) {
    /* one run: rows r, r+1, ... (duplicates skipped) */
    int64_t r0 = ds->refs[i].row, r1 = r0;
    int j = i + 1;
    while (j < b && ds->refs[j].row <= r1 + 1) r1 = ds->refs[j++].row;
    int64_t len = r1 - r0 + 1;
    st = read_file_span(ds, f, r0 - ds->first[fi], len,
                        ds->stage_x + (size_t)(s0 + distinct) * ds->dim,
                        ds->stage_y + s0 + distinct);
    distinct += (int)len;
    i = j;
  }
  *nstaged = distinct;
  return st;
}

mn_status_t mn_dataset_read(mn_dataset_t *ds, const int64_t *idx, int count, void *xv, int32_t *y) {
  for (int i = 0; i < count; i++)
    if (idx[i] < 0 || idx[i] >= ds->n)
      return mn_error(MN_ERR_INTERNAL, "dataset: row %lld outside [0, %lld)", (long long)idx[i],
                      (long long)ds->n);
  if (count <= 0) return MN_OK;
  mn_h5_quiet();
  pthread_mutex_lock(&ds->lock);
  if (ds->tokens) {
    mn_status_t st = mn_tokens_read(ds->tokens, idx, count, xv, y);
    pthread_mutex_unlock(&ds->lock);
    return st;
  }
  float *x = xv;
  mn_status_t st = grow_scratch(ds, count);
  if (st != MN_OK) goto unlock;
  for (int i = 0; i < count; i++) ds->refs[i] = (struct row_ref){idx[i], i};
  qsort(ds->refs, (size_t)count, sizeof *ds->refs, ref_cmp);

  /* Stage the distinct rows in sorted order, file by file. */
  int staged = 0;
  for (int a = 0; a < count && st == MN_OK;) {
    int fi = file_of_row(ds, ds->refs[a].row);
    int b = a;
    while (b < count && ds->refs[b].row < ds->first[fi + 1]) b++;
    int n = 0;
    st = read_file_rows(ds, fi, a, b, staged, &n);
    staged += n;
    a = b;
  }
  if (st != MN_OK) goto unlock;

  /* Scatter into the requested order; equal rows share one staged row. */
  size_t d = (size_t)ds->dim;
  int s = -1;
  for (int i = 0; i < count; i++) {
    if (i == 0 || ds->refs[i].row != ds->refs[i - 1].row) s++;
    int pos = ds->refs[i].pos;
    memcpy(x + (size_t)pos * d, ds->stage_x + (size_t)s * d, d * sizeof *x);
    y[pos] = ds->stage_y[s];
  }
unlock:
  pthread_mutex_unlock(&ds->lock);
  return st;
}
