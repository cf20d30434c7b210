/* tensors.c: the parameter registry of mn_tensors.h: declaration (with ties), layout and
 * lookup. No kernels, no memory of a back end: offsets only. */
#include "mn_tensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mn_log.h"
#include "mn_shape.h"

int mn_tensors_find(const mn_tensors_t *r, const char *name) {
  for (int i = 0; i < r->n; i++)
    if (!strcmp(r->t[i].name, name)) return i;
  return -1;
}

/* A tie must be the same tensor: same shape and role. */
static int tie(mn_tensors_t *r, int i, int ndims, const int64_t *dims, mn_role_t role) {
  mn_tensor_t *t = &r->t[i];
  int same = t->ndims == ndims && t->role == role;
  for (int d = 0; same && d < ndims; d++) same = t->dims[d] == dims[d];
  if (!same) {
    char a[96], b[96];
    mn_shape_string(t->ndims, t->dims, a, sizeof a);
    mn_shape_string(ndims, dims, b, sizeof b);
    return mn_error(MN_ERR_INTERNAL, "model: tensor %s declared twice: %s %s, then %s %s", t->name,
                    a, mn_tensor_role_name(t->role), b, mn_tensor_role_name(role));
  }
  t->uses++;
  return i;
}

int mn_tensors_declare(mn_tensors_t *r, const char *name, int ndims, const int64_t *dims,
                       mn_role_t role) {
  MN_ASSERT(!r->laid_out);
  size_t len = strlen(name);
  if (len == 0 || len >= MN_TENSOR_NAME_MAX || ndims < 1 || ndims > MN_TENSOR_MAX_DIMS ||
      role < 0 || role >= MN_ROLE_COUNT)
    return mn_error(MN_ERR_INTERNAL, "model: bad tensor declaration \"%.80s\" (%d dims)", name,
                    ndims);
  int64_t count = 1;
  for (int d = 0; d < ndims; d++) {
    if (dims[d] < 1)
      return mn_error(MN_ERR_INTERNAL, "model: tensor %s: dimension %d is %lld", name, d,
                      (long long)dims[d]);
    count *= dims[d];
  }
  int i = mn_tensors_find(r, name);
  if (i >= 0) return tie(r, i, ndims, dims, role);
  if (r->n == r->cap) {
    int cap = r->cap ? 2 * r->cap : 16;
    mn_tensor_t *t = realloc(r->t, sizeof *t * (size_t)cap);
    if (!t) return mn_error(MN_ERR_NOMEM, "model: out of memory declaring %s", name);
    r->t = t;
    r->cap = cap;
  }
  mn_tensor_t *t = &r->t[r->n];
  memset(t, 0, sizeof *t);
  memcpy(t->name, name, len + 1);
  t->ndims = ndims;
  memcpy(t->dims, dims, sizeof *dims * (size_t)ndims);
  t->dtype = MN_DTYPE_F32;
  t->role = role;
  t->count = count;
  t->uses = 1;
  return r->n++;
}

void mn_tensors_layout(mn_tensors_t *r) {
  const int64_t align = MN_TENSOR_ALIGN / (int64_t)sizeof(float);
  int64_t off = 0, values = 0;
  for (int i = r->n - 1; i >= 0; i--) {
    r->t[i].offset = off;
    off += (r->t[i].count + align - 1) / align * align;
    values += r->t[i].count;
  }
  r->size = off;
  r->values = values;
  r->laid_out = 1;
}

void mn_tensors_free(mn_tensors_t *r) {
  free(r->t);
  memset(r, 0, sizeof *r);
}
