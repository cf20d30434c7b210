/* mn_test_h5.h: HDF5 datasets as mn reads them (docs/data.md), written by the C tests with
 * the HDF5 API itself (not with mn's own writers, whose readers the tests check). */
#ifndef MN_TEST_H5_H
#define MN_TEST_H5_H

#include <stdint.h>

#include <hdf5.h>

#include "mn_test.h"

/* A sample file: /x float32 [n, d] and /y int32 [n] from x and y, chunked by chunk rows (0:
 * contiguous), /x deflated when asked. A failed write is a failed check. */
static inline void mn_test_write_samples(const char *path, const float *x, const int32_t *y,
                                         int64_t n, int d, int chunk, int deflate) {
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  CHECK_MSG(f >= 0, "cannot create %s", path);
  hsize_t xd[2] = {(hsize_t)n, (hsize_t)d}, cx[2] = {(hsize_t)chunk, (hsize_t)d};
  hid_t sx = H5Screate_simple(2, xd, NULL), sy = H5Screate_simple(1, xd, NULL);
  hid_t px = H5Pcreate(H5P_DATASET_CREATE), py = H5Pcreate(H5P_DATASET_CREATE);
  if (chunk > 0) {
    H5Pset_chunk(px, 2, cx);
    H5Pset_chunk(py, 1, cx);
    if (deflate) H5Pset_deflate(px, 6);
  }
  hid_t dx = H5Dcreate2(f, "x", H5T_IEEE_F32LE, sx, H5P_DEFAULT, px, H5P_DEFAULT);
  hid_t dy = H5Dcreate2(f, "y", H5T_STD_I32LE, sy, H5P_DEFAULT, py, H5P_DEFAULT);
  CHECK(H5Dwrite(dx, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0);
  CHECK(H5Dwrite(dy, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, y) >= 0);
  H5Dclose(dx);
  H5Dclose(dy);
  H5Pclose(px);
  H5Pclose(py);
  H5Sclose(sx);
  H5Sclose(sy);
  H5Fclose(f);
}

/* A token file: /tokens int32 [n] from t, with the attribute vocab_size. */
static inline void mn_test_write_tokens(const char *path, const int32_t *t, int64_t n, int vocab) {
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  CHECK_MSG(f >= 0, "cannot create %s", path);
  hsize_t dn = (hsize_t)n;
  hid_t s = H5Screate_simple(1, &dn, NULL), as = H5Screate(H5S_SCALAR);
  hid_t d = H5Dcreate2(f, "tokens", H5T_STD_I32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  CHECK(H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, t) >= 0);
  int32_t v = vocab;
  hid_t a = H5Acreate2(d, "vocab_size", H5T_STD_I32LE, as, H5P_DEFAULT, H5P_DEFAULT);
  CHECK(H5Awrite(a, H5T_NATIVE_INT32, &v) >= 0);
  H5Aclose(a);
  H5Dclose(d);
  H5Sclose(as);
  H5Sclose(s);
  H5Fclose(f);
}

#endif /* MN_TEST_H5_H */
