/* place.c: byslot placement of a gang of ranks onto a host list (mn_place.h).
 *
 * First decide how many ranks each host gets (its slots, in host order, until all ranks are
 * placed; when the local machine is oversubscribed, the rest spread evenly), then number the
 * ranks host by host, so that ranks on one host are contiguous like mpirun's byslot map.
 * Nothing here starts a process or knows which engine will. */
#include "mn_place.h"

#include <stdlib.h>

/* Ranks per host: fill slots in order; the excess (only when allowed) round-robin. */
static mn_status_t count_per_host(const mn_hostlist_t *hosts, int nranks, int *counts,
                                  int *oversubscribed) {
  int total = mn_hosts_total_slots(hosts);
  if (nranks > total && !hosts->implicit)
    return mn_error(MN_ERR_PEER, "need %d slots; the hosts have %d", nranks, total);
  int left = nranks;
  for (int h = 0; h < hosts->nhosts; h++) {
    counts[h] = left < hosts->hosts[h].slots ? left : hosts->hosts[h].slots;
    left -= counts[h];
  }
  *oversubscribed = left > 0;
  for (int h = 0; left > 0; h = (h + 1) % hosts->nhosts, left--) counts[h]++;
  return MN_OK;
}

mn_status_t mn_place_byslot(const mn_hostlist_t *hosts, int nranks, mn_plan_t *plan) {
  if (nranks < 1) return mn_error(MN_ERR_USAGE, "the number of ranks must be at least 1");
  if (hosts->nhosts < 1) return mn_error(MN_ERR_USAGE, "no hosts to place ranks on");
  mn_plan_t out = {.nranks = nranks, .nhosts = hosts->nhosts};
  mn_status_t st = MN_OK;
  out.ranks = calloc((size_t)nranks, sizeof *out.ranks);
  out.host_ranks = calloc((size_t)hosts->nhosts, sizeof *out.host_ranks);
  if (!out.ranks || !out.host_ranks) {
    st = mn_error(MN_ERR_NOMEM, "out of memory placing %d ranks", nranks);
    goto free_plan;
  }
  st = count_per_host(hosts, nranks, out.host_ranks, &out.oversubscribed);
  if (st != MN_OK) goto free_plan;

  int rank = 0;
  for (int h = 0; h < hosts->nhosts; h++) {
    int n = out.host_ranks[h], cores = hosts->hosts[h].cores;
    int threads = n > 0 && cores / n > 1 ? cores / n : 1;
    if (n > cores) out.overcommitted = 1;
    for (int l = 0; l < n; l++, rank++)
      out.ranks[rank] =
          (mn_rank_place_t){.rank = rank, .host = h, .local_rank = l, .threads = threads};
  }
  *plan = out;
  return MN_OK;
free_plan:
  mn_place_free(&out);
  return st;
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
