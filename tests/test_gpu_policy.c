/* test_gpu_policy.c: the GPU path's decisions that need no GPU (runtime/device/mn_gpu_policy.h),
 * on the CPU: every NCCL result classified (whose fault, which exit status), the words for
 * an unusable GPU (no driver, a driver too old, no device) and whether they deserve a
 * warning, and the choice of the CUDA device from MN_GPU, MN_GPU_PCI and the local rank
 * (the bus id wins over the NVML index; a bus id that is not visible falls back with a
 * note). Where the build has NCCL, the ncclResult_t values are checked against nccl.h. */
#include <stdlib.h>
#include <string.h>

#if defined(MN_HAVE_NCCL)
#include <nccl.h>
#endif

#include "mn_gpu_policy.h"
#include "mn_test.h"

static void test_nccl(void) {
  const char *why = NULL;
  CHECK(mn_nccl_result_status(MN_NCCL_SUCCESS, 0, &why) == MN_OK);
  CHECK(mn_nccl_result_status(MN_NCCL_REMOTE_ERROR, 0, &why) == MN_ERR_PEER);
  CHECK(strstr(why, "peer") != NULL);
  /* the deadline is a peer's fault whatever the last answer was */
  CHECK(mn_nccl_result_status(MN_NCCL_IN_PROGRESS, 1, &why) == MN_ERR_PEER);
  CHECK(mn_nccl_result_status(MN_NCCL_SUCCESS, 1, &why) == MN_ERR_PEER);
  /* local faults are not a peer's: exit 70, saying so */
  CHECK(mn_nccl_result_status(MN_NCCL_UNHANDLED_CUDA_ERROR, 0, &why) == MN_ERR_INTERNAL);
  CHECK_MSG(strstr(why, "this rank's GPU") && strstr(why, "not a peer"), "%s", why);
  CHECK(mn_nccl_result_status(MN_NCCL_SYSTEM_ERROR, 0, &why) == MN_ERR_INTERNAL);
  CHECK(strstr(why, "not a peer") != NULL);
  /* two ranks on one GPU: a usage error naming the likely cause and the way out */
  CHECK(mn_nccl_result_status(MN_NCCL_INVALID_USAGE, 0, &why) == MN_ERR_USAGE);
  CHECK_MSG(strstr(why, "two ranks on one GPU") && strstr(why, "comm.backend = mpi"), "%s", why);
  CHECK(mn_nccl_result_status(MN_NCCL_INTERNAL_ERROR, 0, &why) == MN_ERR_INTERNAL);
  CHECK(mn_nccl_result_status(MN_NCCL_INVALID_ARGUMENT, 0, &why) == MN_ERR_INTERNAL);
  CHECK(mn_nccl_result_status(MN_NCCL_IN_PROGRESS, 0, &why) == MN_ERR_INTERNAL);
  CHECK(mn_nccl_result_status(99, 0, &why) == MN_ERR_INTERNAL);
#if defined(MN_HAVE_NCCL)
  static const struct {
    int nccl, ours;
  } same[] = {{ncclSuccess, MN_NCCL_SUCCESS},
              {ncclUnhandledCudaError, MN_NCCL_UNHANDLED_CUDA_ERROR},
              {ncclSystemError, MN_NCCL_SYSTEM_ERROR},
              {ncclInternalError, MN_NCCL_INTERNAL_ERROR},
              {ncclInvalidArgument, MN_NCCL_INVALID_ARGUMENT},
              {ncclInvalidUsage, MN_NCCL_INVALID_USAGE},
              {ncclRemoteError, MN_NCCL_REMOTE_ERROR},
              {ncclInProgress, MN_NCCL_IN_PROGRESS}};
  for (size_t i = 0; i < sizeof same / sizeof *same; i++) CHECK(same[i].nccl == same[i].ours);
#endif
}

static void test_unusable(void) {
  char why[512];
  const char *text = "CUDA driver version is insufficient for CUDA runtime version";
  CHECK(mn_gpu_min_driver(12) && strcmp(mn_gpu_min_driver(12), "525.60.13") == 0);
  CHECK(mn_gpu_min_driver(13) && strcmp(mn_gpu_min_driver(13), "580") == 0);
  CHECK(mn_gpu_min_driver(7) == NULL);
  /* no driver at all, no device nodes: a CPU machine; not worth a warning */
  CHECK(mn_gpu_unusable_why(MN_CUDA_ERROR_INSUFFICIENT_DRIVER, text, 0, 13000, 0, why,
                            sizeof why) == 0);
  CHECK_MSG(strstr(why, "no NVIDIA driver is installed") != NULL, "%s", why);
  /* a driver that supports CUDA 12.2 under a CUDA 13.0 build: too old, said with numbers */
  CHECK(mn_gpu_unusable_why(MN_CUDA_ERROR_INSUFFICIENT_DRIVER, text, 12020, 13000, 1, why,
                            sizeof why) == 1);
  CHECK_MSG(strstr(why, "the NVIDIA driver is too old for this CUDA toolkit") &&
                strstr(why, "needs a driver >= 580") && strstr(why, "CUDA 12.2") &&
                strstr(why, "CUDA 13.0"),
            "%s", why);
  /* device nodes but no libcuda answering: also too old (or broken), a warning */
  CHECK(mn_gpu_unusable_why(MN_CUDA_ERROR_INSUFFICIENT_DRIVER, text, 0, 12040, 1, why,
                            sizeof why) == 1);
  CHECK_MSG(strstr(why, "needs a driver >= 525.60.13") != NULL, "%s", why);
  CHECK(mn_gpu_unusable_why(MN_CUDA_ERROR_NO_DEVICE, "no CUDA-capable device is detected", 13000,
                            13000, 0, why, sizeof why) == 0);
  CHECK(strstr(why, "no CUDA device is visible") != NULL);
  /* anything else with a driver installed: a GPU there but unusable */
  CHECK(mn_gpu_unusable_why(999, "all CUDA-capable devices are busy or unavailable", 13000, 13000,
                            1, why, sizeof why) == 1);
  CHECK(strstr(why, "busy or unavailable") != NULL);
}

static void test_choose(void) {
  char note[512];
  int index = -7;
  /* nothing from the launcher: local rank modulo the count */
  CHECK(mn_gpu_choose(4, 5, NULL, NULL, -1, &index, note, sizeof note) == MN_OK && index == 1);
  CHECK(note[0] == '\0');
  CHECK(mn_gpu_choose(0, 0, NULL, NULL, -1, &index, note, sizeof note) == MN_ERR_UNAVAILABLE);
  /* the bus id wins over the NVML index: CUDA_VISIBLE_DEVICES=2,3 makes NVML's GPU 3 CUDA's 1 */
  CHECK(mn_gpu_choose(2, 1, "3", "0000:3b:00.0", 1, &index, note, sizeof note) == MN_OK);
  CHECK(index == 1 && note[0] == '\0');
  /* another enumeration order: NVML 0 is CUDA 2 */
  CHECK(mn_gpu_choose(4, 0, "0", "0000:19:00.0", 2, &index, note, sizeof note) == MN_OK);
  CHECK(index == 2);
  /* the bus id is not visible: MN_GPU as a CUDA number, with a note saying why */
  CHECK(mn_gpu_choose(4, 0, "3", "0000:3b:00.0", -1, &index, note, sizeof note) == MN_OK);
  CHECK(index == 3);
  CHECK_MSG(strstr(note, "MN_GPU_PCI=0000:3b:00.0 is not among the 4 visible") &&
                strstr(note, "using MN_GPU=3"),
            "%s", note);
  CHECK(mn_gpu_choose(1, 0, "3", "0000:3b:00.0", -1, &index, note, sizeof note) ==
        MN_ERR_UNAVAILABLE);
  CHECK(strstr(mn_error_message(), "MN_GPU=3, but 1 CUDA device is visible") != NULL);
  /* only MN_GPU (an older launcher): as before */
  CHECK(mn_gpu_choose(4, 0, "2", NULL, -1, &index, note, sizeof note) == MN_OK && index == 2);
  CHECK(mn_gpu_choose(4, 0, "2", "-", -1, &index, note, sizeof note) == MN_OK && index == 2);
  CHECK(note[0] == '\0');
  CHECK(mn_gpu_choose(4, 0, "-1", "-", -1, &index, note, sizeof note) == MN_ERR_UNAVAILABLE);
  CHECK(strstr(mn_error_message(), "placed this rank without a GPU") != NULL);
  CHECK(mn_gpu_choose(4, 0, "x", NULL, -1, &index, note, sizeof note) == MN_ERR_UNAVAILABLE);
  /* a bus id without MN_GPU, not visible: local rank, with a note */
  CHECK(mn_gpu_choose(2, 3, NULL, "0000:3b:00.0", -1, &index, note, sizeof note) == MN_OK);
  CHECK(index == 1 && strstr(note, "local rank") != NULL);
}

int main(void) {
  test_nccl();
  test_unusable();
  test_choose();
  return mn_test_result("test_gpu_policy");
}
