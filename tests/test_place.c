/* test_place.c: gang placement with topologies (launcher/place.c, mn_place_gang): GPU
 * slots, one rank per GPU, the HCA near each GPU, disjoint cpusets inside the GPU's NUMA
 * node, pack and spread order, uneven and partly broken nodes, CPU-only hosts, the
 * shortfall message, and the --dry-run table. (byslot placement: test_hosts.c.) */
#include "mn_place.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mn_test.h"

#define MAX_HOSTS 16

typedef struct fixture {
  mn_hostlist_t hosts;
  mn_topo_t topos[MAX_HOSTS];
} fixture_t;

/* n hosts node01.. with slots each, and topology spec for all of them (NULL: none). */
static void fixture_make(fixture_t *fx, int n, int slots, const char *spec) {
  memset(fx, 0, sizeof *fx);
  fx->hosts.hosts = calloc((size_t)n, sizeof *fx->hosts.hosts);
  fx->hosts.nhosts = n;
  for (int h = 0; h < n; h++) {
    mn_host_t *host = &fx->hosts.hosts[h];
    snprintf(host->name, sizeof host->name, "node%02d", h + 1);
    host->slots = host->cores = slots;
    host->gpus = -1;
    if (spec) CHECK(mn_topo_synthetic(host->name, spec, &fx->topos[h]) == MN_OK);
  }
}

static void fixture_free(fixture_t *fx) {
  for (int h = 0; h < fx->hosts.nhosts; h++) mn_topo_free(&fx->topos[h]);
  mn_hosts_free(&fx->hosts);
}

/* The cpuset list "0-3,8" as a bit mask of CPUs < 64 (~0 when it is not such a list). */
static unsigned long long cpu_mask(const char *list) {
  unsigned long long mask = 0;
  for (const char *p = list; *p;) {
    char *end;
    long a = strtol(p, &end, 10), b = a;
    if (end == p) return ~0ULL;
    if (*end == '-') b = strtol(end + 1, &end, 10);
    if (a < 0 || b < a || b > 63) return ~0ULL;
    for (long c = a; c <= b; c++) mask |= 1ULL << c;
    p = *end == ',' ? end + 1 : end;
    if (*end && *end != ',') return ~0ULL;
  }
  return mask;
}

static unsigned long long numa_mask(const mn_topo_t *t, int numa) {
  unsigned long long mask = 0;
  for (int c = 0; c < t->numa[numa].ncores; c++) mask |= 1ULL << t->numa[numa].cpus[c];
  return mask;
}

static const mn_topo_hca_t *find_hca(const mn_topo_t *t, const char *name) {
  for (int h = 0; h < t->nhcas; h++)
    if (strcmp(t->hcas[h].name, name) == 0) return &t->hcas[h];
  return NULL;
}

/* Every rank: its own GPU on its host; the HCA and cpuset on the GPU's NUMA node; cpusets
 * disjoint per host. */
static void check_gpu_plan(const fixture_t *fx, const mn_plan_t *p) {
  unsigned char used[MAX_HOSTS][8] = {{0}};
  unsigned long long cpus[MAX_HOSTS] = {0};
  for (int r = 0; r < p->nranks; r++) {
    const mn_rank_place_t *rp = &p->ranks[r];
    const mn_topo_t *t = &fx->topos[rp->host];
    CHECK_MSG(rp->gpu >= 0 && rp->gpu < t->ngpus && !used[rp->host][rp->gpu]++, "rank %d", r);
    if (rp->gpu < 0 || rp->gpu >= t->ngpus) continue;
    int numa = t->gpus[rp->gpu].numa;
    CHECK_MSG(rp->numa == numa, "rank %d: numa %d, its GPU's %d", r, rp->numa, numa);
    const mn_topo_hca_t *hca = find_hca(t, rp->hca);
    if (t->nhcas > 0) CHECK_MSG(hca && hca->numa == numa, "rank %d: hca '%s'", r, rp->hca);
    unsigned long long mask = cpu_mask(rp->cpuset);
    CHECK_MSG(mask && (mask & ~numa_mask(t, numa)) == 0, "rank %d: cpuset %s", r, rp->cpuset);
    CHECK_MSG((mask & cpus[rp->host]) == 0, "rank %d: cpuset %s overlaps", r, rp->cpuset);
    cpus[rp->host] |= mask;
  }
}

static void test_pack_128(void) {
  fixture_t fx;
  fixture_make(&fx, 16, 8, "numa=2,cores=32,gpus=8,hcas=4");
  mn_plan_t p;
  CHECK(mn_place_gang(&fx.hosts, fx.topos, 128, MN_PLACE_PACK, &p) == MN_OK);
  CHECK(p.nranks == 128 && p.nhosts == 16 && !p.oversubscribed && !p.overcommitted);
  for (int r = 0; r < 128; r++) {
    CHECK(p.ranks[r].rank == r && p.ranks[r].host == r / 8 && p.ranks[r].local_rank == r % 8);
    CHECK(p.ranks[r].gpu == r % 8 && p.ranks[r].threads == 4);
    /* the bus id travels with the GPU: the rank finds its CUDA device by it */
    CHECK(strcmp(p.ranks[r].busid, fx.topos[r / 8].gpus[r % 8].busid) == 0);
  }
  for (int h = 0; h < 16; h++) CHECK(p.host_ranks[h] == 8);
  char envpath[] = "/tmp/mn-test-place-XXXXXX";
  int fd = mkstemp(envpath);
  CHECK(fd >= 0 && mn_place_write_rankenv(envpath, &p) == MN_OK);
  FILE *f = fdopen(fd, "r");
  char line[256] = "", busid[64] = "";
  int rank = -1, gpu = -1;
  CHECK(f && fgets(line, sizeof line, f) && fgets(line, sizeof line, f)); /* rank 1 */
  CHECK_MSG(sscanf(line, "%d %d %*s %*s %63s", &rank, &gpu, busid) == 3 && rank == 1 && gpu == 1 &&
                strcmp(busid, fx.topos[0].gpus[1].busid) == 0,
            "%s", line);
  if (f) fclose(f);
  unlink(envpath);
  check_gpu_plan(&fx, &p);
  int pairs = 0; /* every (host, GPU) exactly once: 128 ranks, each its own pair */
  for (int r = 0; r < 128; r++) pairs += p.ranks[r].gpu >= 0;
  CHECK(pairs == 128);
  /* the exact choice on a node: 4 GPUs share NUMA node 0's 16 cores and its 2 HCAs */
  const char *cpusets[] = {"0-3", "4-7", "8-11", "12-15", "16-19", "20-23", "24-27", "28-31"};
  const char *hcas[] = {"mlx5_0", "mlx5_1", "mlx5_0", "mlx5_1",
                        "mlx5_2", "mlx5_3", "mlx5_2", "mlx5_3"};
  for (int l = 0; l < 8; l++) {
    CHECK_MSG(strcmp(p.ranks[8 + l].cpuset, cpusets[l]) == 0, "%s", p.ranks[8 + l].cpuset);
    CHECK_MSG(strcmp(p.ranks[8 + l].hca, hcas[l]) == 0, "%s", p.ranks[8 + l].hca);
  }
  mn_place_free(&p);

  /* 129: nothing placed, and the message says what is missing */
  mn_plan_t untouched = {.nranks = -3};
  CHECK(mn_place_gang(&fx.hosts, fx.topos, 129, MN_PLACE_PACK, &untouched) == MN_ERR_PEER);
  CHECK_MSG(strcmp(mn_error_message(), "need 129 GPU slots; the allocation has 128 on 16 nodes") ==
                0,
            "%s", mn_error_message());
  CHECK(untouched.nranks == -3 && untouched.ranks == NULL);
  CHECK(mn_place_gang(&fx.hosts, fx.topos, 129, MN_PLACE_SPREAD, &untouched) == MN_ERR_PEER);
  CHECK(mn_place_gang(&fx.hosts, fx.topos, 0, MN_PLACE_PACK, &untouched) == MN_ERR_USAGE);

  /* 20 ranks: pack fills nodes 1-2 and half of 3 */
  CHECK(mn_place_gang(&fx.hosts, fx.topos, 20, MN_PLACE_PACK, &p) == MN_OK);
  CHECK(p.host_ranks[0] == 8 && p.host_ranks[1] == 8 && p.host_ranks[2] == 4 &&
        p.host_ranks[3] == 0);
  /* node 3's 4 ranks all have GPUs on NUMA node 0: its 16 cores split 4 ways */
  CHECK(strcmp(p.ranks[19].cpuset, "12-15") == 0 && p.ranks[19].gpu == 3);
  mn_place_free(&p);
  fixture_free(&fx);
}

static void test_spread(void) {
  fixture_t fx;
  fixture_make(&fx, 16, 8, "numa=2,cores=32,gpus=8,hcas=4");
  mn_plan_t p;
  CHECK(mn_place_gang(&fx.hosts, fx.topos, 20, MN_PLACE_SPREAD, &p) == MN_OK);
  for (int r = 0; r < 20; r++)
    CHECK_MSG(p.ranks[r].host == r % 16 && p.ranks[r].local_rank == r / 16 &&
                  p.ranks[r].gpu == r / 16,
              "rank %d: host %d local %d", r, p.ranks[r].host, p.ranks[r].local_rank);
  for (int h = 0; h < 16; h++) CHECK(p.host_ranks[h] == (h < 4 ? 2 : 1));
  check_gpu_plan(&fx, &p);
  /* a node with 2 ranks on NUMA node 0: its 16 cores split 2 ways */
  CHECK(strcmp(p.ranks[0].cpuset, "0-7") == 0 && strcmp(p.ranks[16].cpuset, "8-15") == 0);
  CHECK(strcmp(p.ranks[4].cpuset, "0-15") == 0 && p.ranks[4].threads == 16);
  mn_place_free(&p);
  CHECK(mn_place_gang(&fx.hosts, fx.topos, 128, MN_PLACE_SPREAD, &p) == MN_OK);
  check_gpu_plan(&fx, &p);
  CHECK(p.ranks[127].host == 15 && p.ranks[127].local_rank == 7);
  mn_place_free(&p);
  fixture_free(&fx);

  /* uneven capacities 2, 1, 3: full hosts are skipped */
  mn_hostlist_t l;
  CHECK(mn_hosts_parse_list("a:2,b:1,c:3", &l) == MN_OK);
  CHECK(mn_place_gang(&l, NULL, 6, MN_PLACE_SPREAD, &p) == MN_OK);
  int want_host[] = {0, 1, 2, 0, 2, 2}, want_local[] = {0, 0, 0, 1, 1, 2};
  for (int r = 0; r < 6; r++)
    CHECK_MSG(p.ranks[r].host == want_host[r] && p.ranks[r].local_rank == want_local[r],
              "rank %d on host %d", r, p.ranks[r].host);
  mn_place_free(&p);
  mn_hosts_free(&l);
}

static void test_uneven(void) {
  fixture_t fx;
  fixture_make(&fx, 3, 8, NULL);
  CHECK(mn_topo_synthetic("node01", "numa=2,cores=32,gpus=8,hcas=4", &fx.topos[0]) == MN_OK);
  CHECK(mn_topo_synthetic("node02", "numa=2,cores=16,gpus=4,hcas=2", &fx.topos[1]) == MN_OK);
  CHECK(mn_topo_synthetic("node03", "numa=1,cores=8,gpus=2", &fx.topos[2]) == MN_OK); /* no HCA */
  mn_plan_t p;
  CHECK(mn_place_gang(&fx.hosts, fx.topos, 14, MN_PLACE_PACK, &p) == MN_OK);
  CHECK(p.host_ranks[0] == 8 && p.host_ranks[1] == 4 && p.host_ranks[2] == 2);
  check_gpu_plan(&fx, &p);
  CHECK(p.ranks[8].host == 1 && strcmp(p.ranks[8].cpuset, "0-3") == 0);
  CHECK(strcmp(p.ranks[8].hca, "mlx5_0") == 0 && strcmp(p.ranks[10].hca, "mlx5_1") == 0);
  CHECK(p.ranks[12].host == 2 && p.ranks[12].hca[0] == '\0' && p.ranks[13].gpu == 1);
  CHECK(strcmp(p.ranks[12].cpuset, "0-3") == 0 && strcmp(p.ranks[13].cpuset, "4-7") == 0);
  mn_place_free(&p);
  CHECK(mn_place_gang(&fx.hosts, fx.topos, 15, MN_PLACE_PACK, &p) == MN_ERR_PEER);
  CHECK_MSG(strcmp(mn_error_message(), "need 15 GPU slots; the allocation has 14 on 3 nodes") == 0,
            "%s", mn_error_message());

  /* slots limit GPUs, and so do the GPUs the hosts give the job */
  fx.hosts.hosts[0].slots = 3;
  fx.hosts.hosts[1].gpus = 2;
  CHECK(mn_place_gang(&fx.hosts, fx.topos, 8, MN_PLACE_PACK, &p) == MN_ERR_PEER);
  CHECK(strstr(mn_error_message(), "the allocation has 7 on 3 nodes"));
  CHECK(mn_place_gang(&fx.hosts, fx.topos, 7, MN_PLACE_PACK, &p) == MN_OK);
  CHECK(p.host_ranks[0] == 3 && p.host_ranks[1] == 2 && p.host_ranks[2] == 2);
  check_gpu_plan(&fx, &p);
  mn_place_free(&p);

  /* a host that gives the job no GPU takes no rank of a GPU job */
  fx.hosts.hosts[2].gpus = 0;
  CHECK(mn_place_gang(&fx.hosts, fx.topos, 6, MN_PLACE_PACK, &p) == MN_ERR_PEER);
  CHECK_MSG(strcmp(mn_error_message(),
                   "need 6 GPU slots; the allocation has 5 on 3 nodes (1 without GPUs)") == 0,
            "%s", mn_error_message());
  fixture_free(&fx);
}

static void test_hca_state(void) {
  fixture_t fx;
  fixture_make(&fx, 1, 8, "numa=2,cores=32,gpus=8,hcas=4");
  mn_topo_t *t = &fx.topos[0];
  mn_plan_t p;
  /* mlx5_0 down: NUMA node 0's ranks all use mlx5_1 */
  snprintf(t->hcas[0].state, sizeof t->hcas[0].state, "DOWN");
  CHECK(mn_place_gang(&fx.hosts, fx.topos, 8, MN_PLACE_PACK, &p) == MN_OK);
  for (int r = 0; r < 4; r++)
    CHECK_MSG(strcmp(p.ranks[r].hca, "mlx5_1") == 0, "%s", p.ranks[r].hca);
  CHECK(strcmp(p.ranks[4].hca, "mlx5_2") == 0 && strcmp(p.ranks[5].hca, "mlx5_3") == 0);
  mn_place_free(&p);
  /* both of node 0's down: an ACTIVE one elsewhere rather than a dead one nearby */
  snprintf(t->hcas[1].state, sizeof t->hcas[1].state, "DOWN");
  CHECK(mn_place_gang(&fx.hosts, fx.topos, 8, MN_PLACE_PACK, &p) == MN_OK);
  for (int r = 0; r < 8; r++) {
    const mn_topo_hca_t *hca = find_hca(t, p.ranks[r].hca);
    CHECK_MSG(hca && strcmp(hca->state, "ACTIVE") == 0, "rank %d: %s", r, p.ranks[r].hca);
  }
  mn_place_free(&p);
  /* all down: still one of them, in turn */
  for (int h = 0; h < 4; h++) snprintf(t->hcas[h].state, sizeof t->hcas[h].state, "DOWN");
  CHECK(mn_place_gang(&fx.hosts, fx.topos, 8, MN_PLACE_PACK, &p) == MN_OK);
  CHECK(strcmp(p.ranks[0].hca, "mlx5_0") == 0 && strcmp(p.ranks[5].hca, "mlx5_1") == 0);
  mn_place_free(&p);
  fixture_free(&fx);
}

/* GPUs known only from the host list (no topology): one per rank, nothing else bound. */
static void test_gpus_without_topology(void) {
  fixture_t fx;
  fixture_make(&fx, 2, 8, NULL);
  fx.hosts.hosts[0].gpus = 4;
  fx.hosts.hosts[1].gpus = 2;
  mn_plan_t p;
  CHECK(mn_place_gang(&fx.hosts, NULL, 7, MN_PLACE_PACK, &p) == MN_ERR_PEER);
  CHECK(strcmp(mn_error_message(), "need 7 GPU slots; the allocation has 6 on 2 nodes") == 0);
  CHECK(mn_place_gang(&fx.hosts, NULL, 6, MN_PLACE_PACK, &p) == MN_OK);
  for (int r = 0; r < 6; r++) {
    CHECK(p.ranks[r].gpu == (r < 4 ? r : r - 4) && p.ranks[r].host == (r >= 4));
    CHECK(p.ranks[r].cpuset[0] == '\0' && p.ranks[r].hca[0] == '\0' && p.ranks[r].numa == -1);
  }
  CHECK(p.ranks[0].threads == 2 && p.ranks[5].threads == 4); /* 8 cores / 4 and / 2 ranks */
  mn_place_free(&p);
  /* byslot knows no GPUs: the same hosts take their 16 slots */
  CHECK(mn_place_byslot(&fx.hosts, 16, &p) == MN_OK);
  CHECK(p.ranks[15].gpu == -1 && p.ranks[15].host == 1);
  mn_place_free(&p);
  fixture_free(&fx);

  /* the local machine may not share a GPU between ranks either */
  mn_hostlist_t local;
  CHECK(mn_hosts_local(&local) == MN_OK);
  local.hosts[0].slots = 8;
  local.hosts[0].gpus = 2;
  CHECK(local.implicit && mn_place_gang(&local, NULL, 3, MN_PLACE_PACK, &p) == MN_ERR_PEER);
  CHECK(strstr(mn_error_message(), "need 3 GPU slots; the allocation has 2 on 1 node"));
  mn_hosts_free(&local);
}

static void test_cpu_only(void) {
  mn_hostlist_t l;
  CHECK(mn_hosts_parse_list("a:2,b:3,c:1", &l) == MN_OK);
  mn_plan_t p, q;
  /* no topology: exactly byslot */
  CHECK(mn_place_gang(&l, NULL, 6, MN_PLACE_PACK, &p) == MN_OK);
  CHECK(mn_place_byslot(&l, 6, &q) == MN_OK);
  for (int r = 0; r < 6; r++) {
    CHECK(p.ranks[r].host == q.ranks[r].host && p.ranks[r].local_rank == q.ranks[r].local_rank);
    CHECK(p.ranks[r].threads == q.ranks[r].threads && p.ranks[r].gpu == -1);
    CHECK(p.ranks[r].cpuset[0] == '\0' && q.ranks[r].cpuset[0] == '\0' && q.ranks[r].numa == -1);
  }
  mn_place_free(&q);
  mn_place_free(&p);
  CHECK(mn_place_gang(&l, NULL, 7, MN_PLACE_PACK, &p) == MN_ERR_PEER);
  CHECK_MSG(strcmp(mn_error_message(), "need 7 slots; the allocation has 6 on 3 nodes") == 0, "%s",
            mn_error_message());

  /* with a topology of 8 cores on 2 NUMA nodes: an even contiguous slice per local rank */
  mn_topo_t topos[3];
  for (int h = 0; h < 3; h++)
    CHECK(mn_topo_synthetic(l.hosts[h].name, "numa=2,cores=8", &topos[h]) == MN_OK);
  CHECK(mn_place_gang(&l, topos, 6, MN_PLACE_PACK, &p) == MN_OK);
  const char *cpusets[] = {"0-3", "4-7", "0-1", "2-4", "5-7", "0-7"};
  int numas[] = {0, 1, 0, -1, 1, -1}, threads[] = {4, 4, 2, 3, 3, 8};
  for (int r = 0; r < 6; r++) {
    CHECK(p.ranks[r].host == (r < 2 ? 0 : r < 5 ? 1 : 2));
    CHECK_MSG(strcmp(p.ranks[r].cpuset, cpusets[r]) == 0 && p.ranks[r].numa == numas[r] &&
                  p.ranks[r].threads == threads[r],
              "rank %d: %s numa %d threads %d", r, p.ranks[r].cpuset, p.ranks[r].numa,
              p.ranks[r].threads);
    CHECK(p.ranks[r].gpu == -1 && p.ranks[r].hca[0] == '\0');
  }
  mn_place_free(&p);
  for (int h = 0; h < 3; h++) mn_topo_free(&topos[h]);
  mn_hosts_free(&l);

  /* the local machine oversubscribed: allowed, unbound */
  mn_hostlist_t local;
  CHECK(mn_hosts_local(&local) == MN_OK);
  mn_topo_t lt;
  CHECK(mn_topo_synthetic(local.hosts[0].name, "cores=2", &lt) == MN_OK);
  local.hosts[0].slots = local.hosts[0].cores = 2;
  CHECK(mn_place_gang(&local, &lt, 5, MN_PLACE_SPREAD, &p) == MN_OK);
  CHECK(p.oversubscribed && p.overcommitted && p.host_ranks[0] == 5);
  for (int r = 0; r < 5; r++) CHECK(p.ranks[r].cpuset[0] == '\0' && p.ranks[r].local_rank == r);
  mn_place_free(&p);
  mn_topo_free(&lt);
  mn_hosts_free(&local);
}

static char *print_plan(const mn_hostlist_t *hosts, const mn_plan_t *p, int uniform) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return NULL;
  mn_place_print_threads(f, hosts, p, uniform);
  fclose(f);
  return buf;
}

static void test_print(void) {
  mn_hostlist_t l;
  CHECK(mn_hosts_parse_list("a:2,b:2", &l) == MN_OK);
  mn_plan_t p;
  CHECK(mn_place_byslot(&l, 4, &p) == MN_OK);
  char *text = print_plan(&l, &p, 0);
  const char *want = "mnrun: 4 ranks on 2 hosts\n"
                     "  rank  host  local_rank  blas_threads\n"
                     "     0  a              0             1\n"
                     "     1  a              1             1\n"
                     "     2  b              0             1\n"
                     "     3  b              1             1\n";
  CHECK_MSG(text && strcmp(text, want) == 0, "got:\n%s", text ? text : "(null)");
  free(text);
  mn_place_free(&p);
  mn_hosts_free(&l);

  fixture_t fx;
  fixture_make(&fx, 2, 8, "numa=2,cores=32,gpus=8,hcas=4");
  fx.topos[1].nhcas = 0; /* node02: no HCA column values */
  CHECK(mn_place_gang(&fx.hosts, fx.topos, 9, MN_PLACE_PACK, &p) == MN_OK);
  text = print_plan(&fx.hosts, &p, 3);
  CHECK(text && strstr(text, "mnrun: 9 ranks on 2 hosts\n"
                             "  rank  host    local_rank  gpu  hca     cpuset  blas_threads\n"
                             "     0  node01           0    0  mlx5_0  0-3                3\n"));
  CHECK_MSG(text && strstr(text, "     8  node02           0    0  -       0-15               3\n"),
            "got:\n%s", text ? text : "(null)");
  free(text);
  mn_place_free(&p);
  fixture_free(&fx);
}

int main(void) {
  test_pack_128();
  test_spread();
  test_uneven();
  test_hca_state();
  test_gpus_without_topology();
  test_cpu_only();
  test_print();
  return mn_test_result("test_place");
}
