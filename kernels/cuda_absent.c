/* cuda_absent.c: the CUDA entry points of mn_kernels.h in a build without CUDA (MN_CUDA off
 * or no toolkit found): there is no CUDA back end, so mn_kernels_cuda() answers NULL and
 * callers use the CPU table; the TF32 switch does nothing. */
#include <stddef.h>

#include "mn_kernels.h"

const mn_kernels_t *mn_kernels_cuda(void) { return NULL; }

void mn_kernels_cuda_set_tf32(int on) { (void)on; }
