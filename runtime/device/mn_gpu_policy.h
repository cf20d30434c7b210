/* mn_gpu_policy.h: the decisions of the GPU path that need no GPU (internal).
 *
 * Which CUDA device a rank opens, what a CUDA or NCCL failure means for the run (whose
 * fault, which status, which words), and whether an unusable GPU is worth a warning: pure
 * functions of numbers and strings, so that they are unit-tested on a machine without a
 * GPU (tests/test_gpu_policy.c). device_cuda.c and nccl.c feed them the answers of the
 * CUDA runtime and of NCCL; nothing here calls either, and this file is built everywhere.
 * The NCCL and CUDA codes are passed as ints with the values of nccl.h and
 * driver_types.h (nccl.c and device_cuda.c check at compile time that they agree). */
#ifndef MN_GPU_POLICY_H
#define MN_GPU_POLICY_H

#include <stddef.h>

#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- NCCL results ------------------------------------------------------------------- */

/* ncclResult_t's values (nccl.h, 2.14 and later) */
enum {
  MN_NCCL_SUCCESS = 0,
  MN_NCCL_UNHANDLED_CUDA_ERROR = 1,
  MN_NCCL_SYSTEM_ERROR = 2,
  MN_NCCL_INTERNAL_ERROR = 3,
  MN_NCCL_INVALID_ARGUMENT = 4,
  MN_NCCL_INVALID_USAGE = 5,
  MN_NCCL_REMOTE_ERROR = 6,
  MN_NCCL_IN_PROGRESS = 7,
};

/* What a failed NCCL call means. in: result (an ncclResult_t), timed_out (the wait ran past
 * comm.timeout_s; result is then ignored); out: *meaning, a sentence naming whose fault it
 * is (static storage). Returns the status the rank leaves with:
 *   remote error, timeout                       MN_ERR_PEER (69): a peer or the network
 *   unhandled CUDA error, system error          MN_ERR_INTERNAL (70): this rank's GPU or system
 *   invalid usage (two ranks on one GPU, ...)   MN_ERR_USAGE (64): the placement or the config
 *   internal error, invalid argument, unknown   MN_ERR_INTERNAL (70): a bug in mn or NCCL
 *   success                                     MN_OK */
mn_status_t mn_nccl_result_status(int result, int timed_out, const char **meaning);

/* ---- CUDA devices ------------------------------------------------------------------- */

/* cudaError_t values the policy tells apart (driver_types.h) */
enum {
  MN_CUDA_ERROR_INSUFFICIENT_DRIVER = 35,
  MN_CUDA_ERROR_NO_DEVICE = 100,
};

/* The oldest NVIDIA driver a CUDA toolkit of this major version runs on (minor-version
 * compatibility), as text, e.g. "580" for 13.x; NULL when not known. */
const char *mn_gpu_min_driver(int cuda_major);

/* Why no GPU can be used, in words a user acts on. in: err (the cudaError_t of the failed
 * call), text (its cudaGetErrorString), driver_version (cudaDriverGetVersion's answer: 0
 * when no driver is installed), runtime_version (CUDART_VERSION, e.g. 13000); out:
 * why[size]. Returns 1 when a GPU is probably there but unusable (a driver is installed, or
 * the device nodes exist: devices_present), which deserves a warning under compute.device =
 * auto; 0 when the machine simply has none (a debug line). */
int mn_gpu_unusable_why(int err, const char *text, int driver_version, int runtime_version,
                        int devices_present, char *why, size_t size);

/* The rank's device. in: count (visible CUDA devices), local_rank, gpu_env (MN_GPU:
 * the launcher's NVML index, -1 for none; NULL or "" when unset), pci_env (MN_GPU_PCI: the
 * GPU's PCI bus id; NULL or "" when unset), pci_index (the CUDA ordinal of that bus id by
 * cudaDeviceGetByPCIBusId, -1 when it is not visible or pci_env is unset); out: *index,
 * note[size] (a warning to log when it is not empty: the bus id was given but not found,
 * and the NVML index was used as a CUDA device number instead). The bus id wins: NVML
 * numbers GPUs in PCI order, CUDA by speed unless CUDA_DEVICE_ORDER=PCI_BUS_ID, and
 * CUDA_VISIBLE_DEVICES renumbers them. MN_ERR_UNAVAILABLE, naming why, when there is no
 * device to use. */
mn_status_t mn_gpu_choose(int count, int local_rank, const char *gpu_env, const char *pci_env,
                          int pci_index, int *index, char *note, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* MN_GPU_POLICY_H */
