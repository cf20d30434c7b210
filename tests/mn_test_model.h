/* mn_test_model.h: what the model core's tests (test_model_grad, test_layers) share about
 * buffers laid out by the registry (mn_tensors.h): the padding between tensors, which must
 * stay 0, and filling the tensors alone. */
#ifndef MN_TEST_MODEL_H
#define MN_TEST_MODEL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mn_tensors.h"

/* Padding entries of buf (laid out by r, outside every tensor) that are not 0. */
static inline int64_t mn_test_padding_nonzero(const mn_tensors_t *r, const float *buf) {
  char *inside = calloc((size_t)r->size + 1, 1);
  int64_t bad = 0;
  if (!inside) return -1;
  for (int i = 0; i < r->n; i++) memset(inside + r->t[i].offset, 1, (size_t)r->t[i].count);
  for (int64_t i = 0; i < r->size; i++) bad += !inside[i] && buf[i] != 0.0f;
  free(inside);
  return bad;
}

/* Every entry of every tensor of buf (not the padding) set to v. */
static inline void mn_test_fill_tensors(const mn_tensors_t *r, float *buf, float v) {
  for (int i = 0; i < r->n; i++)
    for (int64_t j = 0; j < r->t[i].count; j++) buf[r->t[i].offset + j] = v;
}

#endif /* MN_TEST_MODEL_H */
