/* launch_direct.c: the direct launch engine: one rank on this machine, exec'd without mpirun
 * (mntrain initialises MPI as a singleton). The variables mpirun would pass with -x go into
 * the child's environment instead (with the user's -x NAME=value and --mca as
 * OMPI_MCA_KEY=VALUE; --mpirun-args and --srun-args do not apply). The stop signals stay blocked
 * across the exec until mntrain's handler is in place, so that a stop during its start-up cannot
 * kill it. */
#include "mn_launch.h"

mn_status_t mn_launch_direct_build(const mn_job_t *job, const mn_plan_t *plan, mn_cmd_t *cmd) {
  mn_cmd_t out = {0};
  mn_status_t st = mn_cmd_add_root_env(&out);
  if (st == MN_OK) st = mn_cmd_add_rank_env(&out, job, plan); /* mn's; -x NAME=value, --mca */
  if (st == MN_OK) st = mn_cmd_add_worker(&out, job, "direct");
  if (st != MN_OK) {
    mn_cmd_free(&out);
    return st;
  }
  out.block_stop = 1;
  *cmd = out;
  return MN_OK;
}
