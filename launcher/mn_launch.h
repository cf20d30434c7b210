/* mn_launch.h: launch engines: turn a placed job into the command that starts its ranks.
 *
 * An engine only builds a command (argv plus variables for the child's environment); it
 * neither forks nor waits (mn_supervise.h does, the same way for every engine), so that
 * --dry-run prints exactly what would run. Engines today: mpirun (Open MPI) and direct (one
 * rank, exec'd as an MPI singleton). srun is the next one, in its own file. */
#ifndef MN_LAUNCH_H
#define MN_LAUNCH_H

#include <stdio.h>

#include "mn_hosts.h"
#include "mn_place.h"
#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A command: argv[0] is the program's path; env holds "NAME=value" entries to set in the
 * child's environment on top of mnrun's own. */
typedef struct mn_cmd {
  char **argv; /* NULL-terminated */
  int argc;
  char **env; /* NULL-terminated */
  int nenv;
  int stop_signal; /* what the child gets when mnrun is asked to stop (SIGINT, SIGTERM): the
                    * signal that reaches every rank without killing any (0: the same one) */
  int block_stop;  /* 1: the child starts with the stop signals blocked and unblocks them once
                    * its handler is in place (mntrain: mn_preempt_install); for a worker
                    * exec'd directly (the mask survives exec; Open MPI's daemons reset it) */
  int program;     /* 1: the ranks run a program under mnrank, not mntrain (what a stop does) */
} mn_cmd_t;

/* What every engine needs to know about the job beyond its placement. */
typedef struct mn_job {
  const char *train; /* the worker: mntrain, or mnrank for a program */
  const char *conf;  /* train.conf, as given (NULL for a program) */
  /* `mnrun -- PROGRAM ARGS...`: the program and its arguments, which every rank runs under
   * mnrank (launcher/mnrank.c); NULL for a train.conf */
  char *const *program;
  int nprogram;
  const char *const *sets; /* --set arguments, "section.key=value" */
  int nsets;
  const char *metrics;    /* --metrics FILE, or NULL */
  const char *mpirun;     /* the mpirun to run */
  const char *srun;       /* the srun to run (srun engine; NULL: "srun") */
  const char *report_dir; /* MN_REPORT_DIR for the ranks */
  const char *hostfile;   /* where the generated hostfile goes; NULL for the local machine */
  int tty;                /* 1 when mnrun's stdout (progress) is a terminal (MN_TTY) */
  /* The ranks' environment beyond mn's own variables (docs/launcher.md, "Environment"):
   * set: "NAME=value" for every rank (-x NAME=value); pass: names of variables of mnrun's
   * own environment that every rank gets too (-x NAME, and NCCL_*, UCX_*, CUDA_*, MN_*).
   * mpirun gets -x for each; srun (--export=ALL) and the direct rank inherit the
   * environment, so set goes into it and pass needs nothing. */
  const char *const *set_env;
  int nset_env;
  const char *const *pass_env;
  int npass_env;
  /* --mca KEY VALUE pairs (mca[2i], mca[2i+1]): mpirun's --mca; OMPI_MCA_KEY=VALUE in the
   * ranks' environment for srun and the direct rank (Open MPI reads both). */
  const char *const *mca;
  int nmca;
  const char *engine_args; /* --mpirun-args or --srun-args: words (mn_cmd_add_words) put
                            * after mnrun's own options, before the worker; NULL none */
  int mpi_major;           /* Open MPI's major version (mn_launch_mpirun_version); 0: unknown,
                            * taken as 4 (ORTE); 5 and later: PRRTE's option names */
  /* a program's rendezvous, as torchrun gives it (MASTER_ADDR, MASTER_PORT): rank 0's host
   * and a port there; NULL and 0 for a train.conf */
  const char *master_addr;
  int master_port;
} mn_job_t;

/* ---- engines (out: cmd, free with mn_cmd_free) ---- */

/* mpirun -np N [--hostfile F --map-by slot] [--oversubscribe] [--bind-to none] -x ... mntrain */
mn_status_t mn_launch_mpirun_build(const mn_job_t *job, const mn_plan_t *plan, mn_cmd_t *cmd);
/* mntrain itself (one rank on this machine, an MPI singleton), variables in env. */
mn_status_t mn_launch_direct_build(const mn_job_t *job, const mn_plan_t *plan, mn_cmd_t *cmd);
/* srun --ntasks=N --nodes=H [--ntasks-per-node=K] -K --mpi=pmix --export=ALL mntrain, inside
 * a Slurm allocation; variables in env (launch_srun.c). stop_signal: SIGUSR1. */
mn_status_t mn_launch_srun_build(const mn_job_t *job, const mn_plan_t *plan, mn_cmd_t *cmd);

/* What the mpirun engine hands to mpirun to map the ranks as planned: a hostfile, each used
 * host once, "name slots=<ranks placed there>", so that mpirun's own byslot map is the
 * plan; or, when every rank has a cpuset or the plan is not host-contiguous (spread), a
 * rankfile, "rank R=host slot=<cpuset>" per rank (all of the host's cores for a rank
 * without a cpuset), which also binds each rank to its cores. mn_launch_hostfile_write
 * writes whichever the plan needs. */
int mn_launch_needs_rankfile(const mn_plan_t *plan);
/* Open MPI's major version in the text of `mpirun --version` ("mpirun (Open MPI) 5.0.3":
 * 5); 0 when the text names none (another MPI, or no output). */
int mn_launch_mpirun_parse_version(const char *text);
/* Run `MPIRUN --version` once and parse it. out: *major (0 when unknown). Fails only when
 * it cannot be run at all. */
mn_status_t mn_launch_mpirun_version(const char *mpirun, int *major);
void mn_launch_rankfile_print(FILE *f, const mn_hostlist_t *hosts, const mn_plan_t *plan);
void mn_launch_hostfile_print(FILE *f, const mn_hostlist_t *hosts, const mn_plan_t *plan);
mn_status_t mn_launch_hostfile_write(const char *path, const mn_hostlist_t *hosts,
                                     const mn_plan_t *plan);

/* ---- commands ---- */

mn_status_t mn_cmd_add_arg(mn_cmd_t *cmd, const char *arg);
mn_status_t mn_cmd_add_argf(mn_cmd_t *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
mn_status_t mn_cmd_add_envf(mn_cmd_t *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Append the words of text, split as a POSIX shell splits words: blanks separate words,
 * '...' keeps everything literally, "..." keeps all but \" and \\, a backslash outside
 * quotes escapes the next character; no expansion of $, ~ or globs. An unbalanced quote or
 * a trailing backslash is MN_ERR_USAGE naming what, and nothing is appended. */
mn_status_t mn_cmd_add_words(mn_cmd_t *cmd, const char *text);
/* The worker and its own arguments: mntrain [--set k=v]... [--metrics FILE] CONF, or for a
 * program, mnrank --engine ENGINE -- PROGRAM ARGS... (engine: "mpirun", "srun" or
 * "direct", where mnrank finds the rank's number). */
mn_status_t mn_cmd_add_worker(mn_cmd_t *cmd, const mn_job_t *job, const char *engine);
/* mn's variables for every rank, "NAME=value" each, into vars->env: OPENBLAS_NUM_THREADS
 * (the plan's fewest threads), OMP_WAIT_POLICY, MN_TTY, MN_REPORT_DIR, and for a program
 * MASTER_ADDR and MASTER_PORT. An engine passes each on its own way (mpirun -x; srun and the
 * direct rank through their environment). */
mn_status_t mn_launch_rank_vars(const mn_job_t *job, const mn_plan_t *plan, mn_cmd_t *vars);
/* For an engine whose ranks inherit its environment (srun, direct): mn's variables
 * (mn_launch_rank_vars), then the user's: job->set_env, and OMPI_MCA_KEY=VALUE for each
 * --mca pair. */
mn_status_t mn_cmd_add_rank_env(mn_cmd_t *cmd, const mn_job_t *job, const mn_plan_t *plan);
/* The variables Open MPI needs to run as root, when we are root. */
mn_status_t mn_cmd_add_root_env(mn_cmd_t *cmd);
/* The OMP_WAIT_POLICY the ranks get beside OPENBLAS_NUM_THREADS: mnrun's own when it has one,
 * else PASSIVE, under which the CPU kernels' OpenMP threads sleep between ops instead of
 * spinning on the cores OpenBLAS's threads need (docs/architecture.md, "CPU threads"). */
const char *mn_launch_omp_wait_policy(void);
/* One line a shell can run: the env entries, then argv, each quoted where needed. */
void mn_cmd_print(FILE *f, const mn_cmd_t *cmd);
void mn_cmd_free(mn_cmd_t *cmd);

#ifdef __cplusplus
}
#endif
#endif /* MN_LAUNCH_H */
