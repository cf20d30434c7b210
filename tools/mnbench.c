/* mnbench: bus bandwidth and scaling efficiency per rank count, beside a calibrated
 * scaling model (docs/benchmarks.md, "mnbench").
 *
 *   mnbench [options] train.conf
 *
 * For each rank count n of --np it runs (1) the allreduce sweep: n workers, which are this
 * program again (`mnbench --worker FILE ...`), started by mn's own launch engines (mpirun
 * -np n, srun inside a Slurm allocation, or one process directly, as mnrun would), timing
 * mn's gradient path and the raw backend side by side (bench_allreduce.c); and (2) the
 * training sweep: `mnrun -np n` on the same config, bounded by --steps, its --metrics
 * summary giving samples/s and the split of step time. Then it fits the scaling model
 * (mn_scaling.h) to what it measured and prints the table, writes the JSON file and the
 * plot (bench_report.c). It changes nothing but its outputs: snapshots are off in its runs,
 * and its scratch directory ($TMPDIR/mnrun.XXXXXX) goes at the end (--keep keeps it). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mpi.h>

#include "mn_bench.h"
#include "mn_clock.h"
#include "mn_config.h"
#include "mn_hosts.h"
#include "mn_launch.h"
#include "mn_log.h"
#include "mn_model.h"
#include "mn_place.h"
#include "mn_suggest.h"
#include "mn_supervise.h"

static const char usage_text[] =
    "usage: mnbench [options] train.conf\n"
    "\n"
    "Allreduce bus bandwidth (mn's gradient path beside the raw backend) and training\n"
    "throughput and scaling efficiency per rank count, beside a scaling model fitted to them\n"
    "(docs/benchmarks.md). Prints a table, writes a JSON file and an SVG plot.\n"
    "\n"
    "What to measure:\n"
    "  --np LIST           rank counts (default 1,2,4,... up to the allocation or this\n"
    "                      machine's cores, and that total)\n"
    "  --set K=V           config override for every run (repeatable)\n"
    "  --min-bytes N       smallest allreduce message (default 4096; K, M, G suffixes)\n"
    "  --max-bytes N       largest (default 1G; bounded by the nodes' memory)\n"
    "  --iters N           timed operations per size (default 20; fewer above 64 MB, so that\n"
    "                      each size moves about 64 MB x N, at least 5)\n"
    "  --warmup N          untimed operations before them (default 5; fewer above 64 MB)\n"
    "  --steps N           training steps per rank count (default 200)\n"
    "  --global-batch G    strong scaling: G samples per step shared by the ranks (each\n"
    "                      count must divide G); default: weak scaling, data.batch_size per rank\n"
    "  --threads T         BLAS threads of each training rank (default: the cores of a node\n"
    "                      divided by the ranks on it at the largest count, the same at every\n"
    "                      count)\n"
    "  --no-allreduce      skip the allreduce sweep\n"
    "  --no-train          skip the training sweep\n"
    "The model:\n"
    "  --ib LIST           network bandwidths per GPU to predict for, Gb/s (default 200,400)\n"
    "  --nvlink GBPS       bus bandwidth per GPU inside a node, GB/s (default 360)\n"
    "  --node-size N       GPUs per node (default 8)\n"
    "  --overlap F         fraction of compute that hides the allreduce, 0 to 1 (default 0)\n"
    "  --alpha-us A        latency per ring step (default: fitted to the sweep, else 5)\n"
    "  --model-np LIST     rank counts to predict (default 8,16,...,1024)\n"
    "Output:\n"
    "  --json FILE         every figure (default mnbench.json)\n"
    "  --plot FILE         the plot, SVG, or PNG when FILE ends in .png (default: the JSON\n"
    "                      file's name with .svg)\n"
    "  --no-plot           no plot\n"
    "  --timeout S         longest run of one rank count, seconds (default 1800)\n"
    "  --keep              keep the scratch directory (logs of every run)\n"
    "  -h, --help          this text\n"
    "  --version           print \"mnbench VERSION\" and exit\n"
    "\n"
    "Environment: MN_MPIRUN, MN_SRUN (the launchers; else on PATH), MN_GNUPLOT (else on PATH;\n"
    "without gnuplot there is no plot, and the table and JSON are written all the same).\n"
    "Exit codes: 0 done, 64 usage or config, 69 a run failed, 70 internal, 74 output.\n";

/* ---- the command line --------------------------------------------------------------- */

enum {
  OPT_NP = 256, OPT_SET, OPT_MIN_BYTES, OPT_MAX_BYTES, OPT_ITERS, OPT_WARMUP, OPT_STEPS,
  OPT_GLOBAL_BATCH, OPT_THREADS, OPT_NO_ALLREDUCE, OPT_NO_TRAIN, OPT_IB, OPT_NVLINK,
  OPT_NODE_SIZE, OPT_OVERLAP, OPT_ALPHA, OPT_MODEL_NP, OPT_JSON, OPT_PLOT, OPT_NO_PLOT,
  OPT_TIMEOUT, OPT_KEEP, OPT_WORKER,
};

static mn_status_t parse_int(const char *opt, const char *s, long long lo, long long hi,
                             long long *v) {
  char *end;
  errno = 0;
  long long x = strtoll(s, &end, 10);
  long long unit = 1;
  if (end != s && (*end == 'K' || *end == 'k')) unit = 1LL << 10, end++;
  else if (end != s && (*end == 'M' || *end == 'm')) unit = 1LL << 20, end++;
  else if (end != s && (*end == 'G' || *end == 'g')) unit = 1LL << 30, end++;
  if (end == s || *end || errno || x < lo / unit || x > hi / unit)
    return mn_error(MN_ERR_USAGE, "%s: expected a whole number from %lld to %lld, not '%s'", opt,
                    lo, hi, s);
  *v = x * unit;
  return MN_OK;
}

static mn_status_t parse_double(const char *opt, const char *s, double lo, double hi, double *v) {
  char *end;
  errno = 0;
  double x = strtod(s, &end);
  if (end == s || *end || errno || !(x >= lo && x <= hi))
    return mn_error(MN_ERR_USAGE, "%s: expected a number from %g to %g, not '%s'", opt, lo, hi, s);
  *v = x;
  return MN_OK;
}

/* "1,2,4": out: v[*n]. */
static mn_status_t parse_ints(const char *opt, const char *s, int *v, int *n) {
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", s);
  *n = 0;
  char *save = NULL;
  for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    long long x;
    if (*n == MN_BENCH_MAX_COUNTS) return mn_error(MN_ERR_USAGE, "%s: too many entries", opt);
    mn_status_t st = parse_int(opt, t, 1, 1000000, &x);
    if (st != MN_OK) return st;
    v[(*n)++] = (int)x;
  }
  return *n ? MN_OK : mn_error(MN_ERR_USAGE, "%s: expected a list like 1,2,4", opt);
}

static mn_status_t parse_doubles(const char *opt, const char *s, double *v, int *n) {
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", s);
  *n = 0;
  char *save = NULL;
  for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (*n == MN_BENCH_MAX_LINKS) return mn_error(MN_ERR_USAGE, "%s: too many entries", opt);
    mn_status_t st = parse_double(opt, t, 1e-3, 1e6, &v[(*n)++]);
    if (st != MN_OK) return st;
  }
  return *n ? MN_OK : mn_error(MN_ERR_USAGE, "%s: expected a list like 200,400", opt);
}

static void opts_default(mn_bench_opts_t *o) {
  *o = (mn_bench_opts_t){.json = "mnbench.json",
                         .min_bytes = 4096,
                         .max_bytes = 1LL << 30,
                         .iters = 20,
                         .warmup = 5,
                         .steps = 200,
                         .ib_gbit = {200, 400},
                         .nib = 2,
                         .nvlink_GBps = 360,
                         .node_size = 8,
                         .alpha_us = -1,
                         .timeout_s = 1800};
  for (int n = 8; n <= 1024; n *= 2) o->model_np[o->nmodel_np++] = n;
}

/* One option (c, its argument a). */
static mn_status_t take_opt(mn_bench_opts_t *o, int c, const char *a) {
  long long v;
  mn_status_t st = MN_OK;
  switch (c) {
  case OPT_NP: return parse_ints("--np", a, o->np, &o->nnp);
  case OPT_SET:
    if (o->nsets == MN_BENCH_MAX_SETS) return mn_error(MN_ERR_USAGE, "too many --set");
    o->sets[o->nsets++] = a;
    return MN_OK;
  case OPT_MIN_BYTES:
    st = parse_int("--min-bytes", a, 4, 1LL << 33, &v);
    o->min_bytes = v / 4 * 4;
    return st;
  case OPT_MAX_BYTES:
    st = parse_int("--max-bytes", a, 4, 1LL << 33, &v);
    o->max_bytes = v;
    return st;
  case OPT_ITERS: st = parse_int("--iters", a, 1, 1000000, &v); o->iters = (int)v; return st;
  case OPT_WARMUP: st = parse_int("--warmup", a, 0, 1000000, &v); o->warmup = (int)v; return st;
  case OPT_STEPS: st = parse_int("--steps", a, 1, 100000000, &v); o->steps = (int)v; return st;
  case OPT_GLOBAL_BATCH:
    st = parse_int("--global-batch", a, 1, 1LL << 30, &v);
    o->global_batch = (int)v;
    return st;
  case OPT_THREADS: st = parse_int("--threads", a, 1, 4096, &v); o->threads = (int)v; return st;
  case OPT_NO_ALLREDUCE: o->no_allreduce = 1; return MN_OK;
  case OPT_NO_TRAIN: o->no_train = 1; return MN_OK;
  case OPT_IB: return parse_doubles("--ib", a, o->ib_gbit, &o->nib);
  case OPT_NVLINK: return parse_double("--nvlink", a, 1e-3, 1e6, &o->nvlink_GBps);
  case OPT_NODE_SIZE:
    st = parse_int("--node-size", a, 1, 1000000, &v);
    o->node_size = (int)v;
    return st;
  case OPT_OVERLAP: return parse_double("--overlap", a, 0, 1, &o->overlap);
  case OPT_ALPHA: return parse_double("--alpha-us", a, 0, 1e6, &o->alpha_us);
  case OPT_MODEL_NP: return parse_ints("--model-np", a, o->model_np, &o->nmodel_np);
  case OPT_JSON: o->json = a; return MN_OK;
  case OPT_PLOT: o->plot = a; return MN_OK;
  case OPT_NO_PLOT: o->no_plot = 1; return MN_OK;
  case OPT_TIMEOUT: return parse_double("--timeout", a, 1, 1e7, &o->timeout_s);
  case OPT_KEEP: o->keep = 1; return MN_OK;
  case OPT_WORKER: o->worker_out = a; return MN_OK;
  }
  return mn_error(MN_ERR_USAGE, "bad option (try --help)");
}

static mn_status_t parse_args(int argc, char **argv, mn_bench_opts_t *o) {
  static const struct option opts[] = {
      {"np", required_argument, NULL, OPT_NP},
      {"set", required_argument, NULL, OPT_SET},
      {"min-bytes", required_argument, NULL, OPT_MIN_BYTES},
      {"max-bytes", required_argument, NULL, OPT_MAX_BYTES},
      {"iters", required_argument, NULL, OPT_ITERS},
      {"warmup", required_argument, NULL, OPT_WARMUP},
      {"steps", required_argument, NULL, OPT_STEPS},
      {"global-batch", required_argument, NULL, OPT_GLOBAL_BATCH},
      {"threads", required_argument, NULL, OPT_THREADS},
      {"no-allreduce", no_argument, NULL, OPT_NO_ALLREDUCE},
      {"no-train", no_argument, NULL, OPT_NO_TRAIN},
      {"ib", required_argument, NULL, OPT_IB},
      {"nvlink", required_argument, NULL, OPT_NVLINK},
      {"node-size", required_argument, NULL, OPT_NODE_SIZE},
      {"overlap", required_argument, NULL, OPT_OVERLAP},
      {"alpha-us", required_argument, NULL, OPT_ALPHA},
      {"model-np", required_argument, NULL, OPT_MODEL_NP},
      {"json", required_argument, NULL, OPT_JSON},
      {"plot", required_argument, NULL, OPT_PLOT},
      {"no-plot", no_argument, NULL, OPT_NO_PLOT},
      {"timeout", required_argument, NULL, OPT_TIMEOUT},
      {"keep", no_argument, NULL, OPT_KEEP},
      {"worker", required_argument, NULL, OPT_WORKER},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0}};
  opts_default(o);
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (c == 'h') {
      fputs(usage_text, stdout);
      exit(0);
    }
    if (c == 'V') {
      printf("mnbench %s\n", MN_VERSION);
      exit(0);
    }
    if (c == '?' || c == ':') {
      char msg[256];
      return mn_error(MN_ERR_USAGE, "%s (try --help)",
                      mn_suggest_unknown_option(argv[optind - 1], opts, msg, sizeof msg));
    }
    mn_status_t st = take_opt(o, c, optarg);
    if (st != MN_OK) return st;
  }
  if (optind != argc - 1) return mn_error(MN_ERR_USAGE, "expected one train.conf (try --help)");
  o->conf = argv[optind];
  if (o->min_bytes > o->max_bytes)
    return mn_error(MN_ERR_USAGE, "--min-bytes %" PRId64 " is more than --max-bytes %" PRId64,
                    o->min_bytes, o->max_bytes);
  for (int i = 0; i < o->nnp && o->global_batch > 0; i++)
    if (o->global_batch % o->np[i] != 0)
      return mn_error(MN_ERR_USAGE, "--global-batch %d: %d ranks do not divide it",
                      o->global_batch, o->np[i]);
  return MN_OK;
}

/* ---- running a command -------------------------------------------------------------- */

static volatile sig_atomic_t g_signal;
static void on_signal(int sig) { g_signal = sig; }

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void exec_child(char *const argv[], char *const env[], const char *log) {
  setpgid(0, 0);
  int in = open("/dev/null", O_RDONLY), out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (in >= 0) dup2(in, STDIN_FILENO);
  if (out >= 0) {
    dup2(out, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
  }
  for (int i = 0; env && env[i]; i++) putenv(env[i]);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  execvp(argv[0], argv);
  fprintf(stderr, "mnbench: cannot run %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

/* Run argv (env entries added to its environment) in a process group of its own, output
 * to log; a stop signal to mnbench is passed on as SIGTERM, and a run past timeout_s is
 * ended (SIGTERM, then SIGKILL 5 s later). out: *code, the exit status (128 + signal). */
static mn_status_t run_logged(char *const argv[], char *const env[], const char *log,
                              double timeout_s, int *code) {
  pid_t pid = fork();
  if (pid < 0) return mn_error(MN_ERR_INTERNAL, "fork: %s", strerror(errno));
  if (pid == 0) exec_child(argv, env, log);
  setpgid(pid, pid);
  double t0 = mn_now_s(), term_at = 0;
  int status = 0;
  for (;;) {
    pid_t got = waitpid(pid, &status, WNOHANG);
    if (got == pid) break;
    if (got < 0 && errno != EINTR) return mn_error(MN_ERR_INTERNAL, "waitpid: %s", strerror(errno));
    double now = mn_now_s();
    if (term_at == 0 && (g_signal || now - t0 > timeout_s)) {
      kill(-pid, SIGTERM);
      term_at = now;
    } else if (term_at > 0 && now - term_at > 5) {
      kill(-pid, SIGKILL);
    }
    sleep_ms(20);
  }
  *code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (g_signal) return mn_error(MN_ERR_PREEMPTED, "stopped by signal %d", (int)g_signal);
  if (term_at > 0) return mn_error(MN_ERR_PEER, "ran past --timeout %.0f s; see %s", timeout_s, log);
  return MN_OK;
}

/* The last lines of a log, to stderr. */
static void show_tail(const char *log) {
  FILE *f = fopen(log, "r");
  if (!f) return;
  char lines[8][512];
  int n = 0;
  while (fgets(lines[n % 8], sizeof lines[0], f)) n++;
  fclose(f);
  for (int i = n > 8 ? n - 8 : 0; i < n; i++) fprintf(stderr, "  | %s", lines[i % 8]);
}

/* ---- the driver's context ----------------------------------------------------------- */

typedef struct bench {
  mn_bench_opts_t *o;
  mn_bench_result_t *res;
  mn_config_t *cfg;
  mn_hostlist_t hosts;
  int from_slurm;
  char self[PATH_MAX];  /* this program */
  char mnrun[PATH_MAX]; /* next to it */
  char workdir[PATH_MAX];
} bench_t;

static mn_status_t find_self(bench_t *b) {
  ssize_t n = readlink("/proc/self/exe", b->self, sizeof b->self - 1);
  if (n <= 0) return mn_error(MN_ERR_INTERNAL, "cannot find this program: %s", strerror(errno));
  b->self[n] = 0;
  snprintf(b->mnrun, sizeof b->mnrun, "%.*s/mnrun", (int)(strrchr(b->self, '/') - b->self),
           b->self);
  if (access(b->mnrun, X_OK) != 0)
    return mn_error(MN_ERR_UNAVAILABLE, "%s: not found (mnrun is built next to mnbench)", b->mnrun);
  return MN_OK;
}

static mn_status_t load_config(bench_t *b) {
  char err[1024] = "";
  mn_status_t st = mn_config_load(b->o->conf, b->o->sets, b->o->nsets, b->cfg, err, sizeof err);
  if (st != MN_OK) return mn_error(st, "%s", err[0] ? err : mn_status_string(st));
  mn_bench_result_t *r = b->res;
  /* the registry's sizes (the exchange sums the flat buffer, padding included) and the
   * model's shape, from its spec: nothing here knows a model kind's layers */
  mn_model_spec_t *spec = malloc(sizeof *spec);
  if (!spec) return mn_error(MN_ERR_NOMEM, "out of memory");
  st = mn_model_spec_config(b->cfg, spec);
  if (st == MN_OK) st = mn_model_size(spec, &r->flat, &r->params);
  if (st == MN_OK) {
    snprintf(r->model_type, sizeof r->model_type, "%s", spec->type);
    r->seq = spec->tokens && spec->seq > 0 ? spec->seq : 1;
  }
  free(spec);
  if (st != MN_OK) return st;
  const mn_config_t *c = b->cfg;
  if (r->seq > 1) {
    snprintf(r->layers, sizeof r->layers, "%s vocab %d, context %d, %d blocks, %d heads, width %d",
             r->model_type, c->model.vocab, c->model.context, c->model.layers[0], c->model.heads,
             c->model.width);
  } else {
    size_t used = 0;
    for (int i = 0; i < c->model.nlayers; i++) {
      used += (size_t)snprintf(r->layers + used, sizeof r->layers - used, "%s%d", i ? "," : "",
                               c->model.layers[i]);
      if (used >= sizeof r->layers) used = sizeof r->layers - 1;
    }
  }
  r->batch = b->cfg->data.batch_size;
  return MN_OK;
}

/* Hosts: the Slurm allocation we are in, else this machine; --np's default from them. */
static mn_status_t load_hosts(bench_t *b) {
  mn_status_t st = mn_hosts_from_slurm(&b->hosts, &b->from_slurm);
  if (st == MN_OK && !b->from_slurm) st = mn_hosts_local(&b->hosts);
  if (st != MN_OK) return st;
  int total = mn_hosts_total_slots(&b->hosts);
  if (b->o->nnp == 0) {
    for (int n = 1; n < total && b->o->nnp < MN_BENCH_MAX_COUNTS - 1; n *= 2)
      b->o->np[b->o->nnp++] = n;
    b->o->np[b->o->nnp++] = total;
  }
  return MN_OK;
}

/* BLAS threads per training rank: --threads, else the fewest any rank gets at the largest
 * count, so that every count gives each rank the same cores (weak scaling per rank). */
static int train_threads(bench_t *b) {
  if (b->o->threads > 0) return b->o->threads;
  int most = 1;
  for (int i = 0; i < b->o->nnp; i++) most = b->o->np[i] > most ? b->o->np[i] : most;
  mn_plan_t plan;
  if (mn_place_byslot(&b->hosts, most, &plan) != MN_OK) return 1;
  int t = mn_place_min_threads(&plan);
  mn_place_free(&plan);
  return t > 0 ? t : 1;
}

/* ---- the allreduce sweep at n ranks ------------------------------------------------- */

/* The launch engine's command for n workers (as mnrun picks it), with the worker's own
 * options after the config. out: cmd. */
static mn_status_t worker_command(bench_t *b, int n, const mn_plan_t *plan, const char *out,
                                  mn_cmd_t *cmd) {
  const mn_bench_opts_t *o = b->o;
  char hostfile[PATH_MAX + 16];
  const char *srun = getenv("MN_SRUN"), *mpirun = getenv("MN_MPIRUN");
  mn_job_t job = {.train = b->self,
                  .conf = o->conf,
                  .sets = o->sets,
                  .nsets = o->nsets,
                  .mpirun = mpirun && mpirun[0] ? mpirun : "mpirun",
                  .srun = srun && srun[0] ? srun : NULL,
                  .report_dir = b->workdir};
  mn_status_t st;
  if (b->from_slurm) {
    st = mn_launch_srun_build(&job, plan, cmd);
  } else if (n == 1 && b->hosts.implicit) {
    st = mn_launch_direct_build(&job, plan, cmd);
  } else {
    if (!b->hosts.implicit || mn_launch_needs_rankfile(plan)) {
      snprintf(hostfile, sizeof hostfile, "%s/hostfile", b->workdir);
      job.hostfile = hostfile;
      st = mn_launch_hostfile_write(hostfile, &b->hosts, plan);
      if (st != MN_OK) return st;
    }
    st = mn_launch_mpirun_build(&job, plan, cmd);
  }
  if (st != MN_OK) return st;
  /* the direct engine leaves the finding of the program to exec; so do the others */
  st = mn_cmd_add_arg(cmd, "--worker");
  if (st == MN_OK) st = mn_cmd_add_arg(cmd, out);
  if (st == MN_OK) st = mn_cmd_add_argf(cmd, "--min-bytes=%" PRId64, o->min_bytes);
  if (st == MN_OK) st = mn_cmd_add_argf(cmd, "--max-bytes=%" PRId64, o->max_bytes);
  if (st == MN_OK) st = mn_cmd_add_argf(cmd, "--iters=%d", o->iters);
  if (st == MN_OK) st = mn_cmd_add_argf(cmd, "--warmup=%d", o->warmup);
  if (st != MN_OK) mn_cmd_free(cmd);
  return st;
}

static mn_status_t allreduce_at(bench_t *b, int n, mn_bench_sweep_t *s) {
  char out[PATH_MAX + 32], log[PATH_MAX + 32];
  snprintf(out, sizeof out, "%s/allreduce-n%d.txt", b->workdir, n);
  snprintf(log, sizeof log, "%s/allreduce-n%d.log", b->workdir, n);
  *s = (mn_bench_sweep_t){.ranks = n};
  mn_plan_t plan;
  mn_cmd_t cmd = {0};
  mn_status_t st = mn_place_byslot(&b->hosts, n, &plan);
  if (st != MN_OK) return st;
  st = worker_command(b, n, &plan, out, &cmd);
  int code = 0;
  if (st == MN_OK) {
    FILE *f = fopen(log, "w");
    if (f) {
      mn_cmd_print(f, &cmd);
      fclose(f);
    }
    st = run_logged(cmd.argv, cmd.env, log, b->o->timeout_s, &code);
  }
  if (st == MN_OK && code != 0)
    st = mn_error(MN_ERR_PEER, "allreduce at %d ranks: the workers exited %d (log: %s)", n,
                  code, log);
  if (st == MN_OK) st = mn_bench_allreduce_read(out, s);
  if (st != MN_OK) show_tail(log);
  mn_cmd_free(&cmd);
  mn_place_free(&plan);
  return st;
}

/* ---- the training sweep at n ranks -------------------------------------------------- */

/* A number of the summary line (the last "event":"summary" line of a metrics file). */
static int summary_number(const char *line, const char *key, double *v) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(line, pat);
  if (!p) return 0;
  char *end;
  double x = strtod(p + strlen(pat), &end);
  if (end == p + strlen(pat)) return 0; /* null: *v untouched */
  *v = x;
  return 1;
}

/* in: seq, the tokens of a sample (1 but for a sequence model). out: t's figures. */
static mn_status_t read_summary(const char *path, int seq, mn_bench_train_t *t) {
  FILE *f = fopen(path, "r");
  if (!f) return mn_error(MN_ERR_NOINPUT, "%s: no metrics file", path);
  char *line = NULL, *last = NULL;
  size_t cap = 0;
  while (getline(&line, &cap, f) > 0)
    if (strstr(line, "\"event\":\"summary\"")) {
      free(last);
      last = strdup(line);
    }
  free(line);
  fclose(f);
  double steps = 0, world = 0;
  t->mfu = NAN;
  if (last) summary_number(last, "mfu", &t->mfu); /* a sequence model's; null without a peak */
  int ok = last && summary_number(last, "samples_per_s", &t->samples_per_s) &&
           summary_number(last, "compute_s", &t->compute_s) &&
           summary_number(last, "comm_s", &t->comm_s) &&
           summary_number(last, "io_wait_s", &t->io_wait_s) &&
           summary_number(last, "elapsed_s", &t->elapsed_s) &&
           summary_number(last, "steps", &steps) && summary_number(last, "world", &world);
  free(last);
  if (!ok) return mn_error(MN_ERR_DATA, "%s: no complete summary record", path);
  if ((int)world != t->ranks)
    return mn_error(MN_ERR_DATA, "%s: the summary says world %d, not %d", path, (int)world,
                    t->ranks);
  t->steps = (int64_t)steps;
  t->tokens_per_s = t->samples_per_s * seq;
  t->ok = t->samples_per_s > 0;
  return t->ok ? MN_OK : mn_error(MN_ERR_DATA, "%s: samples_per_s is not positive", path);
}

static mn_status_t train_at(bench_t *b, int n, int threads, mn_bench_train_t *t) {
  const mn_bench_opts_t *o = b->o;
  char metrics[PATH_MAX + 32], log[PATH_MAX + 32], np[16], th[16], steps[64], batch[64];
  snprintf(metrics, sizeof metrics, "%s/train-n%d.jsonl", b->workdir, n);
  snprintf(log, sizeof log, "%s/train-n%d.log", b->workdir, n);
  snprintf(np, sizeof np, "%d", n);
  snprintf(th, sizeof th, "%d", threads);
  snprintf(steps, sizeof steps, "schedule.max_steps=%d", o->steps);
  *t = (mn_bench_train_t){.ranks = n,
                          .batch = o->global_batch > 0 ? o->global_batch / n : b->res->batch};
  snprintf(batch, sizeof batch, "data.batch_size=%d", t->batch);
  /* mnbench's own settings last, so that they win over the user's --set */
  const char *fixed[] = {steps, "schedule.epochs=1000000", "snapshot.enabled=false",
                         "log.progress=off", "data.val=", batch};
  int nfixed = (int)(sizeof fixed / sizeof fixed[0]);
  char *argv[16 + 2 * (MN_BENCH_MAX_SETS + 8)];
  int argc = 0;
  argv[argc++] = b->mnrun;
  argv[argc++] = "-np";
  argv[argc++] = np;
  argv[argc++] = "--threads";
  argv[argc++] = th;
  argv[argc++] = "--metrics";
  argv[argc++] = metrics;
  for (int i = 0; i < o->nsets; i++) {
    argv[argc++] = "--set";
    argv[argc++] = (char *)o->sets[i];
  }
  for (int i = 0; i < nfixed; i++) {
    argv[argc++] = "--set";
    argv[argc++] = (char *)fixed[i];
  }
  argv[argc++] = (char *)o->conf;
  argv[argc] = NULL;
  int code = 0;
  mn_status_t st = run_logged(argv, NULL, log, o->timeout_s, &code);
  if (st == MN_OK && code != 0)
    st = mn_error(MN_ERR_PEER, "training at %d rank%s: mnrun exited %d (log: %s)", n,
                  n == 1 ? "" : "s", code, log);
  if (st == MN_OK) st = read_summary(metrics, b->res->seq, t);
  if (st != MN_OK) show_tail(log);
  return st;
}

/* ---- the model ---------------------------------------------------------------------- */

/* Latency and bandwidth of this machine, on mn's path at the largest measured count: the
 * line through its smallest message and the one nearest in size to what mn sends per
 * bucket in training (the gradient, or one bucket of it when it is larger). */
static void calibrate(mn_bench_result_t *r) {
  for (int i = r->nsweeps - 1; i >= 0; i--) {
    const mn_bench_sweep_t *s = &r->sweeps[i];
    if (!s->ok || s->ranks < 2 || s->nrows < 2) continue;
    double msg = r->flat * 4.0, bucket = s->bucket_mb * 1024 * 1024;
    if (bucket > 0 && bucket < msg) msg = bucket;
    int near = 1;
    for (int k = 2; k < s->nrows; k++)
      if (fabs(log((double)s->rows[k].bytes / msg)) < fabs(log((double)s->rows[near].bytes / msg)))
        near = k;
    const mn_bench_ar_row_t *lo = &s->rows[0], *hi = &s->rows[near];
    if (mn_scaling_calibrate(s->ranks, (double)lo->bytes, lo->mn_s, (double)hi->bytes, hi->mn_s,
                             &r->alpha_s, &r->machine_Bps) == 0) {
      r->calib_ranks = s->ranks;
      r->calib_small = lo->bytes;
      r->calib_large = hi->bytes;
      return;
    }
  }
}

static void predict(mn_bench_result_t *r, mn_bench_link_t *l) {
  const mn_bench_opts_t *o = r->opts;
  for (int i = 0; i < o->nmodel_np; i++)
    l->eff[i] = o->global_batch > 0
                    ? mn_scaling_strong_efficiency(&l->model, o->model_np[i], o->global_batch)
                    : mn_scaling_weak_efficiency(&l->model, o->model_np[i], r->batch);
  for (int i = 0; i < r->ntrain; i++)
    l->eff_measured_np[i] =
        o->global_batch > 0
            ? mn_scaling_strong_efficiency(&l->model, r->train[i].ranks, o->global_batch)
            : mn_scaling_weak_efficiency(&l->model, r->train[i].ranks, r->batch);
}

/* c from the training at the smallest count (one rank: its whole step per sample), alpha
 * and B from the sweep; then this machine's line and one line per --ib figure. */
static void fit_model(bench_t *b) {
  mn_bench_result_t *r = b->res;
  const mn_bench_opts_t *o = b->o;
  calibrate(r);
  if (r->ntrain == 0 || !r->train[0].ok) return;
  const mn_bench_train_t *t0 = &r->train[0];
  /* per-rank step time per sample at the smallest count (its allreduce included when that
   * count is above 1: then c is an upper bound) */
  r->compute_per_sample_s = t0->ranks / t0->samples_per_s;
  double bucket_bytes = (double)b->cfg->comm.bucket_mb * 1024 * 1024;
  mn_scaling_t base = {.compute_per_sample_s = r->compute_per_sample_s,
                       .grad_bytes = r->flat * 4.0,
                       .nbuckets = (int)ceil(r->flat * 4.0 / bucket_bytes),
                       .alpha_s = o->alpha_us >= 0 ? o->alpha_us * 1e-6
                                  : r->calib_ranks ? r->alpha_s
                                                   : 5e-6,
                       .overlap = o->overlap};
  r->nlinks = 0;
  if (r->calib_ranks) {
    mn_bench_link_t *l = &r->links[r->nlinks++];
    snprintf(l->name, sizeof l->name, "this machine");
    l->model = base;
    l->model.intra_Bps = l->model.inter_Bps = r->machine_Bps;
    l->model.node_size = 0;
    predict(r, l);
  }
  for (int i = 0; i < o->nib; i++) {
    mn_bench_link_t *l = &r->links[r->nlinks++];
    snprintf(l->name, sizeof l->name, "IB %g Gb/s", o->ib_gbit[i]);
    l->model = base;
    l->model.intra_Bps = o->nvlink_GBps * 1e9;
    l->model.inter_Bps = o->ib_gbit[i] * 1e9 / 8;
    l->model.node_size = o->node_size;
    predict(r, l);
  }
  r->have_model = 1;
}

/* ---- main --------------------------------------------------------------------------- */

static void describe_run(mn_bench_result_t *r) {
  time_t now = time(NULL);
  struct tm tm;
  localtime_r(&now, &tm);
  strftime(r->date, sizeof r->date, "%Y-%m-%d %H:%M", &tm);
  if (gethostname(r->host, sizeof r->host - 1) != 0) snprintf(r->host, sizeof r->host, "?");
  r->cores = mn_hosts_local_cpus();
}

static mn_status_t run_sweeps(bench_t *b) {
  mn_bench_result_t *r = b->res;
  const mn_bench_opts_t *o = b->o;
  mn_status_t worst = MN_OK;
  for (int i = 0; !o->no_allreduce && i < o->nnp && !g_signal; i++) {
    if (o->np[i] < 2) continue; /* nothing to exchange: mn's path returns at once */
    fprintf(stderr, "mnbench: allreduce sweep at %d rank%s...\n", o->np[i], o->np[i] > 1 ? "s" : "");
    mn_status_t st = allreduce_at(b, o->np[i], &r->sweeps[r->nsweeps++]);
    if (st != MN_OK) mn_log_error("%s", mn_error_message());
    worst = mn_status_worse(worst, st);
  }
  r->threads = train_threads(b);
  for (int i = 0; !o->no_train && i < o->nnp && !g_signal; i++) {
    fprintf(stderr, "mnbench: training at %d rank%s...\n", o->np[i], o->np[i] > 1 ? "s" : "");
    mn_bench_train_t *t = &r->train[r->ntrain++];
    mn_status_t st = train_at(b, o->np[i], r->threads, t);
    if (st != MN_OK) mn_log_error("%s", mn_error_message());
    if (t->ok) t->efficiency = t->samples_per_s / (t->ranks * r->train[0].samples_per_s /
                                                   r->train[0].ranks);
    worst = mn_status_worse(worst, st);
  }
  return worst;
}

static mn_status_t write_outputs(bench_t *b) {
  mn_bench_result_t *r = b->res;
  static char plot[PATH_MAX];
  if (!b->o->plot) {
    const char *dot = strrchr(b->o->json, '.');
    int stem = dot && !strchr(dot, '/') ? (int)(dot - b->o->json) : (int)strlen(b->o->json);
    snprintf(plot, sizeof plot, "%.*s.svg", stem, b->o->json);
    b->o->plot = plot;
  }
  mn_status_t st = MN_OK;
  if (b->o->no_plot)
    snprintf(r->plot_note, sizeof r->plot_note, "no plot made: --no-plot");
  else
    st = mn_bench_plot(b->o->plot, r);
  mn_bench_print(stdout, r);
  mn_status_t js = mn_bench_write_json(b->o->json, r);
  fprintf(stderr, "mnbench: %s%s%s%s\n", js == MN_OK ? "wrote " : "", js == MN_OK ? b->o->json : "",
          r->plot_note[0] ? "; " : " and ", r->plot_note[0] ? r->plot_note : b->o->plot);
  if (js != MN_OK) return js;
  return st;
}

static int worker_main(int argc, char **argv, mn_bench_opts_t *o) {
  int provided;
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    fprintf(stderr, "mnbench: error: MPI_Init failed\n");
    return MN_EXIT_SOFTWARE;
  }
  mn_status_t st = mn_bench_allreduce_run(o);
  if (st != MN_OK) mn_log_error("%s", mn_error_message());
  MPI_Finalize();
  return mn_status_exit_code(st);
}

int main(int argc, char **argv) {
  mn_log_init("mnbench", -1, NULL);
  mn_bench_opts_t o;
  mn_status_t st = parse_args(argc, argv, &o);
  if (st != MN_OK) {
    mn_log_error("%s", mn_error_message());
    return mn_status_exit_code(st);
  }
  if (o.worker_out) return worker_main(argc, argv, &o);

  bench_t b = {.o = &o};
  b.res = calloc(1, sizeof *b.res);
  b.cfg = calloc(1, sizeof *b.cfg);
  st = b.res && b.cfg ? MN_OK : mn_error(MN_ERR_NOMEM, "out of memory");
  if (st == MN_OK) {
    b.res->opts = &o;
    describe_run(b.res);
    st = find_self(&b);
  }
  if (st == MN_OK) st = load_config(&b);
  if (st == MN_OK) st = load_hosts(&b);
  if (st == MN_OK) st = mn_supervise_workdir_create(b.workdir, sizeof b.workdir);
  if (st != MN_OK) {
    mn_log_error("%s", mn_error_message());
    goto free_hosts;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);

  mn_status_t runs = run_sweeps(&b); /* each failure is logged as it happens */
  fit_model(&b);
  st = write_outputs(&b);
  if (st != MN_OK) mn_log_error("%s", mn_error_message());
  st = mn_status_worse(runs, st);
  if (o.keep || st != MN_OK)
    fprintf(stderr, "mnbench: logs of every run in %s\n", b.workdir);
  else
    mn_supervise_workdir_remove(b.workdir);
free_hosts:
  mn_hosts_free(&b.hosts);
  free(b.cfg);
  free(b.res);
  return mn_status_exit_code(st);
}
