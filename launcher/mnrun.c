/* mnrun.c: the launcher's main(): options, then resources -> placement -> launch -> supervise.
 *
 *   mnrun [-np N] [--hostfile F | -H host:slots,...] [--set section.key=value]...
 *         [-x NAME[=VALUE]]... [--mca KEY VALUE]... [--metrics FILE] [--dry-run]
 *         [--mpirun PATH] [-v] train.conf
 *   mnrun [-np N] [options] -- PROGRAM [ARGS...]
 *
 * The first form runs mntrain on every rank; the second any program, each rank under
 * mnrank (launcher/mnrank.c), which gives it its rank's environment, passes signals on and
 * reports how it ended. Everything that can be checked before a rank starts is checked here
 * first (the command line, train.conf with its --set overrides or the program, the hosts,
 * the gang's slots), so that a mistake costs no allocation. A stop signal is recorded from
 * the first line of main(): one that arrives before the launch launches nothing (exit 75).
 * The steps themselves live in hosts.c, place.c, launch_*.c and supervise.c; this file only
 * wires them and decides the exit code (docs/launcher.md). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mn_config.h"
#include "mn_hosts.h"
#include "mn_launch.h"
#include "mn_log.h"
#include "mn_place.h"
#include "mn_status.h"
#include "mn_liveness.h"
#include "mn_report.h"
#include "mn_suggest.h"
#include "mn_supervise.h"
#include "mn_topo.h"

#define MNRUN_MAX_SETS 256

typedef struct mnrun_opts {
  int nranks;           /* -np; 0: not given (every slot of the hosts given, else 1) */
  const char *hostfile; /* --hostfile */
  const char *hostlist; /* -H */
  const char *sets[MNRUN_MAX_SETS + 1];
  int nsets;
  char resume[80]; /* "snapshot.resume=MODE" from --resume, the last of the sets */
  const char *metrics;
  const char *mpirun;                  /* --mpirun, else MN_MPIRUN, else PATH */
  const char *exports[MNRUN_MAX_SETS]; /* -x NAME or -x NAME=VALUE */
  int nexports;
  const char *mca[2 * MNRUN_MAX_SETS]; /* --mca KEY VALUE pairs */
  int nmca;
  const char *mpirun_args, *srun_args; /* --mpirun-args, --srun-args */
  int dry_run;
  int verbose;
  int threads;                        /* BLAS threads per rank; 0: cores / ranks on the host */
  double start_timeout, fail_timeout; /* seconds; 0: off */
  int max_restarts, min_np;           /* min_np 0: the same -np on a restart */
  int shared_tmpdir;                  /* every host sees $TMPDIR: watch every rank */
  mn_place_policy_t policy;
  int topology; /* --topology: print this machine's and exit */
  enum { LAUNCHER_AUTO, LAUNCHER_MPIRUN, LAUNCHER_SRUN } launcher;
  const char *conf;     /* TRAIN.CONF; NULL in program mode */
  char *const *program; /* after --: PROGRAM ARGS... (program mode); NULL for a train.conf */
  int nprogram;
  int master_port; /* --master-port; 0: MASTER_PORT of the environment, else chosen */
} mnrun_opts_t;

static void print_help(FILE *f) {
  fprintf(
      f,
      "usage: mnrun [-np N] [--hostfile FILE | -H HOST[:SLOTS],...] [--set SECTION.KEY=VALUE]...\n"
      "             [-x NAME[=VALUE]]... [--mca KEY VALUE]... [--metrics FILE] [--resume MODE]\n"
      "             [--dry-run] [--mpirun PATH] [-v] TRAIN.CONF\n"
      "       mnrun [-np N] [OPTIONS] -- PROGRAM [ARGS...]\n"
      "\n"
      "Check TRAIN.CONF, place N ranks of mntrain on the hosts as one gang, start them\n"
      "(through mpirun, or directly for one local rank), forward signals, and report\n"
      "which rank failed and why. See docs/launcher.md.\n"
      "\n"
      "After --, any PROGRAM instead of mntrain (program mode), placed, bound and started the\n"
      "same way, each rank under mnrank, which gives it RANK, LOCAL_RANK, WORLD_SIZE,\n"
      "LOCAL_WORLD_SIZE (and MN_RANK, MN_LOCAL_RANK, MN_WORLD_SIZE, MN_LOCAL_WORLD_SIZE,\n"
      "MN_GPU, MN_GPU_PCI, NCCL_IB_HCA), passes INT, TERM, USR1 and USR2 on to it as sent to\n"
      "mnrun, and reports its exit. A rank is watched by its exit, and by its heartbeat once\n"
      "it beats (libmn's mn_init); the first rank to fail brings the gang down. --set, --resume\n"
      "and --metrics are for a train.conf: refused with a PROGRAM (64); a PROGRAM that is\n"
      "not an executable file is 66. Exit: 0 when every rank exited 0; 75 when ranks exited\n"
      "75 and none failed; a rank's code of the list below as it is; 128+N when a program\n"
      "died of the stop signal N passed on to it; any other failure 69.\n"
      "\n"
      "  -np, --np, -n N         ranks to start (default: every slot of the hostfile, -H\n"
      "                          or Slurm allocation, one per GPU on hosts with GPUs; 1 on\n"
      "                          the local machine when no hosts are given)\n"
      "  --hostfile FILE         hostfile, Open MPI's \"[user@]host slots=N\" (also count=,\n"
      "                          cpus=, max_slots=; mn's gpus= and label=) or MPICH's\n"
      "                          \"host:N\" per line (default: the Slurm allocation when\n"
      "                          inside one, else the local machine, slots = its CPUs, %d here)\n"
      "  -H, --host LIST         hosts as host[:slots],... (default slots 1)\n"
      "  -x NAME[=VALUE]         give every rank NAME, from mnrun's environment or set to\n"
      "                          VALUE (repeatable; NCCL_*, UCX_*, CUDA_*, MN_* and, through\n"
      "                          mpirun itself, OMPI_* are passed without it)\n"
      "  --mca KEY VALUE         an Open MPI MCA parameter: mpirun --mca KEY VALUE, or\n"
      "                          OMPI_MCA_KEY=VALUE for srun and a direct rank (repeatable;\n"
      "                          default none)\n"
      "  --mpirun-args \"ARGS\"    more mpirun options, split into words like a shell does\n"
      "                          (quotes, no expansion), after mnrun's own (default none)\n"
      "  --srun-args \"ARGS\"      the same for srun (default none)\n"
      "  --set SECTION.KEY=VALUE override a key of TRAIN.CONF (repeatable; default none)\n"
      "  --metrics FILE          JSON-lines metrics, passed to mntrain (default none)\n"
      "  --resume MODE           auto: from the newest valid snapshot, if any (default);\n"
      "                          require: fail (66) without one; never: start afresh\n"
      "  --dry-run               print the placement and the command; start nothing\n"
      "  --policy pack|spread    pack: fill whole hosts, a host's ranks contiguous\n"
      "                          (default); spread: round-robin over the hosts\n"
      "  --topology              print this machine's NUMA nodes, cores, GPUs and network\n"
      "                          cards as found, and exit\n"
      "  --launcher auto|mpirun|srun  how the ranks start: auto = srun inside a Slurm\n"
      "                          allocation when no hosts are given, else mpirun\n"
      "  --mpirun PATH           the mpirun to use (default $MN_MPIRUN, else mpirun on PATH)\n"
      "  --threads N             BLAS threads per rank (default: the host's cores / its\n"
      "                          ranks, at least 1)\n"
      "  --start-timeout S       every rank must have started within S seconds, or the\n"
      "                          gang is torn down (default 300; 0 = no limit)\n"
      "  --fail-timeout S        a rank that failed or stopped beating brings the whole\n"
      "                          gang down within S seconds (default 30; 0 = off); once\n"
      "                          every rank has reported, mpirun (or srun) must exit within\n"
      "                          S seconds (60 when 0), or it is killed\n"
      "  --max-restarts K        relaunch up to K times after exit 75 or a failure that a\n"
      "                          retry may fix; each run resumes from the newest snapshot\n"
      "  --min-np M              on a restart, run on as few as M ranks when hosts were lost\n"
      "  --shared-tmpdir         $TMPDIR is on a file system every host sees: watch the\n"
      "                          start and heartbeat of remote ranks too\n"
      "  --master-port PORT      a program's MASTER_PORT on rank 0's host, beside MASTER_ADDR\n"
      "                          (default $MASTER_PORT, else a free port when rank 0 is on\n"
      "                          this machine, else 29500)\n"
      "  -v, --verbose           print the command before running it; debug messages\n"
      "  -h, --help              this text\n"
      "  --version               the version\n"
      "\n"
      "The worker is $MN_TRAIN, else mntrain next to mnrun. Exit codes: 0 done, 64 usage or\n"
      "config error, 65 bad data, 66 missing input, 69 too few slots or a rank/node failed,\n"
      "70 internal error, 73 snapshot directory in use, 74 a snapshot could not be written,\n"
      "75 stopped by a signal after a complete snapshot, or before anything was launched\n"
      "(safe to requeue); 128+N when signal N ended it. INT, TERM, USR1 or USR2 stops the\n"
      "ranks after the current step with a snapshot (held until every rank has started);\n"
      "a second INT or TERM kills them, and mnrun exits 128 + its number.\n",
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

/* Seconds: a number >= 0 (up to a day), or -1. */
static double parse_seconds(const char *text) {
  char *end;
  double v = strtod(text, &end);
  if (!text[0] || *end || !(v >= 0 && v <= 86400)) return -1;
  return v;
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
    OPT_RESUME,
    OPT_START_TIMEOUT,
    OPT_FAIL_TIMEOUT,
    OPT_MAX_RESTARTS,
    OPT_MIN_NP,
    OPT_SHARED_TMPDIR,
    OPT_POLICY,
    OPT_TOPOLOGY,
    OPT_LAUNCHER,
    OPT_MCA,
    OPT_MPIRUN_ARGS,
    OPT_SRUN_ARGS,
    OPT_MASTER_PORT
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
      {"start-timeout", required_argument, NULL, OPT_START_TIMEOUT},
      {"fail-timeout", required_argument, NULL, OPT_FAIL_TIMEOUT},
      {"max-restarts", required_argument, NULL, OPT_MAX_RESTARTS},
      {"min-np", required_argument, NULL, OPT_MIN_NP},
      {"shared-tmpdir", no_argument, NULL, OPT_SHARED_TMPDIR},
      {"policy", required_argument, NULL, OPT_POLICY},
      {"topology", no_argument, NULL, OPT_TOPOLOGY},
      {"launcher", required_argument, NULL, OPT_LAUNCHER},
      {"mca", required_argument, NULL, OPT_MCA},
      {"mpirun-args", required_argument, NULL, OPT_MPIRUN_ARGS},
      {"srun-args", required_argument, NULL, OPT_SRUN_ARGS},
      {"master-port", required_argument, NULL, OPT_MASTER_PORT},
      {"verbose", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, OPT_VERSION},
      {NULL, 0, NULL, 0},
  };
  *opts = (mnrun_opts_t){.start_timeout = 300, .fail_timeout = 30};
  /* program mode: the "--" that ends mnrun's options, and the word after it, to tell a
   * stray word before it from the program once getopt has moved both (a few suffice: a
   * "--" that is an option's argument is not the end) */
  enum { MAX_SEPARATORS = 8 };
  char *sep[MAX_SEPARATORS], *after_sep[MAX_SEPARATORS];
  int nsep = 0;
  for (int i = 1; i < argc && nsep < MAX_SEPARATORS; i++)
    if (!strcmp(argv[i], "--")) {
      sep[nsep] = argv[i];
      after_sep[nsep++] = i + 1 < argc ? argv[i + 1] : NULL;
    }
  const char *last_value = NULL; /* the last word taken as an option's argument */
  const char *conf_only = NULL;  /* the first option that only a train.conf takes */
  opterr = 0;
  /* getopt_long_only, so that mpirun's "-np 4" works beside "--np 4"; single-letter
   * options (-n, -H, -x, -v, -h) stay short options. */
  for (int c; (c = getopt_long_only(argc, argv, ":n:H:x:vh", longopts, NULL)) != -1;) {
    last_value = optarg;
    switch (c) {
    case 'n':
      if ((opts->nranks = parse_count(optarg)) < 0)
        return usage_error("-np expects a whole number >= 1, got '%s'", optarg);
      break;
    case 'H': opts->hostlist = optarg; break;
    case 'x': {
      size_t len = strcspn(optarg, "=");
      if (len == 0 ||
          strspn(optarg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                         "0123456789_") != len ||
          (optarg[0] >= '0' && optarg[0] <= '9'))
        return usage_error("-x expects NAME or NAME=VALUE (NAME: letters, digits and _), got "
                           "'%s'",
                           optarg);
      if (!optarg[len] && !getenv(optarg))
        return usage_error("-x %s: %s is not set in mnrun's environment (or give -x %s=VALUE)",
                           optarg, optarg, optarg);
      if (opts->nexports == MNRUN_MAX_SETS) return usage_error("too many -x options");
      opts->exports[opts->nexports++] = optarg;
      break;
    }
    case OPT_MCA:
      if (optind >= argc) return usage_error("--mca expects KEY VALUE");
      if (!optarg[0] || strchr(optarg, '='))
        return usage_error("--mca expects KEY VALUE (two words), got key '%s'", optarg);
      if (opts->nmca == MNRUN_MAX_SETS) return usage_error("too many --mca options");
      opts->mca[2 * opts->nmca] = optarg;
      opts->mca[2 * opts->nmca++ + 1] = last_value = argv[optind++]; /* the VALUE: next word */
      break;
    case OPT_MPIRUN_ARGS:
    case OPT_SRUN_ARGS: {
      mn_cmd_t check = {0};
      mn_status_t st = mn_cmd_add_words(&check, optarg);
      mn_cmd_free(&check);
      if (st != MN_OK)
        return usage_error("%s %s", c == OPT_MPIRUN_ARGS ? "--mpirun-args" : "--srun-args",
                           mn_error_message());
      *(c == OPT_MPIRUN_ARGS ? &opts->mpirun_args : &opts->srun_args) = optarg;
      break;
    }
    case OPT_HOSTFILE: opts->hostfile = optarg; break;
    case OPT_SET: {
      const char *eq = strchr(optarg, '='), *dot = strchr(optarg, '.');
      if (!eq || !dot || dot > eq || dot == optarg || dot + 1 == eq)
        return usage_error("--set expects section.key=value, got '%s'", optarg);
      if (opts->nsets == MNRUN_MAX_SETS) return usage_error("too many --set options");
      opts->sets[opts->nsets++] = optarg;
      if (!conf_only) conf_only = "--set";
      break;
    }
    case OPT_METRICS:
      opts->metrics = optarg;
      if (!conf_only) conf_only = "--metrics";
      break;
    case OPT_RESUME:
      if (!conf_only) conf_only = "--resume";
      if (strcmp(optarg, "auto") && strcmp(optarg, "require") && strcmp(optarg, "never"))
        return usage_error("--resume expects auto, require or never, got '%s'", optarg);
      snprintf(opts->resume, sizeof opts->resume, "snapshot.resume=%s", optarg);
      break;
    case OPT_START_TIMEOUT:
    case OPT_FAIL_TIMEOUT: {
      double v = parse_seconds(optarg);
      const char *name = c == OPT_START_TIMEOUT ? "--start-timeout" : "--fail-timeout";
      if (v < 0) return usage_error("%s expects seconds from 0 to 86400, got '%s'", name, optarg);
      *(c == OPT_START_TIMEOUT ? &opts->start_timeout : &opts->fail_timeout) = v;
      break;
    }
    case OPT_MAX_RESTARTS:
      if (strcmp(optarg, "0") && (opts->max_restarts = parse_count(optarg)) < 0)
        return usage_error("--max-restarts expects a whole number >= 0, got '%s'", optarg);
      break;
    case OPT_MIN_NP:
      if ((opts->min_np = parse_count(optarg)) < 0)
        return usage_error("--min-np expects a whole number >= 1, got '%s'", optarg);
      break;
    case OPT_SHARED_TMPDIR: opts->shared_tmpdir = 1; break;
    case OPT_MASTER_PORT:
      if ((opts->master_port = parse_count(optarg)) < 1 || opts->master_port > 65535)
        return usage_error("--master-port expects a port from 1 to 65535, got '%s'", optarg);
      break;
    case OPT_POLICY:
      if (!strcmp(optarg, "pack"))
        opts->policy = MN_PLACE_PACK;
      else if (!strcmp(optarg, "spread"))
        opts->policy = MN_PLACE_SPREAD;
      else
        return usage_error("--policy expects pack or spread, got '%s'", optarg);
      break;
    case OPT_TOPOLOGY: opts->topology = 1; return 0;
    case OPT_LAUNCHER:
      if (!strcmp(optarg, "auto"))
        opts->launcher = LAUNCHER_AUTO;
      else if (!strcmp(optarg, "mpirun"))
        opts->launcher = LAUNCHER_MPIRUN;
      else if (!strcmp(optarg, "srun"))
        opts->launcher = LAUNCHER_SRUN;
      else
        return usage_error("--launcher expects auto, mpirun or srun, got '%s'", optarg);
      break;
    case OPT_DRY_RUN: opts->dry_run = 1; break;
    case OPT_MPIRUN: opts->mpirun = optarg; break;
    case OPT_THREADS:
      if ((opts->threads = parse_count(optarg)) < 0)
        return usage_error("--threads expects a whole number >= 1, got '%s'", optarg);
      break;
    case 'v': opts->verbose = 1; break;
    case 'h':
      /* a mistyped single-dash long option ("-hostfiel") falls back to the short -h in
       * getopt_long_only: the word is then still argv[optind], not consumed */
      if (optind < argc && argv[optind][0] == '-' && argv[optind][1] == 'h' && argv[optind][2]) {
        char msg[256];
        return usage_error("%s",
                           mn_suggest_unknown_option(argv[optind], longopts, msg, sizeof msg));
      }
      print_help(stdout);
      return -1;
    case OPT_VERSION: printf("mnrun %s\n", MN_VERSION); return -1;
    case ':': return usage_error("option '%s' needs an argument", argv[optind - 1]);
    default: {
      char msg[256];
      return usage_error("%s",
                         mn_suggest_unknown_option(argv[optind - 1], longopts, msg, sizeof msg));
    }
    }
  }
  if (opts->topology) return 0;
  if (opts->hostfile && opts->hostlist) return usage_error("give --hostfile or -H, not both");
  if (opts->launcher == LAUNCHER_SRUN && !getenv("SLURM_JOB_ID"))
    return usage_error("--launcher srun runs only inside a Slurm allocation (sbatch, salloc)");
  if (opts->nranks > 0 && opts->min_np > opts->nranks)
    return usage_error("--min-np %d is more than -np %d", opts->min_np, opts->nranks);
  /* program mode: getopt has moved the "--" that ended the options just before the words
   * that are not options */
  int separator = -1;
  for (int k = 0; optind > 1 && k < nsep; k++)
    if (argv[optind - 1] == sep[k] && sep[k] != last_value) separator = k;
  if (separator >= 0) {
    if (optind >= argc) return usage_error("no program after --");
    if (argv[optind] != after_sep[separator])
      return usage_error("unexpected '%s' before --: in `mnrun [OPTIONS] -- PROGRAM [ARGS...]`, "
                         "only options come before --",
                         argv[optind]);
    if (conf_only)
      return usage_error("%s is for a train.conf; a program after -- takes its settings as "
                         "its own arguments",
                         conf_only);
    opts->program = argv + optind;
    opts->nprogram = argc - optind;
    return 0;
  }
  if (optind >= argc) return usage_error("no train.conf given (or -- PROGRAM)");
  if (opts->master_port)
    return usage_error("--master-port is for a program (mnrun -- PROGRAM): mntrain's ranks "
                       "meet through MPI");
  if (optind + 1 < argc)
    return usage_error("one train.conf expected; extra argument '%s'", argv[optind + 1]);
  opts->conf = argv[optind];
  if (opts->resume[0]) opts->sets[opts->nsets++] = opts->resume;
  return 0;
}

/* ---- finding programs ---- */

/* The worker: mntrain ($MN_TRAIN, else next to this executable), or in program mode mnrank
 * (next to this executable). out: path (size n). */
static mn_status_t find_worker(int program_mode, char *path, size_t n) {
  const char *env = program_mode ? NULL : getenv("MN_TRAIN");
  if (env && env[0]) {
    snprintf(path, n, "%s", env);
  } else {
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len < 0) return mn_error(MN_ERR_INTERNAL, "cannot read /proc/self/exe");
    self[len] = '\0';
    snprintf(path, n, "%s/%s", dirname(self), program_mode ? "mnrank" : "mntrain");
  }
  if (access(path, X_OK) != 0)
    return mn_error(MN_ERR_PEER, "%s %s is not an executable%s",
                    program_mode ? "the per-rank shim" : "worker", path,
                    program_mode ? " (it is installed next to mnrun)" : " (set MN_TRAIN)");
  return MN_OK;
}

/* Program mode: the program must be an executable file, as the ranks' execvp will look for
 * it (a path with a '/' as it is, relative to the working directory the ranks share with
 * mnrun; a bare name on PATH). Else MN_ERR_NOINPUT, saying which. */
static mn_status_t find_program_file(const char *prog) {
  struct stat sb;
  if (strchr(prog, '/')) {
    if (stat(prog, &sb) != 0)
      return mn_error(MN_ERR_NOINPUT, "program %s: %s", prog, strerror(errno));
    if (S_ISDIR(sb.st_mode)) return mn_error(MN_ERR_NOINPUT, "program %s is a directory", prog);
    if (access(prog, X_OK) != 0)
      return mn_error(MN_ERR_NOINPUT, "program %s is not executable (chmod +x?)", prog);
    return MN_OK;
  }
  const char *search = getenv("PATH");
  char *dirs = strdup(search && search[0] ? search : "/usr/local/bin:/usr/bin:/bin");
  if (!dirs) return mn_error(MN_ERR_NOMEM, "out of memory");
  mn_status_t st = mn_error(MN_ERR_NOINPUT, "program %s not found on PATH", prog);
  char *save = NULL;
  for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
    char candidate[PATH_MAX];
    snprintf(candidate, sizeof candidate, "%s/%s", d, prog);
    if (stat(candidate, &sb) == 0 && !S_ISDIR(sb.st_mode) && access(candidate, X_OK) == 0) {
      st = MN_OK;
      break;
    }
  }
  free(dirs);
  return st;
}

/* mpirun: --mpirun, else $MN_MPIRUN, else "mpirun" searched on PATH. out: path (size n). */
/* A launcher program: given, else $env_var, else name on PATH. out: path (size n). */
static mn_status_t find_program(const char *given, const char *env_var, const char *name,
                                const char *hint, char *path, size_t n) {
  const char *prog = given;
  if (!prog || !prog[0]) prog = getenv(env_var);
  if (!prog || !prog[0]) prog = name;
  snprintf(path, n, "%s", prog);
  if (strchr(prog, '/'))
    return access(prog, X_OK) == 0
               ? MN_OK
               : mn_error(MN_ERR_PEER, "%s %s is not an executable", name, prog);
  const char *search = getenv("PATH");
  char *dirs = strdup(search && search[0] ? search : "/usr/local/bin:/usr/bin:/bin");
  if (!dirs) return mn_error(MN_ERR_NOMEM, "out of memory");
  mn_status_t st = mn_error(MN_ERR_PEER, "%s not found on PATH (%s)", prog, hint);
  char *save = NULL;
  for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
    char candidate[PATH_MAX];
    snprintf(candidate, sizeof candidate, "%s/%s", d, prog);
    if (access(candidate, X_OK) == 0) {
      snprintf(path, n, "%s", candidate);
      st = MN_OK;
      break;
    }
  }
  free(dirs);
  return st;
}

/* find_program_file, with a hint for a train.conf put after -- by mistake. */
static mn_status_t check_program(const char *prog) {
  mn_status_t st = find_program_file(prog);
  size_t len = strlen(prog);
  if (st != MN_OK && len > 5 && !strcmp(prog + len - 5, ".conf")) {
    char why[1024];
    snprintf(why, sizeof why, "%s", mn_error_message());
    st = mn_error(st, "%s (a train.conf goes without --: mnrun [OPTIONS] TRAIN.CONF)", why);
  }
  return st;
}

/* ---- dry run ---- */

static void print_plan(const mn_hostlist_t *hosts, const mn_plan_t *plan, int uniform_threads) {
  mn_place_print_threads(stdout, hosts, plan, uniform_threads);
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
  int use_mpirun, use_srun;
  int from_slurm;                   /* the hosts came from the Slurm allocation */
  int nranks;                       /* -np, or its default for these hosts */
  const char **set_env, **pass_env; /* the ranks' variables (mn_job_t) */
  int nset_env, npass_env;
  char **owned_names; /* the names in pass_env taken from the environment (freed) */
  int nowned;
  char train[PATH_MAX];
  char mpirun[PATH_MAX];
  char srun[PATH_MAX];
  char workdir[PATH_MAX];
  char hostfile[PATH_MAX + 16];
  int master_port;                    /* opts->master_port */
  char master_addr[MN_HOST_NAME_MAX]; /* a program's MASTER_ADDR (set_master) */
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

/* Hosts: a hostfile or -H as given, else the Slurm allocation we are in, else this
 * machine (explicit hosts win over the environment: docs/launcher.md). */
static mn_status_t load_hosts(const mnrun_opts_t *opts, mn_hostlist_t *hosts, int *from_slurm) {
  *from_slurm = 0;
  if (opts->hostfile) return mn_hosts_parse_file(opts->hostfile, hosts);
  if (opts->hostlist) return mn_hosts_parse_list(opts->hostlist, hosts);
  mn_status_t st = mn_hosts_from_slurm(hosts, from_slurm);
  if (st != MN_OK || *from_slurm) return st;
  return mn_hosts_local(hosts);
}

/* -np left out: every slot of the hosts given or of the Slurm allocation, as mpirun and srun
 * do, but one rank per GPU on hosts with GPUs (only those take ranks then); 1 on the local
 * machine when no hosts were given (not mpirun's one per core: a run's batch and result
 * depend on the rank count, which should not change with the laptop it runs on). */
static int default_nranks(const mn_hostlist_t *hosts) {
  if (hosts->implicit) return 1;
  long slots = 0, gpu_slots = 0;
  int gpu_job = 0;
  for (int i = 0; i < hosts->nhosts; i++) {
    const mn_host_t *h = &hosts->hosts[i];
    slots += h->slots;
    if (h->gpus > 0) {
      gpu_job = 1;
      gpu_slots += h->slots < h->gpus ? h->slots : h->gpus;
    }
  }
  long n = gpu_job ? gpu_slots : slots;
  return n < 1 ? 1 : n > MN_SLOTS_MAX ? MN_SLOTS_MAX : (int)n;
}

/* Whether an entry of mnrun's environment ("NAME=value") goes to every rank without -x:
 * NCCL_*, UCX_*, CUDA_* and MN_* (not the MN_ variables mnrun sets for the ranks itself).
 * OMPI_* are not in the list: mpirun exports them itself, and srun and a direct rank
 * inherit the whole environment. */
static int passed_by_default(const char *entry) {
  static const char *const prefixes[] = {"NCCL_", "UCX_", "CUDA_", "MN_"};
  if (!strncmp(entry, "MN_TTY=", 7) || !strncmp(entry, "MN_REPORT_DIR=", 14)) return 0;
  for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
    if (!strncmp(entry, prefixes[i], strlen(prefixes[i]))) return 1;
  return 0;
}

/* Whether names[0..n) holds the name (len characters). */
static int has_name(const char *const *names, int n, const char *name, size_t len) {
  for (int i = 0; i < n; i++)
    if (strlen(names[i]) >= len && !strncmp(names[i], name, len) &&
        (names[i][len] == '\0' || names[i][len] == '='))
      return 1;
  return 0;
}

/* The ranks' variables (mn_job_t set_env, pass_env): -x NAME=VALUE as given; the names of
 * -x NAME and of the variables passed by default, each once, none that -x sets. */
static mn_status_t build_env(const mnrun_opts_t *opts, mnrun_job_t *j) {
  extern char **environ;
  int nenv = 0;
  while (environ[nenv]) nenv++;
  j->set_env = calloc((size_t)opts->nexports + 1, sizeof *j->set_env);
  j->pass_env = calloc((size_t)(opts->nexports + nenv) + 1, sizeof *j->pass_env);
  j->owned_names = calloc((size_t)nenv + 1, sizeof *j->owned_names);
  if (!j->set_env || !j->pass_env || !j->owned_names)
    return mn_error(MN_ERR_NOMEM, "out of memory");
  for (int i = 0; i < opts->nexports; i++)
    if (strchr(opts->exports[i], '=')) j->set_env[j->nset_env++] = opts->exports[i];
  for (int i = 0; i < nenv; i++) {
    const char *e = environ[i];
    size_t len = strcspn(e, "=");
    if (!passed_by_default(e) || has_name(j->set_env, j->nset_env, e, len) ||
        has_name(j->pass_env, j->npass_env, e, len))
      continue;
    char *name = strndup(e, len);
    if (!name) return mn_error(MN_ERR_NOMEM, "out of memory");
    j->owned_names[j->nowned++] = name;
    j->pass_env[j->npass_env++] = name;
  }
  for (int i = 0; i < opts->nexports; i++) {
    const char *x = opts->exports[i];
    if (!strchr(x, '=') && !has_name(j->set_env, j->nset_env, x, strlen(x)) &&
        !has_name(j->pass_env, j->npass_env, x, strlen(x)))
      j->pass_env[j->npass_env++] = x;
  }
  return MN_OK;
}

static void free_env(mnrun_job_t *j) {
  for (int i = 0; i < j->nowned; i++) free(j->owned_names[i]);
  free(j->owned_names);
  free(j->set_env);
  free(j->pass_env);
}

/* The gang's placement: with this machine's topology when it is the only host. */
static mn_status_t place(const mnrun_opts_t *opts, mnrun_job_t *j, int nranks) {
  mn_topo_t topo;
  int have_topo = j->hosts.nhosts == 1 && j->hosts.hosts[0].local;
  if (have_topo && mn_topo_local(&topo) != MN_OK) {
    mn_log_warn("topology: %s (placing without it)", mn_error_message());
    have_topo = 0;
  }
  if (have_topo && j->hosts.implicit && topo.ngpus > 0 && nranks > topo.ngpus) {
    /* no hosts given and more ranks than GPUs here: a CPU job on this machine (the CPU
     * back end trains anywhere), not an error; explicit hosts with GPUs stay strict */
    mn_log_info("%d ranks, %d GPU%s on this machine: placing a CPU job (no rank gets a GPU)",
                nranks, topo.ngpus, topo.ngpus == 1 ? "" : "s");
    topo.ngpus = 0;
  }
  mn_status_t st =
      mn_place_gang(&j->hosts, have_topo ? &topo : NULL, nranks, opts->policy, &j->plan);
  if (have_topo) mn_topo_free(&topo);
  for (int r = 0; st == MN_OK && opts->threads > 0 && r < j->plan.nranks; r++)
    j->plan.ranks[r].threads = opts->threads;
  return st;
}

/* Resources, placement, programs. The work directory is not made yet. */
static mn_status_t prepare(const mnrun_opts_t *opts, mnrun_job_t *j) {
  mn_status_t st = opts->program ? check_program(opts->program[0]) : check_config(opts);
  if (st == MN_OK) st = load_hosts(opts, &j->hosts, &j->from_slurm);
  if (st != MN_OK) return st;
  j->nranks = opts->nranks > 0 ? opts->nranks : default_nranks(&j->hosts);
  if (opts->nranks == 0)
    mn_log_debug("-np not given: %d rank%s (%s)", j->nranks, j->nranks == 1 ? "" : "s",
                 j->hosts.implicit ? "the local machine" : "every slot of the hosts");
  if (opts->min_np > j->nranks)
    return mn_error(MN_ERR_USAGE, "--min-np %d is more than the %d ranks to start", opts->min_np,
                    j->nranks);
  j->master_port = opts->master_port;
  st = place(opts, j, j->nranks);
  if (st == MN_OK) st = build_env(opts, j);
  if (st != MN_OK) return st;
  j->use_srun =
      opts->launcher == LAUNCHER_SRUN || (opts->launcher == LAUNCHER_AUTO && j->from_slurm);
  j->use_mpirun = !j->use_srun && !(j->nranks == 1 && j->hosts.implicit);
  if (opts->mpirun_args && !j->use_mpirun)
    mn_log_warn("--mpirun-args ignored: the ranks start through %s",
                j->use_srun ? "srun" : "mnrun");
  if (opts->srun_args && !j->use_srun)
    mn_log_warn("--srun-args ignored: the ranks start through %s",
                j->use_mpirun ? "mpirun" : "mnrun");
  int mpi_major = 0;
  st = find_worker(opts->program != NULL, j->train, sizeof j->train);
  if (st == MN_OK && j->use_mpirun)
    st = find_program(opts->mpirun, "MN_MPIRUN", "mpirun", "use --mpirun or MN_MPIRUN", j->mpirun,
                      sizeof j->mpirun);
  if (st == MN_OK && j->use_mpirun && mn_launch_mpirun_version(j->mpirun, &mpi_major) != MN_OK)
    mn_log_warn("%s (taking it for Open MPI 4)", mn_error_message());
  if (j->use_mpirun)
    mn_log_debug("mpirun %s: Open MPI %d (%s option names)", j->mpirun, mpi_major,
                 mpi_major >= 5 ? "PRRTE" : "ORTE");
  if (st == MN_OK && j->use_srun)
    st = find_program(NULL, "MN_SRUN", "srun", "set MN_SRUN", j->srun, sizeof j->srun);
  if (st != MN_OK && opts->dry_run) { /* show what would run anyway */
    mn_log_warn("%s", mn_error_message());
    if (!j->mpirun[0]) snprintf(j->mpirun, sizeof j->mpirun, "mpirun");
    st = MN_OK;
  }
  j->job = (mn_job_t){.train = j->train,
                      .conf = opts->conf,
                      .program = opts->program,
                      .nprogram = opts->nprogram,
                      .sets = opts->sets,
                      .nsets = opts->nsets,
                      .metrics = opts->metrics,
                      .mpirun = j->mpirun,
                      .srun = j->srun[0] ? j->srun : NULL,
                      .report_dir = j->workdir,
                      /* progress goes to stdout: a terminal there, not on stderr */
                      .tty = isatty(STDOUT_FILENO),
                      .set_env = j->set_env,
                      .nset_env = j->nset_env,
                      .pass_env = j->pass_env,
                      .npass_env = j->npass_env,
                      .mca = opts->mca,
                      .nmca = opts->nmca,
                      .engine_args = j->use_srun     ? opts->srun_args
                                     : j->use_mpirun ? opts->mpirun_args
                                                     : NULL,
                      .mpi_major = mpi_major};
  return st;
}

/* A TCP port nobody listens on here now (the kernel's pick; 0: none found). */
static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY)};
  socklen_t len = sizeof a;
  if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0) close(fd);
  return port;
}

/* A program's rendezvous, torchrun's MASTER_ADDR and MASTER_PORT: rank 0's host (the
 * loopback address for the local machine alone, whose name may not resolve; otherwise the
 * name mpirun reaches it by), MASTER_ADDR of mnrun's environment winning; the port of
 * --master-port, else MASTER_PORT of the environment, else a free one when rank 0 runs
 * here, else torchrun's default 29500. Placed afresh on a restart, so set for each launch. */
static void set_master(mnrun_job_t *j) {
  j->job.master_addr = NULL;
  j->job.master_port = 0;
  if (!j->job.program) return;
  const mn_host_t *h = &j->hosts.hosts[j->plan.ranks[0].host];
  const char *env_addr = getenv("MASTER_ADDR"), *env_port = getenv("MASTER_PORT");
  snprintf(j->master_addr, sizeof j->master_addr, "%s",
           env_addr && env_addr[0] ? env_addr
           : j->hosts.implicit     ? "127.0.0.1"
                                   : h->name);
  int port = j->master_port;
  if (!port && env_port && env_port[0]) port = atoi(env_port);
  if (port < 1 || port > 65535) port = h->local ? free_port() : 0;
  j->job.master_addr = j->master_addr;
  j->job.master_port = port > 0 ? port : 29500;
}

static mn_status_t build_command(mnrun_job_t *j) {
  set_master(j);
  j->job.hostfile = NULL;
  if (j->use_mpirun && (!j->hosts.implicit || mn_launch_needs_rankfile(&j->plan))) {
    snprintf(j->hostfile, sizeof j->hostfile, "%s/hostfile", j->workdir);
    j->job.hostfile = j->hostfile;
  }
  if (j->use_srun) return mn_launch_srun_build(&j->job, &j->plan, &j->cmd);
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
    int rankfile = mn_launch_needs_rankfile(&j->plan);
    printf("%s %s:\n", rankfile ? "rankfile" : "hostfile", j->job.hostfile);
    if (rankfile)
      mn_launch_rankfile_print(stdout, &j->hosts, &j->plan);
    else
      mn_launch_hostfile_print(stdout, &j->hosts, &j->plan);
  }
  printf("command:\n");
  mn_cmd_print(stdout, &j->cmd);
  return MN_EXIT_OK;
}

/* Which ranks mnrun can watch (their files reach it): local ones, or all with a shared
 * $TMPDIR. out: watched[nranks]. */
static void watched_ranks(const mnrun_opts_t *opts, const mnrun_job_t *j, int *watched) {
  for (int r = 0; r < j->plan.nranks; r++)
    watched[r] = opts->shared_tmpdir || j->hosts.hosts[j->plan.ranks[r].host].local;
}

/* A rank whose heartbeat stopped this long before the freshest one went first: mpirun
 * takes at least a second (its kill timeout) to bring the others down after a loss. */
#define MN_LOST_GAP_S (3 * MN_LIVENESS_PERIOD_S)

/* Every rank has reported and the engine (mpirun, srun, the direct rank) has not exited:
 * the job is killed after --fail-timeout, or after this when that is 0 (off). */
#define MNRUN_EXIT_TIMEOUT_S 60.0

/* After the job: the watched ranks without a report whose heartbeat stopped well before the
 * freshest one (their process or node went away while the others ran on). Prints a line
 * for each (a few), flags their hosts in lost[], and returns how many. */
static int find_lost(const mnrun_job_t *j, const int *watched, int *lost) {
  int n = j->plan.nranks, count = 0;
  double freshest = -1;
  for (int r = 0; r < n; r++) {
    double age = watched[r] ? mn_liveness_age_s(j->workdir, r) : -1;
    if (age >= 0 && (freshest < 0 || age < freshest)) freshest = age;
  }
  for (int r = 0; r < n && freshest >= 0; r++) {
    mn_report_t rep;
    if (!watched[r] || mn_report_read(j->workdir, r, &rep) == MN_OK) continue;
    double age = mn_liveness_age_s(j->workdir, r);
    if (age < 0) continue; /* never started: the start barrier's business */
    mn_log_debug("rank %d: last heartbeat %.2f s before the freshest", r, age - freshest);
    if (age - freshest <= MN_LOST_GAP_S) continue;
    int h = j->plan.ranks[r].host;
    if (count++ < 4)
      mn_log_say("rank %d on host %s was lost %.1f s before the others stopped (its "
                 "process or node went away)",
                 r, j->hosts.hosts[h].name, age - freshest);
    lost[h] = 1;
  }
  return count;
}

/* The watchdog's finding, as a line; flags lost hosts. Returns the exit code it implies (0:
 * none). */
static int tell_watch(const mnrun_opts_t *opts, const mnrun_job_t *j, const int *watched,
                      const mn_watch_result_t *why, int *lost) {
  if (why->reason == MN_WATCH_OK) return 0;
  if (why->reason == MN_WATCH_ENGINE_STUCK) {
    mn_log_warn("every rank had reported, but the launch engine had not exited "
                "%.0f s later (stopped or hung): killed it and the ranks",
                why->after_s);
    return 0; /* the reports say how the job ended */
  }
  const char *host = j->hosts.hosts[j->plan.ranks[why->rank].host].name;
  switch (why->reason) {
  case MN_WATCH_START_TIMEOUT:
    mn_log_say("%d rank%s had not started after %.0f s (--start-timeout), among "
               "them rank %d on host %s: the gang was torn down",
               why->nmissing, why->nmissing == 1 ? "" : "s", opts->start_timeout, why->rank, host);
    for (int r = 0; r < j->plan.nranks; r++)
      if (watched[r] && !mn_liveness_joined(j->workdir, r)) lost[j->plan.ranks[r].host] = 1;
    return MN_EXIT_UNAVAILABLE;
  case MN_WATCH_LOST:
    mn_log_say("rank %d on host %s stopped responding (no heartbeat for %.1f s, "
               "--fail-timeout %.0f s): the gang was torn down",
               why->rank, host, why->after_s, opts->fail_timeout);
    lost[j->plan.ranks[why->rank].host] = 1;
    return MN_EXIT_UNAVAILABLE;
  case MN_WATCH_LINGER:
    mn_log_say("rank %d on host %s failed and the others were still running %.0f s "
               "later (--fail-timeout): the gang was torn down",
               why->rank, host, opts->fail_timeout);
    return 0; /* the failed rank's own code says why */
  case MN_WATCH_ENGINE_STUCK:
  case MN_WATCH_OK: break;
  }
  return 0;
}

/* Whether code names a cause that no rerun fixes (usage, data, input, a snapshot directory
 * in use): it stands even when ranks were lost, and there is no restart after it. */
static int final_code(int code) {
  return code == MN_EXIT_USAGE || code == MN_EXIT_DATAERR || code == MN_EXIT_NOINPUT ||
         code == MN_EXIT_CANTCREAT;
}

/* Program mode: mnrun's code from the job's (docs/exit-codes.md). A rank's code of that list
 * stands: a program that follows it (libmn's do) means the same by it. A program ended by
 * the stop signal mnrun was sent and passed on (stop_sig, 0: none) gives 128 + its number,
 * as a shell would. Any other failure of a rank, a status of its own or a signal, is a
 * failed rank: 69. */
static int program_code(int code, int stop_sig) {
  switch (code) {
  case MN_EXIT_OK:
  case MN_EXIT_USAGE:
  case MN_EXIT_DATAERR:
  case MN_EXIT_NOINPUT:
  case MN_EXIT_UNAVAILABLE:
  case MN_EXIT_SOFTWARE:
  case MN_EXIT_CANTCREAT:
  case MN_EXIT_IOERR:
  case MN_EXIT_TEMPFAIL: return code;
  }
  if (stop_sig && code == 128 + stop_sig) {
    mn_log_say("a rank of the program was ended by signal %d, which mnrun passed on: exit %d",
               stop_sig, code);
    return code;
  }
  if (code > 128 && code < 128 + 65)
    mn_log_say("a rank of the program was killed by signal %d: exit 69 (a rank failed)",
               code - 128);
  else
    mn_log_say("a rank of the program failed with status %d: exit 69 (a rank failed)", code);
  return MN_EXIT_UNAVAILABLE;
}

/* One run of the gang. out: lost[nhosts], the hosts that lost a rank; *asked_to_stop,
 * whether mnrun itself was sent a stop signal. */
static int launch(mnrun_job_t *j, const mnrun_opts_t *opts, int *lost, int *asked_to_stop) {
  int *watched = NULL;
  mn_status_t st = mn_supervise_workdir_create(j->workdir, sizeof j->workdir);
  if (st != MN_OK) goto report_error;
  st = build_command(j);
  if (st == MN_OK && j->job.hostfile)
    st = mn_launch_hostfile_write(j->job.hostfile, &j->hosts, &j->plan);
  char rankenv[PATH_MAX + 16];
  snprintf(rankenv, sizeof rankenv, "%s/placement", j->workdir);
  if (st == MN_OK) st = mn_place_write_rankenv(rankenv, &j->plan);
  watched = calloc((size_t)j->plan.nranks, sizeof *watched);
  if (st == MN_OK && !watched) st = mn_error(MN_ERR_NOMEM, "out of memory");
  if (st != MN_OK) goto remove_workdir;
  watched_ranks(opts, j, watched);
  if (opts->verbose) {
    fprintf(stderr, "mnrun: running: ");
    mn_cmd_print(stderr, &j->cmd);
  }
  mn_watch_t watch = {j->plan.nranks, watched, opts->start_timeout, opts->fail_timeout,
                      opts->fail_timeout > 0 ? opts->fail_timeout : MNRUN_EXIT_TIMEOUT_S};
  mn_watch_result_t why;
  int job_code = 0;
  st = mn_supervise_run(&j->cmd, j->workdir, &watch, &job_code, &why);
  if (st != MN_OK) goto remove_workdir;
  if (opts->program) { /* what a program left running (outside its rank's process group) */
    int left = mn_supervise_sweep(j->workdir, 1.0);
    if (left > 0)
      mn_log_warn("killed %d process%s of the program left running on this machine", left,
                  left == 1 ? "" : "es");
  }
  *asked_to_stop = why.stop_requests > 0;
  int watch_code = tell_watch(opts, j, watched, &why, lost);
  int code = mn_supervise_account(j->workdir, j->plan.nranks, job_code);
  int nlost = code != MN_EXIT_OK && code != MN_EXIT_TEMPFAIL ? find_lost(j, watched, lost) : 0;
  if (watch_code) code = watch_code;
  if (nlost > 0 && !final_code(code)) code = MN_EXIT_UNAVAILABLE;
  if (opts->program && !why.killed_by)
    code = program_code(code, why.stop_requests ? mn_supervise_stop_signal() : 0);
  if (why.killed_by) {
    mn_log_say("the job was killed on a second signal %d: exit %d", why.killed_by,
               128 + why.killed_by);
    code = 128 + why.killed_by;
  }
  mn_supervise_workdir_remove(j->workdir);
  free(watched);
  return code;
remove_workdir:
  mn_supervise_workdir_remove(j->workdir);
report_error:
  free(watched);
  mn_log_error("%s", mn_error_message());
  return mn_status_exit_code(st);
}

/* Whether a restart may help after a run that exited with code. */
static int restartable(int code) { return code != MN_EXIT_OK && !final_code(code); }

/* Drop the lost hosts (never all of them) and place again: -np ranks, or as many as the
 * hosts left can take when that is at least --min-np. */
static mn_status_t replace_for_restart(const mnrun_opts_t *opts, mnrun_job_t *j, const int *lost) {
  mn_hostlist_t *h = &j->hosts;
  int kept = 0, nlost = 0;
  for (int i = 0; i < h->nhosts; i++) nlost += lost[i] != 0;
  if (nlost > 0 && nlost < h->nhosts) {
    for (int i = 0; i < h->nhosts; i++)
      if (!lost[i])
        h->hosts[kept++] = h->hosts[i];
      else
        mn_log_warn("leaving out host %s, which lost a rank", h->hosts[i].name);
    h->nhosts = kept;
  }
  mn_place_free(&j->plan);
  mn_cmd_free(&j->cmd);
  int want = j->nranks, slots = mn_hosts_total_slots(h);
  if (!h->implicit && slots < want && opts->min_np > 0 && slots >= opts->min_np) want = slots;
  return place(opts, j, want);
}

/* Launch, and relaunch after a stop or a failure up to --max-restarts times (never when
 * mnrun itself was asked to stop: that stop is the user's). */
static int run(mnrun_job_t *j, const mnrun_opts_t *opts) {
  for (int attempt = 0;; attempt++) {
    int sig = mn_supervise_stop_signal();
    if (sig) {
      mn_log_say("signal %d arrived before the ranks were started: %s (exit 75, safe to "
                 "requeue)",
                 sig, attempt == 0 ? "nothing was launched" : "the restart was not launched");
      return MN_EXIT_TEMPFAIL;
    }
    int *lost = calloc((size_t)j->hosts.nhosts, sizeof *lost);
    if (!lost) {
      mn_log_error("out of memory");
      return MN_EXIT_SOFTWARE;
    }
    int asked_to_stop = 0;
    int code = launch(j, opts, lost, &asked_to_stop);
    if (!restartable(code) || asked_to_stop || attempt >= opts->max_restarts) {
      free(lost);
      return code;
    }
    mn_status_t st = replace_for_restart(opts, j, lost);
    free(lost);
    if (st != MN_OK) {
      mn_log_error("cannot restart: %s", mn_error_message());
      return code;
    }
    mn_log_warn("exit %d: restart %d of %d on %d rank%s, %s", code, attempt + 1, opts->max_restarts,
                j->plan.nranks, j->plan.nranks == 1 ? "" : "s",
                opts->program ? "the program started again with the same arguments"
                              : "resuming from the newest snapshot");
  }
}

int main(int argc, char **argv) {
  /* first: from here to the exit, a stop signal is recorded, never lost nor fatal */
  mn_status_t sst = mn_supervise_signals_install();
  mn_log_init("mnrun", -1, NULL);
  if (sst != MN_OK) {
    mn_log_error("%s", mn_error_message());
    return MN_EXIT_SOFTWARE;
  }
  /* whether log lines share a terminal with the progress line (runtime/base/console.c): the
   * ranks get it with the other MN_ variables */
  setenv("MN_STDERR_TTY", isatty(STDERR_FILENO) ? "1" : "0", 1);
  mnrun_opts_t opts;
  int code = parse_options(argc, argv, &opts);
  if (code != 0) return code < 0 ? MN_EXIT_OK : code;
  if (opts.verbose) mn_log_set_level(MN_LOG_DEBUG);

  mnrun_job_t *j = calloc(1, sizeof *j);
  if (!j) {
    mn_log_error("out of memory");
    return MN_EXIT_SOFTWARE;
  }
  if (opts.topology) {
    mn_topo_t topo;
    mn_status_t ts = mn_topo_local(&topo);
    if (ts == MN_OK) {
      mn_topo_print(stdout, &topo);
      mn_topo_free(&topo);
    }
    free(j);
    if (ts != MN_OK) mn_log_error("%s", mn_error_message());
    return mn_status_exit_code(ts);
  }
  mn_status_t st = prepare(&opts, j);
  if (st != MN_OK) {
    mn_log_error("%s", mn_error_message());
    code = mn_status_exit_code(st);
    if (mn_supervise_stop_signal()) /* a requeue would meet the same error: it decides */
      mn_log_warn("signal %d arrived too; nothing was launched, and the error above sets the "
                  "exit code",
                  mn_supervise_stop_signal());
  } else {
    code = opts.dry_run ? dry_run(j) : run(j, &opts);
  }
  mn_cmd_free(&j->cmd);
  mn_place_free(&j->plan);
  mn_hosts_free(&j->hosts);
  free_env(j);
  free(j);
  return code;
}
