/* params.c: mn/params.h: a trainer's named parameter tensors, over the runtime's registry
 * (mn_tensors.h: the same layout as mntrain's models, reverse order of addition, aligned)
 * and the exchange's gradient buffer (mn_comm.h: the gradients live behind its control
 * slots, so that a step's flags ride in its first bucket).
 *
 * The registry ties a second declaration of a name to the first (GPT-2's shared
 * embedding); a trainer's second add of a name is more likely a mistake, so it is refused
 * here. The commit is collective: it duplicates the world's communicator for the exchange
 * and agrees on the gradient path. */
#include <stdlib.h>
#include <string.h>

#include "mn_api.h"

mn_status_t mn_params_create(mn_world_t *w, mn_params_t **p) {
  if (!w || !p) return MN_API_USAGE("mn_params_create", "world or p is NULL");
  *p = NULL;
  if (!w->k) return MN_API_USAGE("mn_params_create", "the world has no device (mn_init failed)");
  mn_params_t *t = calloc(1, sizeof *t);
  if (!t) return mn_error(MN_ERR_NOMEM, "mn_params_create: out of memory");
  t->w = w;
  t->comm.comm = MPI_COMM_NULL;
  t->op = MN_AVERAGE;
  *p = t;
  return MN_OK;
}

void mn_params_free(mn_params_t *p) {
  if (!p) return;
  for (mn_net_t *n = p->nets; n; n = n->next) n->p = NULL; /* (their calls say so now) */
  mn_comm_free(&p->comm); /* the gradients with it */
  if (p->params) p->w->k->release(p->params);
  mn_tensors_free(&p->tensors);
  free(p->ready);
  free(p);
}

static mn_status_t check_name(const mn_params_t *p, const char *name) {
  if (!name || !name[0]) return MN_API_USAGE("mn_params_add", "the name is empty");
  if (strlen(name) >= MN_PARAM_NAME_MAX)
    return MN_API_USAGE("mn_params_add", "the name \"%.40s...\" is longer than %d bytes", name,
                        MN_PARAM_NAME_MAX - 1);
  for (const char *c = name; *c; c++)
    if ((unsigned char)*c < 0x21 || *c == 0x7f || *c == '"' || *c == '\\')
      return MN_API_USAGE("mn_params_add", "\"%s\": a name holds no spaces, quotes, backslashes or control characters", name);
  if (mn_tensors_find(&p->tensors, name) >= 0)
    return MN_API_USAGE("mn_params_add", "\"%s\" was added before", name);
  return MN_OK;
}

mn_status_t mn_params_add(mn_params_t *p, const char *name, int ndims, const int64_t *dims,
                          mn_param_role_t role, int *index) {
  if (!p) return MN_API_USAGE("mn_params_add", "p is NULL");
  if (p->committed)
    return MN_API_USAGE("mn_params_add", "\"%s\": the parameters were committed already",
                        name ? name : "(null)");
  mn_status_t st = check_name(p, name);
  if (st != MN_OK) return st;
  if (ndims < 1 || ndims > MN_PARAM_MAX_DIMS || !dims)
    return MN_API_USAGE("mn_params_add", "\"%s\": %d dimensions (1 to %d)", name, ndims,
                        MN_PARAM_MAX_DIMS);
  for (int d = 0; d < ndims; d++)
    if (dims[d] < 1)
      return MN_API_USAGE("mn_params_add", "\"%s\": dimension %d is %lld (at least 1)", name, d,
                          (long long)dims[d]);
  if (role < MN_PARAM_WEIGHT || role > MN_PARAM_EMBEDDING)
    return MN_API_USAGE("mn_params_add", "\"%s\": role %d is not an mn_param_role_t", name,
                        (int)role);
  int i = mn_tensors_declare(&p->tensors, name, ndims, dims, (mn_role_t)role);
  if (i < 0) return (mn_status_t)i;
  if (index) *index = i;
  return MN_OK;
}

/* FNV-1a over the tensors' names and shapes in order: the same on every rank, or the
 * ranks added different tensors */
static uint64_t layout_hash(const mn_tensors_t *r) {
  uint64_t h = 1469598103934665603ull;
  for (int i = 0; i < r->n; i++) {
    const mn_tensor_t *t = &r->t[i];
    for (const char *c = t->name; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ull;
    for (int d = 0; d < t->ndims; d++) h = (h ^ (uint64_t)t->dims[d]) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
  }
  return h;
}

/* Collective: every rank added the same tensors (names, shapes, order). */
static mn_status_t check_same(mn_params_t *p) {
  int64_t h[2];
  h[0] = (int64_t)(layout_hash(&p->tensors) >> 1);
  h[1] = -h[0];
  mn_status_t st = mn_allreduce(p->w, h, 2, MN_INT64, MN_MAX);
  if (st == MN_OK && h[0] != -h[1])
    return MN_API_USAGE("mn_params_commit", "the ranks added different tensors (names, shapes "
                                            "or order): every rank must add the same");
  return st;
}

mn_status_t mn_params_commit(mn_params_t *p) {
  if (!p) return MN_API_USAGE("mn_params_commit", "p is NULL");
  mn_status_t st = p->committed        ? MN_API_USAGE("mn_params_commit", "committed twice")
                   : p->tensors.n == 0 ? MN_API_USAGE("mn_params_commit", "no tensor was added")
                                       : MN_OK;
  mn_world_t *w = p->w;
  if (st == MN_OK) {
    mn_tensors_layout(&p->tensors);
    p->ready = calloc((size_t)p->tensors.n, 1);
    p->params = w->k->alloc((size_t)p->tensors.size * sizeof(float)); /* zeroed */
    if (!p->ready || !p->params) st = mn_error(MN_ERR_NOMEM, "mn_params_commit: out of memory");
  }
  if (st == MN_OK) st = mn_comm_init(&p->comm, w->comm.comm, w->bucket_mb);
  st = mn_agree(w, st, NULL);
  if (st == MN_OK) st = check_same(p);
  if (st == MN_OK) st = mn_comm_use_device(&p->comm, &w->dev, w->backend, w->timeout_s);
  st = mn_agree(w, st, NULL);
  if (st == MN_OK) st = mn_comm_grads_alloc(&p->comm, p->tensors.size, &p->grads);
  /* the exchange's check of the gradient (count_nonfinite over all of it) */
  if (st == MN_OK)
    st = mn_device_workspace_reserve(&w->dev, w->k->count_nonfinite_workspace(p->tensors.size));
  for (mn_net_t *n = p->nets; st == MN_OK && n; n = n->next) st = mn_api_net_build(n);
  st = mn_agree(w, st, NULL);
  if (st == MN_OK) p->committed = 1;
  return st;
}

int mn_params_count(const mn_params_t *p) { return p ? p->tensors.n : 0; }
int64_t mn_params_values(const mn_params_t *p) { return p ? p->tensors.values : 0; }
int mn_params_find(const mn_params_t *p, const char *name) {
  return p && name ? mn_tensors_find(&p->tensors, name) : -1;
}

static const mn_tensor_t *tensor(const mn_params_t *p, int i) {
  return p && i >= 0 && i < p->tensors.n ? &p->tensors.t[i] : NULL;
}

const char *mn_params_name(const mn_params_t *p, int i) {
  const mn_tensor_t *t = tensor(p, i);
  return t ? t->name : NULL;
}

int64_t mn_params_numel(const mn_params_t *p, int i) {
  const mn_tensor_t *t = tensor(p, i);
  return t ? t->count : 0;
}

float *mn_params_data(mn_params_t *p, int i) {
  const mn_tensor_t *t = tensor(p, i);
  return t && p->committed ? p->params + t->offset : NULL;
}

float *mn_params_grad(mn_params_t *p, int i) {
  const mn_tensor_t *t = tensor(p, i);
  return t && p->committed ? p->grads + t->offset : NULL;
}

/* The tensor a copy in or out names, checked. */
static mn_status_t copy_target(const char *fn, const mn_params_t *p, int i, const float *host,
                               int64_t count, const mn_tensor_t **out) {
  if (!p) return mn_error(MN_ERR_USAGE, "%s: p is NULL", fn);
  if (!p->committed) return mn_error(MN_ERR_USAGE, "%s: before mn_params_commit", fn);
  const mn_tensor_t *t = tensor(p, i);
  if (!t)
    return mn_error(MN_ERR_USAGE, "%s: tensor %d of %d does not exist", fn, i, p->tensors.n);
  if (!host) return mn_error(MN_ERR_USAGE, "%s: \"%s\": the host buffer is NULL", fn, t->name);
  if (count != t->count)
    return mn_error(MN_ERR_USAGE, "%s: \"%s\" holds %lld values, the buffer %lld", fn, t->name,
                    (long long)t->count, (long long)count);
  *out = t;
  return MN_OK;
}

mn_status_t mn_params_set(mn_params_t *p, int i, const float *host, int64_t count) {
  const mn_tensor_t *t = NULL;
  mn_status_t st = copy_target("mn_params_set", p, i, host, count, &t);
  if (st != MN_OK) return st;
  p->w->k->upload(&p->w->dev.ctx, p->params + t->offset, host, (size_t)count * sizeof *host);
  return MN_OK;
}

mn_status_t mn_params_get(const mn_params_t *p, int i, float *host, int64_t count) {
  const mn_tensor_t *t = NULL;
  mn_status_t st = copy_target("mn_params_get", p, i, host, count, &t);
  if (st != MN_OK) return st;
  p->w->k->download(&p->w->dev.ctx, host, p->params + t->offset, (size_t)count * sizeof *host);
  return MN_OK;
}

mn_status_t mn_params_broadcast(mn_params_t *p) {
  if (!p || !p->committed) return MN_API_USAGE("mn_params_broadcast", "before mn_params_commit");
  mn_world_t *w = p->w;
  size_t nbytes = (size_t)p->tensors.size * sizeof(float);
  float *host = malloc(nbytes);
  mn_status_t st = mn_agree(w, host ? MN_OK : mn_error(MN_ERR_NOMEM, "mn_params_broadcast: "
                                                                     "out of memory"),
                            NULL);
  if (st == MN_OK) {
    w->k->download(&w->dev.ctx, host, p->params, nbytes);
    st = mn_comm_bcast_f32(&w->comm, host, p->tensors.size);
  }
  if (st == MN_OK) w->k->upload(&w->dev.ctx, p->params, host, nbytes);
  free(host);
  return st;
}

mn_status_t mn_params_zero_grads(mn_params_t *p) {
  if (!p || !p->committed) return MN_API_USAGE("mn_params_zero_grads", "before mn_params_commit");
  size_t nbytes = (size_t)p->tensors.size * sizeof(float);
  float *zeros = calloc(1, nbytes);
  if (!zeros) return mn_error(MN_ERR_NOMEM, "mn_params_zero_grads: out of memory");
  p->w->k->upload(&p->w->dev.ctx, p->grads, zeros, nbytes);
  free(zeros);
  return MN_OK;
}
