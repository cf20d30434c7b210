/* memory.c: the CPU back end's memory ops: aligned, zeroed host memory and plain copies.
 * Every CPU op runs to completion before it returns, so sync has nothing to wait for and
 * the context's stream means nothing here. */
#include <stdlib.h>
#include <string.h>

#include "mn_cpu.h"

/* as cudaMalloc: the registry aligns its tensors to 256 bytes inside a buffer */
#define MN_CPU_ALIGN 256

void *mn_alloc_cpu(size_t nbytes) {
  void *p = NULL;
  if (nbytes == 0) nbytes = MN_CPU_ALIGN;
  if (posix_memalign(&p, MN_CPU_ALIGN, nbytes) != 0) return NULL;
  memset(p, 0, nbytes);
  return p;
}

void mn_release_cpu(void *p) { free(p); }

void mn_copy_cpu(const mn_kctx_t *ctx, void *dst, const void *src, size_t nbytes) {
  (void)ctx;
  if (nbytes > 0 && dst != src) memmove(dst, src, nbytes);
}

void mn_sync_cpu(const mn_kctx_t *ctx) { (void)ctx; }
