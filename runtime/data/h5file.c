/* h5file.c: the HDF5 checks that the sample reader (data.c) and the token reader (tokens.c)
 * share (mn_data_h5.h): opening an input file (exists, regular, HDF5), opening a dataset with
 * a chunk cache, describing a dataset's type and shape for messages, and checking that the
 * shape it declares is backed by data written to the file. It reads no rows and knows
 * nothing of what the datasets mean. */
#include "mn_data_h5.h"
#include "mn_h5.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

mn_status_t mn_data_open_file(const char *path, hid_t *file) {
  char why[256];
  struct stat sb;
  if (stat(path, &sb) != 0)
    return mn_error(MN_ERR_NOINPUT, "%s: %s", path,
                    errno == ENOENT ? "no such file" : strerror(errno));
  if (S_ISDIR(sb.st_mode)) return mn_error(MN_ERR_NOINPUT, "%s: is a directory", path);
  if (!S_ISREG(sb.st_mode)) /* a FIFO or a device would block or never end */
    return mn_error(MN_ERR_NOINPUT, "%s: is not a regular file (%s)", path,
                    S_ISFIFO(sb.st_mode)   ? "a FIFO"
                    : S_ISCHR(sb.st_mode)  ? "a character device"
                    : S_ISBLK(sb.st_mode)  ? "a block device"
                    : S_ISSOCK(sb.st_mode) ? "a socket"
                                           : "not a file");
  htri_t is_h5 = H5Fis_hdf5(path);
  if (is_h5 == 0) return mn_error(MN_ERR_DATA, "%s: cannot open: not an HDF5 file", path);
  hid_t f = is_h5 > 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
  if (f < 0) return mn_error(MN_ERR_DATA, "%s: cannot open: %s", path, mn_h5_reason(why));
  *file = f;
  return MN_OK;
}

int mn_data_has(hid_t file, const char *name) {
  htri_t e = H5Lexists(file, name, H5P_DEFAULT);
  if (e < 0) H5Eclear2(H5E_DEFAULT);
  return e > 0;
}

/* "float32", "int32", "uint8", "string", ...: what a file's type is, for messages. */
static void type_name(hid_t type, char *buf, size_t len) {
  size_t size = H5Tget_size(type);
  switch (H5Tget_class(type)) {
  case H5T_FLOAT: snprintf(buf, len, "float%zu", size * 8); break;
  case H5T_INTEGER:
    snprintf(buf, len, "%sint%zu", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "", size * 8);
    break;
  case H5T_STRING: snprintf(buf, len, "string"); break;
  case H5T_COMPOUND: snprintf(buf, len, "compound"); break;
  default: snprintf(buf, len, "a non-numeric type"); break;
  }
}

/* "int32 [100]", "float32 [60000, 784]", "float32 scalar". */
void mn_data_describe(hid_t dset, char *buf, size_t len) {
  char tname[32] = "an unknown type";
  hid_t type = H5Dget_type(dset);
  if (type >= 0) {
    type_name(type, tname, sizeof tname);
    H5Tclose(type);
  }
  hsize_t dims[8];
  hid_t space = H5Dget_space(dset);
  int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
  if (rank > 8) rank = 8;
  if (rank > 0) H5Sget_simple_extent_dims(space, dims, NULL);
  if (space >= 0) H5Sclose(space);
  size_t off = (size_t)snprintf(buf, len, "%s ", tname);
  if (rank <= 0) {
    snprintf(buf + off, len - off, "scalar");
    return;
  }
  for (int i = 0; i < rank && off < len; i++)
    off += (size_t)snprintf(buf + off, len - off, "%s%llu%s", i ? ", " : "[",
                            (unsigned long long)dims[i], i == rank - 1 ? "]" : "");
}

/* Open /name with a chunk cache; out: *dset. */
mn_status_t mn_data_open_dataset(const char *path, hid_t file, const char *name, size_t cache_bytes,
                                 hid_t *dset) {
  char why[256];
  htri_t exists = H5Lexists(file, name, H5P_DEFAULT);
  if (exists <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return mn_error(MN_ERR_DATA, "%s: no dataset %s", path, name);
  }
  H5O_info_t info;
  if (H5Oget_info_by_name(file, name, &info, H5P_DEFAULT) < 0 || info.type != H5O_TYPE_DATASET) {
    H5Eclear2(H5E_DEFAULT);
    return mn_error(MN_ERR_DATA, "%s: %s is not a dataset", path, name);
  }
  hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
  if (dapl >= 0) H5Pset_chunk_cache(dapl, MN_DATA_CACHE_SLOTS, cache_bytes, 1.0);
  hid_t d = H5Dopen2(file, name, dapl >= 0 ? dapl : H5P_DEFAULT);
  if (dapl >= 0) H5Pclose(dapl);
  if (d < 0)
    return mn_error(MN_ERR_DATA, "%s: dataset %s: cannot open: %s", path, name, mn_h5_reason(why));
  *dset = d;
  return MN_OK;
}

/* A dataset's declared shape backed by data written to the file: chunked, every chunk
 * written; contiguous or compact, at least nbytes stored. A shape that is only declared
 * (2^40 rows in a small file) would read as fill values, and the label check at open would
 * walk all of it: refused before anything is read. The chunks are counted from the chunk
 * index, whose size is bounded by the file's. */
mn_status_t mn_data_check_storage(const char *path, const char *name, hid_t dset, int rank,
                                  const hsize_t *dims, hsize_t nbytes) {
  hid_t dcpl = H5Dget_create_plist(dset);
  H5D_layout_t layout = dcpl >= 0 ? H5Pget_layout(dcpl) : H5D_LAYOUT_ERROR;
  hsize_t chunk[2] = {1, 1}, nchunks = 0;
  double want = 1; /* chunks the shape needs (as a double: an absurd shape overflows) */
  int ok = layout != H5D_LAYOUT_ERROR;
  if (ok && layout == H5D_CHUNKED) {
    hid_t space = H5Dget_space(dset);
    ok = H5Pget_chunk(dcpl, rank, chunk) == rank && space >= 0 &&
         H5Dget_num_chunks(dset, space, &nchunks) >= 0;
    if (space >= 0) H5Sclose(space);
    for (int i = 0; ok && i < rank; i++)
      want *= chunk[i] ? (double)((dims[i] + chunk[i] - 1) / chunk[i]) : 0;
  }
  if (dcpl >= 0) H5Pclose(dcpl);
  if (!ok) {
    H5Eclear2(H5E_DEFAULT);
    return mn_error(MN_ERR_DATA, "%s: dataset %s: cannot query its storage", path, name);
  }
  if (layout == H5D_VIRTUAL) /* its rows live in other files, which may not be there */
    return mn_error(MN_ERR_DATA,
                    "%s: dataset %s is a virtual dataset: mn reads only datasets stored in "
                    "the file (write a real copy)",
                    path, name);
  if (layout == H5D_CHUNKED && (double)nchunks < want)
    return mn_error(MN_ERR_DATA,
                    "%s: dataset %s declares %llu rows, but only %llu of its %.0f chunks are "
                    "written (the rows were never all written)",
                    path, name, (unsigned long long)dims[0], (unsigned long long)nchunks, want);
  hsize_t stored = H5Dget_storage_size(dset);
  if (layout != H5D_CHUNKED && stored < nbytes)
    return mn_error(MN_ERR_DATA,
                    "%s: dataset %s declares %llu rows (%llu bytes) but holds %llu bytes (the "
                    "rows were never all written)",
                    path, name, (unsigned long long)dims[0], (unsigned long long)nbytes,
                    (unsigned long long)stored);
  return MN_OK;
}
