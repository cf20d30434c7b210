/* backend.cu: the CUDA back end's kernel table, one entry per op of mn_kernels.h, and the
 * state it owns: the cuBLAS handle and the TF32 switch.
 *
 * mn_kernels_cuda() answers NULL, without failing anything, when no device is usable
 * (cudaGetDeviceCount fails or finds none, or cuBLAS cannot start), so that callers fall
 * back to the CPU table. The first call creates the handle on the current device; device
 * selection, streams, workspaces and NCCL are not here (the runtime's device owns them and
 * passes them in each op's context; gemm.cu binds the handle to the context's stream). Not
 * thread-safe before that first call has returned. The table is filled by designated
 * initializers, so that an entry added to mn_kernels_t cannot shift the others. */
#include "mn_cuda.cuh"

static const mn_kernels_t cuda_kernels = {
    .name = "cuda",
    .gemm = mn_gemm_cuda,
    .bias_act_fwd = mn_bias_act_fwd_cuda,
    .relu_fwd = mn_relu_fwd_cuda,
    .relu_bwd = mn_relu_bwd_cuda,
    .bias_grad = mn_bias_grad_cuda,
    .softmax_xent = mn_softmax_xent_cuda,
    .softmax_xent_workspace = mn_softmax_xent_workspace_cuda,
    .sgd_update = mn_sgd_update_cuda,
    .adamw_update = mn_adamw_update_cuda,
    .scale = mn_scale_cuda,
    .count_nonfinite = mn_count_nonfinite_cuda,
    .count_nonfinite_workspace = mn_count_nonfinite_workspace_cuda,
    .encoder_fwd = mn_encoder_fwd_cuda,
    .encoder_bwd = mn_encoder_bwd_cuda,
    .encoder_bwd_workspace = mn_encoder_bwd_workspace_cuda,
    .layernorm_fwd = mn_layernorm_fwd_cuda,
    .layernorm_bwd = mn_layernorm_bwd_cuda,
    .gelu_fwd = mn_gelu_fwd_cuda,
    .gelu_bwd = mn_gelu_bwd_cuda,
    .add_fwd = mn_add_fwd_cuda,
    .attention_fwd = mn_attention_fwd_cuda,
    .attention_bwd = mn_attention_bwd_cuda,
    .attention_workspace = mn_attention_workspace_cuda,
    .classifier_xent = mn_classifier_xent_cuda,
    .classifier_xent_workspace = mn_classifier_xent_workspace_cuda,
    .alloc = mn_alloc_cuda,
    .release = mn_release_cuda,
    .upload = mn_upload_cuda,
    .download = mn_download_cuda,
    .copy = mn_copy_cuda,
    .sync = mn_sync_cuda,
};

static cublasHandle_t g_cublas;
static int g_tried, g_usable, g_tf32;

static void apply_math_mode(void) {
  MN_CUBLAS_CHECK(
      cublasSetMathMode(g_cublas, g_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
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
