/* exchange.c: mn/exchange.h: one step's gradient exchange over the runtime's (mn_comm.h),
 * as train.c's step drives it: the step's flags in the control slots of the first bucket,
 * buckets handed over as the front of finished tensors grows, the whole buffer waited for,
 * then the mean and the finite check with the norm in one pass.
 *
 * The front: tensors lie in the buffer in reverse order of addition (params.c), so the
 * buffer up to the k-th tensor from its start is final once that tensor and every one
 * before it in the buffer is; mn_grads_ready hands the exchange everything up to the first
 * tensor not yet ready. */
#include <math.h>
#include <string.h>

#include "mn_api.h"
#include "mn_preempt.h"

/* the tensor k-th from the buffer's start: the (k+1)-th from the end of the additions */
static const mn_tensor_t *at(const mn_params_t *p, int k) {
  return &p->tensors.t[p->tensors.n - 1 - k];
}

/* st, with the rank the exchange blamed for it kept in the world (mn_world_failed_rank). */
static mn_status_t noted(mn_params_t *p, mn_status_t st) {
  if (st != MN_OK && p->w->failed_rank < 0) p->w->failed_rank = p->comm.failed_rank;
  return st;
}

mn_status_t mn_grads_begin(mn_params_t *p) {
  if (!p || !p->committed) return MN_API_USAGE("mn_grads_begin", "before mn_params_commit");
  if (p->open) return MN_API_USAGE("mn_grads_begin", "the step before has not ended (mn_grads_end)");
  /* the step before's buckets, with the deadline: what follows may wait behind them */
  mn_status_t st = mn_comm_grads_drain(&p->comm);
  if (st != MN_OK) return noted(p, st);
  float control[MN_API_SLOTS] = {0};
  control[MN_API_SLOT_STOP] = mn_preempt_requested() ? 1.0f : 0.0f;
  memset(p->ready, 0, (size_t)p->tensors.n);
  p->front = 0;
  p->open = 1;
  p->send_status = mn_comm_grads_start(&p->comm, control, MN_API_SLOTS);
  return MN_OK;
}

mn_status_t mn_grads_ready(mn_params_t *p, int i) {
  if (!p || !p->open) return MN_API_USAGE("mn_grads_ready", "outside mn_grads_begin/end");
  if (i < 0 || i >= p->tensors.n)
    return MN_API_USAGE("mn_grads_ready", "tensor %d of %d does not exist", i, p->tensors.n);
  p->ready[i] = 1;
  int k = 0;
  while (k < p->tensors.n && p->ready[p->tensors.n - 1 - k]) k++;
  int64_t upto = k < p->tensors.n ? at(p, k)->offset : p->tensors.size;
  if (upto > p->front && p->send_status == MN_OK) {
    p->front = upto;
    p->send_status = mn_comm_grads_ready(&p->comm, upto);
  }
  return MN_OK;
}

mn_status_t mn_grads_set_op(mn_params_t *p, mn_reduce_t op) {
  if (!p || !p->committed) return MN_API_USAGE("mn_grads_set_op", "before mn_params_commit");
  if (p->open) return MN_API_USAGE("mn_grads_set_op", "inside a step (mn_grads_begin/end)");
  if (op != MN_AVERAGE && op != MN_SUM)
    return MN_API_USAGE("mn_grads_set_op", "op %d: MN_AVERAGE or MN_SUM", (int)op);
  p->op = op;
  return MN_OK;
}

mn_status_t mn_grads_drain(mn_params_t *p) {
  if (!p || !p->committed) return MN_API_USAGE("mn_grads_drain", "before mn_params_commit");
  if (p->open) return MN_API_USAGE("mn_grads_drain", "inside a step (mn_grads_begin/end)");
  return noted(p, mn_comm_grads_drain(&p->comm));
}

void mn_grads_shutdown(mn_params_t *p) {
  if (p && p->committed) mn_comm_release_device(&p->comm);
}

const char *mn_grads_path(const mn_params_t *p) {
  return p && p->committed ? mn_comm_path_name(p->comm.path) : "";
}

/* Raise control slot `slot` for this step (mn_grads_fail, mn_grads_nonfinite_loss). */
static mn_status_t raise(const char *fn, mn_params_t *p, int slot) {
  if (!p || !p->open) return mn_error(MN_ERR_USAGE, "%s: outside mn_grads_begin/end", fn);
  if (p->front > 0)
    return mn_error(MN_ERR_USAGE,
                    "%s: after mn_grads_ready: the flags have left with the "
                    "first bucket; call it before",
                    fn);
  mn_comm_grads_raise(&p->comm, slot, 1.0f);
  return MN_OK;
}

mn_status_t mn_grads_fail(mn_params_t *p) { return raise("mn_grads_fail", p, MN_API_SLOT_FAILED); }

mn_status_t mn_grads_nonfinite_loss(mn_params_t *p) {
  return raise("mn_grads_nonfinite_loss", p, MN_API_SLOT_LOSS);
}

mn_status_t mn_grads_end(mn_params_t *p, mn_step_flags_t *flags) {
  if (!p || !p->open) return MN_API_USAGE("mn_grads_end", "without mn_grads_begin");
  p->open = 0;
  mn_world_t *w = p->w;
  float control[MN_API_SLOTS] = {0};
  mn_status_t st = p->send_status;
  if (st == MN_OK) st = mn_comm_grads_finish(&p->comm);
  if (st == MN_OK) st = mn_comm_grads_control(&p->comm, control, MN_API_SLOTS);
  if (st == MN_OK) st = mn_comm_grads_wait(&p->comm, 0, p->tensors.size);
  if (st != MN_OK) return noted(p, st);
  /* the slots are sums of 0s and 1s, exact in any order: every rank reads the same */
  mn_step_flags_t f = {.grad_norm = NAN};
  f.failed = control[MN_API_SLOT_FAILED] != 0.0f;
  f.stop = control[MN_API_SLOT_STOP] != 0.0f;
  f.nonfinite_loss_ranks = (int)control[MN_API_SLOT_LOSS];
  if (!f.failed) {
    if (w->comm.world > 1 && p->op == MN_AVERAGE)
      w->k->scale(&w->dev.ctx, p->grads, p->tensors.size, 1.0f / (float)w->comm.world);
    /* a NaN or Inf of any rank's gradient makes the sum non-finite whatever the order of the
     * additions, and every rank holds the same sum: every rank counts the same */
    double sumsq = 0;
    f.nonfinite_values = w->k->count_nonfinite(&w->dev.ctx, p->grads, p->tensors.size, &sumsq);
    f.nonfinite = f.nonfinite_values > 0 || f.nonfinite_loss_ranks > 0;
    f.grad_norm = f.nonfinite ? NAN : sqrt(sumsq);
  }
  if (flags) *flags = f;
  return MN_OK;
}
