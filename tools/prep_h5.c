/* prep_h5.c: mnprep h5's input: an existing HDF5 file whose features and labels have
 * other names or types (--x NAME --y NAME, default /x and /y).
 *
 * x must be a 2-D float dataset (any float size: converted to float32, values beyond
 * float32 refused), y a 1-D integer dataset (any size and sign) with as many rows. Soft
 * and external links are followed as HDF5 follows them. Read in blocks of rows, every value
 * checked, never held whole. It does not split or write anything (prep_write.c does). */
#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mn_h5.h"
#include "prep.h"

enum { H5IN_BLOCK = 4096 };

static mn_status_t open_ds(hid_t file, const char *path, const char *name, H5T_class_t cls,
                           int rank, hsize_t dims[2], hid_t *out) {
  char why[256];
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0)
    return mn_error(MN_ERR_DATA, "%s: no dataset %s (name others with --x NAME --y NAME)", path,
                    name);
  hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
  if (d < 0) return mn_error(MN_ERR_DATA, "%s: cannot open %s: %s", path, name, mn_h5_reason(why));
  hid_t t = H5Dget_type(d), s = H5Dget_space(d);
  int ok = t >= 0 && s >= 0 && H5Tget_class(t) == cls && H5Sget_simple_extent_ndims(s) == rank;
  if (ok) H5Sget_simple_extent_dims(s, dims, NULL);
  if (t >= 0) H5Tclose(t);
  if (s >= 0) H5Sclose(s);
  if (!ok) {
    H5Dclose(d);
    return mn_error(MN_ERR_DATA, "%s: dataset %s: expected %s", path, name,
                    cls == H5T_FLOAT ? "floats [N, D]" : "integers [N]");
  }
  *out = d;
  return MN_OK;
}

static mn_status_t read_block(hid_t d, const char *path, const char *name, hid_t mtype, int rank,
                              hsize_t lo, hsize_t n, hsize_t dim, void *buf) {
  char why[256];
  hsize_t start[2] = {lo, 0}, cnt[2] = {n, dim};
  hid_t fs = H5Dget_space(d), ms = H5Screate_simple(rank, cnt, NULL);
  herr_t rc =
      fs < 0 || ms < 0 ? -1 : H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL);
  if (rc >= 0) rc = H5Dread(d, mtype, ms, fs, H5P_DEFAULT, buf);
  if (fs >= 0) H5Sclose(fs);
  if (ms >= 0) H5Sclose(ms);
  if (rc < 0)
    return mn_error(MN_ERR_DATA, "%s: %s: cannot read rows %llu..%llu: %s", path, name,
                    (unsigned long long)lo, (unsigned long long)(lo + n - 1), mn_h5_reason(why));
  return MN_OK;
}

mn_status_t h5in_read(const prep_opts_t *o, spool_t *sp) {
  char why[256];
  const char *path = o->in, *xn = o->x ? o->x : "/x", *yn = o->y ? o->y : "/y";
  hid_t file = -1, x = -1, y = -1;
  double *bx = NULL;
  int64_t *by = NULL;
  float *fx = NULL;
  hsize_t xd[2] = {0, 0}, yd[2] = {0, 0};
  struct stat sb;
  if (stat(path, &sb) != 0)
    return mn_error(MN_ERR_NOINPUT, "%s: %s", path,
                    errno == ENOENT ? "no such file" : strerror(errno));
  if (!S_ISREG(sb.st_mode)) /* HDF5 seeks; a FIFO could block forever */
    return mn_error(MN_ERR_NOINPUT, "%s: is not a regular file", path);
  file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) return mn_error(MN_ERR_DATA, "%s: cannot open: %s", path, mn_h5_reason(why));
  mn_status_t st = open_ds(file, path, xn, H5T_FLOAT, 2, xd, &x);
  if (st == MN_OK) st = open_ds(file, path, yn, H5T_INTEGER, 1, yd, &y);
  if (st == MN_OK && xd[0] != yd[0])
    st = mn_error(MN_ERR_DATA, "%s: %s has %llu rows but %s has %llu", path, xn,
                  (unsigned long long)xd[0], yn, (unsigned long long)yd[0]);
  if (st == MN_OK && (xd[1] < 1 || xd[1] > (1 << 24)))
    st = mn_error(MN_ERR_DATA, "%s: %s: D = %llu is outside [1, 16777216]", path, xn,
                  (unsigned long long)xd[1]);
  if (st != MN_OK) goto cleanup;
  int dim = (int)xd[1];
  bx = malloc((size_t)H5IN_BLOCK * (size_t)dim * sizeof *bx);
  by = malloc((size_t)H5IN_BLOCK * sizeof *by);
  fx = malloc((size_t)dim * sizeof *fx);
  if (!bx || !by || !fx) {
    st = mn_error(MN_ERR_NOMEM, "out of memory");
    goto cleanup;
  }
  st = spool_start(sp, o->out, dim);
  for (hsize_t lo = 0; lo < xd[0] && st == MN_OK; lo += H5IN_BLOCK) {
    hsize_t n = xd[0] - lo < H5IN_BLOCK ? xd[0] - lo : H5IN_BLOCK;
    st = read_block(x, path, xn, H5T_NATIVE_DOUBLE, 2, lo, n, (hsize_t)dim, bx);
    if (st == MN_OK) st = read_block(y, path, yn, H5T_NATIVE_INT64, 1, lo, n, 1, by);
    for (hsize_t i = 0; i < n && st == MN_OK; i++) {
      for (int d = 0; d < dim && st == MN_OK; d++) {
        double v = bx[i * (hsize_t)dim + (hsize_t)d];
        fx[d] = (float)v;
        if (!isfinite(v) || !isfinite(fx[d]))
          st = mn_error(MN_ERR_NONFINITE, "%s: %s row %llu: feature %d (%g) is %s", path, xn,
                        (unsigned long long)(lo + i), d, v,
                        isfinite(v) ? "out of the float32 range" : "NaN or infinite");
      }
      char where[PATH_MAX + 96];
      snprintf(where, sizeof where, "%s: %s row %llu", path, yn, (unsigned long long)(lo + i));
      if (st == MN_OK) st = label_check(o, where, by[i]);
      if (st == MN_OK) st = spool_push(sp, fx, (int32_t)by[i]);
    }
  }
  if (st == MN_OK && sp->n == 0) st = mn_error(MN_ERR_DATA, "%s: no rows", path);
cleanup:
  if (x >= 0) H5Dclose(x);
  if (y >= 0) H5Dclose(y);
  if (file >= 0) H5Fclose(file);
  free(bx);
  free(by);
  free(fx);
  return st;
}
