/* mnrank.c: the per-rank shim of `mnrun -- PROGRAM`: it tells any program which rank it is,
 * passes signals on to it, and reports how it ended.
 *
 *   mnrank [--engine auto|mpirun|srun|direct] [--] PROGRAM [ARGS...]
 *
 * mnrun starts one mnrank per rank through its launch engine (mpirun, srun, or directly for
 * one local rank). mnrank reads the rank's number and the gang's shape from the engine's
 * environment, applies mnrun's placement for the rank (GPU, HCA, CPU binding: mn_rankenv.h),
 * exports RANK, LOCAL_RANK, WORLD_SIZE and LOCAL_WORLD_SIZE (torchrun's names) and their MN_
 * twins, and runs PROGRAM as its child, in a process group of its own (the engines signal a
 * rank's whole group: mpirun's SIGUSR1, which stands for a stop, must not reach the program
 * as such). It then joins mnrun's start barrier without beating (mn_liveness_join): mnrun
 * judges the rank by its exit, unless the program beats itself (libmn's mn_init does). A signal
 * that reaches mnrank goes on to the program's group as the signal mnrun was sent
 * (mn_stopnote.h). When the program ends, mnrank kills what it left in its group, writes the
 * rank's exit report unless the program wrote its own (mn_report.h), and exits 0 when the
 * program exited 0 or 75 and the report says so (as mntrain does: the others are stopping
 * too), else with the program's status, so that the engine brings the other ranks down.
 * This file neither places ranks nor decides mnrun's exit code. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mn_liveness.h"
#include "mn_log.h"
#include "mn_rankenv.h"
#include "mn_report.h"
#include "mn_selfpipe.h"
#include "mn_status.h"
#include "mn_stopnote.h"
#include "mn_suggest.h"

/* ---- signals ---- */

/* What mnrank passes on to its program; SIGCHLD (last) only wakes the loop. */
static const int g_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD};
enum { NSIGNALS = sizeof g_signals / sizeof g_signals[0] };
static struct sigaction g_found[NSIGNALS]; /* the dispositions mnrank started with */
static sigset_t g_child_mask;              /* the mask it started with, these unblocked */
static int g_pipe[2] = {-1, -1};

static void on_signal(int sig) { mn_selfpipe_write(g_pipe[1], sig); }

/* Record the signals from now on (a self-pipe), and unblock them: the direct engine starts
 * the rank with the stop signals blocked until its handler is in place (mn_cmd_t). */
static mn_status_t install_signals(void) {
  mn_status_t st = mn_selfpipe_open(g_pipe);
  if (st != MN_OK) return st;
  mn_selfpipe_catch(g_signals, NSIGNALS, on_signal, g_found);
  sigset_t ours;
  sigemptyset(&ours);
  for (int i = 0; i < NSIGNALS; i++) sigaddset(&ours, g_signals[i]);
  sigprocmask(SIG_UNBLOCK, &ours, &g_child_mask);
  for (int i = 0; i < NSIGNALS; i++) sigdelset(&g_child_mask, g_signals[i]);
  return MN_OK;
}

/* ---- the rank's shape, from the engine ---- */

typedef enum { ENGINE_AUTO, ENGINE_MPIRUN, ENGINE_SRUN, ENGINE_DIRECT } engine_t;

typedef struct shape {
  int rank, world, local_rank, local_world;
} shape_t;

/* The whole number >= 0 in variable name. out: *v. Returns 0, or -1 (with an error
 * recorded) when it is not set or not such a number. */
static int env_count(const char *name, int *v) {
  const char *text = getenv(name);
  char *end;
  long n = text && text[0] ? strtol(text, &end, 10) : -1;
  if (!text || !text[0] || *end || n < 0 || n > 100000000) {
    mn_error(MN_ERR_USAGE, "%s is %s%s%s, not a whole number", name, text ? "'" : "not set",
             text ? text : "", text ? "'" : "");
    return -1;
  }
  *v = (int)n;
  return 0;
}

/* Slurm's tasks on this node: the entries of SLURM_GTIDS, else this node's count
 * (SLURM_NODEID) in SLURM_STEP_TASKS_PER_NODE, Slurm's compressed form ("2(x3),1"). */
static int slurm_local_world(int *n) {
  const char *gtids = getenv("SLURM_GTIDS");
  if (gtids && gtids[0]) {
    *n = 1;
    for (const char *p = gtids; *p; p++) *n += *p == ',';
    return 0;
  }
  const char *per = getenv("SLURM_STEP_TASKS_PER_NODE");
  int node;
  if (env_count("SLURM_NODEID", &node) != 0) return -1;
  for (const char *p = per ? per : ""; *p;) {
    char *end;
    long count = strtol(p, &end, 10), repeat = 1;
    if (end == p) break;
    if (end[0] == '(' && end[1] == 'x') {
      repeat = strtol(end + 2, &end, 10);
      if (*end++ != ')') break;
    }
    if (node < repeat) {
      *n = (int)count;
      return 0;
    }
    node -= (int)repeat;
    if (*end != ',') break;
    p = end + 1;
  }
  mn_error(MN_ERR_USAGE, "SLURM_STEP_TASKS_PER_NODE='%s' has no count for SLURM_NODEID=%s",
           per ? per : "", getenv("SLURM_NODEID"));
  return -1;
}

/* The rank's number and the gang's shape, as the engine started it. out: s. */
static mn_status_t read_shape(engine_t engine, shape_t *s) {
  if (engine == ENGINE_AUTO)
    engine = getenv("OMPI_COMM_WORLD_RANK")                      ? ENGINE_MPIRUN
             : getenv("SLURM_STEP_ID") && getenv("SLURM_PROCID") ? ENGINE_SRUN
                                                                 : ENGINE_DIRECT;
  shape_t out = {0, 1, 0, 1};
  int bad = 0;
  switch (engine) {
  case ENGINE_MPIRUN: /* Open MPI 4 and 5 alike */
    bad = env_count("OMPI_COMM_WORLD_RANK", &out.rank) ||
          env_count("OMPI_COMM_WORLD_SIZE", &out.world) ||
          env_count("OMPI_COMM_WORLD_LOCAL_RANK", &out.local_rank) ||
          env_count("OMPI_COMM_WORLD_LOCAL_SIZE", &out.local_world);
    break;
  case ENGINE_SRUN:
    bad = env_count("SLURM_PROCID", &out.rank) ||
          env_count(getenv("SLURM_STEP_NUM_TASKS") ? "SLURM_STEP_NUM_TASKS" : "SLURM_NTASKS",
                    &out.world) ||
          env_count("SLURM_LOCALID", &out.local_rank) || slurm_local_world(&out.local_world);
    break;
  case ENGINE_DIRECT:
  case ENGINE_AUTO: break; /* one rank, on its own */
  }
  if (bad) return MN_ERR_USAGE;
  if (out.world < 1 || out.rank >= out.world || out.local_world < 1 ||
      out.local_rank >= out.local_world || out.local_world > out.world)
    return mn_error(MN_ERR_USAGE, "the engine's rank %d of %d, local rank %d of %d, do not add up",
                    out.rank, out.world, out.local_rank, out.local_world);
  *s = out;
  return MN_OK;
}

/* RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE and MN_RANK, ... for the program. */
static void export_shape(const shape_t *s) {
  const struct {
    const char *name;
    int value;
  } vars[] = {{"RANK", s->rank},
              {"LOCAL_RANK", s->local_rank},
              {"WORLD_SIZE", s->world},
              {"LOCAL_WORLD_SIZE", s->local_world}};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
    char value[16], name[64];
    snprintf(value, sizeof value, "%d", vars[i].value);
    snprintf(name, sizeof name, "MN_%s", vars[i].name);
    setenv(vars[i].name, value, 1);
    setenv(name, value, 1);
  }
}

/* ---- the program ---- */

/* In the forked child: the signals as mnrank found them, a process group of its own, killed
 * with mnrank (a SIGKILL from the engine leaves it no time to pass anything on), then the
 * program. An exec that fails sends its errno up errfd. Never returns. */
static void run_program(char **argv, pid_t shim, int errfd) {
  for (int i = 0; i < NSIGNALS; i++) sigaction(g_signals[i], &g_found[i], NULL);
  sigprocmask(SIG_SETMASK, &g_child_mask, NULL);
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != shim) _exit(127); /* mnrank died before the line above */
  execvp(argv[0], argv);
  int e = errno;
  ssize_t w = write(errfd, &e, sizeof e);
  (void)w;
  _exit(127);
}

/* What the loop learned while the program ran. */
typedef struct relayed {
  int asked;   /* the last stop mnrun was sent and forwarded (mn_stopnote.h); 0 none */
  int foreign; /* the last signal that did not come from mnrun (the engine); 0 none */
} relayed_t;

/* Pass the signals waiting in the self-pipe on to the program's group: each as the signal
 * mnrun was sent when mnrun forwarded it, else as it is. */
static void relay(const char *dir, pid_t group, relayed_t *r) {
  unsigned char sigs[64];
  ssize_t n;
  while ((n = read(g_pipe[0], sigs, sizeof sigs)) > 0)
    for (ssize_t i = 0; i < n; i++) {
      int sig = sigs[i];
      if (sig == SIGCHLD) continue;
      int asked = mn_stopnote_read(dir, sig);
      if (asked)
        r->asked = asked;
      else
        r->foreign = sig;
      mn_log_debug("signal %d: passing on %d", sig, asked ? asked : sig);
      killpg(group, asked ? asked : sig);
    }
}

/* Wait for the program, relaying signals; then kill what it left in its group (while it is
 * a zombie, so that its group's number cannot be anybody else's yet) and reap it.
 * out: status (waitpid's). */
static mn_status_t wait_program(const char *dir, pid_t child, int *status, relayed_t *r) {
  for (;;) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_PID, (id_t)child, &info, WEXITED | WNOHANG | WNOWAIT) != 0 && errno != EINTR)
      return mn_error(MN_ERR_INTERNAL, "waitid: %s", strerror(errno));
    if (info.si_pid == child) break;
    struct pollfd pfd = {.fd = g_pipe[0], .events = POLLIN};
    if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
      return mn_error(MN_ERR_INTERNAL, "poll: %s", strerror(errno));
    relay(dir, child, r);
  }
  relay(dir, child, r);
  killpg(child, SIGKILL);
  while (waitpid(child, status, 0) < 0)
    if (errno != EINTR) return mn_error(MN_ERR_INTERNAL, "waitpid: %s", strerror(errno));
  return MN_OK;
}

/* ---- main ---- */

static void print_help(FILE *f) {
  fputs("usage: mnrank [--engine auto|mpirun|srun|direct] [--] PROGRAM [ARGS...]\n"
        "\n"
        "The per-rank shim of `mnrun -- PROGRAM` (docs/launcher.md, \"Programs\"): reads this\n"
        "rank's number from the launch engine, applies mnrun's placement (MN_GPU, MN_GPU_PCI,\n"
        "NCCL_IB_HCA, CPU binding), exports RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE and\n"
        "MN_RANK, MN_LOCAL_RANK, MN_WORLD_SIZE, MN_LOCAL_WORLD_SIZE, runs PROGRAM in a process\n"
        "group of its own, passes INT, TERM, HUP, QUIT, USR1 and USR2 on to it (as the signal\n"
        "mnrun was sent), and writes the rank's exit report.\n"
        "\n"
        "  --engine E     where the rank's number comes from (default auto):\n"
        "                 mpirun: OMPI_COMM_WORLD_RANK, _SIZE, _LOCAL_RANK, _LOCAL_SIZE;\n"
        "                 srun: SLURM_PROCID, SLURM_STEP_NUM_TASKS, SLURM_LOCALID, and\n"
        "                 SLURM_GTIDS or SLURM_STEP_TASKS_PER_NODE; direct: rank 0 of 1;\n"
        "                 auto: mpirun when OMPI_COMM_WORLD_RANK is set, else srun when\n"
        "                 SLURM_STEP_ID is, else direct\n"
        "  -h, --help     this text\n"
        "  --version      the version\n"
        "\n"
        "Exit: 0 when PROGRAM exited 0, or 75 with its report written; else PROGRAM's status\n"
        "(128+N when signal N killed it), 66 when it cannot be run, 64 on a usage error.\n",
        f);
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("mnrank: error: ", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs("\nmnrank: try 'mnrank --help'\n", stderr);
  return MN_EXIT_USAGE;
}

/* Options up to the program (getopt stops at the first word that is not one). out: engine,
 * *first (the index of PROGRAM). Returns 0 to go on, -1 after --help or --version, or an
 * exit code. */
static int parse_options(int argc, char **argv, engine_t *engine, int *first) {
  enum { OPT_ENGINE = 256, OPT_VERSION };
  static const struct option longopts[] = {{"engine", required_argument, NULL, OPT_ENGINE},
                                           {"help", no_argument, NULL, 'h'},
                                           {"version", no_argument, NULL, OPT_VERSION},
                                           {NULL, 0, NULL, 0}};
  *engine = ENGINE_AUTO;
  opterr = 0;
  for (int c; (c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1;) {
    switch (c) {
    case OPT_ENGINE:
      if (!strcmp(optarg, "auto"))
        *engine = ENGINE_AUTO;
      else if (!strcmp(optarg, "mpirun"))
        *engine = ENGINE_MPIRUN;
      else if (!strcmp(optarg, "srun"))
        *engine = ENGINE_SRUN;
      else if (!strcmp(optarg, "direct"))
        *engine = ENGINE_DIRECT;
      else
        return usage_error("--engine expects auto, mpirun, srun or direct, got '%s'", optarg);
      break;
    case 'h': print_help(stdout); return -1;
    case OPT_VERSION: printf("mnrank %s\n", MN_VERSION); return -1;
    case ':': return usage_error("option '%s' needs an argument", argv[optind - 1]);
    default: {
      char msg[256];
      return usage_error("%s",
                         mn_suggest_unknown_option(argv[optind - 1], longopts, msg, sizeof msg));
    }
    }
  }
  if (optind >= argc) return usage_error("no program given");
  *first = optind;
  return 0;
}

/* The report's message: how the program ended, and why when a signal came before. */
static void describe(const char *prog, int status, const relayed_t *r, char *msg, size_t n) {
  char how[600];
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    snprintf(how, sizeof how, "%s was killed by signal %d (%s)", prog, sig, strsignal(sig));
  } else {
    snprintf(how, sizeof how, "%s exited with status %d", prog, WEXITSTATUS(status));
  }
  int code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  int failed = code != MN_EXIT_OK && code != MN_EXIT_TEMPFAIL;
  if (r->asked)
    snprintf(msg, n, "%s after signal %d from mnrun", how, r->asked);
  else if (failed && r->foreign) /* the engine ended the gang: another rank failed */
    snprintf(msg, n, MN_REPORT_FOLLOWER ": %s after signal %d from the launch engine", how,
             r->foreign);
  else
    snprintf(msg, n, "%s", how);
}

int main(int argc, char **argv) {
  /* first: from here on no signal is lost (the direct engine holds them blocked until now) */
  mn_status_t st = install_signals();
  mn_log_init("mnrank", -1, NULL);
  if (st != MN_OK) {
    mn_log_error("%s", mn_error_message());
    return MN_EXIT_SOFTWARE;
  }
  engine_t engine = ENGINE_AUTO;
  int first = 0;
  int code = parse_options(argc, argv, &engine, &first);
  if (code != 0) return code < 0 ? MN_EXIT_OK : code;
  shape_t s = {0, 1, 0, 1};
  if ((st = read_shape(engine, &s)) != MN_OK) {
    mn_log_error("cannot tell this rank's number: %s", mn_error_message());
    return mn_status_exit_code(st);
  }
  char host[256] = "?";
  gethostname(host, sizeof host - 1);
  mn_log_init("mnrank", s.rank, host);
  const char *dir = getenv("MN_REPORT_DIR");
  if (mn_rankenv_apply(dir, s.rank) != MN_OK)
    mn_log_warn("placement not applied: %s", mn_error_message());
  export_shape(&s);

  char *prog = argv[first];
  int errpipe[2];
  if (pipe(errpipe) != 0) {
    mn_log_error("pipe: %s", strerror(errno));
    return MN_EXIT_SOFTWARE;
  }
  fcntl(errpipe[0], F_SETFD, FD_CLOEXEC);
  fcntl(errpipe[1], F_SETFD, FD_CLOEXEC);
  pid_t shim = getpid(), child = fork();
  if (child == 0) run_program(argv + first, shim, errpipe[1]);
  if (child > 0) setpgid(child, child); /* also here, before any signal is passed on */
  close(errpipe[1]);
  int exec_errno = 0;
  ssize_t got;
  while ((got = read(errpipe[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {
  }
  close(errpipe[0]);
  if (child < 0) {
    mn_log_error("fork: %s", strerror(errno));
    return MN_EXIT_SOFTWARE;
  }

  int status = 0;
  relayed_t relayed = {0, 0};
  char msg[MN_REPORT_MESSAGE_MAX];
  if (got == (ssize_t)sizeof exec_errno) { /* not started: nothing to wait for but a zombie */
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    code = MN_EXIT_NOINPUT;
    snprintf(msg, sizeof msg, "cannot run %s: %s", prog, strerror(exec_errno));
    mn_log_error("%s", msg);
  } else {
    /* joined: mnrun's start barrier, and its hold on stop signals, are passed */
    if (mn_liveness_join(dir, s.rank) != MN_OK)
      mn_log_warn("cannot tell mnrun this rank has started: %s", mn_error_message());
    st = wait_program(dir, child, &status, &relayed);
    if (st != MN_OK) {
      mn_log_error("%s", mn_error_message());
      killpg(child, SIGKILL);
      return MN_EXIT_SOFTWARE;
    }
    code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    describe(prog, status, &relayed, msg, sizeof msg);
    mn_log_debug("%s", msg);
  }
  /* a program that wrote its own report (libmn's do) knows better how it ended */
  mn_report_t own;
  int reported = dir && dir[0] && mn_report_read(dir, s.rank, &own) == MN_OK;
  if (!reported && dir && dir[0]) {
    if (mn_report_write(dir, s.rank, host, code, msg) == MN_OK)
      reported = 1;
    else
      mn_log_warn("%s", mn_error_message());
  }
  /* 0 and 75 (stopped as asked) in a report: exit 0, so that mpirun does not abort ranks
   * still stopping (their snapshots); any other code goes to the engine, which then ends
   * the gang */
  return reported && (code == MN_EXIT_OK || code == MN_EXIT_TEMPFAIL) ? MN_EXIT_OK : code;
}
