/* nccl_absent.c: the NCCL entry points of mn_nccl.h in a build without NCCL (no CUDA
 * toolkit, or no libnccl found): comm.backend = nccl is then unavailable (exit 69), and
 * comm.backend = auto takes MPI. Nothing here is ever reached with a communicator. */
#include "mn_nccl.h"

int mn_nccl_built(void) { return 0; }

mn_status_t mn_nccl_open(MPI_Comm comm, void *compute_stream, double timeout_s, int deterministic,
                         mn_nccl_t **n) {
  (void)comm;
  (void)compute_stream;
  (void)timeout_s;
  (void)deterministic;
  *n = NULL;
  return mn_error(MN_ERR_UNAVAILABLE, "comm.backend = nccl: this build of mn has no NCCL "
                                      "(configure with the CUDA toolkit and libnccl)");
}

void mn_nccl_close(mn_nccl_t *n) { (void)n; }

static mn_status_t absent(void) { return mn_error(MN_ERR_INTERNAL, "NCCL is not built in"); }

mn_status_t mn_nccl_sum_async(mn_nccl_t *n, float *buf, int64_t count, int64_t bucket) {
  (void)n, (void)buf, (void)count, (void)bucket;
  return absent();
}
mn_status_t mn_nccl_wait_compute(mn_nccl_t *n, int64_t bucket) {
  (void)n, (void)bucket;
  return absent();
}
mn_status_t mn_nccl_download(mn_nccl_t *n, int64_t bucket, void *dst, const void *src,
                             size_t nbytes) {
  (void)n, (void)bucket, (void)dst, (void)src, (void)nbytes;
  return absent();
}
mn_status_t mn_nccl_sum(mn_nccl_t *n, float *buf, int64_t count) {
  (void)n, (void)buf, (void)count;
  return absent();
}
mn_status_t mn_nccl_drain(mn_nccl_t *n) {
  (void)n;
  return absent();
}
