/* mn_place.h: where each rank of a job runs.
 *
 * Placement maps N ranks onto a host list as one gang (all or nothing): rank -> host, local
 * rank on that host, and the BLAS threads it may use. Today the map is mpirun's default
 * byslot order (fill each host's slots in host order); GPUs, HCAs and cpusets from the
 * topology will be further columns of mn_rank_place_t, chosen here, not in the launch
 * engines. */
#ifndef MN_PLACE_H
#define MN_PLACE_H

#include "mn_hosts.h"
#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_rank_place {
  int rank;
  int host;       /* index into the host list */
  int local_rank; /* 0.. on that host */
  int threads;    /* BLAS threads: max(1, cores of the host / ranks on the host) */
} mn_rank_place_t;

typedef struct mn_plan {
  int nranks;
  mn_rank_place_t *ranks; /* [nranks], by rank */
  int nhosts;
  int *host_ranks;    /* [nhosts]: ranks placed on each host (0 for an unused host) */
  int oversubscribed; /* some host runs more ranks than it has slots */
  int overcommitted;  /* some host runs more ranks than it has cores (do not bind) */
} mn_plan_t;

/* Place nranks (>= 1) on hosts, byslot. More ranks than slots is an error (MN_ERR_PEER,
 * "need N slots; the hosts have M") unless hosts->implicit (the local machine), which is
 * then oversubscribed, the extra ranks spread evenly over the hosts.
 * out: plan (written only on success; free with mn_place_free). */
mn_status_t mn_place_byslot(const mn_hostlist_t *hosts, int nranks, mn_plan_t *plan);

/* The fewest BLAS threads of any rank (one value for engines that cannot set it per host). */
int mn_place_min_threads(const mn_plan_t *plan);

void mn_place_free(mn_plan_t *plan);

#ifdef __cplusplus
}
#endif
#endif /* MN_PLACE_H */
