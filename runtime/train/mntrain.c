/* mntrain: the per-rank worker. mnrun starts one per rank (through mpirun, or directly
 * for one rank); it can also be run by hand under mpirun.
 *
 *   mntrain [--set section.key=value]... [--metrics FILE] train.conf
 *
 * It loads and checks the config on every rank (the ranks agree on the outcome), runs
 * mn_train_run() on MPI_COMM_WORLD, writes its exit report for mnrun (MN_REPORT_DIR), and
 * exits with the code of docs/exit-codes.md (0 once that report is written: mnrun reads
 * the code from it). Stop signals are handled from the first line (mn_preempt.h). Nothing
 * else lives here. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpi.h>

#include "mn_comm.h"
#include "mn_config.h"
#include "mn_liveness.h"
#include "mn_log.h"
#include "mn_preempt.h"
#include "mn_rankenv.h"
#include "mn_report.h"
#include "mn_suggest.h"
#include "mn_train.h"

#define MAX_SETS 256

static void usage(FILE *f) {
  fprintf(f, "usage: mntrain [--set section.key=value]... [--metrics FILE] [--resume MODE] "
             "train.conf\n"
             "  --set K=V       override a config key (repeatable; same checks as the file)\n"
             "  --resume MODE   auto (default), require or never: snapshot.resume\n"
             "  --metrics FILE  JSON lines of progress and a final summary (rank 0; default: "
             "log.metrics, none)\n"
             "  --version       print \"mntrain VERSION\" and exit\n"
             "Normally started by mnrun; see docs/launcher.md.\n");
}

typedef struct args {
  const char *sets[MAX_SETS + 1];
  int nsets;
  char resume[64];
  const char *metrics;
  const char *conf;
} args_t;

static const struct option opts[] = {
    {"set", required_argument, NULL, 's'},    {"metrics", required_argument, NULL, 'm'},
    {"resume", required_argument, NULL, 'r'}, {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0}};

/* Whether the command line asks for --version, which is answered before MPI_Init (it needs
 * no MPI); parse_args, afterwards, parses the same words again. */
static int asks_version(int argc, char **argv) {
  int found = 0;
  opterr = 0;
  for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) found |= c == 'V';
  optind = 0; /* GNU getopt: start afresh */
  return found;
}

static mn_status_t parse_args(int argc, char **argv, args_t *a) {
  memset(a, 0, sizeof *a);
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 's':
      if (a->nsets == MAX_SETS)
        return mn_error(MN_ERR_USAGE, "more than %d --set options", MAX_SETS);
      a->sets[a->nsets++] = optarg;
      break;
    case 'm': a->metrics = optarg; break;
    case 'r':
      if (strlen(optarg) > 16)
        return mn_error(MN_ERR_USAGE, "--resume: expected auto, require or never");
      snprintf(a->resume, sizeof a->resume, "snapshot.resume=%s", optarg);
      break;
    case 'h': usage(stdout); exit(0);
    case 'V': break; /* answered before MPI_Init */
    default: {
      char msg[256];
      return mn_error(MN_ERR_USAGE, "%s (try --help)",
                      mn_suggest_unknown_option(argv[optind - 1], opts, msg, sizeof msg));
    }
    }
  }
  if (optind != argc - 1) return mn_error(MN_ERR_USAGE, "expected one train.conf (try --help)");
  if (a->resume[0]) a->sets[a->nsets++] = a->resume; /* after the --sets: it wins */
  a->conf = argv[optind];
  return MN_OK;
}

/* Testing aid (docs/snapshots.md): with MN_TEST_CRASH_AFTER_REPORT=SEGV (ABRT, KILL, or a
 * number), die of that signal now, on every rank or only on rank MN_TEST_CRASH_RANK. */
static void test_crash_hook(int rank) {
  const char *name = getenv("MN_TEST_CRASH_AFTER_REPORT"), *only = getenv("MN_TEST_CRASH_RANK");
  if (!name || !name[0] || (only && only[0] && atoi(only) != rank)) return;
  if (!strncmp(name, "SIG", 3)) name += 3;
  int sig = !strcmp(name, "SEGV")   ? SIGSEGV
            : !strcmp(name, "ABRT") ? SIGABRT
            : !strcmp(name, "KILL") ? SIGKILL
                                    : atoi(name);
  signal(sig, SIG_DFL);
  raise(sig);
}

/* Testing aid (docs/launcher.md, "Environment"): with MN_TEST_ENV_DIR=DIR, each rank writes
 * its whole environment, one NAME=value a line, to DIR/env-<rank>, so that a test sees what
 * reached a rank on another host. */
static void test_env_hook(int rank) {
  extern char **environ;
  const char *dir = getenv("MN_TEST_ENV_DIR");
  if (!dir || !dir[0]) return;
  char path[4096];
  snprintf(path, sizeof path, "%s/env-%d", dir, rank);
  FILE *f = fopen(path, "w");
  if (!f) {
    mn_log_warn("MN_TEST_ENV_DIR: cannot write %s", path);
    return;
  }
  for (char **e = environ; *e; e++) fprintf(f, "%s\n", *e);
  fclose(f);
}

int main(int argc, char **argv) {
  /* first: a stop signal during start-up must not kill the rank (it may have waited,
   * blocked, since mnrun's fork: mn_preempt_install unblocks it once the handler is in) */
  mn_preempt_install();
  if (asks_version(argc, argv)) {
    printf("mntrain %s\n", MN_VERSION);
    return MN_EXIT_OK;
  }
  int provided;
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    fprintf(stderr, "mntrain: error: MPI_Init failed\n");
    return MN_EXIT_SOFTWARE;
  }
  mn_comm_t world;
  mn_status_t st = mn_comm_init(&world, MPI_COMM_WORLD, 1.0);
  if (st != MN_OK) {
    fprintf(stderr, "mntrain: error: %s\n", mn_error_message());
    MPI_Abort(MPI_COMM_WORLD, MN_EXIT_SOFTWARE);
  }
  mn_log_init("mn", world.rank, world.host);
  test_env_hook(world.rank);
  if (!mn_preempt_check_handlers())
    mn_log_warn("MPI replaced mn's handler of SIGTERM, SIGUSR1 or SIGINT; restored it");
  const char *report_dir = getenv("MN_REPORT_DIR");
  if (mn_rankenv_apply(report_dir, world.rank) != MN_OK)
    mn_log_warn("placement not applied: %s", mn_error_message());
  /* joining tells mnrun that this rank's handler is in place: mnrun holds a stop until
   * every rank has joined, so this comes after the handler check above */
  if (mn_liveness_start(report_dir, world.rank) != MN_OK) /* mnrun will see it missing */
    mn_log_warn("cannot tell mnrun this rank has started: %s", mn_error_message());

  args_t a;
  mn_config_t *cfg = calloc(1, sizeof *cfg);
  char err[1024] = "";
  st = cfg ? parse_args(argc, argv, &a) : mn_error(MN_ERR_NOMEM, "out of memory");
  if (st == MN_OK) {
    st = mn_config_load(a.conf, a.sets, a.nsets, cfg, err, sizeof err);
    if (st != MN_OK) mn_error(st, "%s", err);
  }
  int failed_rank;
  st = mn_comm_settle(&world, st, &failed_rank);
  if (st == MN_OK) {
    if (a.metrics) snprintf(cfg->log.metrics, sizeof cfg->log.metrics, "%s", a.metrics);
    mn_log_set_level((mn_log_level_t)cfg->log.level);
    mn_log_debug("rank %d of %d on %s, local rank %d of %d, pid %ld", world.rank, world.world,
                 world.host, world.local_rank, world.local_size, (long)getpid());
    mn_train_result_t res;
    st = mn_train_run(cfg, MPI_COMM_WORLD, 0, &res);
    failed_rank = res.failed_rank;
  }

  int code = mn_status_exit_code(st);
  char msg[2300];
  if (st == MN_OK)
    snprintf(msg, sizeof msg, "done");
  else if (failed_rank >= 0 && failed_rank != world.rank)
    snprintf(msg, sizeof msg, MN_REPORT_FOLLOWER ": rank %d failed", failed_rank);
  else if (mn_error_message()[0])
    snprintf(msg, sizeof msg, "%s", mn_error_message());
  else /* a status without words: say what it is rather than nothing */
    snprintf(msg, sizeof msg, "%s", mn_status_string(st));
  int reported = report_dir && report_dir[0] &&
                 mn_report_write(report_dir, world.rank, world.host, code, msg) == MN_OK;

  free(cfg);
  mn_comm_free(&world);
  MPI_Finalize();
  mn_liveness_stop();
  test_crash_hook(world.rank);
  /* Under mnrun the report carries the code, and the process exits 0: mpirun takes a
   * rank's nonzero exit for a failure and aborts the others, which are leaving anyway
   * with the same agreed code, and an abort waits out its kill timeout twice. */
  return reported ? MN_EXIT_OK : code;
}
