/* mn_tensors.h: the parameter registry: every parameter of a model is a named tensor inside
 * one flat buffer.
 *
 * Layers declare their tensors by name and shape (mn_tensors_declare); the registry then
 * lays them out (mn_tensors_layout) in one flat buffer, which the model allocates once for
 * the parameters and once for the gradients (same layout), and the optimizer once per state
 * it keeps (same layout again: velocity; m and v). Everything that walks a model's state —
 * the optimizer's weight-decay exclusions, snapshots, resume, export, mninfo — iterates this
 * table and never knows which layer a tensor belongs to.
 *
 * Layout. Each tensor starts on an MN_TENSOR_ALIGN-byte boundary (cuBLAS's fast paths and
 * vector loads want it; the flat buffers themselves come from the kernel table's alloc,
 * which aligns at least as much); the padding between tensors is never written and stays
 * 0. Tensors are laid out in reverse order of declaration: layers declare in forward order,
 * backward runs in reverse, so the gradients fill the buffer front to back and the
 * exchange can send its first buckets while backward goes on.
 *
 * Tied tensors. A layer that declares a name already declared, with the same shape, gets the
 * same tensor (GPT-2's token embedding and output head): one parameter, one gradient,
 * which both users add into. It is laid out by its first declaration, so its gradient is
 * complete only when backward has passed its first user, which is where the layout puts
 * it. */
#ifndef MN_TENSORS_H
#define MN_TENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "mn_config.h"
#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MN_TENSOR_NAME_MAX 64
#define MN_TENSOR_MAX_DIMS 4
#define MN_TENSOR_ALIGN 256 /* bytes */

/* A tensor's role (weight, bias, norm, embedding: what it is to the optimizer, whose
 * optimizer.no_decay names the roles weight decay skips) is mn_config.h's
 * mn_tensor_role_t. */
typedef mn_tensor_role_t mn_role_t;

typedef enum { MN_DTYPE_F32 = 0 } mn_tensor_dtype_t;

typedef struct mn_tensor {
  char name[MN_TENSOR_NAME_MAX]; /* "0.weight", "h.3.attn.c_attn.bias" */
  int ndims;
  int64_t dims[MN_TENSOR_MAX_DIMS];
  mn_tensor_dtype_t dtype;
  mn_role_t role;
  int64_t count;  /* prod(dims) */
  int64_t offset; /* into the flat buffers, in elements (set by mn_tensors_layout) */
  int uses;       /* declarations: 2 or more for a tied tensor */
} mn_tensor_t;

typedef struct mn_tensors {
  mn_tensor_t *t; /* [n], in order of first declaration */
  int n, cap;
  int64_t size;   /* elements of a flat buffer, padding included (after layout) */
  int64_t values; /* elements of the tensors alone: the model's parameter count */
  int laid_out;
} mn_tensors_t;

/* Declare a tensor of shape dims[0, ndims) (1 to MN_TENSOR_MAX_DIMS dims, each >= 1) and
 * role, or tie to the tensor of that name declared before (same shape and role required).
 * Before mn_tensors_layout only. Returns its index (>= 0), or a negative mn_status_t:
 * MN_ERR_INTERNAL for a bad shape or name, or a tie of another shape (naming both);
 * MN_ERR_NOMEM. */
int mn_tensors_declare(mn_tensors_t *r, const char *name, int ndims, const int64_t *dims,
                       mn_role_t role);

/* Give every tensor its offset (reverse order of first declaration, each aligned) and set
 * size and values. */
void mn_tensors_layout(mn_tensors_t *r);

/* The index of the tensor called name, or -1. */
int mn_tensors_find(const mn_tensors_t *r, const char *name);


void mn_tensors_free(mn_tensors_t *r);

#ifdef __cplusplus
}
#endif
#endif /* MN_TENSORS_H */
