/* launch_mpirun.c: the Open MPI launch engine: the mpirun command line and its hostfile.
 *
 * Hosts, from a hostfile or -H alike, reach mpirun as a generated hostfile holding exactly
 * the ranks placed on each host, mapped byslot, so mpirun's map is mnrun's plan. mpirun -x
 * passes one OPENBLAS_NUM_THREADS to every rank, so hosts that would differ get the
 * smallest value. This file builds the command; it does not run it. */
#include "mn_launch.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

void mn_launch_hostfile_print(FILE *f, const mn_hostlist_t *hosts, const mn_plan_t *plan) {
  for (int h = 0; h < hosts->nhosts; h++)
    if (plan->host_ranks[h] > 0)
      fprintf(f, "%s slots=%d\n", hosts->hosts[h].name, plan->host_ranks[h]);
}

int mn_launch_needs_rankfile(const mn_plan_t *plan) {
  int bound = 1, packed = 1;
  for (int r = 0; r < plan->nranks; r++) {
    bound = bound && plan->ranks[r].cpuset[0];
    if (r > 0 && plan->ranks[r].host != plan->ranks[r - 1].host)
      for (int q = 0; q < r - 1; q++) packed = packed && plan->ranks[q].host != plan->ranks[r].host;
  }
  return bound || !packed;
}

void mn_launch_rankfile_print(FILE *f, const mn_hostlist_t *hosts, const mn_plan_t *plan) {
  for (int r = 0; r < plan->nranks; r++) {
    const mn_rank_place_t *p = &plan->ranks[r];
    const mn_host_t *h = &hosts->hosts[p->host];
    if (p->cpuset[0])
      fprintf(f, "rank %d=%s slot=%s\n", r, h->name, p->cpuset);
    else
      fprintf(f, "rank %d=%s slot=0-%d\n", r, h->name, (h->cores > 0 ? h->cores : 1) - 1);
  }
}

mn_status_t mn_launch_hostfile_write(const char *path, const mn_hostlist_t *hosts,
                                     const mn_plan_t *plan) {
  FILE *f = fopen(path, "w");
  if (!f) return mn_error(MN_ERR_IO, "%s: cannot create hostfile: %s", path, strerror(errno));
  if (mn_launch_needs_rankfile(plan))
    mn_launch_rankfile_print(f, hosts, plan);
  else
    mn_launch_hostfile_print(f, hosts, plan);
  int bad = ferror(f);
  if (fclose(f) != 0 || bad) return mn_error(MN_ERR_IO, "%s: cannot write hostfile", path);
  return MN_OK;
}

/* The placement options: hostfile and mapping, oversubscription, binding (and --quiet). */
static mn_status_t add_placement(mn_cmd_t *cmd, const mn_job_t *job, const mn_plan_t *plan) {
  /* --quiet: mpirun's own banner about a failed rank would only repeat, less precisely,
   * what mnrun prints from the ranks' reports. */
  mn_status_t st = mn_cmd_add_arg(cmd, "--quiet");
  if (st == MN_OK && job->hostfile && mn_launch_needs_rankfile(plan)) {
    /* each rank's host and cores, as placed (OS core numbers, as hwloc gave them) */
    st = mn_cmd_add_arg(cmd, "--rankfile");
    if (st == MN_OK) st = mn_cmd_add_arg(cmd, job->hostfile);
    if (st == MN_OK) st = mn_cmd_add_arg(cmd, "--mca");
    if (st == MN_OK) st = mn_cmd_add_arg(cmd, "rmaps_rank_file_physical");
    if (st == MN_OK) st = mn_cmd_add_arg(cmd, "1");
  } else if (st == MN_OK && job->hostfile) {
    st = mn_cmd_add_arg(cmd, "--hostfile");
    if (st == MN_OK) st = mn_cmd_add_arg(cmd, job->hostfile);
    if (st == MN_OK) st = mn_cmd_add_arg(cmd, "--map-by");
    if (st == MN_OK) st = mn_cmd_add_arg(cmd, "slot");
  }
  if (st == MN_OK && plan->oversubscribed) st = mn_cmd_add_arg(cmd, "--oversubscribe");
  if (st == MN_OK && (plan->oversubscribed || plan->overcommitted)) {
    st = mn_cmd_add_arg(cmd, "--bind-to");
    if (st == MN_OK) st = mn_cmd_add_arg(cmd, "none");
  }
  return st;
}

/* -x NAME=value for every variable the ranks need. */
static mn_status_t add_exports(mn_cmd_t *cmd, const mn_job_t *job, const mn_plan_t *plan) {
  mn_status_t st = mn_cmd_add_arg(cmd, "-x");
  if (st == MN_OK) st = mn_cmd_add_argf(cmd, "OPENBLAS_NUM_THREADS=%d", mn_place_min_threads(plan));
  if (st == MN_OK) st = mn_cmd_add_arg(cmd, "-x");
  if (st == MN_OK) st = mn_cmd_add_argf(cmd, "MN_TTY=%d", job->tty ? 1 : 0);
  if (st == MN_OK) st = mn_cmd_add_arg(cmd, "-x");
  if (st == MN_OK) st = mn_cmd_add_argf(cmd, "MN_REPORT_DIR=%s", job->report_dir);
  /* Open MPI's session directory inside mnrun's, so that a torn-down job leaves none */
  if (st == MN_OK) st = mn_cmd_add_arg(cmd, "--mca");
  if (st == MN_OK) st = mn_cmd_add_arg(cmd, "orte_tmpdir_base");
  if (st == MN_OK) st = mn_cmd_add_arg(cmd, job->report_dir);
  return st;
}

mn_status_t mn_launch_mpirun_build(const mn_job_t *job, const mn_plan_t *plan, mn_cmd_t *cmd) {
  mn_cmd_t out = {0};
  mn_status_t st = mn_cmd_add_root_env(&out);
  if (st == MN_OK) st = mn_cmd_add_arg(&out, job->mpirun);
  if (st == MN_OK) st = mn_cmd_add_arg(&out, "-np");
  if (st == MN_OK) st = mn_cmd_add_argf(&out, "%d", plan->nranks);
  /* mpirun turns its own SIGTERM into SIGTERM to the ranks and SIGKILL one second later
   * (odls_base_sigkill_timeout), too soon for a snapshot: mnrun sends it SIGUSR1 instead,
   * which it forwards. (That timeout is not raised: after a rank fails, mpirun waits it
   * out twice even when every rank is gone, and teardown must be quick.) */
  out.stop_signal = SIGUSR1;
  if (st == MN_OK) st = add_placement(&out, job, plan);
  if (st == MN_OK) st = add_exports(&out, job, plan);
  if (st == MN_OK) st = mn_cmd_add_worker(&out, job);
  if (st != MN_OK) {
    mn_cmd_free(&out);
    return st;
  }
  *cmd = out;
  return MN_OK;
}
