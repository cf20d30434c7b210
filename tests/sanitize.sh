#!/usr/bin/env bash
# tests/sanitize.sh: the whole test suite again under AddressSanitizer and UBSan (CI's
# sanitizer job, run by .ci/run after the main suite).
#
# It configures build-asan/ (MN_SANITIZE=ON, without the CUDA back end: nvcc objects are
# not instrumented, and no GPU test can run here anyway), builds it and runs ctest there.
# Any ASan report (heap overflow, use after free, a leak in mn's own code) or UBSan report
# fails the test that triggered it: UBSan halts on the first error, LeakSanitizer exits
# non-zero. Leaks that belong to the libraries under us (Open MPI, its PMIx and hwloc, HDF5's
# one-time allocations) are suppressed by name in tests/lsan.supp, never by switching leak
# detection off.
#
#   tests/sanitize.sh            configure, build, run everything
#   tests/sanitize.sh -R resume  pass ctest arguments on
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMN_SANITIZE=ON -DMN_CUDA=OFF \
  -DMN_WERROR="${MN_WERROR:-OFF}" >/dev/null
cmake --build build-asan -j "$(nproc)"
# Full stacks through libraries built without frame pointers, and Open MPI's and PMIx's
# components kept loaded at exit, so that a leak's stack names the library it is in (an
# unloaded component shows as "<unknown module>", which no suppression can name).
export OMPI_MCA_mca_base_component_disable_dlclose=1 PMIX_MCA_mca_base_component_disable_dlclose=1
export ASAN_OPTIONS="detect_leaks=1:exitcode=86:strict_string_checks=1:fast_unwind_on_malloc=0"
export LSAN_OPTIONS="suppressions=$src/tests/lsan.supp:print_suppressions=0:fast_unwind_on_malloc=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=86"
# tests that wait for a job to get somewhere scale their bounds by this (never their checks)
export MN_TEST_TIME_SCALE=${MN_TEST_TIME_SCALE:-6}
ctest --test-dir build-asan --output-on-failure "$@"
