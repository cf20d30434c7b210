/* mn_vmath.h: the C library's vector math for the CPU ops' element-wise loops. With glibc on
 * x86-64 (MN_HAVE_LIBMVEC, found by CMake), tanhf and expf are declared `omp declare simd`,
 * as glibc's own math.h does only under -ffast-math: a loop marked `#pragma omp simd` then
 * calls libmvec's vector variants (_ZGVbN4v_tanhf, ...: 4, 8 or 16 lanes by the clone's
 * instruction set), about 10x (SSE) to 35x (AVX-512) faster than one tanhf per element and
 * within a few ulps of it (glibc documents libmvec's bound as 4 ulps). Elsewhere they stay
 * the scalar functions and the loops are plain loops.
 *
 * A vector variant and the scalar function may differ in the last bits, so an op whose
 * result must not depend on how its range is split (over threads, or into a vector body and
 * a scalar tail) runs every element through the same path: MN_VMATH_BLOCK elements at a
 * time, the last partial block through a padded copy (mn_vmath_blocks).
 *
 * MN_VMATH_CLONES compiles a function for AVX-512, AVX2 and the baseline, chosen once per
 * process when the library loads (GCC's target_clones; glibc's ifunc), as OpenBLAS picks its
 * kernels: a machine computes the same bits at every call, machines of another instruction
 * set the same values within the bound. Internal to kernels/. */
#ifndef MN_VMATH_H
#define MN_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef MN_HAVE_LIBMVEC
#pragma omp declare simd notinbranch
float tanhf(float);
#pragma omp declare simd notinbranch
float expf(float);
#define MN_VMATH_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MN_VMATH_CLONES
#endif

/* elements per block: a multiple of every vector width (16 lanes of AVX-512) */
#define MN_VMATH_BLOCK 64

#endif /* MN_VMATH_H */
