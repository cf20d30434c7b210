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
  int stop;                 /* a stop signal reached some rank: stop after this step */
  int nonfinite;            /* a loss or a gradient value is NaN or infinite: do not step */
  int failed;               /* some rank called mn_grads_fail this step */
  int nonfinite_loss_ranks; /* the ranks that called mn_grads_nonfinite_loss this step */
  int64_t nonfinite_values; /* the NaN or infinite values of the combined gradient */
  double grad_norm;         /* the L2 norm of the combined gradient (NaN when nonfinite) */
} mn_step_flags_t;

/* How mn_grads_end combines the ranks' gradients (after mn_params_commit, outside a step):
 * MN_AVERAGE, the default, their mean (as DDP and Horovod give); MN_SUM, their sum, for a
 * trainer that has already divided its loss by the world size (Horovod's op=Sum with a
 * predivided gradient). MN_ERR_USAGE for another op, or inside a step. */
mn_status_t mn_grads_set_op(mn_params_t *p, mn_reduce_t op);

/* Begin a step's exchange (after mn_params_commit). MN_ERR_USAGE before the commit or
 * while a step's exchange is open. */
mn_status_t mn_grads_begin(mn_params_t *p);
/* Tensor i's gradient is final for this step (backward has written it): the buckets it
 * completes may leave now. MN_ERR_USAGE outside begin/end or for a bad index. */
mn_status_t mn_grads_ready(mn_params_t *p, int i);
/* This rank could not compute its step (its batch failed to read, say): every rank's
 * mn_grads_end then reports failed, and none should step. */
mn_status_t mn_grads_fail(mn_params_t *p);
/* This rank's loss is NaN or infinite this step: mn_grads_end then says nonfinite on every
 * rank, with the count of such ranks, whatever the gradients hold (an infinite loss may
 * have a finite gradient). Before the step's first mn_grads_ready, as mn_grads_fail. */
mn_status_t mn_grads_nonfinite_loss(mn_params_t *p);
/* Wait, within mn_init_opts_t.timeout_s, for the device to finish the last step's
 * exchange: before the host reads what the step left (an evaluation's losses, a copy of
 * the parameters). MN_ERR_PEER when a GPU collective did not finish in time (a dead peer):
 * never a hang. mn_grads_begin and mn_state_save do it themselves; MN_ERR_USAGE inside a
 * step or before the commit. */
mn_status_t mn_grads_drain(mn_params_t *p);
/* End the exchange's device communicator now (NCCL finalised within mn_init_opts_t.timeout_s,
 * else aborted), before freeing the other device memory after a failure: a collective a dead
 * peer left unfinished would otherwise hold every wait on the device. No step is exchanged
 * after it; mn_params_free does it too. NULL or before the commit: nothing. */
void mn_grads_shutdown(mn_params_t *p);
/* How the gradients travel: "nccl", "mpi", "mpi (host staging)" and the like, for a log
 * line; "" before the commit. */
const char *mn_grads_path(const mn_params_t *p);
/* Finish the step's exchange: every gradient is the ranks' mean (or sum, mn_grads_set_op) when
 * this returns. out: *flags (may be NULL). MN_ERR_PEER when a rank died or a GPU collective
 * timed out (never a hang); MN_ERR_USAGE without mn_grads_begin. */
mn_status_t mn_grads_end(mn_params_t *p, mn_step_flags_t *flags);

#ifdef __cplusplus
}
#endif
#endif /* MN_PUBLIC_EXCHANGE_H */
