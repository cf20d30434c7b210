/* mn_shape.h: a tensor's shape as text, for messages ("params/0.weight is 512x784 in the
 * snapshot, 1024x784 here"), shared by the registry and the snapshot files. */
#ifndef MN_SHAPE_H
#define MN_SHAPE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* dims[0, ndims) as "768x3072" ("scalar" for 0 dims) into buf[len], truncated to fit and
 * always terminated. */
void mn_shape_string(int ndims, const int64_t *dims, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* MN_SHAPE_H */
