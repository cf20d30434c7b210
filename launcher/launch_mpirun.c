/* launch_mpirun.c: the Open MPI launch engine: the mpirun command line and its hostfile.
 *
 * Hosts, from a hostfile or -H alike, reach mpirun as a generated hostfile holding exactly
 * the ranks placed on each host, mapped byslot, so mpirun's map is mnrun's plan. mpirun -x
 * passes one OPENBLAS_NUM_THREADS to every rank, so hosts that would differ get the
 * smallest value. Open MPI 4 (ORTE) and 5 (PRRTE) name some options differently: the
 * version, read once from `mpirun --version`, picks the names (ORTE's when unknown). This
 * file builds the command (and asks mpirun its version); it does not run the job. */
#include "mn_launch.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int mn_launch_mpirun_parse_version(const char *text) {
  const char *p = text ? strstr(text, "(Open MPI)") : NULL;
  if (!p) return 0;
  p += strlen("(Open MPI)");
  while (*p == ' ') p++;
  if (!isdigit((unsigned char)*p)) return 0;
  long major = strtol(p, NULL, 10);
  return major > 0 && major < 1000 ? (int)major : 0;
}

mn_status_t mn_launch_mpirun_version(const char *mpirun, int *major) {
  int fds[2];
  if (pipe(fds) != 0) return mn_error(MN_ERR_INTERNAL, "pipe: %s", strerror(errno));
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return mn_error(MN_ERR_INTERNAL, "fork: %s", strerror(errno));
  }
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    close(fds[1]);
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    execl(mpirun, mpirun, "--version", (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  char text[1024];
  size_t n = 0;
  for (ssize_t got;
       n < sizeof text - 1 && (got = read(fds[0], text + n, sizeof text - 1 - n)) != 0;)
    if (got > 0)
      n += (size_t)got;
    else if (errno != EINTR)
      break;
  text[n] = '\0';
  close(fds[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
    return mn_error(MN_ERR_PEER, "%s --version could not be run", mpirun);
  *major = mn_launch_mpirun_parse_version(text);
  return MN_OK;
}

void mn_launch_hostfile_print(FILE *f, const mn_hostlist_t *hosts, const mn_plan_t *plan) {
  for (int h = 0; h < hosts->nhosts; h++)
    if (plan->host_ranks[h] > 0)
      fprintf(f, "%s%s%s slots=%d\n", hosts->hosts[h].user, hosts->hosts[h].user[0] ? "@" : "",
              hosts->hosts[h].name, plan->host_ranks[h]);
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

/* Whether mpirun is Open MPI 5 or later (PRRTE), whose option names differ from ORTE's. */
static int is_prrte(const mn_job_t *job) { return job->mpi_major >= 5; }

/* The placement options: hostfile and mapping, oversubscription, binding (and --quiet).
 *   ORTE (4.x):  --rankfile F --mca rmaps_rank_file_physical 1 | --hostfile F --map-by slot,
 *                --oversubscribe
 *   PRRTE (5.x): --map-by rankfile:file=F | --hostfile F --map-by slot, with :OVERSUBSCRIBE
 *                on the --map-by (--rankfile and --oversubscribe are deprecated there, and
 *                PRRTE reads rankfile cpus as logical ones: it has no physical option) */
static mn_status_t add_placement(mn_cmd_t *cmd, const mn_job_t *job, const mn_plan_t *plan) {
  /* --quiet: mpirun's own banner about a failed rank would only repeat, less precisely,
   * what mnrun prints from the ranks' reports. */
  mn_status_t st = mn_cmd_add_arg(cmd, "--quiet");
  const char *over = plan->oversubscribed && is_prrte(job) ? ":OVERSUBSCRIBE" : "";
  if (st == MN_OK && job->hostfile && mn_launch_needs_rankfile(plan)) {
    /* each rank's host and cores, as placed (OS core numbers, as hwloc gave them) */
    if (is_prrte(job)) {
      st = mn_cmd_add_arg(cmd, "--map-by");
      if (st == MN_OK) st = mn_cmd_add_argf(cmd, "rankfile:file=%s%s", job->hostfile, over);
    } else {
      st = mn_cmd_add_arg(cmd, "--rankfile");
      if (st == MN_OK) st = mn_cmd_add_arg(cmd, job->hostfile);
      if (st == MN_OK) st = mn_cmd_add_arg(cmd, "--mca");
      if (st == MN_OK) st = mn_cmd_add_arg(cmd, "rmaps_rank_file_physical");
      if (st == MN_OK) st = mn_cmd_add_arg(cmd, "1");
    }
  } else if (st == MN_OK && job->hostfile) {
    st = mn_cmd_add_arg(cmd, "--hostfile");
    if (st == MN_OK) st = mn_cmd_add_arg(cmd, job->hostfile);
    if (st == MN_OK) st = mn_cmd_add_arg(cmd, "--map-by");
    if (st == MN_OK) st = mn_cmd_add_argf(cmd, "slot%s", over);
  } else if (st == MN_OK && over[0]) {
    st = mn_cmd_add_arg(cmd, "--map-by");
    if (st == MN_OK) st = mn_cmd_add_argf(cmd, "slot%s", over);
  }
  if (st == MN_OK && plan->oversubscribed && !is_prrte(job))
    st = mn_cmd_add_arg(cmd, "--oversubscribe");
  if (st == MN_OK && (plan->oversubscribed || plan->overcommitted)) {
    st = mn_cmd_add_arg(cmd, "--bind-to");
    if (st == MN_OK) st = mn_cmd_add_arg(cmd, "none");
  }
  return st;
}

/* -x NAME=value for every variable the ranks need, then the user's (-x, passed variables,
 * --mca); all OMPI_* variables of mpirun's environment (OMPI_MCA_* among them) reach the
 * ranks without -x: mpirun exports them itself (mpirun(1), "Exported Environment
 * Variables"). */
static mn_status_t add_exports(mn_cmd_t *cmd, const mn_job_t *job, const mn_plan_t *plan) {
  mn_cmd_t vars = {0};
  mn_status_t st = mn_launch_rank_vars(job, plan, &vars);
  for (int i = 0; st == MN_OK && i < vars.nenv; i++) {
    st = mn_cmd_add_arg(cmd, "-x");
    if (st == MN_OK) st = mn_cmd_add_arg(cmd, vars.env[i]);
  }
  mn_cmd_free(&vars);
  /* Open MPI's session directory inside mnrun's, so that a torn-down job leaves none
   * (ORTE: --mca orte_tmpdir_base; PRRTE: --prtemca prte_tmpdir_base) */
  if (st == MN_OK) st = mn_cmd_add_arg(cmd, is_prrte(job) ? "--prtemca" : "--mca");
  if (st == MN_OK)
    st = mn_cmd_add_arg(cmd, is_prrte(job) ? "prte_tmpdir_base" : "orte_tmpdir_base");
  if (st == MN_OK) st = mn_cmd_add_arg(cmd, job->report_dir);
  for (int i = 0; st == MN_OK && i < job->nset_env; i++) {
    st = mn_cmd_add_arg(cmd, "-x");
    if (st == MN_OK) st = mn_cmd_add_arg(cmd, job->set_env[i]);
  }
  for (int i = 0; st == MN_OK && i < job->npass_env; i++) {
    st = mn_cmd_add_arg(cmd, "-x");
    if (st == MN_OK) st = mn_cmd_add_arg(cmd, job->pass_env[i]);
  }
  for (int i = 0; st == MN_OK && i < job->nmca; i++) {
    st = mn_cmd_add_arg(cmd, "--mca");
    if (st == MN_OK) st = mn_cmd_add_arg(cmd, job->mca[2 * i]);
    if (st == MN_OK) st = mn_cmd_add_arg(cmd, job->mca[2 * i + 1]);
  }
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
  if (st == MN_OK && job->engine_args) st = mn_cmd_add_words(&out, job->engine_args);
  if (st == MN_OK) st = mn_cmd_add_worker(&out, job, "mpirun");
  if (st != MN_OK) {
    mn_cmd_free(&out);
    return st;
  }
  *cmd = out;
  return MN_OK;
}
