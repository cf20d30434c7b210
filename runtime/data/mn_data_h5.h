/* mn_data_h5.h: HDF5 checks shared by the dataset readers of runtime/data (private to it):
 * the sample reader (data.c) and the token reader (tokens.c). Every failure is a status with
 * an mn_error message naming the file and the dataset; nothing logs. */
#ifndef MN_DATA_H5_H
#define MN_DATA_H5_H

#include <hdf5.h>
#include <stddef.h>

#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Open an input read-only: MN_ERR_NOINPUT when it is missing, a directory or not a regular
 * file (a FIFO or a device could block forever), MN_ERR_DATA when it is not HDF5. out: file. */
mn_status_t mn_data_open_file(const char *path, hid_t *file);
/* 1 when the file has a link `name` (an object of any kind), else 0. */
int mn_data_has(hid_t file, const char *name);
/* Hash slots of a dataset's chunk cache: a prime well above the number of chunks the
 * cache can hold. */
#define MN_DATA_CACHE_SLOTS 12421
/* Open dataset `name` with a chunk cache of cache_bytes. out: dset. */
mn_status_t mn_data_open_dataset(const char *path, hid_t file, const char *name, size_t cache_bytes,
                                 hid_t *dset);
/* "int32 [100]", "float32 [60000, 784]", "uint16 scalar": a dataset for messages. */
void mn_data_describe(hid_t dset, char *buf, size_t len);
/* The shape dims[rank] the dataset declares is backed by data written to the file
 * (chunked: every chunk in the chunk index; contiguous: at least nbytes stored; virtual
 * datasets refused), checked before any read so that a declared 2^40 rows in a small file
 * is refused at once. */
mn_status_t mn_data_check_storage(const char *path, const char *name, hid_t dset, int rank,
                                  const hsize_t *dims, hsize_t nbytes);

#ifdef __cplusplus
}
#endif
#endif /* MN_DATA_H5_H */
