/* mn/exchange.h: the data-parallel gradient exchange of one step: the mean of the ranks'
 * gradients, allreduced in buckets that overlap backward.
 *
 * A step: mn_grads_begin; backward, calling mn_grads_ready(i) as each tensor's gradient
 * is final (optional: a step that calls none still works, without the overlap); then
 * mn_grads_end, which sends what is left, waits for every bucket, makes the gradients the
 * mean over the ranks, and says whether any rank was asked to stop and whether any
 * gradient is NaN or infinite, the same answer on every rank (the flags ride in the first
 * bucket: no extra collective). On a GPU with NCCL a bucket leaves as soon as it is full;
 * on the CPU the buckets go at mn_grads_end. Buckets are of mn_init_opts_t.bucket_mb.
 *
 * The parameters' layout (mn/params.h) puts the tensors added last first, so that a
 * backward in reverse order of addition fills the buckets in order. A tensor made ready
 * out of that order is sent with the first bucket that is whole. */
#ifndef MN_PUBLIC_EXCHANGE_H
#define MN_PUBLIC_EXCHANGE_H

#include <stdint.h>

#include <mn/params.h>
#include <mn/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What every rank learns at the end of a step's exchange. */
typedef struct mn_step_flags {
  int stop;           /* a stop signal reached some rank: stop after this step */
  int nonfinite;      /* some gradient value is NaN or infinite: do not step on it */
  int failed;         /* some rank called mn_grads_fail this step */
  double grad_norm;   /* the L2 norm of the mean gradient (NaN when nonfinite) */
} mn_step_flags_t;

/* Begin a step's exchange (after mn_params_commit). MN_ERR_USAGE before the commit or
 * while a step's exchange is open. */
mn_status_t mn_grads_begin(mn_params_t *p);
/* Tensor i's gradient is final for this step (backward has written it): the buckets it
 * completes may leave now. MN_ERR_USAGE outside begin/end or for a bad index. */
mn_status_t mn_grads_ready(mn_params_t *p, int i);
/* This rank could not compute its step (its batch failed to read, say): every rank's
 * mn_grads_end then reports failed, and none should step. */
mn_status_t mn_grads_fail(mn_params_t *p);
/* Finish the step's exchange: every gradient is the mean over the ranks when this
 * returns. out: *flags (may be NULL). MN_ERR_PEER when a rank died or a GPU collective
 * timed out (never a hang); MN_ERR_USAGE without mn_grads_begin. */
mn_status_t mn_grads_end(mn_params_t *p, mn_step_flags_t *flags);

#ifdef __cplusplus
}
#endif
#endif /* MN_PUBLIC_EXCHANGE_H */
