/* test_launch.c: the launch engines' commands (launcher/launch_mpirun.c, launch_srun.c,
 * launch_direct.c, launch_cmd.c): Open MPI's version read from `mpirun --version` text, and
 * the option names chosen by it (ORTE for 4.x, PRRTE for 5.x); the user's variables (-x),
 * MCA parameters (--mca) and extra engine words (--mpirun-args, --srun-args, split like a
 * shell) in each engine's command; a program (`mnrun -- PROGRAM`) under mnrank in each engine.
 * Nothing is run. */
#include "mn_launch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mn_hosts.h"
#include "mn_place.h"
#include "mn_test.h"

/* Index of the argument equal to want, or -1. */
static int arg_index(const mn_cmd_t *cmd, const char *want) {
  for (int i = 0; i < cmd->argc; i++)
    if (!strcmp(cmd->argv[i], want)) return i;
  return -1;
}

/* Whether want is in cmd's argv right after the argument before (NULL: anywhere). */
static int has_arg(const mn_cmd_t *cmd, const char *before, const char *want) {
  for (int i = 0; i < cmd->argc; i++)
    if (!strcmp(cmd->argv[i], want) && (!before || (i > 0 && !strcmp(cmd->argv[i - 1], before))))
      return 1;
  return 0;
}

static int has_env(const mn_cmd_t *cmd, const char *want) {
  for (int i = 0; i < cmd->nenv; i++)
    if (!strcmp(cmd->env[i], want)) return 1;
  return 0;
}

static void test_version_parse(void) {
  CHECK(mn_launch_mpirun_parse_version("mpirun (Open MPI) 4.1.4\n\nReport bugs to "
                                       "http://www.open-mpi.org/community/help/\n") == 4);
  CHECK(mn_launch_mpirun_parse_version("mpirun (Open MPI) 5.0.3\n\nReport bugs to "
                                       "https://www.open-mpi.org/community/help/\n") == 5);
  CHECK(mn_launch_mpirun_parse_version("mpiexec (OpenRTE) 4.0.3\n") == 0);
  CHECK(mn_launch_mpirun_parse_version("HYDRA build details:\n    Version: 4.0.2\n") == 0);
  CHECK(mn_launch_mpirun_parse_version("") == 0);
  CHECK(mn_launch_mpirun_parse_version(NULL) == 0);
}

/* The mpirun command for version_text's Open MPI, for 4 ranks on hosts a:2,b:2 (hostfile)
 * or spread over them (rankfile). out: cmd. */
static void build_mpirun(const char *version_text, mn_place_policy_t policy, mn_cmd_t *cmd) {
  mn_hostlist_t hosts;
  mn_plan_t plan;
  CHECK(mn_hosts_parse_list("a:2,b:2", &hosts) == MN_OK);
  CHECK(mn_place_gang(&hosts, NULL, 4, policy, &plan) == MN_OK);
  mn_job_t job = {.train = "/bin/mntrain",
                  .conf = "t.conf",
                  .mpirun = "mpirun",
                  .report_dir = "/tmp/mnrun.X",
                  .hostfile = "/tmp/mnrun.X/hostfile",
                  .mpi_major = mn_launch_mpirun_parse_version(version_text)};
  *cmd = (mn_cmd_t){0};
  CHECK(mn_launch_mpirun_build(&job, &plan, cmd) == MN_OK);
  mn_place_free(&plan);
  mn_hosts_free(&hosts);
}

static void test_mpirun_names(void) {
  mn_cmd_t c4, c5;
  build_mpirun("mpirun (Open MPI) 4.1.4\n", MN_PLACE_PACK, &c4);
  build_mpirun("mpirun (Open MPI) 5.0.3\n", MN_PLACE_PACK, &c5);
  /* the session directory: ORTE's MCA name, PRRTE's */
  CHECK(has_arg(&c4, "--mca", "orte_tmpdir_base") &&
        has_arg(&c4, "orte_tmpdir_base", "/tmp/mnrun.X"));
  CHECK(has_arg(&c5, "--prtemca", "prte_tmpdir_base") &&
        has_arg(&c5, "prte_tmpdir_base", "/tmp/mnrun.X"));
  CHECK(arg_index(&c5, "orte_tmpdir_base") < 0 && arg_index(&c4, "prte_tmpdir_base") < 0);
  /* a hostfile the same in both */
  CHECK(has_arg(&c4, "--hostfile", "/tmp/mnrun.X/hostfile") && has_arg(&c4, "--map-by", "slot"));
  CHECK(has_arg(&c5, "--hostfile", "/tmp/mnrun.X/hostfile") && has_arg(&c5, "--map-by", "slot"));
  mn_cmd_free(&c4);
  mn_cmd_free(&c5);

  /* a rankfile (spread): --rankfile with rmaps_rank_file_physical, or --map-by rankfile:file= */
  build_mpirun("mpirun (Open MPI) 4.1.4\n", MN_PLACE_SPREAD, &c4);
  build_mpirun("mpirun (Open MPI) 5.0.3\n", MN_PLACE_SPREAD, &c5);
  CHECK(has_arg(&c4, "--rankfile", "/tmp/mnrun.X/hostfile"));
  CHECK(has_arg(&c4, "--mca", "rmaps_rank_file_physical"));
  CHECK(has_arg(&c5, "--map-by", "rankfile:file=/tmp/mnrun.X/hostfile"));
  CHECK(arg_index(&c5, "--rankfile") < 0 && arg_index(&c5, "rmaps_rank_file_physical") < 0);
  for (int i = 0; i < c5.argc; i++) CHECK_MSG(!strstr(c5.argv[i], "orte"), "%s", c5.argv[i]);
  mn_cmd_free(&c4);
  mn_cmd_free(&c5);

  /* unknown version (another MPI's text, or none): ORTE's names, as before */
  mn_cmd_t c0;
  build_mpirun("", MN_PLACE_PACK, &c0);
  CHECK(has_arg(&c0, "--mca", "orte_tmpdir_base"));
  mn_cmd_free(&c0);
}

/* Oversubscribed (the local machine, more ranks than CPUs): --oversubscribe for ORTE,
 * the :OVERSUBSCRIBE modifier of --map-by for PRRTE. */
static void test_mpirun_oversubscribe(void) {
  mn_hostlist_t hosts;
  mn_plan_t plan;
  CHECK(mn_hosts_local(&hosts) == MN_OK);
  int n = mn_hosts_total_slots(&hosts) + 2;
  CHECK(mn_place_gang(&hosts, NULL, n, MN_PLACE_PACK, &plan) == MN_OK);
  CHECK(plan.oversubscribed);
  for (int major = 4; major <= 5; major++) {
    mn_job_t job = {.train = "mntrain",
                    .conf = "t.conf",
                    .mpirun = "mpirun",
                    .report_dir = "/tmp/d",
                    .mpi_major = major};
    mn_cmd_t cmd = {0};
    CHECK(mn_launch_mpirun_build(&job, &plan, &cmd) == MN_OK);
    if (major == 4) CHECK(arg_index(&cmd, "--oversubscribe") >= 0);
    if (major == 5) {
      CHECK(arg_index(&cmd, "--oversubscribe") < 0);
      CHECK(has_arg(&cmd, "--map-by", "slot:OVERSUBSCRIBE"));
    }
    mn_cmd_free(&cmd);
  }
  mn_place_free(&plan);
  mn_hosts_free(&hosts);
}

/* -x, --mca and the extra words in each engine. */
static void test_user_options(void) {
  mn_hostlist_t hosts;
  mn_plan_t plan;
  CHECK(mn_hosts_parse_list("a:2", &hosts) == MN_OK);
  CHECK(mn_place_gang(&hosts, NULL, 2, MN_PLACE_PACK, &plan) == MN_OK);
  const char *set[] = {"FOO=bar baz"}, *pass[] = {"NCCL_DEBUG"};
  const char *mca[] = {"btl", "tcp,self"};
  mn_job_t job = {.train = "mntrain",
                  .conf = "t.conf",
                  .mpirun = "mpirun",
                  .report_dir = "/tmp/d",
                  .set_env = set,
                  .nset_env = 1,
                  .pass_env = pass,
                  .npass_env = 1,
                  .mca = mca,
                  .nmca = 1,
                  .engine_args = "--report-bindings --tag-output \"two words\" 'a\"b' c\\ d"};
  mn_cmd_t cmd = {0};
  CHECK(mn_launch_mpirun_build(&job, &plan, &cmd) == MN_OK);
  CHECK(has_arg(&cmd, "-x", "FOO=bar baz") && has_arg(&cmd, "-x", "NCCL_DEBUG"));
  CHECK(has_arg(&cmd, "--mca", "btl") && has_arg(&cmd, "btl", "tcp,self"));
  int w = arg_index(&cmd, "--report-bindings"), m = arg_index(&cmd, "mntrain");
  CHECK(w > 0 && m == w + 5); /* the words, in order, right before the worker */
  CHECK(has_arg(&cmd, "--report-bindings", "--tag-output") &&
        has_arg(&cmd, "--tag-output", "two words"));
  CHECK(has_arg(&cmd, "two words", "a\"b") && has_arg(&cmd, "a\"b", "c d"));
  mn_cmd_free(&cmd);

  /* srun: the environment (--export=ALL) carries -x and --mca; the words go to srun */
  job.engine_args = "--gpu-bind=none";
  CHECK(mn_launch_srun_build(&job, &plan, &cmd) == MN_OK);
  CHECK(has_env(&cmd, "FOO=bar baz") && has_env(&cmd, "OMPI_MCA_btl=tcp,self"));
  CHECK(arg_index(&cmd, "-x") < 0 && arg_index(&cmd, "NCCL_DEBUG") < 0);
  CHECK(arg_index(&cmd, "--gpu-bind=none") >= 0 &&
        arg_index(&cmd, "--gpu-bind=none") < arg_index(&cmd, "mntrain"));
  mn_cmd_free(&cmd);

  /* bad quoting: an error, nothing built */
  job.engine_args = "--x 'unbalanced";
  CHECK(mn_launch_srun_build(&job, &plan, &cmd) == MN_ERR_USAGE);
  CHECK(strstr(mn_error_message(), "unbalanced ' quote") != NULL);
  CHECK(cmd.argv == NULL);
  job.engine_args = "a \"b";
  CHECK(mn_launch_mpirun_build(&job, &plan, &cmd) == MN_ERR_USAGE);
  job.engine_args = "a b\\";
  CHECK(mn_launch_mpirun_build(&job, &plan, &cmd) == MN_ERR_USAGE);
  mn_place_free(&plan);
  mn_hosts_free(&hosts);

  /* direct: -x and --mca into the child's environment */
  CHECK(mn_hosts_local(&hosts) == MN_OK);
  CHECK(mn_place_gang(&hosts, NULL, 1, MN_PLACE_PACK, &plan) == MN_OK);
  job.engine_args = NULL;
  CHECK(mn_launch_direct_build(&job, &plan, &cmd) == MN_OK);
  CHECK(has_env(&cmd, "FOO=bar baz") && has_env(&cmd, "OMPI_MCA_btl=tcp,self"));
  mn_cmd_free(&cmd);
  mn_place_free(&plan);
  mn_hosts_free(&hosts);
}

/* Program mode: every engine runs mnrank --engine=<its name> -- PROGRAM ARGS, the words as
 * given and last (none of mntrain's arguments), and says it runs a program. */
static void test_program(void) {
  mn_hostlist_t hosts;
  mn_plan_t plan;
  CHECK(mn_hosts_parse_list("a:2", &hosts) == MN_OK);
  CHECK(mn_place_gang(&hosts, NULL, 2, MN_PLACE_PACK, &plan) == MN_OK);
  char *prog[] = {"./trainer", "--lr", "0.1", "two words", "--"};
  const char *sets[] = {"optimizer.lr=0.2"};
  mn_job_t job = {.train = "/bin/mnrank",
                  .program = prog,
                  .nprogram = 5,
                  .sets = sets, /* ignored: mnrun refuses --set with a program */
                  .nsets = 1,
                  .mpirun = "mpirun",
                  .report_dir = "/tmp/d"};
  const char *engines[] = {"mpirun", "srun", "direct"};
  for (int e = 0; e < 3; e++) {
    mn_cmd_t cmd = {0};
    mn_hostlist_t local;
    mn_plan_t one;
    if (e == 2) {
      CHECK(mn_hosts_local(&local) == MN_OK);
      CHECK(mn_place_gang(&local, NULL, 1, MN_PLACE_PACK, &one) == MN_OK);
    }
    mn_status_t st = e == 0   ? mn_launch_mpirun_build(&job, &plan, &cmd)
                     : e == 1 ? mn_launch_srun_build(&job, &plan, &cmd)
                              : mn_launch_direct_build(&job, &one, &cmd);
    CHECK(st == MN_OK);
    int w = arg_index(&cmd, "/bin/mnrank");
    char engine[32];
    snprintf(engine, sizeof engine, "--engine=%s", engines[e]);
    CHECK_MSG(w >= 0 && w + 8 == cmd.argc, "%s: mnrank at %d of %d", engines[e], w, cmd.argc);
    CHECK(has_arg(&cmd, "/bin/mnrank", engine) && has_arg(&cmd, engine, "--"));
    for (int i = 0; w >= 0 && i < 5 && w + 3 + i < cmd.argc; i++)
      CHECK(!strcmp(cmd.argv[w + 3 + i], prog[i]));
    CHECK(arg_index(&cmd, "--set") < 0 && arg_index(&cmd, "mntrain") < 0);
    CHECK(cmd.program == 1);
    mn_cmd_free(&cmd);
    if (e == 2) {
      mn_place_free(&one);
      mn_hosts_free(&local);
    }
  }
  mn_place_free(&plan);
  mn_hosts_free(&hosts);
}

int main(void) {
  test_version_parse();
  test_mpirun_names();
  test_mpirun_oversubscribe();
  test_user_options();
  test_program();
  return mn_test_result("test_launch");
}
