/* mn_rankenv.h: what the launcher placed for this rank, applied inside the rank.
 *
 * mnrun writes its placement to "<MN_REPORT_DIR>/placement", one line per rank:
 * "<rank> <gpu> <hca> <cpuset> <busid>" ("-1", "-", "-" and "-" for none; a line of an
 * older mnrun may lack the bus id). The launch engines cannot give each rank an
 * environment of its own, so the rank applies its line itself, before any library reads
 * it: NCCL_IB_HCA=<hca> (unless the user set it), MN_GPU=<gpu> (the GPU's NVML index; -1:
 * this rank has no GPU and computes on the CPU under compute.device = auto), MN_GPU_PCI=
 * <busid> (the GPU's PCI bus id, by which the GPU back end finds the CUDA device: CUDA's
 * numbering is NVML's only by chance), and its CPU affinity when the engine did not bind
 * it already (the affinity is wider than the cpuset). */
#ifndef MN_RANKENV_H
#define MN_RANKENV_H

#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Apply this rank's line of dir/placement. A missing file (not started by mnrun) is no
 * error; a rank missing from it, or a malformed line, is MN_ERR_INTERNAL. */
mn_status_t mn_rankenv_apply(const char *dir, int rank);

#ifdef __cplusplus
}
#endif
#endif /* MN_RANKENV_H */
