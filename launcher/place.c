/* place.c: placement of a gang of ranks onto a host list (mn_place.h).
 *
 * Three steps. Capacity: how many ranks each host may take (its slots, or on a GPU job
 * min(slots, GPUs)); the gang either fits or nothing is placed. Order: which host each
 * rank goes to (pack: host by host, contiguous like mpirun's byslot map; spread:
 * round-robin), and its local rank there. Resources: per host, from its topology, each
 * rank's GPU, NUMA node, cpuset and HCA. Nothing here starts a process or knows which
 * engine will; the --dry-run table is printed here so that it shows every column chosen. */
#include "mn_place.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct place_ctx {
  const mn_hostlist_t *hosts;
  const mn_topo_t *topos; /* [nhosts] or NULL */
  int *cap;               /* [nhosts]: ranks each host may take */
  int *ngpus;             /* [nhosts]: GPUs each host offers the job */
  int gpu_job;            /* some host has GPUs */
} place_ctx_t;

/* GPUs host h offers: its topology's, limited by hosts[h].gpus when known, else that. */
static int host_gpus(const place_ctx_t *c, int h) {
  int known = c->topos ? c->topos[h].ngpus : 0, given = c->hosts->hosts[h].gpus;
  if (given < 0) return known;
  return known > 0 && known < given ? known : given;
}

static int host_cores(const place_ctx_t *c, int h) {
  return c->topos && c->topos[h].ncores > 0 ? c->topos[h].ncores : c->hosts->hosts[h].cores;
}

/* Capacities; MN_ERR_PEER naming the shortfall unless the local machine may take it. */
static mn_status_t set_capacity(place_ctx_t *c, int nranks, int *oversubscribe) {
  const mn_hostlist_t *hosts = c->hosts;
  int total = 0, without = 0;
  for (int h = 0; h < hosts->nhosts; h++)
    if ((c->ngpus[h] = host_gpus(c, h)) > 0) c->gpu_job = 1;
  for (int h = 0; h < hosts->nhosts; h++) {
    int slots = hosts->hosts[h].slots;
    c->cap[h] = !c->gpu_job ? slots : c->ngpus[h] < slots ? c->ngpus[h] : slots;
    without += c->gpu_job && c->ngpus[h] == 0;
    total += c->cap[h];
  }
  *oversubscribe = nranks > total;
  if (nranks <= total || (hosts->implicit && !c->gpu_job)) return MN_OK;
  char extra[64] = "";
  if (without > 0) snprintf(extra, sizeof extra, " (%d without GPUs)", without);
  return mn_error(MN_ERR_PEER, "need %d %sslots; the allocation has %d on %d node%s%s", nranks,
                  c->gpu_job ? "GPU " : "", total, hosts->nhosts, hosts->nhosts == 1 ? "" : "s",
                  extra);
}

/* ---- order ---- */

/* Pack: fill capacities in host order; the excess (only when allowed) round-robin. */
static void count_pack(const int *cap, int nhosts, int nranks, int *counts) {
  int left = nranks;
  for (int h = 0; h < nhosts; h++) {
    counts[h] = left < cap[h] ? left : cap[h];
    left -= counts[h];
  }
  for (int h = 0; left > 0; h = (h + 1) % nhosts, left--) counts[h]++;
}

static void order_pack(mn_plan_t *out) {
  int rank = 0;
  for (int h = 0; h < out->nhosts; h++)
    for (int l = 0; l < out->host_ranks[h]; l++, rank++)
      out->ranks[rank] = (mn_rank_place_t){.rank = rank, .host = h, .local_rank = l};
}

/* Spread: rank r to the next host with room after the previous rank's (all full: the
 * next host, which only the oversubscribed local machine reaches). */
static void order_spread(const int *cap, mn_plan_t *out) {
  for (int r = 0, h = 0; r < out->nranks; r++, h = (h + 1) % out->nhosts) {
    for (int tries = 0; tries < out->nhosts && out->host_ranks[h] >= cap[h]; tries++)
      h = (h + 1) % out->nhosts;
    out->ranks[r] = (mn_rank_place_t){.rank = r, .host = h, .local_rank = out->host_ranks[h]++};
  }
}

/* ---- resources of one host's ranks ---- */

/* The l-th core of the host, NUMA node by NUMA node; its node in *numa. */
static int host_core(const mn_topo_t *t, int l, int *numa) {
  for (int n = 0; n < t->nnuma; l -= t->numa[n].ncores, n++)
    if (l < t->numa[n].ncores) {
      *numa = n;
      return t->numa[n].cpus[l];
    }
  *numa = -1;
  return -1;
}

/* cpuset = cores [first, end) of the host (node < 0) or of NUMA node node; threads = their
 * count. numa: the NUMA node holding them all, else -1. Left unbound when the list does
 * not fit (or memory runs out: binding is an optimisation). */
static void bind_slice(const mn_topo_t *t, int node, int first, int end, mn_rank_place_t *p) {
  int n = end - first, numa = node;
  int *cpus = n > 0 ? malloc((size_t)n * sizeof *cpus) : NULL;
  if (!cpus) return;
  for (int i = 0; i < n; i++) {
    int at = node;
    cpus[i] = node >= 0 ? t->numa[node].cpus[first + i] : host_core(t, first + i, &at);
    if (i == 0) numa = at;
    if (at != numa) numa = -1;
  }
  if (mn_topo_format_cpus(cpus, n, p->cpuset, sizeof p->cpuset) == 0) {
    p->numa = numa;
    p->threads = n;
  }
  free(cpus);
}

/* GPU, NUMA node and cpuset for the ranks of a GPU host (ranks: by local rank). */
static void bind_gpus(const mn_topo_t *t, mn_rank_place_t **ranks, int n, int *per_numa) {
  for (int l = 0; l < n; l++) {
    ranks[l]->gpu = t && t->ngpus > l ? t->gpus[l].index : l;
    if (t && t->ngpus > l)
      snprintf(ranks[l]->busid, sizeof ranks[l]->busid, "%s", t->gpus[l].busid);
    ranks[l]->numa = t && t->ngpus > l ? t->gpus[l].numa : -1;
    if (ranks[l]->numa >= 0) per_numa[ranks[l]->numa]++;
  }
  int *seen = per_numa + (t ? t->nnuma : 0);
  for (int l = 0; t && l < n; l++) {
    int k = ranks[l]->numa;
    if (k < 0) continue;
    int m = per_numa[k], c = t->numa[k].ncores, j = seen[k]++;
    if (m <= c) bind_slice(t, k, (int)((long)j * c / m), (int)((long)(j + 1) * c / m), ranks[l]);
  }
}

/* The HCA for the j-th rank on NUMA node numa (local rank l): see mn_place_gang. */
static const char *pick_hca(const mn_topo_t *t, int numa, int j, int l) {
  int near = 0, active = 0;
  for (int i = 0; i < t->nhcas; i++) {
    int up = strcmp(t->hcas[i].state, "ACTIVE") == 0;
    active += up;
    near += up && numa >= 0 && t->hcas[i].numa == numa;
  }
  int want = near > 0 ? j % near : active > 0 ? l % active : l % t->nhcas;
  for (int i = 0; i < t->nhcas; i++) {
    int up = strcmp(t->hcas[i].state, "ACTIVE") == 0;
    int fits = near > 0 ? up && t->hcas[i].numa == numa : active > 0 ? up : 1;
    if (fits && want-- == 0) return t->hcas[i].name;
  }
  return "";
}

static void assign_hcas(const mn_topo_t *t, mn_rank_place_t **ranks, int n, int *seen) {
  for (int l = 0; t->nhcas > 0 && l < n; l++) {
    int k = ranks[l]->numa, j = k >= 0 ? seen[k]++ : l;
    snprintf(ranks[l]->hca, sizeof ranks[l]->hca, "%s", pick_hca(t, k, j, l));
  }
}

/* Everything per rank of host h; ranks[0..n) are its ranks by local rank. scratch: at
 * least 2 * NUMA nodes + 1 ints. */
static void assign_host(const place_ctx_t *c, int h, mn_rank_place_t **ranks, int n, int *scratch,
                        int *overcommitted) {
  const mn_topo_t *t = c->topos ? &c->topos[h] : NULL;
  int cores = host_cores(c, h), threads = n > 0 && cores / n > 1 ? cores / n : 1;
  if (n > cores) *overcommitted = 1;
  for (int l = 0; l < n; l++) ranks[l]->threads = threads;
  int nnuma = t ? t->nnuma : 0;
  memset(scratch, 0, (size_t)(2 * nnuma + 1) * sizeof *scratch);
  if (c->ngpus[h] > 0)
    bind_gpus(t, ranks, n, scratch);
  else if (t && n <= t->ncores)
    for (int l = 0; l < n; l++)
      bind_slice(t, -1, (int)((long)l * t->ncores / n), (int)((long)(l + 1) * t->ncores / n),
                 ranks[l]);
  if (!t) return;
  memset(scratch, 0, (size_t)(nnuma + 1) * sizeof *scratch);
  assign_hcas(t, ranks, n, scratch);
}

/* Per host, its ranks by local rank, then assign_host. */
static mn_status_t assign_all(const place_ctx_t *c, mn_plan_t *out) {
  int maxnuma = 0;
  for (int h = 0; c->topos && h < out->nhosts; h++)
    if (c->topos[h].nnuma > maxnuma) maxnuma = c->topos[h].nnuma;
  int *start = calloc((size_t)out->nhosts + 1, sizeof *start);
  int *scratch = calloc((size_t)(2 * maxnuma + 1), sizeof *scratch);
  mn_rank_place_t **order = calloc((size_t)out->nranks, sizeof *order);
  mn_status_t st = MN_OK;
  if (!start || !scratch || !order) {
    st = mn_error(MN_ERR_NOMEM, "out of memory placing %d ranks", out->nranks);
    goto free_all;
  }
  for (int h = 0; h < out->nhosts; h++) start[h + 1] = start[h] + out->host_ranks[h];
  for (int r = 0; r < out->nranks; r++)
    order[start[out->ranks[r].host] + out->ranks[r].local_rank] = &out->ranks[r];
  for (int h = 0; h < out->nhosts; h++)
    assign_host(c, h, order + start[h], out->host_ranks[h], scratch, &out->overcommitted);
free_all:
  free(order);
  free(scratch);
  free(start);
  return st;
}

/* ---- entry points ---- */

static mn_status_t check_args(const mn_hostlist_t *hosts, int nranks) {
  if (nranks < 1) return mn_error(MN_ERR_USAGE, "the number of ranks must be at least 1");
  if (hosts->nhosts < 1) return mn_error(MN_ERR_USAGE, "no hosts to place ranks on");
  return MN_OK;
}

static mn_status_t place(const mn_hostlist_t *hosts, const mn_topo_t *topos, int nranks,
                         mn_place_policy_t policy, mn_plan_t *plan) {
  mn_status_t st = check_args(hosts, nranks);
  if (st != MN_OK) return st;
  mn_plan_t out = {.nranks = nranks, .nhosts = hosts->nhosts};
  place_ctx_t c = {.hosts = hosts, .topos = topos};
  out.ranks = calloc((size_t)nranks, sizeof *out.ranks);
  out.host_ranks = calloc((size_t)hosts->nhosts, sizeof *out.host_ranks);
  c.cap = calloc((size_t)hosts->nhosts, sizeof *c.cap);
  c.ngpus = calloc((size_t)hosts->nhosts, sizeof *c.ngpus);
  if (!out.ranks || !out.host_ranks || !c.cap || !c.ngpus) {
    st = mn_error(MN_ERR_NOMEM, "out of memory placing %d ranks", nranks);
    goto free_plan;
  }
  st = set_capacity(&c, nranks, &out.oversubscribed);
  if (st != MN_OK) goto free_plan;
  if (policy == MN_PLACE_SPREAD) {
    order_spread(c.cap, &out);
  } else {
    count_pack(c.cap, hosts->nhosts, nranks, out.host_ranks);
    order_pack(&out);
  }
  for (int r = 0; r < nranks; r++) out.ranks[r].gpu = out.ranks[r].numa = -1;
  st = assign_all(&c, &out);
  if (st != MN_OK) goto free_plan;
  free(c.cap);
  free(c.ngpus);
  *plan = out;
  return MN_OK;
free_plan:
  free(c.cap);
  free(c.ngpus);
  mn_place_free(&out);
  return st;
}

mn_status_t mn_place_byslot(const mn_hostlist_t *hosts, int nranks, mn_plan_t *plan) {
  mn_status_t st = check_args(hosts, nranks);
  if (st != MN_OK) return st;
  int total = mn_hosts_total_slots(hosts);
  if (nranks > total && !hosts->implicit)
    return mn_error(MN_ERR_PEER, "need %d slots; the hosts have %d", nranks, total);
  /* byslot knows no GPUs: a copy of the hosts without them */
  mn_hostlist_t plain = *hosts;
  plain.hosts = malloc((size_t)hosts->nhosts * sizeof *plain.hosts);
  if (!plain.hosts) return mn_error(MN_ERR_NOMEM, "out of memory placing %d ranks", nranks);
  for (int h = 0; h < hosts->nhosts; h++) {
    plain.hosts[h] = hosts->hosts[h];
    plain.hosts[h].gpus = 0;
  }
  st = place(&plain, NULL, nranks, MN_PLACE_PACK, plan);
  free(plain.hosts);
  return st;
}

mn_status_t mn_place_gang(const mn_hostlist_t *hosts, const mn_topo_t *topos, int nranks,
                          mn_place_policy_t policy, mn_plan_t *plan) {
  return place(hosts, topos, nranks, policy, plan);
}

int mn_place_min_threads(const mn_plan_t *plan) {
  int min = plan->nranks > 0 ? plan->ranks[0].threads : 1;
  for (int r = 1; r < plan->nranks; r++)
    if (plan->ranks[r].threads < min) min = plan->ranks[r].threads;
  return min;
}

void mn_place_free(mn_plan_t *plan) {
  free(plan->ranks);
  free(plan->host_ranks);
  plan->ranks = NULL;
  plan->host_ranks = NULL;
  plan->nranks = plan->nhosts = 0;
}

/* ---- the --dry-run table ---- */

static int max_int(int a, int b) { return a > b ? a : b; }

void mn_place_print_threads(FILE *f, const mn_hostlist_t *hosts, const mn_plan_t *plan,
                            int uniform_threads) {
  int width = 4, gpu = 0, hca = 0, cpuset = 0;
  for (int h = 0; h < hosts->nhosts; h++) width = max_int(width, (int)strlen(hosts->hosts[h].name));
  for (int r = 0; r < plan->nranks; r++) {
    const mn_rank_place_t *p = &plan->ranks[r];
    gpu |= p->gpu >= 0;
    if (p->hca[0]) hca = max_int(max_int(hca, 3), (int)strlen(p->hca));
    if (p->cpuset[0]) cpuset = max_int(max_int(cpuset, 6), (int)strlen(p->cpuset));
  }
  fprintf(f, "mnrun: %d rank%s on %d host%s%s\n", plan->nranks, plan->nranks == 1 ? "" : "s",
          hosts->nhosts, hosts->nhosts == 1 ? "" : "s",
          hosts->implicit ? " (the local machine)" : "");
  fprintf(f, "%6s  %-*s  %10s", "rank", width, "host", "local_rank");
  if (gpu) fprintf(f, "  %3s", "gpu");
  if (hca) fprintf(f, "  %-*s", hca, "hca");
  if (cpuset) fprintf(f, "  %-*s", cpuset, "cpuset");
  fprintf(f, "  %12s\n", "blas_threads");
  for (int r = 0; r < plan->nranks; r++) {
    const mn_rank_place_t *p = &plan->ranks[r];
    fprintf(f, "%6d  %-*s  %10d", p->rank, width, hosts->hosts[p->host].name, p->local_rank);
    char index[16] = "-";
    if (p->gpu >= 0) snprintf(index, sizeof index, "%d", p->gpu);
    if (gpu) fprintf(f, "  %3s", index);
    if (hca) fprintf(f, "  %-*s", hca, p->hca[0] ? p->hca : "-");
    if (cpuset) fprintf(f, "  %-*s", cpuset, p->cpuset[0] ? p->cpuset : "-");
    fprintf(f, "  %12d\n", uniform_threads > 0 ? uniform_threads : p->threads);
  }
}

void mn_place_print(FILE *f, const mn_hostlist_t *hosts, const mn_plan_t *plan) {
  mn_place_print_threads(f, hosts, plan, 0);
}

mn_status_t mn_place_write_rankenv(const char *path, const mn_plan_t *plan) {
  FILE *f = fopen(path, "w");
  if (!f) return mn_error(MN_ERR_IO, "%s: %s", path, strerror(errno));
  for (int r = 0; r < plan->nranks; r++) {
    const mn_rank_place_t *p = &plan->ranks[r];
    fprintf(f, "%d %d %s %s %s\n", r, p->gpu, p->hca[0] ? p->hca : "-",
            p->cpuset[0] ? p->cpuset : "-", p->busid[0] ? p->busid : "-");
  }
  int bad = ferror(f);
  if (fclose(f) != 0 || bad) return mn_error(MN_ERR_IO, "%s: cannot write", path);
  return MN_OK;
}
