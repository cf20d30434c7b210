/* mn_hosts.h: the resources a job may use, as a list of hosts with slots.
 *
 * Four sources, each filling the same mn_hostlist_t: a hostfile (Open MPI's "[user@]host
 * slots=N" with its other keys, MPICH's "host:N", plus mn's gpus= and label=, comments
 * with #), a -H list ("host:slots,..."), a Slurm
 * allocation (its environment: SLURM_JOB_NODELIST, SLURM_TASKS_PER_NODE, ...), or the
 * local machine (one host, slots = the CPUs this process may run on). Later sources
 * (hwloc's topology of each host) add to this file, not to placement or launch. */
#ifndef MN_HOSTS_H
#define MN_HOSTS_H

#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MN_HOST_NAME_MAX 256
#define MN_SLOTS_MAX 1000000
#define MN_HOST_LABELS_MAX 128
#define MN_HOST_USER_MAX 64

typedef struct mn_host {
  char name[MN_HOST_NAME_MAX];
  int slots; /* ranks the host may run (>= 1) */
  int cores; /* CPUs for BLAS threads: counted for this machine, = slots for others */
  int local; /* this machine (localhost, or our host name) */
  int gpus;  /* GPUs the job may use there: -1 unknown, 0 none */
  char labels[MN_HOST_LABELS_MAX]; /* "a,b" from the hostfile's label= keys; "" none */
  char user[MN_HOST_USER_MAX];     /* the login from "user@host" in a hostfile; "" none */
} mn_host_t;

typedef struct mn_hostlist {
  mn_host_t *hosts; /* in the order first named; duplicates merged (slots added) */
  int nhosts;
  int implicit; /* 1: the local machine because no hosts were given (may oversubscribe) */
} mn_hostlist_t;

/* ---- sources (out: list, written only on success; free with mn_hosts_free) ---- */

/* A hostfile: one host per line, Open MPI's "[user@]name [slots=N] [max_slots=M]
 * [gpus=G] [label=TEXT]..." (count=, cpu= and cpus= are slots=, max-slots= is max_slots=)
 * or MPICH's "name:N" (N slots); '#' starts a comment, blank lines are skipped, a line
 * without slots has 1 slot, one without gpus= has gpus -1 (unknown). Errors name
 * file:line (MN_ERR_USAGE); a missing or unreadable file is MN_ERR_NOINPUT. */
mn_status_t mn_hosts_parse_file(const char *path, mn_hostlist_t *list);

/* A -H list: "name[:slots],..." (no slots = 1; gpus -1). Errors name the entry
 * (MN_ERR_USAGE). */
mn_status_t mn_hosts_parse_list(const char *spec, mn_hostlist_t *list);

/* A Slurm allocation, from this process's environment (docs/launcher.md, "Slurm"):
 * nodes from SLURM_JOB_NODELIST (or SLURM_NODELIST), a hostlist expression (mn_hostlist.h);
 * slots per node from SLURM_TASKS_PER_NODE ("2(x3),1"), else SLURM_NTASKS spread evenly,
 * else SLURM_CPUS_ON_NODE, else 1; cores of other nodes from SLURM_JOB_CPUS_PER_NODE, else
 * = slots; gpus from SLURM_GPUS_ON_NODE, else the count of SLURM_JOB_GPUS, else of
 * CUDA_VISIBLE_DEVICES, else -1 (the same on every node).
 * out: found = 0 (list untouched, MN_OK) when no nodelist variable is set; else found = 1 and
 * list. Errors name the variable and its value (MN_ERR_USAGE), such as a
 * SLURM_TASKS_PER_NODE that counts other nodes than the nodelist. */
mn_status_t mn_hosts_from_slurm(mn_hostlist_t *list, int *found);

/* The local machine: one host named by gethostname(), slots = cores = CPUs available,
 * gpus -1 (unknown). */
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
