/* world.c: mn/world.h: a trainer's start and end, who and where it runs, the agreed stop,
 * and the plain collectives on host buffers; and mn/mpi.h, a world on a communicator of the
 * program's own.
 *
 * mn_init does for a trainer what mntrain's main() does for itself, in the same order: the
 * stop-signal handler first (a signal during start-up must not kill the rank), MPI, the
 * log's rank prefix, mnrun's placement, the heartbeat (mnrun holds a stop until every rank
 * has joined, so after the handler check), then the device, agreed among the ranks.
 * mn_finish writes the exit report mnrun reads the code from. Nothing else lives here. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include <mn/mpi.h>

#include "mn_api.h"
#include "mn_liveness.h"
#include "mn_log.h"
#include "mn_preempt.h"
#include "mn_rankenv.h"
#include "mn_report.h"

static int g_live; /* a world between mn_init and mn_finish */

static mn_status_t check_opts(const mn_init_opts_t *o) {
  if (o->device < MN_COMPUTE_AUTO || o->device > MN_COMPUTE_CUDA)
    return MN_API_USAGE("mn_init", "device %d is none of MN_COMPUTE_AUTO, _CPU, _CUDA",
                        (int)o->device);
  if (o->threads < 0) return MN_API_USAGE("mn_init", "threads %d < 0", o->threads);
  if (o->bucket_mb < 0) return MN_API_USAGE("mn_init", "bucket_mb %g < 0", o->bucket_mb);
  if (o->timeout_s < 0) return MN_API_USAGE("mn_init", "timeout_s %g < 0", o->timeout_s);
  if ((o->tf32 | o->deterministic) & ~1)
    return MN_API_USAGE("mn_init", "tf32 %d and deterministic %d are 0 or 1", o->tf32,
                        o->deterministic);
  if (o->collectives < MN_COLL_AUTO || o->collectives > MN_COLL_NCCL)
    return MN_API_USAGE("mn_init", "collectives %d is none of MN_COLL_AUTO, _MPI, _NCCL",
                        (int)o->collectives);
  return MN_OK;
}

static mn_device_kind_t device_kind(mn_compute_t c) {
  return c == MN_COMPUTE_CPU ? MN_DEVICE_CPU : c == MN_COMPUTE_CUDA ? MN_DEVICE_GPU : MN_DEVICE_AUTO;
}

/* Collective: the rank's device (and its CPU kernels' threads), agreed among the ranks. */
static mn_status_t open_device(mn_world_t *w, const mn_init_opts_t *o) {
  if (o->threads > 0) mn_kernels_cpu_set_threads(o->threads);
  mn_status_t st = mn_device_open(device_kind(o->device), w->comm.local_rank, o->tf32,
                                  o->deterministic, &w->dev);
  st = mn_comm_settle(&w->comm, st, &w->failed_rank);
  if (st != MN_OK) return st;
  w->k = w->dev.k;
  return MN_OK;
}

/* The options (opts, or every default when NULL) checked into *o, and a world's fields
 * from them, before anything starts. out: *w. */
static mn_status_t world_new(const char *fn, const mn_init_opts_t *opts, mn_init_opts_t *o,
                             mn_world_t **w) {
  *o = opts ? *opts : (mn_init_opts_t){.device = MN_COMPUTE_AUTO};
  mn_status_t st = check_opts(o);
  if (st != MN_OK) return st;
  if (!(*w = calloc(1, sizeof **w))) return mn_error(MN_ERR_NOMEM, "%s: out of memory", fn);
  (*w)->comm.comm = MPI_COMM_NULL;
  (*w)->failed_rank = -1;
  (*w)->bucket_mb = o->bucket_mb > 0 ? o->bucket_mb : 25.0;
  (*w)->timeout_s = o->timeout_s > 0 ? o->timeout_s : 600.0;
  (*w)->backend = o->collectives == MN_COLL_MPI    ? MN_BACKEND_MPI
                  : o->collectives == MN_COLL_NCCL ? MN_BACKEND_NCCL
                                                   : MN_BACKEND_AUTO;
  (*w)->tf32 = o->tf32;
  return MN_OK;
}

/* MPI, the world's communicator and the rank's own start-up; then the device, agreed. */
static mn_status_t start(mn_world_t *w, int *argc, char ***argv, const mn_init_opts_t *o) {
  int inited = 0, provided;
  MPI_Initialized(&inited);
  if (!inited) {
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
      return mn_error(MN_ERR_INTERNAL, "mn_init: MPI_Init failed");
    w->mpi_started = 1;
  }
  mn_status_t st = mn_comm_init(&w->comm, MPI_COMM_WORLD, w->bucket_mb);
  if (st != MN_OK) return st;
  mn_log_init("mn", w->comm.rank, w->comm.host);
  if (!mn_preempt_check_handlers())
    mn_log_warn("MPI replaced mn's handler of SIGTERM, SIGUSR1 or SIGINT; restored it");
  const char *dir = getenv("MN_REPORT_DIR");
  snprintf(w->report_dir, sizeof w->report_dir, "%s", dir ? dir : "");
  if (mn_rankenv_apply(w->report_dir, w->comm.rank) != MN_OK)
    mn_log_warn("placement not applied: %s", mn_error_message());
  if (w->report_dir[0] && mn_liveness_start(w->report_dir, w->comm.rank) != MN_OK)
    mn_log_warn("cannot tell mnrun this rank has started: %s", mn_error_message());
  return open_device(w, o);
}

mn_status_t mn_init(int *argc, char ***argv, const mn_init_opts_t *opts, mn_world_t **world) {
  mn_preempt_install(); /* first: see the file's paragraph */
  if (!world) return MN_API_USAGE("mn_init", "world is NULL");
  if (g_live) return MN_API_USAGE("mn_init", "called twice without mn_finish"); /* *world kept */
  *world = NULL;
  mn_init_opts_t o;
  mn_world_t *w;
  mn_status_t st = world_new("mn_init", opts, &o, &w);
  if (st != MN_OK) return st;
  g_live = 1;
  st = start(w, argc, argv, &o);
  *world = w; /* even on failure: mn_finish reports and finalises */
  return st;
}

int mn_finish(mn_world_t *w, mn_status_t st) {
  int code = mn_status_exit_code(st), reported = 0;
  if (w) {
    int rank = w->comm.comm != MPI_COMM_NULL ? w->comm.rank : 0;
    int failed = mn_world_failed_rank(w);
    char msg[2300];
    if (st == MN_OK)
      snprintf(msg, sizeof msg, "done");
    else if (failed >= 0 && failed != rank)
      snprintf(msg, sizeof msg, MN_REPORT_FOLLOWER ": rank %d failed", failed);
    else
      snprintf(msg, sizeof msg, "%s", mn_error_message()[0] ? mn_error_message()
                                                            : mn_status_string(st));
    /* a failure the ranks agreed on was logged then, by the lowest failing rank */
    if (st != MN_OK && st != MN_ERR_PREEMPTED && failed < 0) mn_log_error("%s", msg);
    reported = w->report_dir[0] &&
               mn_report_write(w->report_dir, rank, w->comm.host, code, msg) == MN_OK;
    mn_comm_free(&w->comm);
    if (w->k) mn_device_close(&w->dev);
    if (w->mpi_started) MPI_Finalize();
    if (w->report_dir[0]) mn_liveness_stop();
    free(w);
  }
  g_live = 0;
  /* under mnrun the report carries the code (mntrain.c says why the process exits 0) */
  return reported ? MN_EXIT_OK : code;
}

mn_status_t mn_init_comm(MPI_Comm comm, const mn_init_opts_t *opts, mn_world_t **world) {
  mn_init_opts_t o;
  mn_world_t *w;
  int inited = 0;
  if (!world) return MN_API_USAGE("mn_init_comm", "world is NULL");
  *world = NULL;
  MPI_Initialized(&inited);
  if (!inited) return MN_API_USAGE("mn_init_comm", "MPI is not initialised (MPI_Init first)");
  mn_status_t st = world_new("mn_init_comm", opts, &o, &w);
  if (st != MN_OK) return st;
  st = mn_comm_init(&w->comm, comm, w->bucket_mb);
  if (st == MN_OK) st = open_device(w, &o);
  if (st != MN_OK) {
    mn_world_close(w);
    return st;
  }
  *world = w;
  return MN_OK;
}

void mn_world_close(mn_world_t *w) {
  if (!w) return;
  mn_comm_free(&w->comm);
  if (w->k) mn_device_close(&w->dev);
  free(w);
}

int mn_world_rank(const mn_world_t *w) { return w ? w->comm.rank : -1; }
int mn_world_size(const mn_world_t *w) { return w ? w->comm.world : 0; }
int mn_world_local_rank(const mn_world_t *w) { return w ? w->comm.local_rank : -1; }
int mn_world_local_size(const mn_world_t *w) { return w ? w->comm.local_size : 0; }
const char *mn_world_host(const mn_world_t *w) { return w ? w->comm.host : ""; }
const char *mn_world_device(const mn_world_t *w) { return w && w->k ? w->dev.name : "none"; }
int mn_world_on_gpu(const mn_world_t *w) { return w && w->k ? w->dev.gpu : 0; }

int mn_world_failed_rank(const mn_world_t *w) {
  if (!w) return -1;
  return w->failed_rank >= 0 ? w->failed_rank : w->comm.failed_rank;
}

double mn_world_peak_flops(const mn_world_t *w) {
  return w && w->k && w->dev.gpu ? mn_device_peak_flops(w->dev.name, w->tf32) : 0;
}

int mn_stop_requested(const mn_world_t *w) {
  (void)w;
  return mn_preempt_requested();
}

double mn_stop_since_s(const mn_world_t *w) {
  (void)w;
  return mn_preempt_requested() ? mn_preempt_since_s() : 0;
}

mn_status_t mn_stop_install(void) { return mn_preempt_install(); }

void mn_test_signal_at(const mn_world_t *w, int64_t step) {
  mn_preempt_test_hook(w ? w->comm.rank : 0, step);
}

mn_status_t mn_stop_agreed(mn_world_t *w, int *stop) {
  if (!w || !stop) return MN_API_USAGE("mn_stop_agreed", "world or stop is NULL");
  return mn_comm_any(&w->comm, mn_preempt_requested() != 0, stop);
}

mn_status_t mn_agree(mn_world_t *w, mn_status_t mine, int *first_rank) {
  if (!w) return MN_API_USAGE("mn_agree", "world is NULL");
  int first = -1;
  mn_status_t st = mn_comm_settle(&w->comm, mine, &first);
  if (st != MN_OK && w->failed_rank < 0) w->failed_rank = first;
  if (first_rank) *first_rank = first;
  return st;
}

/* ---- collectives ---------------------------------------------------------------------- */

static MPI_Datatype mpi_type(mn_dtype_t t) {
  switch (t) {
  case MN_FLOAT32: return MPI_FLOAT;
  case MN_FLOAT64: return MPI_DOUBLE;
  case MN_INT32: return MPI_INT32_T;
  case MN_INT64: return MPI_INT64_T;
  case MN_BYTE: return MPI_BYTE;
  }
  return MPI_DATATYPE_NULL;
}

static size_t type_size(mn_dtype_t t) {
  return t == MN_FLOAT64 || t == MN_INT64 ? 8 : t == MN_BYTE ? 1 : 4;
}

static mn_status_t check_buffer(const char *fn, const mn_world_t *w, const void *buf,
                                int64_t count, mn_dtype_t t) {
  if (!w) return mn_error(MN_ERR_USAGE, "%s: world is NULL", fn);
  if (mpi_type(t) == MPI_DATATYPE_NULL)
    return mn_error(MN_ERR_USAGE, "%s: dtype %d is not an mn_dtype_t", fn, (int)t);
  if (count < 0) return mn_error(MN_ERR_USAGE, "%s: count %lld < 0", fn, (long long)count);
  if (count > 0 && !buf) return mn_error(MN_ERR_USAGE, "%s: the buffer is NULL", fn);
  return MN_OK;
}

static mn_status_t mpi_failed(const char *fn, int rc) {
  char text[MPI_MAX_ERROR_STRING] = "";
  int len = 0;
  MPI_Error_string(rc, text, &len);
  return mn_error(MN_ERR_PEER, "%s: %s (a rank failed or left)", fn, text);
}

/* MPI takes int counts: a long buffer goes in pieces */
#define PIECE ((int64_t)1 << 30)

mn_status_t mn_allreduce(mn_world_t *w, void *buf, int64_t count, mn_dtype_t dtype,
                         mn_reduce_t op) {
  mn_status_t st = check_buffer("mn_allreduce", w, buf, count, dtype);
  if (st != MN_OK) return st;
  int floating = dtype == MN_FLOAT32 || dtype == MN_FLOAT64;
  MPI_Op mop = op == MN_SUM || op == MN_AVERAGE ? MPI_SUM
               : op == MN_MIN                   ? MPI_MIN
               : op == MN_MAX                   ? MPI_MAX
                                                : MPI_OP_NULL;
  if (mop == MPI_OP_NULL || dtype == MN_BYTE || (op == MN_AVERAGE && !floating))
    return MN_API_USAGE("mn_allreduce", "reduction %d does not apply to dtype %d", (int)op,
                        (int)dtype);
  for (int64_t off = 0; off < count; off += PIECE) {
    int n = (int)(count - off < PIECE ? count - off : PIECE);
    int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)buf + off * (int64_t)type_size(dtype), n,
                           mpi_type(dtype), mop, w->comm.comm);
    if (rc != MPI_SUCCESS) return mpi_failed("mn_allreduce", rc);
  }
  if (op == MN_AVERAGE) {
    double inv = 1.0 / w->comm.world;
    for (int64_t i = 0; i < count; i++)
      if (dtype == MN_FLOAT32)
        ((float *)buf)[i] = (float)(((float *)buf)[i] * inv);
      else
        ((double *)buf)[i] *= inv;
  }
  return MN_OK;
}

mn_status_t mn_broadcast(mn_world_t *w, void *buf, int64_t count, mn_dtype_t dtype, int root) {
  mn_status_t st = check_buffer("mn_broadcast", w, buf, count, dtype);
  if (st != MN_OK) return st;
  if (root < 0 || root >= w->comm.world)
    return MN_API_USAGE("mn_broadcast", "root %d is not a rank of the %d", root, w->comm.world);
  for (int64_t off = 0; off < count; off += PIECE) {
    int n = (int)(count - off < PIECE ? count - off : PIECE);
    int rc = MPI_Bcast((char *)buf + off * (int64_t)type_size(dtype), n, mpi_type(dtype), root,
                       w->comm.comm);
    if (rc != MPI_SUCCESS) return mpi_failed("mn_broadcast", rc);
  }
  return MN_OK;
}

mn_status_t mn_allgather(mn_world_t *w, const void *in, void *out, int64_t count,
                         mn_dtype_t dtype) {
  mn_status_t st = check_buffer("mn_allgather", w, in, count, dtype);
  if (st != MN_OK) return st;
  if (count > 0 && !out) return MN_API_USAGE("mn_allgather", "out is NULL");
  if (count > INT_MAX)
    return MN_API_USAGE("mn_allgather", "count %lld is more than MPI takes at once (%d)",
                        (long long)count, INT_MAX);
  int rc = MPI_Allgather(in, (int)count, mpi_type(dtype), out, (int)count, mpi_type(dtype),
                         w->comm.comm);
  return rc == MPI_SUCCESS ? MN_OK : mpi_failed("mn_allgather", rc);
}
