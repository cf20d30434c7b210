/* launch_srun.c: the Slurm launch engine: one srun job step inside an allocation (sbatch
 * or salloc), its ranks started by slurmstepd and wired up through PMIx.
 *
 * The step has the plan's shape: N tasks on the hosts used, the same number on each when
 * the plan has it so. An uneven plan gets Slurm's block layout, which fills the nodes in
 * order: exact only when it agrees with the plan (naming each rank's host would need the
 * host names, which mn_job_t does not carry). --mpi=pmix: Debian's Open MPI 4.1.4 is built
 * against the external PMIx (libpmix2) that Slurm's mpi/pmix plugin also uses, and has no
 * PMI-1/PMI-2 client, so with --mpi=pmi2 (or none) the ranks abort in MPI_Init; checked
 * with Slurm 22.05.8 (slurm/README.md). The ranks' variables go into srun's own environment
 * and reach them through --export=ALL (srun's --export=NAME=value list cannot quote a comma
 * in a path), with the user's -x NAME=value and --mca (as OMPI_MCA_KEY=VALUE): the whole
 * environment of mnrun reaches every task, so -x NAME needs nothing here. This file builds the
 * command; it does not run it, and it does not ask Slurm for the allocation's nodes (the host list
 * given to placement does). */
#include "mn_launch.h"

#include <signal.h>

/* The step's shape: tasks, nodes, where each task goes, oversubscription and binding. */
static mn_status_t add_placement(mn_cmd_t *cmd, const mn_plan_t *plan) {
  int used = 0;
  for (int h = 0; h < plan->nhosts; h++) used += plan->host_ranks[h] > 0;
  mn_status_t st = mn_cmd_add_argf(cmd, "--ntasks=%d", plan->nranks);
  if (st == MN_OK) st = mn_cmd_add_argf(cmd, "--nodes=%d", used);
  /* Ranks per node: when every used host runs the same number, the step is the plan
   * (hosts taken from the allocation are in Slurm's node order, and byslot fills them in
   * that order); otherwise Slurm's block layout fills nodes in order up to their CPUs. */
  int per_node = 0;
  for (int h = 0; h < plan->nhosts; h++) {
    int k = plan->host_ranks[h];
    if (k > 0) per_node = per_node == 0 || per_node == k ? k : -1;
  }
  if (st == MN_OK && per_node > 0) st = mn_cmd_add_argf(cmd, "--ntasks-per-node=%d", per_node);
  if (st == MN_OK && per_node < 0) st = mn_cmd_add_arg(cmd, "--distribution=block");
  /* More ranks than the allocation's CPUs: let the step share them, unbound (the mpirun
   * engine's --oversubscribe --bind-to none). */
  if (st == MN_OK && plan->oversubscribed) st = mn_cmd_add_arg(cmd, "--overcommit");
  if (st == MN_OK && (plan->oversubscribed || plan->overcommitted))
    st = mn_cmd_add_arg(cmd, "--cpu-bind=none");
  return st;
}

mn_status_t mn_launch_srun_build(const mn_job_t *job, const mn_plan_t *plan, mn_cmd_t *cmd) {
  mn_cmd_t out = {0};
  mn_status_t st = mn_cmd_add_rank_env(&out, job, plan); /* mn's; -x NAME=value, --mca */
  if (st == MN_OK) st = mn_cmd_add_arg(&out, job->srun ? job->srun : "srun");
  if (st == MN_OK) st = add_placement(&out, plan);
  /* -K: a rank that dies (a signal, or an exit code other than 0: under mnrun a rank that
   * wrote its report exits 0) ends the whole step at once instead of leaving the others
   * waiting in a collective. */
  if (st == MN_OK) st = mn_cmd_add_arg(&out, "--kill-on-bad-exit=1");
  if (st == MN_OK) st = mn_cmd_add_arg(&out, "--mpi=pmix");
  if (st == MN_OK) st = mn_cmd_add_arg(&out, "--export=ALL");
  /* srun, checked with Slurm 22.05.8: SIGUSR1 and SIGUSR2 are forwarded to every task as
   * they are, and srun waits for the tasks; a first SIGINT only prints the tasks' state (two
   * within a second cancel the step); SIGTERM cancels the step ("forcing job termination")
   * and the tasks are killed at once, with no time for a snapshot. So a stop request is
   * SIGUSR1, a stop request to every rank, as for mpirun. */
  out.stop_signal = SIGUSR1;
  if (st == MN_OK && job->engine_args) st = mn_cmd_add_words(&out, job->engine_args);
  if (st == MN_OK) st = mn_cmd_add_worker(&out, job, "srun");
  if (st != MN_OK) {
    mn_cmd_free(&out);
    return st;
  }
  *cmd = out;
  return MN_OK;
}
