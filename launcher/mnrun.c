/* mnrun.c: the launcher's main(): options, then resources -> placement -> launch -> supervise.
 *
 *   mnrun -np N [--hostfile F | -H host:slots,...] [--set section.key=value]...
 *         [--metrics FILE] [--dry-run] [--mpirun PATH] [-v] train.conf
 *
 * Everything that can be checked before a rank starts is checked here first (the command
 * line, train.conf with its --set overrides, the hosts, the gang's slots), so that a mistake
 * costs no allocation. The steps themselves live in hosts.c, place.c, launch_*.c and
 * supervise.c; this file only wires them and decides the exit code (docs/launcher.md). */
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mn_config.h"
#include "mn_hosts.h"
#include "mn_launch.h"
#include "mn_log.h"
#include "mn_place.h"
#include "mn_status.h"
#include "mn_supervise.h"

#define MNRUN_MAX_SETS 256

typedef struct mnrun_opts {
  int nranks;
  const char *hostfile; /* --hostfile */
  const char *hostlist; /* -H */
  const char *sets[MNRUN_MAX_SETS + 1];
  int nsets;
  char resume[80]; /* "snapshot.resume=MODE" from --resume, the last of the sets */
  const char *metrics;
  const char *mpirun; /* --mpirun, else MN_MPIRUN, else PATH */
  int dry_run;
  int verbose;
  int threads; /* BLAS threads per rank; 0: cores / ranks on the host */
  const char *conf;
} mnrun_opts_t;

static void print_help(FILE *f) {
  fprintf(
      f,
      "usage: mnrun -np N [--hostfile FILE | -H HOST[:SLOTS],...] [--set SECTION.KEY=VALUE]...\n"
      "             [--metrics FILE] [--resume MODE] [--dry-run] [--mpirun PATH] [-v]\n"
      "             TRAIN.CONF\n"
      "\n"
      "Check TRAIN.CONF, place N ranks of mntrain on the hosts as one gang, start them\n"
      "(through mpirun, or directly for one local rank), forward signals, and report\n"
      "which rank failed and why. See docs/launcher.md.\n"
      "\n"
      "  -np, --np, -n N         ranks to start (default 1)\n"
      "  --hostfile FILE         Open MPI hostfile, \"host slots=N\" per line\n"
      "                          (default: the local machine, slots = its CPUs, %d here)\n"
      "  -H, --host LIST         hosts as host[:slots],... (default slots 1)\n"
      "  --set SECTION.KEY=VALUE override a key of TRAIN.CONF (repeatable; default none)\n"
      "  --metrics FILE          JSON-lines metrics, passed to mntrain (default none)\n"
      "  --resume MODE           auto: from the newest valid snapshot, if any (default);\n"
      "                          require: fail (66) without one; never: start afresh\n"
      "  --dry-run               print the placement and the command; start nothing\n"
      "  --mpirun PATH           the mpirun to use (default $MN_MPIRUN, else mpirun on PATH)\n"
      "  --threads N             BLAS threads per rank (default: the host's cores / its\n"
      "                          ranks, at least 1)\n"
      "  -v, --verbose           print the command before running it; debug messages\n"
      "  -h, --help              this text\n"
      "  --version               the version\n"
      "\n"
      "The worker is $MN_TRAIN, else mntrain next to mnrun. Exit codes: 0 done, 64 usage or\n"
      "config error, 65 bad data, 66 missing input, 69 too few slots or a rank/node failed,\n"
      "70 internal error, 74 a snapshot could not be written, 75 stopped by a signal after\n"
      "a complete snapshot (safe to requeue); 128+N when signal N ended it. INT or TERM\n"
      "stops the ranks after the current step with a snapshot; a second one kills them.\n",
      mn_hosts_local_cpus());
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("mnrun: error: ", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs("\nmnrun: try 'mnrun --help'\n", stderr);
  return MN_EXIT_USAGE;
}

/* A whole number in [1, MN_SLOTS_MAX], or -1. */
static int parse_count(const char *text) {
  char *end;
  long v = strtol(text, &end, 10);
  if (!text[0] || *end || v < 1 || v > MN_SLOTS_MAX) return -1;
  return (int)v;
}

/* Fill opts from argv. Returns 0 to go on, or the exit code to stop with (-1: help shown,
 * exit 0). */
static int parse_options(int argc, char **argv, mnrun_opts_t *opts) {
  enum {
    OPT_HOSTFILE = 256,
    OPT_SET,
    OPT_METRICS,
    OPT_DRY_RUN,
    OPT_MPIRUN,
    OPT_VERSION,
    OPT_THREADS,
    OPT_RESUME
  };
  static const struct option longopts[] = {
      {"np", required_argument, NULL, 'n'},
      {"host", required_argument, NULL, 'H'},
      {"hostfile", required_argument, NULL, OPT_HOSTFILE},
      {"set", required_argument, NULL, OPT_SET},
      {"metrics", required_argument, NULL, OPT_METRICS},
      {"dry-run", no_argument, NULL, OPT_DRY_RUN},
      {"mpirun", required_argument, NULL, OPT_MPIRUN},
      {"threads", required_argument, NULL, OPT_THREADS},
      {"resume", required_argument, NULL, OPT_RESUME},
      {"verbose", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, OPT_VERSION},
      {NULL, 0, NULL, 0},
  };
  *opts = (mnrun_opts_t){.nranks = 1};
  opterr = 0;
  /* getopt_long_only, so that mpirun's "-np 4" works beside "--np 4"; single-letter
   * options (-n, -H, -v, -h) stay short options. */
  for (int c; (c = getopt_long_only(argc, argv, ":n:H:vh", longopts, NULL)) != -1;) {
    switch (c) {
    case 'n':
      if ((opts->nranks = parse_count(optarg)) < 0)
        return usage_error("-np expects a whole number >= 1, got '%s'", optarg);
      break;
    case 'H': opts->hostlist = optarg; break;
    case OPT_HOSTFILE: opts->hostfile = optarg; break;
    case OPT_SET: {
      const char *eq = strchr(optarg, '='), *dot = strchr(optarg, '.');
      if (!eq || !dot || dot > eq || dot == optarg || dot + 1 == eq)
        return usage_error("--set expects section.key=value, got '%s'", optarg);
      if (opts->nsets == MNRUN_MAX_SETS) return usage_error("too many --set options");
      opts->sets[opts->nsets++] = optarg;
      break;
    }
    case OPT_METRICS: opts->metrics = optarg; break;
    case OPT_RESUME:
      if (strcmp(optarg, "auto") && strcmp(optarg, "require") && strcmp(optarg, "never"))
        return usage_error("--resume expects auto, require or never, got '%s'", optarg);
      snprintf(opts->resume, sizeof opts->resume, "snapshot.resume=%s", optarg);
      break;
    case OPT_DRY_RUN: opts->dry_run = 1; break;
    case OPT_MPIRUN: opts->mpirun = optarg; break;
    case OPT_THREADS:
      if ((opts->threads = parse_count(optarg)) < 0)
        return usage_error("--threads expects a whole number >= 1, got '%s'", optarg);
      break;
    case 'v': opts->verbose = 1; break;
    case 'h': print_help(stdout); return -1;
    case OPT_VERSION: printf("mnrun %s\n", MN_VERSION); return -1;
    case ':': return usage_error("option '%s' needs an argument", argv[optind - 1]);
    default: return usage_error("unknown option '%s'", argv[optind - 1]);
    }
  }
  if (opts->hostfile && opts->hostlist) return usage_error("give --hostfile or -H, not both");
  if (optind >= argc) return usage_error("no train.conf given");
  if (optind + 1 < argc)
    return usage_error("one train.conf expected; extra argument '%s'", argv[optind + 1]);
  opts->conf = argv[optind];
  if (opts->resume[0]) opts->sets[opts->nsets++] = opts->resume;
  return 0;
}

/* ---- finding programs ---- */

/* mntrain: $MN_TRAIN, else next to this executable. out: path (size n). */
static mn_status_t find_worker(char *path, size_t n) {
  const char *env = getenv("MN_TRAIN");
  if (env && env[0]) {
    snprintf(path, n, "%s", env);
  } else {
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len < 0) return mn_error(MN_ERR_INTERNAL, "cannot read /proc/self/exe");
    self[len] = '\0';
    snprintf(path, n, "%s/mntrain", dirname(self));
  }
  if (access(path, X_OK) != 0)
    return mn_error(MN_ERR_PEER, "worker %s is not an executable (set MN_TRAIN)", path);
  return MN_OK;
}

/* mpirun: --mpirun, else $MN_MPIRUN, else "mpirun" searched on PATH. out: path (size n). */
static mn_status_t find_mpirun(const char *given, char *path, size_t n) {
  const char *name = given;
  if (!name || !name[0]) name = getenv("MN_MPIRUN");
  if (!name || !name[0]) name = "mpirun";
  snprintf(path, n, "%s", name);
  if (strchr(name, '/'))
    return access(name, X_OK) == 0 ? MN_OK
                                   : mn_error(MN_ERR_PEER, "mpirun %s is not an executable", name);
  const char *search = getenv("PATH");
  char *dirs = strdup(search && search[0] ? search : "/usr/local/bin:/usr/bin:/bin");
  if (!dirs) return mn_error(MN_ERR_NOMEM, "out of memory");
  mn_status_t st = mn_error(MN_ERR_PEER, "%s not found on PATH (use --mpirun or MN_MPIRUN)", name);
  char *save = NULL;
  for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
    char candidate[PATH_MAX];
    snprintf(candidate, sizeof candidate, "%s/%s", d, name);
    if (access(candidate, X_OK) == 0) {
      snprintf(path, n, "%s", candidate);
      st = MN_OK;
      break;
    }
  }
  free(dirs);
  return st;
}

/* ---- dry run ---- */

static void print_plan(const mn_hostlist_t *hosts, const mn_plan_t *plan, int uniform_threads) {
  int width = 4;
  for (int h = 0; h < hosts->nhosts; h++)
    if ((int)strlen(hosts->hosts[h].name) > width) width = (int)strlen(hosts->hosts[h].name);
  printf("mnrun: %d rank%s on %d host%s%s\n", plan->nranks, plan->nranks == 1 ? "" : "s",
         hosts->nhosts, hosts->nhosts == 1 ? "" : "s",
         hosts->implicit ? " (the local machine)" : "");
  printf("%6s  %-*s  %10s  %12s\n", "rank", width, "host", "local_rank", "blas_threads");
  for (int r = 0; r < plan->nranks; r++) {
    const mn_rank_place_t *p = &plan->ranks[r];
    printf("%6d  %-*s  %10d  %12d\n", p->rank, width, hosts->hosts[p->host].name, p->local_rank,
           uniform_threads > 0 ? uniform_threads : p->threads);
  }
  if (uniform_threads > 0)
    for (int r = 0; r < plan->nranks; r++)
      if (plan->ranks[r].threads != uniform_threads) {
        printf("note: mpirun passes one OPENBLAS_NUM_THREADS to all ranks: the smallest, %d "
               "(rank %d could use %d)\n",
               uniform_threads, r, plan->ranks[r].threads);
        break;
      }
  if (plan->oversubscribed)
    printf("note: %d ranks on %d cores of the local machine: oversubscribed (mpirun "
           "--oversubscribe --bind-to none)\n",
           plan->nranks, mn_hosts_total_slots(hosts));
  else if (plan->overcommitted)
    printf("note: a local host runs more ranks than it has cores: not binding (--bind-to none)\n");
}

/* ---- main ---- */

/* Everything up to the command: config, hosts, placement, programs, command. */
typedef struct mnrun_job {
  mn_hostlist_t hosts;
  mn_plan_t plan;
  mn_job_t job;
  mn_cmd_t cmd;
  int use_mpirun;
  char train[PATH_MAX];
  char mpirun[PATH_MAX];
  char workdir[PATH_MAX];
  char hostfile[PATH_MAX + 16];
} mnrun_job_t;

static mn_status_t check_config(const mnrun_opts_t *opts) {
  mn_config_t *cfg = malloc(sizeof *cfg);
  if (!cfg) return mn_error(MN_ERR_NOMEM, "out of memory");
  char err[2048] = "";
  mn_status_t st = mn_config_load(opts->conf, opts->sets, opts->nsets, cfg, err, sizeof err);
  if (st != MN_OK) mn_error(st, "%s", err[0] ? err : mn_status_string(st));
  free(cfg);
  return st;
}

static mn_status_t load_hosts(const mnrun_opts_t *opts, mn_hostlist_t *hosts) {
  if (opts->hostfile) return mn_hosts_parse_file(opts->hostfile, hosts);
  if (opts->hostlist) return mn_hosts_parse_list(opts->hostlist, hosts);
  return mn_hosts_local(hosts);
}

/* Resources, placement, programs. The work directory is not made yet. */
static mn_status_t prepare(const mnrun_opts_t *opts, mnrun_job_t *j) {
  mn_status_t st = check_config(opts);
  if (st == MN_OK) st = load_hosts(opts, &j->hosts);
  if (st == MN_OK) st = mn_place_byslot(&j->hosts, opts->nranks, &j->plan);
  if (st != MN_OK) return st;
  for (int r = 0; opts->threads > 0 && r < j->plan.nranks; r++)
    j->plan.ranks[r].threads = opts->threads;
  j->use_mpirun = !(opts->nranks == 1 && j->hosts.implicit);
  st = find_worker(j->train, sizeof j->train);
  if (st == MN_OK && j->use_mpirun) st = find_mpirun(opts->mpirun, j->mpirun, sizeof j->mpirun);
  if (st != MN_OK && opts->dry_run) { /* show what would run anyway */
    mn_log_warn("%s", mn_error_message());
    if (!j->mpirun[0]) snprintf(j->mpirun, sizeof j->mpirun, "mpirun");
    st = MN_OK;
  }
  j->job = (mn_job_t){.train = j->train,
                      .conf = opts->conf,
                      .sets = opts->sets,
                      .nsets = opts->nsets,
                      .metrics = opts->metrics,
                      .mpirun = j->mpirun,
                      .report_dir = j->workdir,
                      .tty = isatty(STDERR_FILENO)};
  return st;
}

static mn_status_t build_command(mnrun_job_t *j) {
  j->job.hostfile = NULL;
  if (j->use_mpirun && !j->hosts.implicit) {
    snprintf(j->hostfile, sizeof j->hostfile, "%s/hostfile", j->workdir);
    j->job.hostfile = j->hostfile;
  }
  return j->use_mpirun ? mn_launch_mpirun_build(&j->job, &j->plan, &j->cmd)
                       : mn_launch_direct_build(&j->job, &j->plan, &j->cmd);
}

static int dry_run(mnrun_job_t *j) {
  const char *base = getenv("TMPDIR");
  snprintf(j->workdir, sizeof j->workdir, "%s/mnrun.XXXXXX", base && base[0] ? base : "/tmp");
  mn_status_t st = build_command(j);
  if (st != MN_OK) {
    mn_log_error("%s", mn_error_message());
    return mn_status_exit_code(st);
  }
  print_plan(&j->hosts, &j->plan, j->use_mpirun ? mn_place_min_threads(&j->plan) : 0);
  if (j->job.hostfile) {
    printf("hostfile %s:\n", j->job.hostfile);
    mn_launch_hostfile_print(stdout, &j->hosts, &j->plan);
  }
  printf("command:\n");
  mn_cmd_print(stdout, &j->cmd);
  return MN_EXIT_OK;
}

static int launch(mnrun_job_t *j, int verbose) {
  mn_status_t st = mn_supervise_workdir_create(j->workdir, sizeof j->workdir);
  if (st != MN_OK) goto report_error;
  st = build_command(j);
  if (st == MN_OK && j->job.hostfile)
    st = mn_launch_hostfile_write(j->job.hostfile, &j->hosts, &j->plan);
  if (st != MN_OK) goto remove_workdir;
  if (verbose) {
    fprintf(stderr, "mnrun: running: ");
    mn_cmd_print(stderr, &j->cmd);
  }
  int job_code = 0;
  st = mn_supervise_run(&j->cmd, j->workdir, &job_code);
  if (st != MN_OK) goto remove_workdir;
  int code = mn_supervise_account(j->workdir, j->plan.nranks, job_code);
  mn_supervise_workdir_remove(j->workdir);
  return code;
remove_workdir:
  mn_supervise_workdir_remove(j->workdir);
report_error:
  mn_log_error("%s", mn_error_message());
  return mn_status_exit_code(st);
}

int main(int argc, char **argv) {
  mn_log_init("mnrun", -1, NULL);
  mnrun_opts_t opts;
  int code = parse_options(argc, argv, &opts);
  if (code != 0) return code < 0 ? MN_EXIT_OK : code;
  if (opts.verbose) mn_log_set_level(MN_LOG_DEBUG);

  mnrun_job_t *j = calloc(1, sizeof *j);
  if (!j) {
    mn_log_error("out of memory");
    return MN_EXIT_SOFTWARE;
  }
  mn_status_t st = prepare(&opts, j);
  if (st != MN_OK) {
    mn_log_error("%s", mn_error_message());
    code = mn_status_exit_code(st);
  } else {
    code = opts.dry_run ? dry_run(j) : launch(j, opts.verbose);
  }
  mn_cmd_free(&j->cmd);
  mn_place_free(&j->plan);
  mn_hosts_free(&j->hosts);
  free(j);
  return code;
}
