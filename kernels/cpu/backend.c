/* backend.c: the CPU back end's kernel table, one entry per op of mn_kernels.h.
 *
 * Each op lives in its own file (kernels/cpu/<op>.c), which is also the reference that the
 * CUDA twin (kernels/cuda/<op>.cu) is tested against. Their prototypes are in mn_cpu.h,
 * which every op file includes; assigning them into the table checks them against the
 * table's types. */
#include "mn_cpu.h"

static const mn_kernels_t cpu_kernels = {
    .name = "cpu",
    .gemm = mn_gemm_cpu,
    .bias_act_fwd = mn_bias_act_fwd_cpu,
    .relu_fwd = mn_relu_fwd_cpu,
    .relu_bwd = mn_relu_bwd_cpu,
    .bias_grad = mn_bias_grad_cpu,
    .softmax_xent = mn_softmax_xent_cpu,
    .softmax_xent_workspace = mn_softmax_xent_workspace_cpu,
    .sgd_update = mn_sgd_update_cpu,
    .adamw_update = mn_adamw_update_cpu,
    .scale = mn_scale_cpu,
    .count_nonfinite = mn_count_nonfinite_cpu,
    .count_nonfinite_workspace = mn_count_nonfinite_workspace_cpu,
    .encoder_fwd = mn_encoder_fwd_cpu,
    .encoder_bwd = mn_encoder_bwd_cpu,
    .encoder_bwd_workspace = mn_encoder_bwd_workspace_cpu,
    .layernorm_fwd = mn_layernorm_fwd_cpu,
    .layernorm_bwd = mn_layernorm_bwd_cpu,
    .gelu_fwd = mn_gelu_fwd_cpu,
    .gelu_bwd = mn_gelu_bwd_cpu,
    .add_fwd = mn_add_fwd_cpu,
    .attention_fwd = mn_attention_fwd_cpu,
    .attention_bwd = mn_attention_bwd_cpu,
    .attention_workspace = mn_attention_workspace_cpu,
    .classifier_xent = mn_classifier_xent_cpu,
    .classifier_xent_workspace = mn_classifier_xent_workspace_cpu,
    .alloc = mn_alloc_cpu,
    .release = mn_release_cpu,
    .upload = mn_copy_cpu,
    .download = mn_copy_cpu,
    .copy = mn_copy_cpu,
    .sync = mn_sync_cpu,
};

const mn_kernels_t *mn_kernels_cpu(void) { return &cpu_kernels; }

/* Constant and empty: sharing it is safe, it holds no scratch. */
static const mn_kctx_t default_kctx = {.stream = NULL, .workspace = NULL, .workspace_nbytes = 0};

const mn_kctx_t *mn_kctx_default(void) { return &default_kctx; }
