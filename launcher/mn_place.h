/* mn_place.h: where each rank of a job runs.
 *
 * Placement maps N ranks onto a host list as one gang (all or nothing): rank -> host, local
 * rank on that host, its GPU, its nearest HCA, the cores it may be bound to, and the BLAS
 * threads it may use. Two entry points: mn_place_byslot (mpirun's default byslot order, no
 * topology) and mn_place_gang (pack or spread, with each host's topology, mn_topo.h).
 * Everything is chosen here, not in the launch engines; nothing here starts a process. */
#ifndef MN_PLACE_H
#define MN_PLACE_H

#include <stdio.h>

#include "mn_hosts.h"
#include "mn_status.h"
#include "mn_topo.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_rank_place {
  int rank;
  int host;        /* index into the host list */
  int local_rank;  /* 0.. on that host */
  int threads;     /* BLAS threads: the cores of its cpuset when it has one, else
                      max(1, cores of the host / ranks on the host) */
  int gpu;         /* the GPU's index on its host (NVML numbering), -1 none */
  char busid[32];  /* its PCI bus id ("0000:3b:00.0"), "" unknown: the rank finds its
                      CUDA device by it (CUDA may number the GPUs otherwise) */
  char hca[32];    /* the HCA for its traffic ("mlx5_0"), "" none */
  char cpuset[64]; /* the CPUs to bind it to ("0-15"), "" no binding */
  int numa;        /* index into its host's topology's NUMA nodes, -1 unknown */
} mn_rank_place_t;

/* How mn_place_gang orders ranks over hosts (each host takes at most its capacity):
 *   MN_PLACE_PACK:   fill whole hosts in host order, a host's ranks contiguous (with 8 per
 *                    host: ranks 0..7 on the first, 8..15 on the second); fewest hosts.
 *   MN_PLACE_SPREAD: round-robin over the hosts, skipping full ones (rank r on host
 *                    r % nhosts while all have room); the most hosts, and the most memory
 *                    and network per rank. A launch engine needs a rankfile or
 *                    --map-by node to start this order. */
typedef enum { MN_PLACE_PACK, MN_PLACE_SPREAD } mn_place_policy_t;

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
 * then oversubscribed, the extra ranks spread evenly over the hosts. No topology: every
 * rank has gpu -1, hca "", cpuset "", numa -1 (hosts' gpus are ignored).
 * out: plan (written only on success; free with mn_place_free). */
mn_status_t mn_place_byslot(const mn_hostlist_t *hosts, int nranks, mn_plan_t *plan);

/* Place nranks (>= 1) on hosts as a gang, in the order of policy.
 * in: topos: one topology per host (hosts->nhosts of them), or NULL for none.
 * A host's GPUs are its topology's (limited to hosts[h].gpus when that is >= 0), else
 * hosts[h].gpus when > 0. When any host has GPUs, the job is a GPU job: a host's capacity
 * is min(slots, GPUs) (0 without GPUs), each rank gets a GPU of its own (local rank l gets
 * the host's l-th GPU), never two ranks one GPU, and oversubscription is refused even on
 * the local machine. Otherwise a host's capacity is its slots, and the implicit local
 * machine may be oversubscribed as with mn_place_byslot.
 * With a topology, each rank also gets (else they stay none):
 *   - numa and cpuset: on a GPU host, its GPU's NUMA node, whose cores are split evenly in
 *     contiguous slices among the ranks whose GPUs are on that node; on a CPU host, an even
 *     contiguous slice of the host's cores (NUMA node by NUMA node) per local rank, and the
 *     NUMA node holding the whole slice (else -1). No cpuset when there are more ranks
 *     than those cores, or when the list does not fit mn_rank_place_t.cpuset.
 *   - hca: an ACTIVE HCA on its NUMA node (several: in turn among the ranks of that node),
 *     else any ACTIVE HCA, else any HCA, in turn by local rank; "" when the host has none.
 * Too few slots is MN_ERR_PEER: "need 129 GPU slots; the allocation has 128 on 16 nodes"
 * ("slots" for a CPU job). out: plan (written only on success; free with mn_place_free). */
mn_status_t mn_place_gang(const mn_hostlist_t *hosts, const mn_topo_t *topos, int nranks,
                          mn_place_policy_t policy, mn_plan_t *plan);

/* The fewest BLAS threads of any rank (one value for engines that cannot set it per host). */
int mn_place_min_threads(const mn_plan_t *plan);

void mn_place_free(mn_plan_t *plan);

/* The plan for the ranks themselves (runtime/process/mn_rankenv.h): one line per rank, "<rank>
 * <gpu> <hca> <cpuset> <gpu bus id>", with -1, -, - and - for none. */
mn_status_t mn_place_write_rankenv(const char *path, const mn_plan_t *plan);

/* The --dry-run table: "mnrun: N ranks on H hosts", then one row per rank with the columns
 * rank, host, local_rank, [gpu], [hca], [cpuset], blas_threads; gpu, hca and cpuset only
 * when some rank has one ("-" for the ranks that have none). */
void mn_place_print(FILE *f, const mn_hostlist_t *hosts, const mn_plan_t *plan);
/* The same, with uniform_threads (> 0) in every rank's blas_threads column: for engines
 * that pass one value to all ranks (mn_place_min_threads); 0: each rank's own. */
void mn_place_print_threads(FILE *f, const mn_hostlist_t *hosts, const mn_plan_t *plan,
                            int uniform_threads);

#ifdef __cplusplus
}
#endif
#endif /* MN_PLACE_H */
