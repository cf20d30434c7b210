/* mn/params.h: a trainer's parameters: named tensors in one registry, each with its
 * gradient, in the memory of the rank's device.
 *
 * A trainer adds its tensors by name and shape (mn_params_add), then commits the registry
 * (mn_params_commit): the tensors are laid out in one flat buffer for the parameters and
 * one for the gradients (the exchange reduces the gradients in large buckets, never a
 * message per tensor; the optimizer keeps its states laid out the same), zeroed, and the
 * views of each are fixed from then on. Tensors are laid out in reverse order of addition:
 * add them in forward order and backward, which runs in reverse, finishes the buffer front
 * to back, so that the exchange can send its first buckets while backward goes on.
 *
 * Values come in three ways: written through mn_params_data's view, copied from a host
 * buffer of the trainer's (mn_params_set: a trainer's existing arrays are handed over
 * so), or restored from a snapshot (mn/state.h). Parameters must be the same on every rank
 * before the first step: initialise them from the same seed everywhere, or on rank 0 and
 * mn_params_broadcast. The names are the snapshot's ("params/<name>") and export's. */
#ifndef MN_PUBLIC_PARAMS_H
#define MN_PUBLIC_PARAMS_H

#include <stdint.h>

#include <mn/status.h>
#include <mn/world.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_params mn_params_t;

#define MN_PARAM_NAME_MAX 64 /* bytes, the terminating 0 included */
#define MN_PARAM_MAX_DIMS 4

/* What a tensor is to the optimizer: weight decay skips biases, norms and embeddings
 * (PyTorch's and nanoGPT's usual groups; mn_optim_opts_t.no_decay chooses). */
typedef enum {
  MN_PARAM_WEIGHT = 0,
  MN_PARAM_BIAS = 1,
  MN_PARAM_NORM = 2,
  MN_PARAM_EMBEDDING = 3,
} mn_param_role_t;

/* An empty registry on world's device. out: *p. */
mn_status_t mn_params_create(mn_world_t *w, mn_params_t **p);
/* Free the registry and its buffers (NULL: nothing). */
void mn_params_free(mn_params_t *p);

/* Add a tensor of shape dims[0, ndims) (1 to MN_PARAM_MAX_DIMS dims, each >= 1), before
 * mn_params_commit. out: *index (may be NULL), its index from 0 in order of addition.
 * MN_ERR_USAGE, saying which: after the commit, an empty or too long name, a name already
 * added, a bad shape or role. */
mn_status_t mn_params_add(mn_params_t *p, const char *name, int ndims, const int64_t *dims,
                          mn_param_role_t role, int *index);
/* Collective: lay out and allocate the parameters and gradients, all 0, and set up the
 * exchange of the gradients (mn/exchange.h). Every rank adds the same tensors in the same
 * order. MN_ERR_USAGE when no tensor was added or it was committed before; MN_ERR_NOMEM. */
mn_status_t mn_params_commit(mn_params_t *p);

/* ---- after the commit ----------------------------------------------------------------- */

int mn_params_count(const mn_params_t *p);     /* tensors */
int64_t mn_params_values(const mn_params_t *p); /* their elements, all together */
/* The index of the tensor called name, or -1. */
int mn_params_find(const mn_params_t *p, const char *name);
/* Tensor i's name, and its element count (0 for an index out of range, name NULL). */
const char *mn_params_name(const mn_params_t *p, int i);
int64_t mn_params_numel(const mn_params_t *p, int i);
/* Views of tensor i's values and gradient ([numel] floats of the device's memory, row
 * major), fixed until mn_params_free; NULL before the commit or out of range. */
float *mn_params_data(mn_params_t *p, int i);
float *mn_params_grad(mn_params_t *p, int i);

/* Copy count floats of host memory into tensor i's values (to its device), or out of them.
 * MN_ERR_USAGE for an index out of range, before the commit, or count != numel (a
 * wrong-size buffer, saying both sizes). */
mn_status_t mn_params_set(mn_params_t *p, int i, const float *host, int64_t count);
mn_status_t mn_params_get(const mn_params_t *p, int i, float *host, int64_t count);
/* Collective: rank 0's values of every tensor to every rank. */
mn_status_t mn_params_broadcast(mn_params_t *p);
/* Set every gradient to 0 (before a step that adds into them). */
mn_status_t mn_params_zero_grads(mn_params_t *p);

#ifdef __cplusplus
}
#endif
#endif /* MN_PUBLIC_PARAMS_H */
