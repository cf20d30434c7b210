/* snapshot.c: one snapshot file (mn_snapshot.h, docs/snapshot-format.md): writing it
 * atomically and durably, reading its metadata and tensors, and validating it.
 *
 * The metadata are scalar attributes of the root group (numbers little-endian, strings
 * fixed-length and NUL-terminated), each tensor a float32 dataset (or, for a blob of a
 * trainer of the public API, a uint8 one) at its name with a "crc32" attribute of its
 * little-endian bytes. Files are written in the HDF5 1.8 format
 * or later, whose metadata carry checksums, so that HDF5 itself refuses damaged metadata
 * and the CRCs catch damaged tensor data. Every HDF5 failure becomes an mn_error message
 * that names the file and the reason. Directory work (creating it, removing stale
 * temporary files, listing, pruning) lives in snapdir.c; this file neither logs nor knows
 * what the tensors mean. */
#define _GNU_SOURCE /* memfd_create */
#include "mn_h5.h"
#include "mn_shape.h"
#include "mn_snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#ifndef MN_VERSION
#define MN_VERSION "unknown"
#endif

#define SLAB_FLOATS ((hsize_t)1 << 22) /* floats read at a time when scanning a tensor */
#define TENSOR_PATH_MAX 1024           /* longest dataset name looked at in a file */

/* ---- the metadata attributes --------------------------------------------------------- */

typedef enum field_kind { F_I32, F_I64, F_U32, F_U64, F_F64 } field_kind_t;

/* The numeric attributes of the root group and where they live in the meta. "format" and
 * "ntensors" are handled apart (format first, ntensors is not part of the meta). */
static const struct field {
  const char *name;
  field_kind_t kind;
  size_t offset;
} g_fields[] = {
    {"created", F_F64, offsetof(mn_snapshot_meta_t, created)},
    {"epoch", F_I64, offsetof(mn_snapshot_meta_t, epoch)},
    {"epoch_pos", F_I64, offsetof(mn_snapshot_meta_t, epoch_pos)},
    {"step", F_I64, offsetof(mn_snapshot_meta_t, step)},
    {"samples", F_I64, offsetof(mn_snapshot_meta_t, samples)},
    {"finished", F_I32, offsetof(mn_snapshot_meta_t, finished)},
    {"world", F_I32, offsetof(mn_snapshot_meta_t, world)},
    {"batch", F_I32, offsetof(mn_snapshot_meta_t, batch)},
    {"shape_hash", F_U64, offsetof(mn_snapshot_meta_t, shape_hash)},
    {"model_seed", F_U64, offsetof(mn_snapshot_meta_t, model_seed)},
    {"data_seed", F_U64, offsetof(mn_snapshot_meta_t, data_seed)},
    {"data_n", F_I64, offsetof(mn_snapshot_meta_t, data_n)},
    {"data_dim", F_I32, offsetof(mn_snapshot_meta_t, data_dim)},
    {"data_classes", F_I32, offsetof(mn_snapshot_meta_t, data_classes)},
    {"data_label_crc", F_U32, offsetof(mn_snapshot_meta_t, data_label_crc)},
};
enum { NFIELDS = sizeof g_fields / sizeof *g_fields };

/* Attributes that files written before them lack: read back as their default then. What
 * the run had reached, for its metrics and for a resume of a finished run (NaN: unknown). */
static const struct optional_field {
  const char *name;
  size_t offset;
  double absent;
} g_optional[] = {
    {"elapsed_s", offsetof(mn_snapshot_meta_t, elapsed_s), 0.0},
    {"loss", offsetof(mn_snapshot_meta_t, loss), NAN},
    {"train_loss", offsetof(mn_snapshot_meta_t, train_loss), NAN},
    {"val_loss", offsetof(mn_snapshot_meta_t, val_loss), NAN},
    {"val_accuracy", offsetof(mn_snapshot_meta_t, val_accuracy), NAN},
};
enum { NOPTIONAL = sizeof g_optional / sizeof *g_optional };

/* The string attributes: cap > 0 is a char[cap] inside the meta, cap == 0 a heap char *. */
static const struct string_field {
  const char *name;
  size_t offset, cap;
} g_strings[] = {
    {"mn_version", offsetof(mn_snapshot_meta_t, mn_version),
     sizeof(((mn_snapshot_meta_t *)0)->mn_version)},
    {"reason", offsetof(mn_snapshot_meta_t, reason), sizeof(((mn_snapshot_meta_t *)0)->reason)},
    {"config", offsetof(mn_snapshot_meta_t, config), 0},
    {"data_files", offsetof(mn_snapshot_meta_t, data_files), 0},
};
enum { NSTRINGS = sizeof g_strings / sizeof *g_strings };

/* The reasons a snapshot is written for. */
static const char *const g_reasons[] = {"epoch", "interval", "stop", "final"};

/* Counters that can never be negative in a snapshot that mn wrote. */
static const char *const g_nonnegative[] = {"epoch", "epoch_pos", "step", "samples", "data_n"};

static hid_t file_type_of(field_kind_t kind) {
  switch (kind) {
  case F_I32: return H5T_STD_I32LE;
  case F_I64: return H5T_STD_I64LE;
  case F_U32: return H5T_STD_U32LE;
  case F_U64: return H5T_STD_U64LE;
  case F_F64: return H5T_IEEE_F64LE;
  }
  return -1;
}

static hid_t mem_type_of(field_kind_t kind) {
  switch (kind) {
  case F_I32: return H5T_NATIVE_INT;
  case F_I64: return H5T_NATIVE_INT64;
  case F_U32: return H5T_NATIVE_UINT32;
  case F_U64: return H5T_NATIVE_UINT64;
  case F_F64: return H5T_NATIVE_DOUBLE;
  }
  return -1;
}

void mn_snapshot_meta_free(mn_snapshot_meta_t *meta) {
  if (!meta) return;
  free(meta->config);
  free(meta->data_files);
  meta->config = meta->data_files = NULL;
}

/* ---- CRC-32 of float data, as little-endian bytes ------------------------------------ */

static uint32_t crc_floats(uint32_t crc, const float *x, size_t count) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  unsigned char buf[4096];
  while (count > 0) {
    size_t k = count < sizeof buf / 4 ? count : sizeof buf / 4;
    for (size_t i = 0; i < k; i++) {
      uint32_t u;
      memcpy(&u, &x[i], 4);
      for (int b = 0; b < 4; b++) buf[4 * i + b] = (unsigned char)(u >> (8 * b));
    }
    crc = (uint32_t)crc32(crc, buf, (uInt)(4 * k));
    x += k;
    count -= k;
  }
#else
  const unsigned char *p = (const unsigned char *)x;
  size_t nbytes = count * sizeof(float);
  while (nbytes > 0) {
    uInt k = nbytes > (1u << 30) ? (1u << 30) : (uInt)nbytes;
    crc = (uint32_t)crc32(crc, p, k);
    p += k;
    nbytes -= k;
  }
#endif
  return crc;
}

static uint32_t crc_bytes(uint32_t crc, const unsigned char *p, size_t nbytes) {
  while (nbytes > 0) {
    uInt k = nbytes > (1u << 30) ? (1u << 30) : (uInt)nbytes;
    crc = (uint32_t)crc32(crc, p, k);
    p += k;
    nbytes -= k;
  }
  return crc;
}

/* The CRC-32 of a tensor's elements (count of them) as the file stores them. */
static uint32_t crc_tensor(mn_snapshot_dtype_t dtype, const void *data, size_t count) {
  uint32_t crc = (uint32_t)crc32(0L, Z_NULL, 0);
  return dtype == MN_SNAPSHOT_F32 ? crc_floats(crc, data, count) : crc_bytes(crc, data, count);
}

static size_t dtype_size(mn_snapshot_dtype_t dtype) { return dtype == MN_SNAPSHOT_U8 ? 1 : 4; }
static const char *dtype_name(mn_snapshot_dtype_t dtype) {
  return dtype == MN_SNAPSHOT_U8 ? "uint8" : "float32";
}

/* ---- writing -------------------------------------------------------------------------- */

/* A scalar attribute. On failure why holds the reason, taken at the failing call (the
 * closes after it would clear HDF5's error stack). */
static herr_t attr_put(hid_t loc, const char *name, hid_t file_type, hid_t mem_type,
                       const void *value, char why[256]) {
  errno = 0;
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t a = space >= 0 ? H5Acreate2(loc, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
  herr_t rc = a >= 0 ? H5Awrite(a, mem_type, value) : -1;
  if (rc < 0) mn_h5_reason_errno(why, errno);
  if (a >= 0 && H5Aclose(a) < 0 && rc >= 0) {
    mn_h5_reason_errno(why, errno);
    rc = -1;
  }
  if (space >= 0) H5Sclose(space);
  return rc;
}

static herr_t attr_put_string(hid_t loc, const char *name, const char *s, char why[256]) {
  hid_t type = H5Tcopy(H5T_C_S1);
  herr_t rc = type >= 0 && H5Tset_size(type, strlen(s) + 1) >= 0 &&
                      H5Tset_strpad(type, H5T_STR_NULLTERM) >= 0
                  ? 0
                  : -1;
  if (rc < 0)
    mn_h5_reason(why);
  else
    rc = attr_put(loc, name, type, type, s, why);
  if (type >= 0) H5Tclose(type);
  return rc;
}

/* The root attributes: format, ntensors, the numbers and the strings of meta. */
static mn_status_t write_meta(hid_t file, const char *path, const mn_snapshot_meta_t *meta,
                              int ntensors) {
  char why[256];
  int format = meta->format;
  if (attr_put(file, "format", H5T_STD_I32LE, H5T_NATIVE_INT, &format, why) < 0 ||
      attr_put(file, "ntensors", H5T_STD_I32LE, H5T_NATIVE_INT, &ntensors, why) < 0)
    return mn_error(MN_ERR_IO, "%s: cannot write attribute format: %s", path, why);
  for (int i = 0; i < NFIELDS; i++) {
    const struct field *f = &g_fields[i];
    const char *value = (const char *)meta + f->offset;
    if (attr_put(file, f->name, file_type_of(f->kind), mem_type_of(f->kind), value, why) < 0)
      return mn_error(MN_ERR_IO, "%s: cannot write attribute %s: %s", path, f->name, why);
  }
  if (meta->data_feature_crc_set && attr_put(file, "data_feature_crc", H5T_STD_U32LE,
                                             H5T_NATIVE_UINT32, &meta->data_feature_crc, why) < 0)
    return mn_error(MN_ERR_IO, "%s: cannot write attribute data_feature_crc: %s", path, why);
  for (int i = 0; i < NOPTIONAL; i++) {
    const struct optional_field *f = &g_optional[i];
    if (attr_put(file, f->name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, (const char *)meta + f->offset,
                 why) < 0)
      return mn_error(MN_ERR_IO, "%s: cannot write attribute %s: %s", path, f->name, why);
  }
  for (int i = 0; i < NSTRINGS; i++) {
    const struct string_field *f = &g_strings[i];
    char bounded[64];
    const char *s;
    if (f->cap > 0) { /* a char[cap] that the caller may have filled to the brim */
      const char *field = (const char *)meta + f->offset;
      size_t len = strnlen(field, f->cap < sizeof bounded ? f->cap : sizeof bounded - 1);
      memcpy(bounded, field, len);
      bounded[len] = '\0';
      s = bounded;
    } else {
      s = *(char *const *)((const char *)meta + f->offset);
    }
    if (attr_put_string(file, f->name, s ? s : "", why) < 0)
      return mn_error(MN_ERR_IO, "%s: cannot write attribute %s: %s", path, f->name, why);
  }
  return MN_OK;
}

static size_t tensor_count(int ndims, const int64_t *dims) {
  size_t n = 1;
  for (int d = 0; d < ndims; d++) n *= (size_t)dims[d];
  return n;
}

/* A name is "a/b/c": 1 to NAME_MAX-1 bytes, no empty, "." or ".." component. */
static int tensor_name_ok(const char *name) {
  size_t len = strnlen(name, MN_SNAPSHOT_NAME_MAX);
  if (len == 0 || len == MN_SNAPSHOT_NAME_MAX) return 0;
  for (const char *p = name; *p;) {
    size_t k = strcspn(p, "/");
    if (k == 0 || (k == 1 && p[0] == '.') || (k == 2 && p[0] == '.' && p[1] == '.')) return 0;
    p += k;
    if (*p == '/' && !*++p) return 0; /* a trailing '/' */
  }
  return 1;
}

static mn_status_t check_tensor(const mn_snapshot_tensor_t *t) {
  if (!tensor_name_ok(t->name))
    return mn_error(MN_ERR_INTERNAL, "snapshot tensor name '%.*s' is not a valid name",
                    MN_SNAPSHOT_NAME_MAX, t->name);
  if (t->ndims < 1 || t->ndims > MN_SNAPSHOT_MAX_DIMS)
    return mn_error(MN_ERR_INTERNAL, "snapshot tensor %s: %d dimensions (1 to %d allowed)", t->name,
                    t->ndims, MN_SNAPSHOT_MAX_DIMS);
  for (int d = 0; d < t->ndims; d++)
    if (t->dims[d] < 0)
      return mn_error(MN_ERR_INTERNAL, "snapshot tensor %s: negative dimension", t->name);
  if (t->dtype != MN_SNAPSHOT_F32 && t->dtype != MN_SNAPSHOT_U8)
    return mn_error(MN_ERR_INTERNAL, "snapshot tensor %s: unknown element type %d", t->name,
                    (int)t->dtype);
  if (!t->data && tensor_count(t->ndims, t->dims) > 0)
    return mn_error(MN_ERR_INTERNAL, "snapshot tensor %s: no data", t->name);
  return MN_OK;
}

static mn_status_t write_tensor(hid_t file, const char *path, const mn_snapshot_tensor_t *t) {
  char why[256] = "";
  hsize_t dims[MN_SNAPSHOT_MAX_DIMS];
  for (int d = 0; d < t->ndims; d++) dims[d] = (hsize_t)t->dims[d];
  size_t count = tensor_count(t->ndims, t->dims);
  int bytes = t->dtype == MN_SNAPSHOT_U8;
  uint32_t crc = crc_tensor(t->dtype, bytes ? (const void *)t->bytes : t->data, count);
  const char *call = NULL; /* the call that failed */
  errno = 0;
  hid_t space = H5Screate_simple(t->ndims, dims, NULL);
  hid_t lcpl = space >= 0 ? H5Pcreate(H5P_LINK_CREATE) : -1;
  hid_t d = -1;
  if (lcpl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0)
    call = "H5Pcreate";
  else if ((d = H5Dcreate2(file, t->name, bytes ? H5T_STD_U8LE : H5T_IEEE_F32LE, space, lcpl,
                           H5P_DEFAULT, H5P_DEFAULT)) < 0)
    call = "H5Dcreate2";
  else if (count > 0 && H5Dwrite(d, bytes ? H5T_NATIVE_UCHAR : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL,
                                 H5P_DEFAULT, bytes ? (const void *)t->bytes : t->data) < 0)
    call = "H5Dwrite";
  if (call) mn_h5_reason_errno(why, errno); /* now: the closes below clear the stack */
  if (!call && attr_put(d, "crc32", H5T_STD_U32LE, H5T_NATIVE_UINT32, &crc, why) < 0)
    call = "crc32 attribute";
  errno = 0;
  if (d >= 0 && H5Dclose(d) < 0 && !call) { /* its id is gone even so (HDF5 1.10+) */
    call = "H5Dclose";
    mn_h5_reason_errno(why, errno);
  }
  if (lcpl >= 0) H5Pclose(lcpl);
  if (space >= 0) H5Sclose(space);
  if (call)
    return mn_error(MN_ERR_IO, "%s: cannot write tensor %s: %s: %s", path, t->name, call, why);
  return MN_OK;
}

static mn_status_t fsync_file(const char *tmp, const char *path) {
  int fd = open(tmp, O_RDONLY);
  if (fd < 0 || fsync(fd) != 0) {
    int e = errno;
    if (fd >= 0) close(fd);
    return mn_error(MN_ERR_IO, "%s: fsync of %s: %s", path, tmp, strerror(e));
  }
  close(fd);
  return MN_OK;
}

/* After a failed write (often a full disk): close whatever of file is still open, and
 * close the file with its descriptor pointed at an anonymous memory file, so that the
 * metadata HDF5 writes on closing cannot fail in turn. It must not fail: a file whose
 * H5Fclose failed stays open, and closing it again (ourselves, or HDF5's own clean-up at
 * exit) crashes HDF5 1.10. A file size limit (RLIMIT_FSIZE) binds the memory file too:
 * its soft limit is raised to the hard one for the close (a hard limit below the file's
 * size cannot be helped). The temporary file on disk is left to the caller to remove. */
static void discard_file(hid_t file) {
  unsigned kinds =
      H5F_OBJ_LOCAL | H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE | H5F_OBJ_ATTR;
  hid_t ids[64];
  ssize_t n = H5Fget_obj_count(file, kinds) > 0
                  ? H5Fget_obj_ids(file, kinds, sizeof ids / sizeof *ids, ids)
                  : 0;
  for (ssize_t i = 0; i < n; i++) /* none, when every path closes its own: a safety net */
    H5Iget_type(ids[i]) == H5I_ATTR ? H5Aclose(ids[i]) : H5Oclose(ids[i]);
  void *handle = NULL;
  int mem = memfd_create("mn-snapshot-discard", MFD_CLOEXEC);
  if (mem >= 0 && H5Fget_vfd_handle(file, H5P_DEFAULT, &handle) >= 0 && handle)
    dup2(mem, *(int *)handle); /* the sec2 driver's descriptor now writes to memory */
  if (mem >= 0) close(mem);
  struct rlimit limit, raised;
  int lifted = getrlimit(RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != limit.rlim_max;
  raised = limit;
  raised.rlim_cur = raised.rlim_max;
  if (lifted) lifted = setrlimit(RLIMIT_FSIZE, &raised) == 0;
  H5Fclose(file); /* once: see above */
  if (lifted) setrlimit(RLIMIT_FSIZE, &limit);
  H5Eclear2(H5E_DEFAULT);
}

/* Reserve the disk space of the file about to be written (its tensors, its strings and a
 * generous allowance for HDF5's metadata), beyond its end, so that a full disk or quota
 * is met here, worded by errno, and not in the middle of HDF5's metadata flush: HDF5 1.10
 * cannot close a file whose flush failed ("slist already enabled"), and such a file is
 * never released. File systems without fallocate(2) reserve nothing. */
static mn_status_t reserve_space(const char *tmp, const char *path, const mn_snapshot_meta_t *meta,
                                 const mn_snapshot_tensor_t *tensors, int ntensors) {
  off_t nbytes = 64 * 1024 + 2 * (off_t)(strlen(meta->config ? meta->config : "") +
                                         strlen(meta->data_files ? meta->data_files : ""));
  for (int i = 0; i < ntensors; i++)
    nbytes += 4096 + (off_t)(tensor_count(tensors[i].ndims, tensors[i].dims) *
                             dtype_size(tensors[i].dtype));
  int fd = open(tmp, O_WRONLY);
  int rc = fd >= 0 ? fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, nbytes) : -1, e = errno;
  if (fd >= 0) close(fd);
  if (rc != 0 && e != EOPNOTSUPP && e != ENOSYS && e != EINVAL)
    return mn_error(MN_ERR_IO, "%s: cannot reserve %lld bytes for %s: %s", path, (long long)nbytes,
                    tmp, strerror(e));
  return MN_OK;
}

/* Give back what reserve_space reserved beyond the file's end (a truncation below the end
 * frees everything after it). */
static mn_status_t release_space(const char *tmp, const char *path) {
  struct stat sb;
  if (stat(tmp, &sb) != 0 || truncate(tmp, sb.st_size + 1) != 0 || truncate(tmp, sb.st_size) != 0)
    return mn_error(MN_ERR_IO, "%s: truncate %s: %s", path, tmp, strerror(errno));
  return MN_OK;
}

/* Write the whole file under the name tmp, flush and close it, and fsync it. path is the
 * final name, for messages. On failure every HDF5 id is closed and tmp is removed. */
static mn_status_t write_file(const char *tmp, const char *path, const mn_snapshot_meta_t *meta,
                              const mn_snapshot_tensor_t *tensors, int ntensors) {
  char why[256];
  mn_status_t st = MN_OK;
  /* open(2) first, for an errno-worded message when the place is not writable */
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return mn_error(MN_ERR_IO, "%s: cannot create %s: %s", path, tmp, strerror(errno));
  close(fd);
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  hid_t file = -1;
  errno = 0;
  if (fapl >= 0 && H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST) >= 0 &&
      H5Pset_fclose_degree(fapl, H5F_CLOSE_SEMI) >= 0)
    file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (file < 0) {
    st = mn_error(MN_ERR_IO, "%s: H5Fcreate %s: %s", path, tmp, mn_h5_reason_errno(why, errno));
    goto close_fapl;
  }
  st = reserve_space(tmp, path, meta, tensors, ntensors);
  if (st == MN_OK) st = write_meta(file, path, meta, ntensors);
  for (int i = 0; i < ntensors && st == MN_OK; i++) st = write_tensor(file, path, &tensors[i]);
  errno = 0;
  if (st == MN_OK && H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)
    st = mn_error(MN_ERR_IO, "%s: H5Fflush: %s", path, mn_h5_reason_errno(why, errno));
  errno = 0;
  if (st == MN_OK) { /* flushed: the close has little left to write */
    if (H5Fclose(file) < 0)
      st = mn_error(MN_ERR_IO, "%s: H5Fclose: %s", path, mn_h5_reason_errno(why, errno));
    file = -1; /* closed or not, never closed twice (see discard_file) */
  }
  if (file >= 0) discard_file(file);
  if (st == MN_OK) st = release_space(tmp, path);
  if (st == MN_OK) st = fsync_file(tmp, path);
close_fapl:
  if (fapl >= 0) H5Pclose(fapl);
  if (st != MN_OK) unlink(tmp);
  return st;
}

mn_status_t mn_snapshot_write(const char *dir, const mn_snapshot_meta_t *meta,
                              const mn_snapshot_tensor_t *tensors, int ntensors, char *path,
                              size_t pathlen) {
  mn_h5_quiet();
  if (!dir || !dir[0] || !meta || meta->step < 0 || ntensors < 0 || (ntensors > 0 && !tensors))
    return mn_error(MN_ERR_INTERNAL, "mn_snapshot_write: bad arguments");
  for (int i = 0; i < ntensors; i++) {
    mn_status_t st = check_tensor(&tensors[i]);
    if (st != MN_OK) return st;
  }
  char final[4096], tmp[4096 + 512];
  if (snprintf(final, sizeof final, "%s/step-%09lld.h5", dir, (long long)meta->step) >=
      (int)sizeof final)
    return mn_error(MN_ERR_IO, "%s: snapshot directory name too long", dir);
  if (path && strlen(final) >= pathlen)
    return mn_error(MN_ERR_INTERNAL, "%s: path buffer too small", final);
  char name[512];
  mn_snapshot_temp_name(meta->step, name, sizeof name);
  snprintf(tmp, sizeof tmp, "%s/%s", dir, name);

  mn_snapshot_meta_t m = *meta; /* shallow: only the fields the writer sets differ */
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  m.format = MN_SNAPSHOT_FORMAT;
  snprintf(m.mn_version, sizeof m.mn_version, "%s", MN_VERSION);
  m.created = (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;

  mn_status_t st = mn_snapshot_dir_prepare(dir);
  if (st == MN_OK) st = write_file(tmp, final, &m, tensors, ntensors);
  if (st != MN_OK) return st;
  if (rename(tmp, final) != 0) {
    int e = errno;
    unlink(tmp);
    return mn_error(MN_ERR_IO, "%s: rename from %s: %s", final, tmp, strerror(e));
  }
  st = mn_snapshot_dir_sync(dir);
  if (st == MN_OK && path) snprintf(path, pathlen, "%s", final);
  return st;
}

/* ---- reading: the file and its attributes --------------------------------------------- */

/* Open path read-only, telling a missing file, a non-HDF5 file and damaged HDF5 apart. */
static mn_status_t open_file(const char *path, hid_t *out) {
  char why[256];
  struct stat sb;
  if (stat(path, &sb) != 0)
    return mn_error(MN_ERR_NOINPUT, "%s: %s", path,
                    errno == ENOENT ? "no such snapshot file" : strerror(errno));
  if (S_ISDIR(sb.st_mode)) return mn_error(MN_ERR_DATA, "%s: is a directory", path);
  if (H5Fis_hdf5(path) <= 0) {
    mn_h5_reason(why); /* cleared; the size says more */
    return mn_error(MN_ERR_DATA, "%s: truncated or not an HDF5 file (%lld bytes)", path,
                    (long long)sb.st_size);
  }
  hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0)
    return mn_error(MN_ERR_DATA, "%s: truncated or damaged HDF5 file: %s", path, mn_h5_reason(why));
  *out = file;
  return MN_OK;
}

/* Open attribute name of loc, scalar and of type class cls. what: for messages. */
static mn_status_t attr_open(hid_t loc, const char *path, const char *what, const char *name,
                             H5T_class_t cls, hid_t *attr, hid_t *type) {
  char why[256];
  htri_t exists = H5Aexists(loc, name);
  if (exists < 0)
    return mn_error(MN_ERR_DATA, "%s: %sattribute %s is unreadable: %s", path, what, name,
                    mn_h5_reason(why));
  if (exists == 0) return mn_error(MN_ERR_DATA, "%s: %sattribute %s is missing", path, what, name);
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  hid_t t = a >= 0 ? H5Aget_type(a) : -1;
  hid_t s = a >= 0 ? H5Aget_space(a) : -1;
  hssize_t npoints = s >= 0 ? H5Sget_simple_extent_npoints(s) : -1;
  if (s >= 0) H5Sclose(s);
  mn_status_t st = MN_OK;
  if (t < 0 || npoints < 0)
    st = mn_error(MN_ERR_DATA, "%s: %sattribute %s is unreadable: %s", path, what, name,
                  mn_h5_reason(why));
  else if (H5Tget_class(t) != cls || npoints != 1)
    st = mn_error(MN_ERR_DATA, "%s: %sattribute %s is not a single %s", path, what, name,
                  cls == H5T_STRING  ? "string"
                  : cls == H5T_FLOAT ? "float"
                                     : "integer");
  if (st != MN_OK) {
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    return st;
  }
  *attr = a;
  *type = t;
  return MN_OK;
}

static mn_status_t attr_get(hid_t loc, const char *path, const char *what, const char *name,
                            field_kind_t kind, void *out) {
  char why[256];
  hid_t a = -1, t = -1;
  mn_status_t st =
      attr_open(loc, path, what, name, kind == F_F64 ? H5T_FLOAT : H5T_INTEGER, &a, &t);
  if (st != MN_OK) return st;
  if (H5Aread(a, mem_type_of(kind), out) < 0)
    st = mn_error(MN_ERR_DATA, "%s: %sattribute %s is unreadable: %s", path, what, name,
                  mn_h5_reason(why));
  H5Tclose(t);
  H5Aclose(a);
  return st;
}

/* A string attribute (fixed-length, or variable-length as other writers make them), as a
 * heap string. */
static mn_status_t attr_get_string(hid_t loc, const char *path, const char *name, char **out) {
  char why[256];
  hid_t a = -1, t = -1;
  mn_status_t st = attr_open(loc, path, "", name, H5T_STRING, &a, &t);
  if (st != MN_OK) return st;
  char *s = NULL;
  hid_t mem = H5Tcopy(H5T_C_S1);
  herr_t rc = mem >= 0 ? 0 : -1;
  if (rc >= 0 && H5Tis_variable_str(t) > 0) {
    char *vl = NULL;
    rc = H5Tset_size(mem, H5T_VARIABLE);
    if (rc >= 0) rc = H5Aread(a, mem, &vl);
    if (rc >= 0) s = strdup(vl ? vl : "");
    if (vl) H5free_memory(vl);
  } else if (rc >= 0) {
    size_t size = H5Tget_size(t);
    s = calloc(size + 1, 1);
    if (s) rc = H5Tset_size(mem, size);
    if (s && rc >= 0) rc = H5Aread(a, mem, s);
  }
  if (mem >= 0) H5Tclose(mem);
  H5Tclose(t);
  H5Aclose(a);
  if (rc < 0) {
    free(s);
    return mn_error(MN_ERR_DATA, "%s: attribute %s is unreadable: %s", path, name,
                    mn_h5_reason(why));
  }
  if (!s) return mn_error(MN_ERR_NOMEM, "%s: out of memory reading attribute %s", path, name);
  *out = s;
  return MN_OK;
}

/* The names of the datasets of a file, in name order (H5Lvisit). */
typedef struct name_list {
  char **names;
  int n, cap;
  int failed; /* out of memory, or a name longer than TENSOR_PATH_MAX */
} name_list_t;

static herr_t collect_dataset(hid_t group, const char *name, const H5L_info_t *info, void *data) {
  name_list_t *list = data;
  if (info->type != H5L_TYPE_HARD) return 0;
  hid_t obj = H5Oopen(group, name, H5P_DEFAULT);
  if (obj < 0) return 0; /* a damaged object: the visit goes on, verify counts tensors */
  int is_dataset = H5Iget_type(obj) == H5I_DATASET;
  H5Oclose(obj);
  if (!is_dataset) return 0;
  if (strlen(name) >= TENSOR_PATH_MAX) {
    list->failed = 1;
    return 0;
  }
  if (list->n == list->cap) {
    int cap = list->cap ? 2 * list->cap : 16;
    char **grown = realloc(list->names, (size_t)cap * sizeof *grown);
    if (!grown) return -1;
    list->names = grown;
    list->cap = cap;
  }
  if (!(list->names[list->n] = strdup(name))) return -1;
  list->n++;
  return 0;
}

static void name_list_free(name_list_t *list) {
  for (int i = 0; i < list->n; i++) free(list->names[i]);
  free(list->names);
}

/* The datasets of file, in name order. */
static mn_status_t list_tensors(hid_t file, const char *path, name_list_t *list) {
  char why[256];
  memset(list, 0, sizeof *list);
  if (H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, collect_dataset, list) < 0 || list->failed)
    return mn_error(MN_ERR_DATA, "%s: cannot list the tensors: %s", path,
                    list->failed ? "a name is too long" : mn_h5_reason(why));
  return MN_OK;
}

/* "ntensors": present, a single integer, and the number of datasets in the file. */
static mn_status_t check_count(hid_t file, const char *path, int n_in_file) {
  int expected = -1;
  mn_status_t st = attr_get(file, path, "", "ntensors", F_I32, &expected);
  if (st == MN_OK && expected != n_in_file)
    st = mn_error(MN_ERR_DATA, "%s: %d tensors in the file, %d written", path, n_in_file, expected);
  return st;
}

/* format first: a file of another kind or a newer version is refused before anything else
 * is read from it. */
static mn_status_t read_format(hid_t file, const char *path, int *format) {
  htri_t exists = H5Aexists(file, "format");
  if (exists == 0)
    return mn_error(MN_ERR_DATA, "%s: not an mn snapshot (no format attribute)", path);
  char *kind = NULL;
  if (exists > 0 && attr_get_string(file, path, "format", &kind) == MN_OK) { /* a dataset? */
    mn_status_t st = mn_error(MN_ERR_DATA, "%s: not an mn snapshot (format is \"%s\")", path, kind);
    free(kind);
    return st;
  }
  int v = 0;
  mn_status_t st = attr_get(file, path, "", "format", F_I32, &v);
  if (st != MN_OK) return st;
  if (v > MN_SNAPSHOT_FORMAT)
    return mn_error(MN_ERR_DATA, "%s: format version %d is newer than this mn supports (%d)", path,
                    v, MN_SNAPSHOT_FORMAT);
  if (v < MN_SNAPSHOT_FORMAT_MIN)
    return mn_error(MN_ERR_DATA, "%s: unknown format version %d", path, v);
  *format = v;
  return MN_OK;
}

static mn_status_t read_meta_attrs(hid_t file, const char *path, mn_snapshot_meta_t *m) {
  mn_status_t st = read_format(file, path, &m->format);
  for (int i = 0; i < NFIELDS && st == MN_OK; i++)
    st = attr_get(file, path, "", g_fields[i].name, g_fields[i].kind,
                  (char *)m + g_fields[i].offset);
  for (int i = 0; i < NSTRINGS && st == MN_OK; i++) {
    const struct string_field *f = &g_strings[i];
    char *s = NULL;
    st = attr_get_string(file, path, f->name, &s);
    if (st != MN_OK) break;
    if (f->cap == 0) {
      *(char **)((char *)m + f->offset) = s;
      continue;
    }
    if (strlen(s) >= f->cap)
      st = mn_error(MN_ERR_DATA, "%s: attribute %s is too long (%zu bytes, %zu at most)", path,
                    f->name, strlen(s), f->cap - 1);
    else
      memcpy((char *)m + f->offset, s, strlen(s) + 1);
    free(s);
  }
  if (st == MN_OK && H5Aexists(file, "data_feature_crc") > 0) { /* absent in older files */
    st = attr_get(file, path, "", "data_feature_crc", F_U32, &m->data_feature_crc);
    m->data_feature_crc_set = st == MN_OK;
  }
  for (int i = 0; i < NOPTIONAL && st == MN_OK; i++) {
    const struct optional_field *f = &g_optional[i];
    double *v = (double *)((char *)m + f->offset);
    *v = f->absent;
    if (H5Aexists(file, f->name) > 0) st = attr_get(file, path, "", f->name, F_F64, v);
  }
  return st;
}

/* What mn could have written: the meaning of the metadata (mn_snapshot_read_meta). */
static mn_status_t check_meta(const char *path, const mn_snapshot_meta_t *m) {
  for (size_t i = 0; i < sizeof g_nonnegative / sizeof *g_nonnegative; i++)
    for (int j = 0; j < NFIELDS; j++)
      if (strcmp(g_fields[j].name, g_nonnegative[i]) == 0 &&
          *(int64_t *)((char *)m + g_fields[j].offset) < 0)
        return mn_error(MN_ERR_DATA, "%s: attribute %s is negative", path, g_nonnegative[i]);
  const struct {
    const char *name;
    long long value;
  } positive[] = {{"world", m->world},
                  {"batch", m->batch},
                  {"data_n", m->data_n},
                  {"data_dim", m->data_dim},
                  {"data_classes", m->data_classes}};
  for (size_t i = 0; i < sizeof positive / sizeof *positive; i++)
    if (positive[i].value < 1)
      return mn_error(MN_ERR_DATA, "%s: attribute %s is %lld (1 at least)", path, positive[i].name,
                      positive[i].value);
  int known = 0;
  for (size_t i = 0; i < sizeof g_reasons / sizeof *g_reasons; i++)
    known |= strcmp(m->reason, g_reasons[i]) == 0;
  if (!known)
    return mn_error(MN_ERR_DATA, "%s: attribute reason is \"%s\" (epoch, interval, stop or final)",
                    path, m->reason);
  if (m->finished != 0 && m->finished != 1)
    return mn_error(MN_ERR_DATA, "%s: attribute finished is %d (0 or 1)", path, m->finished);
  if (m->finished != (strcmp(m->reason, "final") == 0))
    return mn_error(MN_ERR_DATA, "%s: attribute finished is %d but reason is %s", path, m->finished,
                    m->reason);
  if (m->epoch_pos >= m->data_n)
    return mn_error(MN_ERR_DATA,
                    "%s: attribute epoch_pos is %lld, past the end of an epoch of %lld samples",
                    path, (long long)m->epoch_pos, (long long)m->data_n);
  if (m->step < m->epoch + (m->epoch_pos > 0)) /* every epoch begun took a step at least */
    return mn_error(MN_ERR_DATA,
                    "%s: attribute step is %lld, fewer than epoch %lld and epoch_pos "
                    "%lld take",
                    path, (long long)m->step, (long long)m->epoch, (long long)m->epoch_pos);
  if (m->samples < m->step) /* every step took a sample at least */
    return mn_error(MN_ERR_DATA, "%s: attribute samples is %lld, fewer than its %lld steps", path,
                    (long long)m->samples, (long long)m->step);
  return MN_OK;
}

/* The one validation of an open file: every reader's (mn_snapshot.h). */
static mn_status_t validate(hid_t file, const char *path, mn_snapshot_meta_t *m) {
  mn_status_t st = read_meta_attrs(file, path, m);
  if (st == MN_OK) st = check_meta(path, m);
  name_list_t list;
  if (st == MN_OK && (st = list_tensors(file, path, &list)) == MN_OK) {
    st = check_count(file, path, list.n);
    name_list_free(&list);
  }
  return st;
}

mn_status_t mn_snapshot_read_meta(const char *path, mn_snapshot_meta_t *meta) {
  mn_h5_quiet();
  memset(meta, 0, sizeof *meta);
  hid_t file;
  mn_status_t st = open_file(path, &file);
  if (st != MN_OK) return st;
  mn_snapshot_meta_t m;
  memset(&m, 0, sizeof m);
  st = validate(file, path, &m);
  H5Fclose(file);
  if (st != MN_OK) {
    mn_snapshot_meta_free(&m);
    return st;
  }
  *meta = m;
  return MN_OK;
}

/* ---- reading: tensors ------------------------------------------------------------------- */

/* 1 when every component of name exists as a link (so that H5Dopen's failure means damage,
 * not absence). */
static int tensor_exists(hid_t file, const char *name) {
  char prefix[TENSOR_PATH_MAX];
  snprintf(prefix, sizeof prefix, "%s", name);
  for (char *p = prefix;; p++) {
    if (*p != '/' && *p != '\0') continue;
    char c = *p;
    *p = '\0';
    if (H5Lexists(file, prefix, H5P_DEFAULT) <= 0) return 0;
    if (!c) return 1;
    *p = c;
  }
}

/* Open dataset name as a float32 or uint8 tensor; out: its dataset, dtype, ndims and dims. */
static mn_status_t tensor_open(hid_t file, const char *path, const char *name, hid_t *dset,
                               mn_snapshot_dtype_t *dtype, int *ndims,
                               int64_t dims[MN_SNAPSHOT_MAX_DIMS]) {
  char why[256];
  hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
  if (d < 0)
    return mn_error(MN_ERR_DATA, "%s: tensor %s is damaged (cannot open: %s)", path, name,
                    mn_h5_reason(why));
  hid_t t = H5Dget_type(d), s = H5Dget_space(d);
  int rank = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
  hsize_t hd[MN_SNAPSHOT_MAX_DIMS];
  mn_status_t st = MN_OK;
  int f32 = t >= 0 && H5Tget_class(t) == H5T_FLOAT && H5Tget_size(t) == 4;
  int u8 = t >= 0 && H5Tget_class(t) == H5T_INTEGER && H5Tget_size(t) == 1 &&
           H5Tget_sign(t) == H5T_SGN_NONE;
  if (t < 0 || rank < 0)
    st = mn_error(MN_ERR_DATA, "%s: tensor %s is damaged (%s)", path, name, mn_h5_reason(why));
  else if (!f32 && !u8)
    st = mn_error(MN_ERR_DATA, "%s: tensor %s is neither float32 nor uint8", path, name);
  else if (rank > MN_SNAPSHOT_MAX_DIMS)
    st = mn_error(MN_ERR_DATA, "%s: tensor %s has %d dimensions (%d at most)", path, name, rank,
                  MN_SNAPSHOT_MAX_DIMS);
  else if (H5Sget_simple_extent_dims(s, hd, NULL) < 0)
    st = mn_error(MN_ERR_DATA, "%s: tensor %s is damaged (%s)", path, name, mn_h5_reason(why));
  if (t >= 0) H5Tclose(t);
  if (s >= 0) H5Sclose(s);
  if (st != MN_OK) {
    H5Dclose(d);
    return st;
  }
  *dset = d;
  *dtype = u8 ? MN_SNAPSHOT_U8 : MN_SNAPSHOT_F32;
  *ndims = rank;
  for (int i = 0; i < rank; i++) dims[i] = (int64_t)hd[i];
  return MN_OK;
}

static mn_status_t crc_check(const char *path, const char *name, uint32_t stored,
                             uint32_t computed) {
  if (stored == computed) return MN_OK;
  return mn_error(MN_ERR_DATA, "%s: tensor %s is damaged (CRC 0x%08x stored, 0x%08x computed)",
                  path, name, stored, computed);
}

static mn_status_t read_one(hid_t file, const char *path, mn_snapshot_tensor_t *t) {
  char why[256], have[96], want[96];
  if (!tensor_exists(file, t->name))
    return mn_error(MN_ERR_DATA, "%s: tensor %s is missing", path, t->name);
  hid_t d;
  int ndims;
  int64_t dims[MN_SNAPSHOT_MAX_DIMS];
  mn_snapshot_dtype_t dtype;
  mn_status_t st = tensor_open(file, path, t->name, &d, &dtype, &ndims, dims);
  if (st != MN_OK) return st;
  if (dtype != t->dtype) {
    st = mn_error(MN_ERR_DATA, "%s: tensor %s is %s in the snapshot, %s here", path, t->name,
                  dtype_name(dtype), dtype_name(t->dtype));
    goto close_dataset;
  }
  int same = ndims == t->ndims;
  for (int i = 0; same && i < ndims; i++) same = dims[i] == t->dims[i];
  if (!same) {
    mn_shape_string(ndims, dims, have, sizeof have);
    mn_shape_string(t->ndims, t->dims, want, sizeof want);
    st = mn_error(MN_ERR_DATA, "%s: tensor %s is %s in the snapshot, %s here", path, t->name, have,
                  want);
    goto close_dataset;
  }
  size_t count = tensor_count(ndims, dims);
  int bytes = dtype == MN_SNAPSHOT_U8;
  void *data = bytes ? (void *)t->bytes : (void *)t->data;
  if (count > 0 && H5Dread(d, bytes ? H5T_NATIVE_UCHAR : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL,
                           H5P_DEFAULT, data) < 0) {
    st = mn_error(MN_ERR_DATA, "%s: tensor %s is damaged (unreadable: %s)", path, t->name,
                  mn_h5_reason(why));
    goto close_dataset;
  }
  uint32_t stored = 0;
  st = attr_get(d, path, "tensor ", "crc32", F_U32, &stored);
  if (st == MN_OK) st = crc_check(path, t->name, stored, crc_tensor(dtype, data, count));
close_dataset:
  H5Dclose(d);
  return st;
}

mn_status_t mn_snapshot_read_tensors(const char *path, mn_snapshot_tensor_t *tensors,
                                     int ntensors) {
  mn_h5_quiet();
  hid_t file;
  mn_status_t st = open_file(path, &file);
  if (st != MN_OK) return st;
  mn_snapshot_meta_t m;
  memset(&m, 0, sizeof m);
  name_list_t list = {0};
  st = validate(file, path, &m); /* what the scan saw may have changed since */
  mn_snapshot_meta_free(&m);
  for (int i = 0; i < ntensors && st == MN_OK; i++) st = read_one(file, path, &tensors[i]);
  if (st == MN_OK) st = list_tensors(file, path, &list);
  for (int i = 0; i < list.n && st == MN_OK; i++) { /* a tensor nobody asked for */
    int asked = 0;
    for (int k = 0; k < ntensors && !asked; k++)
      asked = strcmp(list.names[i], tensors[k].name) == 0;
    if (!asked)
      st = mn_error(MN_ERR_DATA, "%s: tensor %s is not one of this run's %d tensors", path,
                    list.names[i], ntensors);
  }
  name_list_free(&list);
  H5Fclose(file);
  return st;
}

/* Read tensor d slab by slab along its first dimension: CRC and sum of squares (of the
 * floats, or of the bytes' values). */
static herr_t scan_tensor(hid_t d, mn_snapshot_dtype_t dtype, int ndims, const int64_t *dims,
                          uint32_t *crc, double *sumsq) {
  size_t count = tensor_count(ndims, dims);
  size_t row = ndims > 0 ? count / (dims[0] ? (size_t)dims[0] : 1) : 1;
  hsize_t rows = ndims > 0 ? (hsize_t)dims[0] : 1;
  hsize_t per = row > 0 && row < SLAB_FLOATS ? SLAB_FLOATS / row : 1;
  if (per > rows) per = rows;
  *crc = (uint32_t)crc32(0L, Z_NULL, 0);
  *sumsq = 0;
  if (count == 0) return 0;
  int bytes = dtype == MN_SNAPSHOT_U8;
  void *buf = malloc((size_t)per * row * dtype_size(dtype));
  hid_t fspace = H5Dget_space(d);
  herr_t rc = buf && fspace >= 0 ? 0 : -1;
  for (hsize_t r0 = 0; r0 < rows && rc >= 0; r0 += per) {
    hsize_t start[MN_SNAPSHOT_MAX_DIMS] = {0}, cnt[MN_SNAPSHOT_MAX_DIMS];
    for (int i = 0; i < ndims; i++) cnt[i] = (hsize_t)dims[i];
    hsize_t k = rows - r0 < per ? rows - r0 : per;
    hid_t mspace = -1;
    if (ndims > 0) {
      start[0] = r0;
      cnt[0] = k;
      rc = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, cnt, NULL);
      mspace = rc >= 0 ? H5Screate_simple(ndims, cnt, NULL) : -1;
      if (mspace < 0) rc = -1;
    }
    if (rc >= 0)
      rc = H5Dread(d, bytes ? H5T_NATIVE_UCHAR : H5T_NATIVE_FLOAT, ndims > 0 ? mspace : H5S_ALL,
                   ndims > 0 ? fspace : H5S_ALL, H5P_DEFAULT, buf);
    if (mspace >= 0) H5Sclose(mspace);
    if (rc < 0) break;
    size_t n = (size_t)k * row;
    if (bytes) {
      const unsigned char *b = buf;
      *crc = crc_bytes(*crc, b, n);
      for (size_t i = 0; i < n; i++) *sumsq += (double)b[i] * b[i];
    } else {
      const float *f = buf;
      *crc = crc_floats(*crc, f, n);
      for (size_t i = 0; i < n; i++) *sumsq += (double)f[i] * f[i];
    }
  }
  if (fspace >= 0) H5Sclose(fspace);
  free(buf);
  return rc;
}

/* Fill info for tensor name; MN_OK when it is readable and its CRC matches. */
static mn_status_t inspect_tensor(hid_t file, const char *path, const char *name,
                                  mn_snapshot_tensor_info_t *info) {
  char why[256];
  memset(info, 0, sizeof *info);
  snprintf(info->name, sizeof info->name, "%s", name);
  info->norm = NAN;
  if (strlen(name) >= MN_SNAPSHOT_NAME_MAX)
    return mn_error(MN_ERR_DATA, "%s: tensor name %s is too long (%d bytes at most)", path, name,
                    MN_SNAPSHOT_NAME_MAX - 1);
  hid_t d;
  mn_status_t st = tensor_open(file, path, name, &d, &info->dtype, &info->ndims, info->dims);
  if (st != MN_OK) return st;
  double sumsq;
  if (scan_tensor(d, info->dtype, info->ndims, info->dims, &info->crc_computed, &sumsq) < 0) {
    st = mn_error(MN_ERR_DATA, "%s: tensor %s is damaged (unreadable: %s)", path, name,
                  mn_h5_reason(why));
    goto close_dataset;
  }
  info->readable = 1;
  info->norm = sqrt(sumsq);
  st = attr_get(d, path, "tensor ", "crc32", F_U32, &info->crc_stored);
  if (st == MN_OK) st = crc_check(path, name, info->crc_stored, info->crc_computed);
close_dataset:
  H5Dclose(d);
  return st;
}

mn_status_t mn_snapshot_each_tensor(const char *path,
                                    void (*fn)(const mn_snapshot_tensor_info_t *info, void *user),
                                    void *user) {
  char first[2048] = "";
  mn_h5_quiet();
  hid_t file;
  mn_status_t st = open_file(path, &file);
  if (st != MN_OK) return st;
  int bad = 0;
  name_list_t list = {0};
  st = list_tensors(file, path, &list);
  if (st != MN_OK) goto close_file;
  for (int i = 0; i < list.n; i++) {
    mn_snapshot_tensor_info_t info;
    if (inspect_tensor(file, path, list.names[i], &info) != MN_OK && bad++ == 0)
      snprintf(first, sizeof first, "%s", mn_error_message());
    if (fn) fn(&info, user);
  }
  if (bad > 0) /* the damage says more than the count it makes wrong */
    st = bad == 1 ? mn_error(MN_ERR_DATA, "%s", first)
                  : mn_error(MN_ERR_DATA, "%s (and %d more damaged tensors)", first, bad - 1);
  else
    st = check_count(file, path, list.n);
close_file:
  name_list_free(&list);
  H5Fclose(file);
  return st;
}

mn_status_t mn_snapshot_verify(const char *path) {
  mn_snapshot_meta_t meta;
  mn_status_t st = mn_snapshot_read_meta(path, &meta);
  if (st != MN_OK) return st;
  mn_snapshot_meta_free(&meta);
  return mn_snapshot_each_tensor(path, NULL, NULL);
}
