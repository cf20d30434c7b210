/* test_rankenv.c: a rank applies mnrun's placement line (runtime/process/mn_rankenv.h): MN_GPU,
 * MN_GPU_PCI (the bus id, when the line has one), NCCL_IB_HCA (the user's own value wins), and the
 * CPU binding; missing files are fine, a missing rank or a bad cpu list is an error. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mn_rankenv.h"
#include "mn_test.h"

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f) {
    fputs(text, f);
    fclose(f);
  }
}

int main(void) {
  char dir[] = "/tmp/mn-test-rankenv-XXXXXX", path[128];
  if (!mkdtemp(dir)) return 1;
  snprintf(path, sizeof path, "%s/placement", dir);
  CHECK(mn_rankenv_apply(dir, 0) == MN_OK); /* no file: not started by mnrun */
  write_file(path, "0 -1 - -\n1 3 mlx5_1 0\n2 0 mlx5_0 0-x\n");
  unsetenv("NCCL_IB_HCA");
  unsetenv("MN_GPU");
  CHECK(mn_rankenv_apply(dir, 0) == MN_OK);
  CHECK(getenv("MN_GPU") && strcmp(getenv("MN_GPU"), "-1") == 0); /* placed without a GPU */
  CHECK(getenv("NCCL_IB_HCA") == NULL);
  cpu_set_t before;
  CHECK(sched_getaffinity(0, sizeof before, &before) == 0);
  CHECK(mn_rankenv_apply(dir, 1) == MN_OK);
  CHECK(getenv("MN_GPU") && strcmp(getenv("MN_GPU"), "3") == 0);
  CHECK(getenv("NCCL_IB_HCA") && strcmp(getenv("NCCL_IB_HCA"), "mlx5_1") == 0);
  cpu_set_t now;
  CHECK(sched_getaffinity(0, sizeof now, &now) == 0);
  CHECK(CPU_COUNT(&now) == 1 && CPU_ISSET(0, &now)); /* bound to cpu 0 */
  sched_setaffinity(0, sizeof before, &before);
  setenv("NCCL_IB_HCA", "mine", 1);
  write_file(path, "1 2 mlx5_9 -\n");
  CHECK(mn_rankenv_apply(dir, 1) == MN_OK);
  CHECK(strcmp(getenv("NCCL_IB_HCA"), "mine") == 0 && strcmp(getenv("MN_GPU"), "2") == 0);
  CHECK(getenv("MN_GPU_PCI") == NULL); /* a line without a bus id (an older mnrun) */
  /* the GPU's PCI bus id, by which the rank finds its CUDA device */
  write_file(path, "0 1 - - 0000:3b:00.0\n1 -1 - - -\n");
  CHECK(mn_rankenv_apply(dir, 0) == MN_OK);
  CHECK(getenv("MN_GPU_PCI") && strcmp(getenv("MN_GPU_PCI"), "0000:3b:00.0") == 0);
  CHECK(strcmp(getenv("MN_GPU"), "1") == 0);
  CHECK(mn_rankenv_apply(dir, 1) == MN_OK);
  CHECK(getenv("MN_GPU_PCI") == NULL && strcmp(getenv("MN_GPU"), "-1") == 0);
  CHECK(mn_rankenv_apply(dir, 5) == MN_ERR_INTERNAL); /* not in the file */
  CHECK(strstr(mn_error_message(), "no line for rank 5") != NULL);
  write_file(path, "2 0 mlx5_0 0-x\n");
  CHECK(mn_rankenv_apply(dir, 2) == MN_ERR_INTERNAL);
  CHECK(strstr(mn_error_message(), "bad cpu list '0-x'") != NULL);
  unlink(path);
  rmdir(dir);
  return mn_test_result("test_rankenv");
}
