/* test_topo.c: node topologies (launcher/topo.c): this machine probed through hwloc, NVML
 * and libibverbs, with absent GPUs and HCAs reported as notes; synthetic specs, their
 * layout and their errors; CPU lists and the printed description. */
#include "mn_topo.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mn_test.h"

static int has_note(const mn_topo_t *t, const char *text) {
  for (int i = 0; i < t->nnotes; i++)
    if (strstr(t->notes[i], text)) return 1;
  return 0;
}

/* What mn_topo_print writes, in a malloc'd string. */
static char *printed(const mn_topo_t *t) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return NULL;
  mn_topo_print(f, t);
  fclose(f);
  return buf;
}

static void test_local(void) {
  mn_topo_t t;
  mn_status_t st = mn_topo_local(&t);
  CHECK_MSG(st == MN_OK, "%s", mn_error_message());
  if (st != MN_OK) return;
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  CHECK(t.nnuma >= 1 && t.ncores >= 1 && t.ncores <= online);
  CHECK(t.host[0] != '\0');
  int sum = 0;
  for (int n = 0; n < t.nnuma; n++) {
    sum += t.numa[n].ncores;
    CHECK(t.numa[n].ncores == 0 || t.numa[n].cpuset[0] != '\0');
    for (int c = 1; c < t.numa[n].ncores; c++) CHECK(t.numa[n].cpus[c] > t.numa[n].cpus[c - 1]);
  }
  CHECK(sum == t.ncores);
  /* Without NVML (this machine) there is no GPU, and a note says why; with it, every GPU
   * has a bus id and a NUMA node in range. */
  void *nvml = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!nvml) {
    CHECK(t.ngpus == 0);
    CHECK_MSG(has_note(&t, "no GPU: NVML not found"), "notes: %d", t.nnotes);
  } else {
    dlclose(nvml);
    CHECK(t.ngpus > 0 || has_note(&t, "no GPU"));
  }
  for (int g = 0; g < t.ngpus; g++)
    CHECK(t.gpus[g].busid[0] && t.gpus[g].numa >= -1 && t.gpus[g].numa < t.nnuma);
  if (access("/sys/class/infiniband", F_OK) != 0) {
    CHECK(t.nhcas == 0);
    CHECK(has_note(&t, "no InfiniBand device"));
  }
  for (int h = 0; h < t.nhcas; h++) CHECK(t.hcas[h].name[0] && t.hcas[h].state[0]);
  char *text = printed(&t);
  CHECK(text && strncmp(text, "host ", 5) == 0 && strstr(text, "  numa "));
  if (text && t.ngpus == 0) CHECK(strstr(text, "  note: no GPU"));
  if (text) fputs(text, stderr); /* what this machine looks like, for the log */
  free(text);
  mn_topo_free(&t);
  CHECK(t.numa == NULL && t.nnuma == 0);
}

static void test_synthetic(void) {
  mn_topo_t t;
  CHECK(mn_topo_synthetic("node01", "numa=2,cores=32,gpus=8,hcas=4", &t) == MN_OK);
  CHECK(strcmp(t.host, "node01") == 0);
  CHECK(t.nnuma == 2 && t.ncores == 32 && t.ngpus == 8 && t.nhcas == 4 && t.nnotes == 0);
  CHECK(strcmp(t.numa[0].cpuset, "0-15") == 0 && strcmp(t.numa[1].cpuset, "16-31") == 0);
  CHECK(t.numa[0].ncores == 16 && t.numa[1].cpus[0] == 16 && t.numa[1].cpus[15] == 31);
  for (int g = 0; g < 8; g++) CHECK(t.gpus[g].index == g && t.gpus[g].numa == g / 4);
  for (int h = 0; h < 4; h++) {
    char name[16];
    snprintf(name, sizeof name, "mlx5_%d", h);
    CHECK(strcmp(t.hcas[h].name, name) == 0 && t.hcas[h].numa == h / 2);
    CHECK(strcmp(t.hcas[h].state, "ACTIVE") == 0);
    CHECK(strcmp(t.hcas[h].link_layer, "InfiniBand") == 0 && t.hcas[h].rate_gbps == 200);
  }
  char *text = printed(&t);
  CHECK(text && strstr(text, "host node01: 2 NUMA nodes, 32 cores, 8 GPUs, 4 HCAs\n"));
  CHECK(text && strstr(text, "  numa 1: 16 cores, cpus 16-31\n"));
  CHECK(text && strstr(text, "  gpu 5: synthetic GPU, pci 0000:06:00.0, numa 1\n"));
  CHECK(text && strstr(text, "  hca mlx5_2: ACTIVE, InfiniBand, 200 Gb/s, pci 0000:82:00.0, "
                             "numa 1\n"));
  free(text);
  mn_topo_free(&t);

  /* uneven: 10 cores on 3 nodes (4, 3, 3), 2 GPUs and 1 HCA spread in order */
  CHECK(mn_topo_synthetic("n", "numa=3,cores=10,gpus=2,hcas=1", &t) == MN_OK);
  CHECK(t.nnuma == 3 && t.numa[0].ncores == 4 && t.numa[1].ncores == 3);
  CHECK(strcmp(t.numa[0].cpuset, "0-3") == 0 && strcmp(t.numa[1].cpuset, "4-6") == 0 &&
        strcmp(t.numa[2].cpuset, "7-9") == 0);
  CHECK(t.gpus[0].numa == 0 && t.gpus[1].numa == 1 && t.hcas[0].numa == 0);
  mn_topo_free(&t);

  /* defaults: one NUMA node, no GPU, no HCA, and notes saying so */
  CHECK(mn_topo_synthetic("n", "cores=4", &t) == MN_OK);
  CHECK(t.nnuma == 1 && t.ncores == 4 && t.ngpus == 0 && t.nhcas == 0 && t.gpus == NULL);
  CHECK(has_note(&t, "no GPU") && has_note(&t, "no InfiniBand device"));
  char *one = printed(&t);
  CHECK(one && strstr(one, "1 NUMA node, 4 cores, 0 GPUs, 0 HCAs\n"));
  free(one);
  mn_topo_free(&t);
}

static void test_synthetic_errors(void) {
  const char *bad[] = {"",
                       "numa=2",
                       "cores=abc",
                       "cores=4,foo=1",
                       "cores=4,cores=4",
                       "numa=0,cores=4",
                       "numa=8,cores=4",
                       "cores=4,gpus=-1",
                       "cores",
                       "cores=",
                       "cores=4x",
                       "cores=4,hcas=1.5"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    mn_topo_t t = {.nnuma = -7};
    mn_error_clear();
    CHECK_MSG(mn_topo_synthetic("n", bad[i], &t) == MN_ERR_USAGE, "spec '%s'", bad[i]);
    CHECK_MSG(t.nnuma == -7, "spec '%s' wrote its output", bad[i]);
    CHECK_MSG(strstr(mn_error_message(), "topology '"), "'%s': %s", bad[i], mn_error_message());
  }
  mn_topo_t t;
  CHECK(mn_topo_synthetic("n", "cores=4,foo=1", &t) == MN_ERR_USAGE);
  CHECK(strstr(mn_error_message(), "unknown key 'foo'"));
  CHECK(mn_topo_synthetic("n", "numa=8,cores=4", &t) == MN_ERR_USAGE);
  CHECK(strstr(mn_error_message(), "4 cores cannot fill 8 NUMA nodes"));
  CHECK(mn_topo_synthetic("n", "numa=2", &t) == MN_ERR_USAGE);
  CHECK(strstr(mn_error_message(), "cores= is missing"));
  CHECK(mn_topo_synthetic("n", "cores=4,cores=4", &t) == MN_ERR_USAGE);
  CHECK(strstr(mn_error_message(), "'cores' given twice"));
}

static void test_format_cpus(void) {
  char buf[32];
  int cpus[] = {0, 1, 2, 3, 8, 10, 11};
  CHECK(mn_topo_format_cpus(cpus, 7, buf, sizeof buf) == 0 && strcmp(buf, "0-3,8,10-11") == 0);
  CHECK(mn_topo_format_cpus(cpus + 4, 1, buf, sizeof buf) == 0 && strcmp(buf, "8") == 0);
  CHECK(mn_topo_format_cpus(cpus, 0, buf, sizeof buf) == 0 && strcmp(buf, "") == 0);
  CHECK(mn_topo_format_cpus(cpus, 7, buf, 11) == -1 && buf[0] == '\0');
  CHECK(mn_topo_format_cpus(cpus, 7, buf, 12) == 0); /* exactly 11 characters and '\0' */
}

int main(void) {
  test_format_cpus();
  test_synthetic();
  test_synthetic_errors();
  test_local();
  return mn_test_result("test_topo");
}
