/* mn_safetensors.h: named float32 tensors in the safetensors format, for other tools.
 *
 * safetensors (huggingface/safetensors, docs/export.md) is an 8-byte little-endian header
 * length N, an N-byte JSON header { "NAME": {"dtype", "shape", "data_offsets": [begin,
 * end]}, ..., "__metadata__": {string: string} }, then the raw little-endian tensor bytes,
 * offsets relative to the end of the header. PyTorch (safetensors.torch.load_file), NumPy,
 * JAX and most model hubs read it without mn. This module writes F32 tensors and reads them
 * back by name, checking dtype, shape and every offset against the file's size. It knows
 * nothing of models or snapshots' metadata. */
#ifndef MN_SAFETENSORS_H
#define MN_SAFETENSORS_H

#include "mn_snapshot.h"
#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Write tensors t[0, n) (F32, in this order) and the metadata pairs meta[0, 2*nmeta) (key,
 * value, key, value, ...) to path, atomically: under a temporary name beside it, fsync'd,
 * renamed. Errors: MN_ERR_IO naming the path and the reason (nothing left behind);
 * MN_ERR_USAGE for a name given twice or "__metadata__". */
mn_status_t mn_safetensors_write(const char *path, const mn_snapshot_tensor_t *t, int n,
                                 const char *const *meta, int nmeta);

/* Read the named tensors into the caller's buffers (t[i].name, ndims, dims and data set by
 * the caller). Errors: MN_ERR_NOINPUT when the file is missing; MN_ERR_DATA naming the path
 * and, where it applies, the tensor: not a safetensors file (a header length beyond the file,
 * bad JSON, offsets out of the data or overlapping), a missing tensor, another dtype than
 * F32, another shape ("0.weight is 10x64 in the file, 10x32 here"). */
mn_status_t mn_safetensors_read(const char *path, mn_snapshot_tensor_t *t, int n);

/* The value of metadata key in the file's "__metadata__" (out: value; "" when absent). */
mn_status_t mn_safetensors_metadata(const char *path, const char *key, char *value, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* MN_SAFETENSORS_H */
