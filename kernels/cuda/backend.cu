/* backend.cu: the CUDA back end's kernel table, one entry per op of mn_kernels.h, and the
 * state it owns: the cuBLAS handle and the TF32 switch.
 *
 * mn_kernels_cuda() answers NULL, without failing anything, when no device is usable
 * (cudaGetDeviceCount fails or finds none, or cuBLAS cannot start), so that callers fall
 * back to the CPU table. The first call creates the handle on the current device; device
 * selection, streams and NCCL are not here (the runtime will own them). Not thread-safe
 * before that first call has returned. */
#include "mn_cuda.cuh"

static const mn_kernels_t cuda_kernels = {
    "cuda",
    mn_gemm_cuda,
    mn_bias_act_fwd_cuda,
    mn_relu_bwd_cuda,
    mn_bias_grad_cuda,
    mn_softmax_xent_cuda,
    mn_sgd_update_cuda,
    mn_scale_cuda,
    mn_count_nonfinite_cuda,
    mn_alloc_cuda,
    mn_release_cuda,
    mn_upload_cuda,
    mn_download_cuda,
    mn_copy_cuda,
    mn_sync_cuda,
};

static cublasHandle_t g_cublas;
static int g_tried, g_usable, g_tf32;

static void apply_math_mode(void) {
  MN_CUBLAS_CHECK(cublasSetMathMode(g_cublas, g_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH
                                                     : CUBLAS_DEFAULT_MATH));
}

static int start(void) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count <= 0) {
    (void)cudaGetLastError(); /* clear the error the failed query left behind */
    return 0;
  }
  if (cublasCreate(&g_cublas) != CUBLAS_STATUS_SUCCESS) return 0;
  apply_math_mode();
  return 1;
}

cublasHandle_t mn_cuda_cublas(void) { return g_cublas; }

extern "C" const mn_kernels_t *mn_kernels_cuda(void) {
  if (!g_tried) {
    g_usable = start();
    g_tried = 1;
  }
  return g_usable ? &cuda_kernels : NULL;
}

extern "C" void mn_kernels_cuda_set_tf32(int on) {
  g_tf32 = on != 0;
  if (g_usable) apply_math_mode();
}
