/* comm.c: the MPI world of a run and the bucketed gradient allreduce (mn_comm.h).
 *
 * MPI errors on mn's communicator return instead of aborting (MPI_ERRORS_RETURN), and
 * are turned into statuses here, at the boundary, with the call's text. A failed
 * collective means a peer is gone or the network failed: MN_ERR_PEER. */
#include "mn_comm.h"

#include <string.h>
#include <unistd.h>

#include "mn_log.h"

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
  if (c->comm != MPI_COMM_NULL) MPI_Comm_free(&c->comm);
  c->comm = MPI_COMM_NULL;
}

mn_status_t mn_comm_allreduce_grads(mn_comm_t *c, const mn_kernels_t *k, float *grads,
                                    int64_t count) {
  int64_t nb = 0;
  if (c->world > 1) {
    for (int64_t off = 0; off < count; off += c->bucket_count, nb++) {
      int64_t n = count - off < c->bucket_count ? count - off : c->bucket_count;
      MN_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, grads + off, (int)n, MPI_FLOAT, MPI_SUM, c->comm));
    }
    k->scale(grads, count, 1.0f / (float)c->world);
  }
  c->nbuckets_last = nb;
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
