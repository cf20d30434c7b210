/* mntrain: the per-rank worker. mnrun starts one per rank (through mpirun, or directly
 * for one rank); it can also be run by hand under mpirun.
 *
 *   mntrain [--set section.key=value]... [--metrics FILE] train.conf
 *
 * It loads and checks the config on every rank, starts as any trainer on libmn does
 * (mn_init with the world the config asks for: docs/api.md), the ranks agree on the
 * config's outcome, runs mn_train_world(), and ends with mn_finish (its exit report for
 * mnrun, MN_REPORT_DIR, and the code of docs/exit-codes.md: 0 once that report is written,
 * mnrun reading the code from it). Stop signals are handled from the first line
 * (mn_stop_install). Nothing else lives here: of the runtime it uses its config (mn_config.h)
 * and the "did you mean" of its options (mn_suggest.h), and libmn's public API. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mn/log.h>
#include <mn/world.h>

#include "mn_config.h"
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
  mn_stop_install(); /* first (mn_init installs it again): the config is read before */
  if (asks_version(argc, argv)) {
    printf("mntrain %s\n", MN_VERSION);
    return MN_EXIT_OK;
  }
  /* The config first, on every rank (no MPI needed): the world it asks for. One that does
   * not load opens the CPU, and the ranks then agree on its error. */
  args_t a;
  mn_config_t *cfg = calloc(1, sizeof *cfg);
  char err[1024] = "";
  mn_status_t cst = cfg ? parse_args(argc, argv, &a) : mn_error(MN_ERR_NOMEM, "out of memory");
  if (cst == MN_OK) {
    cst = mn_config_load(a.conf, a.sets, a.nsets, cfg, err, sizeof err);
    if (cst != MN_OK) mn_error(cst, "%s", err);
  }
  char cmsg[2048]; /* mn_init may overwrite the message */
  snprintf(cmsg, sizeof cmsg, "%s", mn_error_message());
  mn_init_opts_t io = {.device = MN_COMPUTE_CPU};
  if (cst == MN_OK) {
    io = mn_train_init_opts(cfg);
    mn_log_set_level((mn_log_level_t)cfg->log.level); /* the device's opening logs too */
  }
  /* mn_init: the stop-signal handler first (a stop during start-up must not kill the rank:
   * it may have waited, blocked, since mnrun's fork), MPI, mnrun's placement, the heartbeat
   * (mnrun holds a stop until every rank has joined), the device (docs/api.md) */
  mn_world_t *w = NULL;
  mn_status_t st = mn_init(&argc, &argv, &io, &w);
  if (!w) { /* MPI never started: nothing to report through */
    fprintf(stderr, "mntrain: error: %s\n", mn_error_message());
    free(cfg);
    return mn_status_exit_code(st);
  }
  int rank = mn_world_rank(w);
  test_env_hook(rank);
  if (st == MN_OK) {
    if (cst != MN_OK) mn_error(cst, "%s", cmsg);
    st = mn_agree(w, cst, NULL);
  }
  if (st == MN_OK) {
    if (a.metrics) snprintf(cfg->log.metrics, sizeof cfg->log.metrics, "%s", a.metrics);
    mn_log_debug("rank %d of %d on %s, local rank %d of %d, pid %ld", rank, mn_world_size(w),
                 mn_world_host(w), mn_world_local_rank(w), mn_world_local_size(w), (long)getpid());
    mn_train_result_t res;
    st = mn_train_world(cfg, w, 0, &res);
  }
  free(cfg);
  /* the report for mnrun (the code, or the failing rank's message), MPI's end; under mnrun
   * the process exits 0 and the report carries the code: mpirun takes a rank's nonzero exit
   * for a failure and aborts the others, which are leaving anyway with the same agreed
   * code, and an abort waits out its kill timeout twice */
  int code = mn_finish(w, st);
  test_crash_hook(rank);
  return code;
}
