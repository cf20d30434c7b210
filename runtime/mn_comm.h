/* mn_comm.h: the world of ranks and the data-parallel gradient allreduce (MPI backend).
 *
 * Gradients live in one flat buffer, cut into buckets of about comm.bucket_mb; each bucket
 * is summed with one MPI_Allreduce (in place) and scaled by 1/world: a few large messages
 * per step, never one per tensor. mn_comm_agree() makes every rank leave a phase with the
 * same status, so that no rank waits alone in a collective when another failed. */
#ifndef MN_COMM_H
#define MN_COMM_H

#include <stdint.h>

#include <mpi.h>

#include "mn_kernels.h"
#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_comm {
  MPI_Comm comm; /* duplicated; mn_comm_free() frees it */
  int rank, world;
  int local_rank, local_size; /* among the ranks on this host */
  char host[64];
  int64_t bucket_count;  /* floats per bucket */
  int64_t nbuckets_last; /* buckets used by the last allreduce */
} mn_comm_t;

/* in: comm (duplicated), bucket_mb > 0; out: c. */
mn_status_t mn_comm_init(mn_comm_t *c, MPI_Comm comm, double bucket_mb);
void mn_comm_free(mn_comm_t *c);

/* Sum grads[count] over all ranks in buckets and scale by 1/world (k->scale). */
mn_status_t mn_comm_allreduce_grads(mn_comm_t *c, const mn_kernels_t *k, float *grads,
                                    int64_t count);

/* Every rank passes its status; all get the worst of them (mn_status_worse) in *all, and
 * *first_rank is the lowest rank whose status is that one (-1 when all are MN_OK). */
mn_status_t mn_comm_agree(mn_comm_t *c, mn_status_t mine, mn_status_t *all, int *first_rank);

/* mn_comm_agree(), and then the lowest rank holding the worst status logs its own last
 * message (mn_error_message()), so that a failure is told once. Returns the agreed status;
 * *first_rank as for mn_comm_agree(). When the agreement itself fails, this rank logs why
 * and returns the worse of its status and that failure, with *first_rank = its rank. */
mn_status_t mn_comm_settle(mn_comm_t *c, mn_status_t mine, int *first_rank);

/* Sum of doubles over all ranks, in place. */
mn_status_t mn_comm_sum_f64(mn_comm_t *c, double *v, int count);

/* *any = 1 on every rank when flag is nonzero on any rank. */
mn_status_t mn_comm_any(mn_comm_t *c, int flag, int *any);

/* Rank 0's values to every rank, in place (any count: cut into pieces MPI can take). */
mn_status_t mn_comm_bcast_f32(mn_comm_t *c, float *v, int64_t count);
mn_status_t mn_comm_bcast_i64(mn_comm_t *c, int64_t *v, int count);

#ifdef __cplusplus
}
#endif
#endif /* MN_COMM_H */
