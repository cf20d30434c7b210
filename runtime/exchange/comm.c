/* comm.c: the MPI world of a run and the bucketed gradient allreduce (mn_comm.h): the
 * choice of path, the buckets, and the MPI paths; the NCCL calls are in nccl.c.
 *
 * MPI errors on mn's communicator return instead of aborting (MPI_ERRORS_RETURN), and
 * are turned into statuses here, at the boundary, with the call's text. A failed
 * collective means a peer is gone or the network failed: MN_ERR_PEER. */
#include "mn_comm.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<mpi-ext.h>)
#include <mpi-ext.h> /* Open MPI's extensions: MPIX_Query_cuda_support */
#endif
#endif

#include "mn_log.h"
#include "mn_nccl.h"

#define MN_CHECK_MPI(call)                                                                         \
  do {                                                                                             \
    int rc_ = (call);                                                                              \
    if (rc_ != MPI_SUCCESS) {                                                                      \
      char msg_[MPI_MAX_ERROR_STRING];                                                             \
      int len_ = 0;                                                                                \
      MPI_Error_string(rc_, msg_, &len_);                                                          \
      return mn_error(MN_ERR_PEER, "%s failed (%s:%d): %s", #call, __FILE__, __LINE__, msg_);      \
    }                                                                                              \
  } while (0)

mn_status_t mn_comm_init(mn_comm_t *c, MPI_Comm comm, double bucket_mb) {
  mn_comm_t t;
  memset(&t, 0, sizeof t);
  t.failed_rank = -1;
  MN_CHECK_MPI(MPI_Comm_dup(comm, &t.comm));
  MPI_Comm_set_errhandler(t.comm, MPI_ERRORS_RETURN);
  MN_CHECK_MPI(MPI_Comm_rank(t.comm, &t.rank));
  MN_CHECK_MPI(MPI_Comm_size(t.comm, &t.world));
  MPI_Comm node;
  MN_CHECK_MPI(MPI_Comm_split_type(t.comm, MPI_COMM_TYPE_SHARED, t.rank, MPI_INFO_NULL, &node));
  MPI_Comm_rank(node, &t.local_rank);
  MPI_Comm_size(node, &t.local_size);
  MPI_Comm_free(&node);
  if (gethostname(t.host, sizeof t.host - 1) != 0) strcpy(t.host, "?");
  double floats = bucket_mb * 1024.0 * 1024.0 / sizeof(float);
  t.bucket_count = floats < 1024 ? 1024 : (int64_t)floats;
  if (t.bucket_count > (1LL << 30)) t.bucket_count = 1LL << 30; /* MPI counts are int */
  *c = t;
  return MN_OK;
}

void mn_comm_free(mn_comm_t *c) {
  mn_nccl_close(c->nccl);
  c->nccl = NULL;
  if (c->k) c->k->release(c->exchange);
  c->exchange = NULL;
  if (c->dev) mn_device_host_free(c->dev, c->stage);
  c->stage = NULL;
  if (c->comm != MPI_COMM_NULL) MPI_Comm_free(&c->comm);
  c->comm = MPI_COMM_NULL;
}

/* ---- the gradient path ------------------------------------------------------------- */

const char *mn_comm_path_name(mn_comm_path_t path) {
  switch (path) {
  case MN_COMM_HOST: return "host";
  case MN_COMM_NCCL: return "nccl";
  case MN_COMM_MPI_CUDA: return "mpi-cuda";
  case MN_COMM_STAGED: return "staged";
  }
  return "?";
}

/* Asked of the library at run time, not of the headers at build time: Debian's headers say
 * MPIX_CUDA_AWARE_SUPPORT 0, while the Open MPI a cluster loads at run time may be built
 * with CUDA. */
int mn_comm_mpi_cuda_aware(void) {
#if defined(OMPI_HAVE_MPI_EXT_CUDA)
  return MPIX_Query_cuda_support() == 1;
#else
  return 0;
#endif
}

/* Has this rank NCCL? The build's answer, unless MN_TEST_NO_NCCL is set (and not "0"): a
 * test aid that plays a rank without NCCL in a build with it (tests/test_comm.c), read here
 * and nowhere else. */
static int nccl_here(void) {
  const char *t = getenv("MN_TEST_NO_NCCL");
  return mn_nccl_built() && !(t && *t && strcmp(t, "0") != 0);
}

/* nccl_ranks: how many ranks have NCCL (agreed before this, so that every rank takes the
 * same branch: NCCL's set-up is collective, and a rank that skipped it would meet the
 * others in a different MPI call). */
static mn_status_t choose_path(mn_comm_t *c, mn_device_t *dev, mn_comm_backend_t want,
                               double timeout_s, int nccl_ranks) {
  if (!dev->gpu) {
    if (want == MN_BACKEND_NCCL)
      return mn_error(MN_ERR_UNAVAILABLE,
                      "comm.backend = nccl needs a GPU, and this rank (%s) "
                      "runs on the CPU",
                      c->host);
    c->path = MN_COMM_HOST;
    return MN_OK;
  }
  if (want == MN_BACKEND_NCCL && nccl_ranks < c->world) {
    if (!nccl_here())
      return mn_error(MN_ERR_UNAVAILABLE, "comm.backend = nccl: %s",
                      mn_nccl_built() ? "NCCL is hidden from this rank (MN_TEST_NO_NCCL)"
                                      : "this build of mn has no NCCL (configure with the CUDA "
                                        "toolkit and libnccl)");
    return mn_error(MN_ERR_UNAVAILABLE,
                    "comm.backend = nccl: %d of the %d ranks have no NCCL (this one has; the "
                    "build on the others lacks it)",
                    c->world - nccl_ranks, c->world);
  }
  if (want == MN_BACKEND_AUTO && nccl_ranks > 0 && nccl_ranks < c->world && c->rank == 0)
    mn_log_warn("comm.backend = auto: %d of the %d ranks have no NCCL: gradients go through MPI "
                "on every rank",
                c->world - nccl_ranks, c->world);
  if (want == MN_BACKEND_NCCL || (want == MN_BACKEND_AUTO && nccl_ranks == c->world)) {
    mn_status_t st =
        mn_nccl_open(c->comm, mn_device_stream(dev), timeout_s, dev->deterministic, &c->nccl);
    if (st != MN_OK) return st;
    c->path = MN_COMM_NCCL;
    return MN_OK;
  }
  c->cuda_aware = mn_comm_mpi_cuda_aware();
  c->path = c->cuda_aware ? MN_COMM_MPI_CUDA : MN_COMM_STAGED;
  if (c->path == MN_COMM_STAGED) {
    c->stage = mn_device_host_alloc(dev, (size_t)c->bucket_count * sizeof(float));
    if (!c->stage)
      return mn_error(MN_ERR_NOMEM, "comm: cannot allocate a pinned staging bucket of %lld floats",
                      (long long)c->bucket_count);
  }
  return MN_OK;
}

/* Do all ranks agree on v? (one MPI_MAX over (v, -v)) */
static mn_status_t same_everywhere(mn_comm_t *c, int v, int *same) {
  int in[2] = {v, -v}, out[2] = {v, -v};
  if (c->world > 1) MN_CHECK_MPI(MPI_Allreduce(in, out, 2, MPI_INT, MPI_MAX, c->comm));
  *same = out[0] == -out[1];
  return MN_OK;
}

mn_status_t mn_comm_use_device(mn_comm_t *c, mn_device_t *dev, mn_comm_backend_t want,
                               double timeout_s) {
  c->dev = dev;
  c->k = dev->k;
  c->ctx = &dev->ctx;
  /* first the device kind: the NCCL set-up is collective among the GPU ranks only */
  int same = 0;
  mn_status_t st = same_everywhere(c, dev->gpu, &same);
  if (st != MN_OK) return st;
  if (!same)
    return mn_error(MN_ERR_CONFIG,
                    "comm: some ranks compute on GPUs and some on CPUs (this one "
                    "on %s); set compute.device explicitly",
                    dev->name);
  /* then NCCL on every rank or on none: a capability flag summed over the ranks */
  int nccl_ranks = dev->gpu && nccl_here();
  if (dev->gpu && c->world > 1)
    MN_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &nccl_ranks, 1, MPI_INT, MPI_SUM, c->comm));
  st = choose_path(c, dev, want, timeout_s, nccl_ranks);
  /* every rank must take the same path: NCCL on some and MPI on others would deadlock */
  mn_status_t agreed = same_everywhere(c, st == MN_OK ? (int)c->path : -1, &same);
  if (agreed != MN_OK) return agreed;
  if (st == MN_OK && !same)
    st = mn_error(MN_ERR_CONFIG,
                  "comm: the ranks chose different gradient paths (this one %s); "
                  "set comm.backend and compute.device explicitly",
                  mn_comm_path_name(c->path));
  return st;
}

/* ---- buckets ------------------------------------------------------------------------ */

int64_t mn_comm_nbuckets(const mn_comm_t *c, int64_t count) {
  return (count + c->bucket_count - 1) / c->bucket_count;
}

void mn_comm_bucket(const mn_comm_t *c, int64_t count, int64_t b, int64_t *off, int64_t *n) {
  *off = b * c->bucket_count;
  *n = count - *off < c->bucket_count ? count - *off : c->bucket_count;
}

/* One bucket over MPI: in place on host memory (host), on device memory (mpi-cuda), or
 * through the pinned staging bucket (staged). */
static mn_status_t mpi_bucket(mn_comm_t *c, float *p, int64_t n) {
  if (c->path == MN_COMM_STAGED) {
    c->k->download(c->ctx, c->stage, p, (size_t)n * sizeof *p);
    MN_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, c->stage, (int)n, MPI_FLOAT, MPI_SUM, c->comm));
    c->k->upload(c->ctx, p, c->stage, (size_t)n * sizeof *p);
    return MN_OK;
  }
  MN_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, p, (int)n, MPI_FLOAT, MPI_SUM, c->comm));
  return MN_OK;
}

/* The CPU's table and context until mn_comm_use_device chooses. */
static void default_device(mn_comm_t *c) {
  if (!c->k) c->k = mn_kernels_cpu();
  if (!c->ctx) c->ctx = mn_kctx_default();
}

/* Begin summing buf[count] (device memory) over all ranks. */
static void begin(mn_comm_t *c, float *buf, int64_t count) {
  default_device(c);
  c->buf = buf;
  c->count = count;
  c->sent = 0;
  c->nbuckets_last = 0;
}

mn_status_t mn_comm_grads_alloc(mn_comm_t *c, int64_t ngrads, float **grads) {
  default_device(c);
  MN_ASSERT(!c->exchange && ngrads >= 0);
  c->exchange = c->k->alloc((size_t)(MN_COMM_CONTROL + ngrads) * sizeof(float)); /* zeroed */
  if (!c->exchange)
    return mn_error(MN_ERR_NOMEM, "comm: cannot allocate the gradient buffer (%lld floats)",
                    (long long)ngrads);
  c->ngrads = ngrads;
  *grads = c->exchange + MN_COMM_CONTROL;
  return MN_OK;
}

mn_status_t mn_comm_grads_start(mn_comm_t *c, const float *control, int n) {
  float slots[MN_COMM_CONTROL] = {0};
  MN_ASSERT(c->exchange && n >= 0 && n <= MN_COMM_CONTROL);
  memcpy(slots, control, (size_t)n * sizeof *slots);
  c->k->upload(c->ctx, c->exchange, slots, sizeof slots);
  begin(c, c->exchange, MN_COMM_CONTROL + c->ngrads);
  return MN_OK;
}

void mn_comm_grads_raise(mn_comm_t *c, int slot, float value) {
  MN_ASSERT(c->buf == c->exchange && slot >= 0 && slot < MN_COMM_CONTROL && c->sent == 0);
  c->k->upload(c->ctx, c->exchange + slot, &value, sizeof value);
}

/* Hand the buckets of buf[sent, upto) to the backend; upto is a bucket boundary or count. */
static mn_status_t send_upto(mn_comm_t *c, int64_t upto) {
  mn_status_t st = MN_OK;
  while (st == MN_OK && c->sent < upto) {
    int64_t b = c->sent / c->bucket_count, off, n;
    mn_comm_bucket(c, c->count, b, &off, &n);
    st = c->path == MN_COMM_NCCL ? mn_nccl_sum_async(c->nccl, c->buf + off, n, b)
                                 : mpi_bucket(c, c->buf + off, n);
    c->sent = off + n;
    c->nbuckets_last++;
  }
  return st;
}

mn_status_t mn_comm_grads_ready(mn_comm_t *c, int64_t upto) {
  if (c->path != MN_COMM_NCCL) return MN_OK; /* the MPI paths send in finish */
  upto += MN_COMM_CONTROL;
  return send_upto(c, upto / c->bucket_count * c->bucket_count);
}

/* NCCL runs at world 1 too (so that its path is the one tested on one GPU); MPI at world 1
 * has nothing to do. */
mn_status_t mn_comm_grads_finish(mn_comm_t *c) {
  if (c->world == 1 && c->path != MN_COMM_NCCL) return MN_OK;
  if (c->path != MN_COMM_NCCL) c->k->sync(c->ctx); /* MPI reads the buffer from the host side */
  return send_upto(c, c->count);
}

mn_status_t mn_comm_grads_control(mn_comm_t *c, float *host, int n) {
  if (c->path == MN_COMM_NCCL)
    return mn_nccl_download(c->nccl, 0, host, c->buf, (size_t)n * sizeof *host);
  c->k->download(c->ctx, host, c->buf, (size_t)n * sizeof *host);
  return MN_OK;
}

mn_status_t mn_comm_grads_wait(mn_comm_t *c, int64_t off, int64_t n) {
  if (c->path != MN_COMM_NCCL || n <= 0) return MN_OK;
  off += MN_COMM_CONTROL;
  mn_status_t st = MN_OK;
  for (int64_t b = off / c->bucket_count; st == MN_OK && b * c->bucket_count < off + n; b++)
    st = mn_nccl_wait_compute(c->nccl, b);
  return st;
}

mn_status_t mn_comm_grads_drain(mn_comm_t *c) {
  if (c->path != MN_COMM_NCCL || !c->nccl || c->nbuckets_last == 0) return MN_OK;
  return mn_nccl_drain(c->nccl);
}

void mn_comm_release_device(mn_comm_t *c) {
  mn_nccl_close(c->nccl);
  c->nccl = NULL;
}

mn_status_t mn_comm_allreduce_grads(mn_comm_t *c, const mn_kernels_t *k, float *grads,
                                    int64_t count) {
  if (!c->k) c->k = k;
  begin(c, grads, count);
  mn_status_t st = mn_comm_grads_finish(c);
  if (st == MN_OK && c->path == MN_COMM_NCCL) st = mn_nccl_drain(c->nccl);
  return st;
}

mn_status_t mn_comm_raw_allreduce(mn_comm_t *c, float *buf, int64_t count) {
  if (c->path == MN_COMM_NCCL) return mn_nccl_sum(c->nccl, buf, count);
  if (c->path == MN_COMM_STAGED)
    return mn_error(MN_ERR_UNAVAILABLE, "comm: no raw allreduce of device memory without NCCL or "
                                        "CUDA-aware MPI");
  if (count > INT_MAX)
    return mn_error(MN_ERR_USAGE, "comm: %lld floats is more than one MPI call takes",
                    (long long)count);
  if (c->path == MN_COMM_MPI_CUDA) c->k->sync(c->ctx);
  MN_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, buf, (int)count, MPI_FLOAT, MPI_SUM, c->comm));
  return MN_OK;
}

/* One MPI_MAXLOC over (severity, rank) finds the worst status and, since MAXLOC breaks
 * ties by the lower index, the lowest rank holding it. */
mn_status_t mn_comm_agree(mn_comm_t *c, mn_status_t mine, mn_status_t *all, int *first_rank) {
  struct {
    int value;
    int rank;
  } in = {mn_status_severity(mine), c->rank}, out;
  MN_CHECK_MPI(MPI_Allreduce(&in, &out, 1, MPI_2INT, MPI_MAXLOC, c->comm));
  *all = mn_status_from_severity(out.value);
  *first_rank = out.value == 0 ? -1 : out.rank;
  return MN_OK;
}

mn_status_t mn_comm_settle(mn_comm_t *c, mn_status_t mine, int *first_rank) {
  mn_status_t all;
  mn_status_t rc = mn_comm_agree(c, mine, &all, first_rank);
  if (rc != MN_OK) {
    mn_log_error("cannot agree with the other ranks: %s", mn_error_message());
    *first_rank = c->rank;
    return mn_status_worse(mine, rc);
  }
  if (all != MN_OK && *first_rank == c->rank) mn_log_error("%s", mn_error_message());
  if (all != MN_OK && c->failed_rank < 0) c->failed_rank = *first_rank;
  return all;
}

mn_status_t mn_comm_sum_f64(mn_comm_t *c, double *v, int count) {
  if (c->world > 1)
    MN_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, v, count, MPI_DOUBLE, MPI_SUM, c->comm));
  return MN_OK;
}

mn_status_t mn_comm_any(mn_comm_t *c, int flag, int *any) {
  int v = flag != 0;
  if (c->world > 1) MN_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_LOR, c->comm));
  *any = v;
  return MN_OK;
}

mn_status_t mn_comm_bcast_f32(mn_comm_t *c, float *v, int64_t count) {
  if (c->world == 1) return MN_OK;
  for (int64_t off = 0; off < count; off += c->bucket_count) {
    int64_t n = count - off < c->bucket_count ? count - off : c->bucket_count;
    MN_CHECK_MPI(MPI_Bcast(v + off, (int)n, MPI_FLOAT, 0, c->comm));
  }
  return MN_OK;
}

mn_status_t mn_comm_bcast_i64(mn_comm_t *c, int64_t *v, int count) {
  if (c->world > 1) MN_CHECK_MPI(MPI_Bcast(v, count, MPI_INT64_T, 0, c->comm));
  return MN_OK;
}

mn_status_t mn_comm_gather_hosts(mn_comm_t *c, char *hosts) {
  int n = (int)sizeof c->host;
  MN_CHECK_MPI(MPI_Gather(c->host, n, MPI_CHAR, hosts, n, MPI_CHAR, 0, c->comm));
  return MN_OK;
}
