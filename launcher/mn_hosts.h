/* mn_hosts.h: the resources a job may use, as a list of hosts with slots.
 *
 * Three sources today, each filling the same mn_hostlist_t: an Open MPI hostfile
 * ("host slots=N", comments with #), a -H list ("host:slots,..."), or the local machine (one
 * host, slots = the CPUs this process may run on). Later sources (Slurm's environment,
 * hwloc's topology of each host) add to this file, not to placement or launch. */
#ifndef MN_HOSTS_H
#define MN_HOSTS_H

#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MN_HOST_NAME_MAX 256
#define MN_SLOTS_MAX 1000000

typedef struct mn_host {
  char name[MN_HOST_NAME_MAX];
  int slots; /* ranks the host may run (>= 1) */
  int cores; /* CPUs for BLAS threads: counted for this machine, = slots for others */
  int local; /* this machine (localhost, or our host name) */
} mn_host_t;

typedef struct mn_hostlist {
  mn_host_t *hosts; /* in the order first named; duplicates merged (slots added) */
  int nhosts;
  int implicit; /* 1: the local machine because no hosts were given (may oversubscribe) */
} mn_hostlist_t;

/* ---- sources (out: list, written only on success; free with mn_hosts_free) ---- */

/* An Open MPI hostfile: one host per line, "name [slots=N] [max_slots=M]", '#' starts a
 * comment, blank lines are skipped, a line without slots= has 1 slot. Errors name
 * file:line (MN_ERR_USAGE); a missing or unreadable file is MN_ERR_NOINPUT. */
mn_status_t mn_hosts_parse_file(const char *path, mn_hostlist_t *list);

/* A -H list: "name[:slots],..." (no slots = 1). Errors name the entry (MN_ERR_USAGE). */
mn_status_t mn_hosts_parse_list(const char *spec, mn_hostlist_t *list);

/* The local machine: one host named by gethostname(), slots = cores = CPUs available. */
mn_status_t mn_hosts_local(mn_hostlist_t *list);

/* ---- queries ---- */

int mn_hosts_total_slots(const mn_hostlist_t *list);
/* CPUs this process may run on (sched_getaffinity, like nproc), at least 1. */
int mn_hosts_local_cpus(void);
void mn_hosts_free(mn_hostlist_t *list);

#ifdef __cplusplus
}
#endif
#endif /* MN_HOSTS_H */
