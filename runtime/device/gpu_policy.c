/* gpu_policy.c: the decisions of the GPU path that need no GPU (mn_gpu_policy.h): the
 * meaning of an NCCL result, why a GPU cannot be used, and which CUDA device a rank opens.
 * Pure functions, built with or without CUDA, tested on the CPU; the CUDA and NCCL calls
 * whose answers they judge are in device_cuda.c and nccl.c. */
#include "mn_gpu_policy.h"

#include <stdio.h>
#include <stdlib.h>

mn_status_t mn_nccl_result_status(int result, int timed_out, const char **meaning) {
  if (timed_out) {
    *meaning = "a collective did not finish in time: a peer rank is gone or stuck, or the "
               "network failed";
    return MN_ERR_PEER;
  }
  switch (result) {
  case MN_NCCL_SUCCESS: *meaning = "no error"; return MN_OK;
  case MN_NCCL_REMOTE_ERROR:
    *meaning = "a peer rank is gone or the network failed";
    return MN_ERR_PEER;
  case MN_NCCL_UNHANDLED_CUDA_ERROR:
    *meaning = "a CUDA call failed on this rank's GPU (a local device fault, not a peer)";
    return MN_ERR_INTERNAL;
  case MN_NCCL_SYSTEM_ERROR:
    *meaning = "a system call failed on this rank (memory, shared memory or sockets of this "
               "host, not a peer)";
    return MN_ERR_INTERNAL;
  case MN_NCCL_INVALID_USAGE:
    *meaning = "NCCL refuses this use: most often two ranks on one GPU (NCCL needs a GPU per "
               "rank; check the placement and CUDA_VISIBLE_DEVICES, or share a GPU with "
               "comm.backend = mpi)";
    return MN_ERR_USAGE;
  case MN_NCCL_INTERNAL_ERROR:
    *meaning = "an internal error of NCCL (a bug in NCCL or in mn)";
    return MN_ERR_INTERNAL;
  case MN_NCCL_INVALID_ARGUMENT:
    *meaning = "an invalid argument to NCCL (a bug in mn)";
    return MN_ERR_INTERNAL;
  case MN_NCCL_IN_PROGRESS:
    *meaning = "still in progress where a result was due (a bug in mn)";
    return MN_ERR_INTERNAL;
  default: *meaning = "an NCCL result mn does not know"; return MN_ERR_INTERNAL;
  }
}

const char *mn_gpu_min_driver(int cuda_major) {
  switch (cuda_major) { /* the CUDA Toolkit release notes' minor-version compatibility table */
  case 11: return "450.80.02";
  case 12: return "525.60.13";
  case 13: return "580";
  default: return NULL;
  }
}

int mn_gpu_unusable_why(int err, const char *text, int driver_version, int runtime_version,
                        int devices_present, char *why, size_t size) {
  int major = runtime_version / 1000, minor = runtime_version % 1000 / 10;
  const char *need = mn_gpu_min_driver(major);
  if (err == MN_CUDA_ERROR_INSUFFICIENT_DRIVER && driver_version == 0 && !devices_present) {
    /* the runtime says "insufficient" also when libcuda is not installed at all */
    snprintf(why, size, "no NVIDIA driver is installed (the CUDA runtime says: %s)", text);
    return 0;
  }
  if (err == MN_CUDA_ERROR_INSUFFICIENT_DRIVER) {
    char have[32] = "none found";
    if (driver_version > 0)
      snprintf(have, sizeof have, "it supports CUDA %d.%d", driver_version / 1000,
               driver_version % 1000 / 10);
    snprintf(why, size,
             "the NVIDIA driver is too old for this CUDA toolkit (%s; mn is built with CUDA "
             "%d.%d, which needs a driver >= %s)",
             have, major, minor, need ? need : "of its release");
    return 1;
  }
  if (err == MN_CUDA_ERROR_NO_DEVICE) {
    snprintf(why, size, "no CUDA device is visible (%s)", text);
    return devices_present;
  }
  snprintf(why, size, "no usable CUDA device: %s", text);
  return devices_present || driver_version > 0;
}

/* A whole decimal number in s, or 0. */
static int parse_int(const char *s, long *v) {
  char *end;
  *v = strtol(s, &end, 10);
  return end != s && !*end;
}

mn_status_t mn_gpu_choose(int count, int local_rank, const char *gpu_env, const char *pci_env,
                          int pci_index, int *index, char *note, size_t size) {
  note[0] = '\0';
  if (count <= 0) return mn_error(MN_ERR_UNAVAILABLE, "no CUDA device is visible");
  int have_gpu = gpu_env && *gpu_env, have_pci = pci_env && *pci_env && pci_env[0] != '-';
  long g = -2;
  if (have_gpu && !parse_int(gpu_env, &g))
    return mn_error(MN_ERR_UNAVAILABLE, "MN_GPU=%s is not a number", gpu_env);
  if (have_gpu && g == -1)
    return mn_error(MN_ERR_UNAVAILABLE, "the launcher placed this rank without a GPU (MN_GPU=-1: "
                                        "more ranks than GPUs on this machine)");
  if (have_pci && pci_index >= 0 && pci_index < count) {
    *index = pci_index;
    return MN_OK;
  }
  if (have_pci)
    snprintf(note, size,
             "MN_GPU_PCI=%s is not among the %d visible CUDA device%s (CUDA_VISIBLE_DEVICES?): "
             "%s%s%s",
             pci_env, count, count == 1 ? "" : "s",
             have_gpu ? "using MN_GPU=" : "using the local rank modulo the device count",
             have_gpu ? gpu_env : "",
             have_gpu ? " as a CUDA device number, which is right only where CUDA numbers the "
                        "GPUs as NVML does"
                      : "");
  if (have_gpu) {
    if (g < 0 || g >= count)
      return mn_error(MN_ERR_UNAVAILABLE, "MN_GPU=%s, but %d CUDA device%s visible", gpu_env, count,
                      count == 1 ? " is" : "s are");
    *index = (int)g;
    return MN_OK;
  }
  *index = local_rank % count;
  return MN_OK;
}
