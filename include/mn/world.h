/* mn/world.h: the world of ranks a trainer runs in, and plain collectives on its buffers.
 *
 * mn_init() is the first call of a trainer's main() (before it parses its own arguments, as
 * MPI_Init is): it installs the stop-signal handler (INT, TERM, USR1, USR2: a stop is then
 * requested, never a kill), initialises MPI, applies mnrun's placement (the rank's cores and
 * GPU), starts the heartbeat mnrun supervises the rank by, and opens the rank's device (the
 * CPU, or the GPU mnrun gave it). mn_finish() is its last: it writes the rank's exit
 * report for mnrun, finalises MPI and returns the process's exit code, which main()
 * returns. Started by hand (`mpirun -np 2 ./trainer`, or alone) the same calls work,
 * without the report and the heartbeat.
 *
 * The collectives take host memory and block; every rank calls them in the same order,
 * as MPI's. They are the plain ones of Horovod's hvd.allreduce, hvd.broadcast and
 * hvd.allgather; a model's gradients go through the bucketed exchange (mn/exchange.h). */
#ifndef MN_PUBLIC_WORLD_H
#define MN_PUBLIC_WORLD_H

#include <stddef.h>
#include <stdint.h>

#include <mn/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_world mn_world_t;

/* ---- start and end -------------------------------------------------------------------- */

typedef enum {
  MN_COMPUTE_AUTO = 0, /* the GPU mnrun gave the rank when there is one, else the CPU */
  MN_COMPUTE_CPU = 1,
  MN_COMPUTE_CUDA = 2, /* MN_ERR_UNAVAILABLE without a GPU or a CUDA build */
} mn_compute_t;

/* How the gradients (mn/exchange.h) travel between the ranks. */
typedef enum {
  MN_COLL_AUTO = 0, /* NCCL between GPUs where it is present, else MPI */
  MN_COLL_MPI = 1,  /* MPI (a GPU's gradients through host memory) */
  MN_COLL_NCCL = 2, /* NCCL; mn_params_commit fails where it cannot be had */
} mn_collectives_t;

typedef struct mn_init_opts {
  mn_compute_t device;       /* default MN_COMPUTE_AUTO */
  int threads;               /* CPU threads of the rank's kernels; 0: mnrun's share of the
                                cores (OPENBLAS_NUM_THREADS), else 1 */
  double bucket_mb;          /* gradient bucket size of the exchange; 0: 25 (as DDP) */
  double timeout_s;          /* a GPU collective that takes longer means a dead peer; 0: 600 */
  int tf32;                  /* 1: float32 GEMMs on a GPU's TF32 tensor cores (faster, a 10-bit
                                mantissa); 0 (default): full float32, as PyTorch's default */
  int deterministic;         /* 1: bitwise reproducible GPU runs where cuBLAS and NCCL allow */
  mn_collectives_t collectives; /* the gradients' path; default MN_COLL_AUTO */
} mn_init_opts_t;

/* in: argc, argv (MPI_Init's: may be NULL), opts (NULL: every default); out: *world,
 * which mn_finish takes even when this failed (NULL when it failed before MPI started: a
 * bad option). Every rank returns the same status (a failure on one rank is agreed):
 * MN_ERR_USAGE for a bad option, MN_ERR_UNAVAILABLE when the device asked for is not here,
 * MN_ERR_INTERNAL when MPI cannot start. A second call without mn_finish is MN_ERR_USAGE
 * and leaves *world as it was. */
mn_status_t mn_init(int *argc, char ***argv, const mn_init_opts_t *opts, mn_world_t **world);

/* The end of a trainer: in: world (freed; NULL when mn_init failed), st, the status the
 * trainer ends with. Writes the rank's report for mnrun (st and mn_error_message()),
 * finalises MPI and returns the exit code main() returns (docs/exit-codes.md; under mnrun
 * 0, the code travelling in the report). */
int mn_finish(mn_world_t *world, mn_status_t st);

/* ---- who and where -------------------------------------------------------------------- */

int mn_world_rank(const mn_world_t *w);
int mn_world_size(const mn_world_t *w);
int mn_world_local_rank(const mn_world_t *w); /* among the ranks on this host */
int mn_world_local_size(const mn_world_t *w);
/* This rank's host name (as MPI's processor name); never NULL ("" before mn_init). */
const char *mn_world_host(const mn_world_t *w);
/* "cpu", or the GPU's name ("NVIDIA H100 80GB HBM3 (cuda:0)"); never NULL. */
const char *mn_world_device(const mn_world_t *w);
/* 1 when the rank computes on a GPU: the parameters and gradients (mn/params.h) are then
 * device memory. */
int mn_world_on_gpu(const mn_world_t *w);
/* The device's peak dense FLOP/s (float32, or TF32 with mn_init_opts_t.tf32) from the table
 * of GPUs mn knows, for model FLOPs utilisation; 0 when it is not known (a CPU, a GPU not in
 * the table). */
double mn_world_peak_flops(const mn_world_t *w);

/* The lowest rank that failed, as the ranks agreed at the first failure of a collective
 * call (mn_agree, the exchange, the state: mn_finish's report names it); -1: none. */
int mn_world_failed_rank(const mn_world_t *w);

/* ---- the agreed stop ------------------------------------------------------------------ */

/* Whether a stop signal reached this rank (local; no communication): its number (SIGTERM,
 * SIGINT, SIGUSR1, SIGUSR2), or 0. */
int mn_stop_requested(const mn_world_t *w);
/* Seconds since that signal arrived (0: none), for a line that says how long the stop took. */
double mn_stop_since_s(const mn_world_t *w);
/* Install the stop-signal handler now, before mn_init (which installs it in any case): for a
 * trainer that reads its configuration first, so that a signal meanwhile requests a stop
 * rather than killing it. MN_ERR_INTERNAL when sigaction fails. */
mn_status_t mn_stop_install(void);
/* A testing aid: with MN_TEST_SIGNAL_STEP=N in the environment (and MN_TEST_SIGNAL_RANK=r,
 * MN_TEST_SIGNAL=name: SIGTERM by default), the rank (rank r alone) raises the signal against
 * itself when the trainer calls this with step N (-1: during set-up), as mn's tests stop a
 * chosen rank at a chosen step; nothing otherwise. */
void mn_test_signal_at(const mn_world_t *w, int64_t step);
/* Collective: whether a stop signal reached any rank, the same answer on every rank, so
 * that all stop after the same step. A loop that uses the exchange gets it from
 * mn_grads_end at no extra cost; one that does not calls this once per step. */
mn_status_t mn_stop_agreed(mn_world_t *w, int *stop);

/* ---- collectives on host buffers ------------------------------------------------------- */

typedef enum { MN_FLOAT32 = 0, MN_FLOAT64 = 1, MN_INT32 = 2, MN_INT64 = 3, MN_BYTE = 4 } mn_dtype_t;
typedef enum { MN_SUM = 0, MN_MIN = 1, MN_MAX = 2, MN_AVERAGE = 3 } mn_reduce_t;

/* buf[0, count) of dtype becomes the reduction over the ranks, in place. MN_AVERAGE is the
 * sum divided by the world size (floating types only); MN_BYTE takes none of them.
 * MN_ERR_USAGE for a NULL buffer, a negative count or a pair that does not apply;
 * MN_ERR_PEER when a rank has failed. */
mn_status_t mn_allreduce(mn_world_t *w, void *buf, int64_t count, mn_dtype_t dtype,
                         mn_reduce_t op);
/* buf[0, count) of root's copy to every rank. */
mn_status_t mn_broadcast(mn_world_t *w, void *buf, int64_t count, mn_dtype_t dtype, int root);
/* out[rank * count, (rank + 1) * count) = each rank's in[0, count); out holds world x count. */
mn_status_t mn_allgather(mn_world_t *w, const void *in, void *out, int64_t count,
                         mn_dtype_t dtype);
/* Every rank returns the worst of the ranks' statuses (mine: this rank's), and
 * *first_rank the lowest rank that failed (-1: none; may be NULL): for a phase that may
 * fail on one rank, so that no rank goes on into a collective another left. */
mn_status_t mn_agree(mn_world_t *w, mn_status_t mine, int *first_rank);

#ifdef __cplusplus
}
#endif
#endif /* MN_PUBLIC_WORLD_H */
