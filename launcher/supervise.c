/* supervise.c: run a launch engine's command, forward signals, wait, account for the ranks
 * (mn_supervise.h).
 *
 * Signal handlers, installed at mnrun's first instruction, only record the first stop and
 * write the signal's number to a self-pipe; the loop in mn_supervise_run() reads it and
 * acts (hold until every rank has joined, forward, or kill on the second stop request), and
 * SIGCHLD wakes the same loop. The child runs in its own process group, so a terminal's
 * Ctrl-C reaches mnrun alone and the ranks see it once, forwarded. Because mpirun puts each
 * local rank in a process group of its own, killing mpirun's group would orphan them; the
 * ranks of this job on this machine are found instead by their MN_REPORT_DIR. This file
 * neither builds commands nor decides placement. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "mn_supervise.h"
#include "mn_clock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mn_liveness.h"
#include "mn_log.h"
#include "mn_report.h"
#include "mn_selfpipe.h"
#include "mn_stopnote.h"

#define MAX_FAILED_LINES 8
#define MAX_MISSING_LINES 4

/* ---- scratch directory ---- */

mn_status_t mn_supervise_workdir_create(char *dir, size_t n) {
  const char *base = getenv("TMPDIR");
  if (!base || !base[0]) base = "/tmp";
  if ((size_t)snprintf(dir, n, "%s/mnrun.XXXXXX", base) >= n)
    return mn_error(MN_ERR_INTERNAL, "TMPDIR is too long");
  if (!mkdtemp(dir))
    return mn_error(MN_ERR_IO, "cannot create a directory in %s: %s", base, strerror(errno));
  return MN_OK;
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
  (void)sb;
  (void)ftw;
  if (type == FTW_DP ? rmdir(path) : unlink(path)) {
    if (errno != ENOENT) mn_log_warn("cannot remove %s: %s", path, strerror(errno));
  }
  return 0;
}

void mn_supervise_workdir_remove(const char *dir) {
  /* depth first, without following links: the reports, the hostfile, and the session
   * directory of Open MPI (orte_tmpdir_base) */
  nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- signals ---- */

static const int g_forwarded[] = {SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGCHLD};
enum { NFORWARDED = sizeof g_forwarded / sizeof g_forwarded[0] };
static int g_pipe[2] = {-1, -1};
static volatile sig_atomic_t g_first_stop; /* the first stop signal mnrun received (0: none) */

static int is_stop_signal(int sig) {
  return sig == SIGINT || sig == SIGTERM || sig == SIGUSR1 || sig == SIGUSR2;
}

static void on_signal(int sig) {
  if (is_stop_signal(sig) && !g_first_stop) g_first_stop = sig;
  mn_selfpipe_write(g_pipe[1], sig);
}

mn_status_t mn_supervise_signals_install(void) {
  if (g_pipe[0] >= 0) return MN_OK;
  mn_status_t st = mn_selfpipe_open(g_pipe);
  if (st == MN_OK) mn_selfpipe_catch(g_forwarded, NFORWARDED, on_signal, NULL);
  return st;
}

int mn_supervise_stop_signal(void) { return g_first_stop; }

/* ---- killing this job's ranks on this machine ---- */

/* Whether process pid has the exact environment entry want. */
static int has_env_entry(const char *pid, const char *want) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%s/environ", pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char entry[8192];
  size_t len = 0;
  int found = 0;
  for (int c; !found && (c = fgetc(f)) != EOF;) {
    if (c != '\0') {
      if (len + 1 < sizeof entry) entry[len++] = (char)c;
      continue;
    }
    entry[len] = '\0';
    found = !strcmp(entry, want);
    len = 0;
  }
  fclose(f);
  return found;
}

/* Send sig (0: none, only count) to every process on this machine whose environment holds
 * MN_REPORT_DIR=report_dir. Returns how many there were. */
static int signal_local_ranks(const char *report_dir, int sig) {
  char want[4200];
  snprintf(want, sizeof want, "MN_REPORT_DIR=%s", report_dir);
  DIR *d = opendir("/proc");
  if (!d) return 0;
  int killed = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (strspn(e->d_name, "0123456789") != strlen(e->d_name)) continue;
    pid_t pid = (pid_t)atol(e->d_name);
    if (pid <= 1 || pid == getpid()) continue;
    if (has_env_entry(e->d_name, want) && kill(pid, sig) == 0) killed++;
  }
  closedir(d);
  return killed;
}

/* SIGKILL every process of this job on this machine. Returns how many. */
static int kill_local_ranks(const char *report_dir) {
  return signal_local_ranks(report_dir, SIGKILL);
}

int mn_supervise_sweep(const char *report_dir, double grace_s) {
  /* some end on their own a moment after the rank (Open MPI's singleton helper does) */
  for (double t0 = mn_now_s(); signal_local_ranks(report_dir, 0) > 0 && mn_now_s() - t0 < grace_s;)
    poll(NULL, 0, 50);
  return kill_local_ranks(report_dir);
}

/* ---- running ---- */

/* In the forked child: default signals, own process group, stdin from /dev/null, the extra
 * environment, exec. The stop signals stay blocked across the exec when the command asks
 * (cmd->block_stop: the worker unblocks them once its handler is in place). Never
 * returns. */
static void exec_child(const mn_cmd_t *cmd, const sigset_t *mask) {
  for (int i = 0; i < NFORWARDED; i++) signal(g_forwarded[i], SIG_DFL);
  sigset_t child_mask = *mask;
  for (int i = 0; cmd->block_stop && i < NFORWARDED; i++)
    if (is_stop_signal(g_forwarded[i])) sigaddset(&child_mask, g_forwarded[i]);
  sigprocmask(SIG_SETMASK, &child_mask, NULL);
  setpgid(0, 0);
  int fd = open("/dev/null", O_RDONLY);
  if (fd >= 0 && fd != STDIN_FILENO) {
    dup2(fd, STDIN_FILENO);
    close(fd);
  }
  for (int i = 0; i < cmd->nenv; i++) putenv(cmd->env[i]);
  execv(cmd->argv[0], cmd->argv);
  dprintf(STDERR_FILENO, "mnrun: error: cannot run %s: %s\n", cmd->argv[0], strerror(errno));
  _exit(127);
}

/* SIGKILL to the child's process group and to this job's ranks on this machine (mpirun
 * gives each local rank a process group of its own). */
static void kill_job(pid_t child, const char *report_dir) {
  kill(-child, SIGKILL);
  kill(child, SIGKILL);
  kill_local_ranks(report_dir);
}

/* The stop requests that reached mnrun while the child runs. */
typedef struct stops {
  int nrequests; /* stop signals of any kind (INT, TERM, USR1, USR2) */
  int nkill;     /* INT and TERM: the second one kills the job */
  int killed_by; /* that second signal (0: none) */
  unsigned held; /* bit s: signal s waits until every rank has joined */
  double t0;     /* when the first request arrived */
} stops_t;

/* Act on one signal that reached mnrun while the child runs. A stop request goes to the
 * child (INT and TERM as its engine's stop signal), but only once every rank has joined
 * (joined: a rank joins after its handler is in place, so that no rank, and no mpirun
 * still starting, dies of it): until then it is held. A second INT or TERM kills the job
 * (the snapshot protocol leaves the old snapshots intact even then). */
static void handle_signal(int sig, const mn_cmd_t *cmd, pid_t child, const char *report_dir,
                          int joined, stops_t *s) {
  if (!is_stop_signal(sig)) return; /* SIGCHLD: only a wake-up */
  int kill_signal = sig == SIGINT || sig == SIGTERM;
  if (kill_signal && ++s->nkill >= 2) {
    mn_log_warn("signal %d again: killing the job (mnrun exits %d)", sig, 128 + sig);
    if (!s->killed_by) s->killed_by = sig;
    kill_job(child, report_dir);
    return;
  }
  if (s->nrequests++ == 0) {
    s->t0 = mn_now_s();
    mn_log_warn("signal %d: %s%s", sig,
                cmd->program ? "passed on to the program of every rank"
                             : "the ranks stop after the current step and write a snapshot",
                kill_signal ? " (send it again to kill the job)" : "");
  }
  int received = sig;
  if (kill_signal && cmd->stop_signal) sig = cmd->stop_signal;
  /* which signal this stands for, for ranks whose program wants the one sent to mnrun
   * (mnrank, mn_stopnote.h); written before it can reach them */
  if (mn_stopnote_write(report_dir, sig, received) != MN_OK)
    mn_log_warn("%s (the ranks' programs get signal %d as it is)", mn_error_message(), sig);
  if (!joined) {
    if (!s->held)
      mn_log_warn("the ranks have not all started: the stop is held until they have (a rank "
                  "takes it once its handler is in place)");
    s->held |= 1u << sig;
    return;
  }
  kill(child, sig);
}

/* Forward the held stop signals (every rank has joined). */
static void forward_held(pid_t child, stops_t *s) {
  for (int sig = 1; sig < 32; sig++)
    if (s->held & (1u << sig)) {
      mn_log_info("every rank has started: forwarding signal %d", sig);
      kill(child, sig);
    }
  s->held = 0;
}

/* ---- the watchdog ---- */

typedef struct watchdog {
  const mn_watch_t *w;
  const char *dir;
  double t0;
  int all_joined;
  double failed_at; /* when a failing report was first seen (0: none) */
  int failed_rank;
  double reported_at;       /* when every rank was first seen to have reported (0: not yet) */
  mn_liveness_seen_t *seen; /* [nranks]: the heartbeats, on mnrun's monotonic clock */
} watchdog_t;

static int is_failure(int code) { return code != MN_EXIT_OK && code != MN_EXIT_TEMPFAIL; }

static int watched(const mn_watch_t *w, int rank) { return !w->watched || w->watched[rank]; }

/* One look at the ranks' files. Returns MN_WATCH_OK or why the gang must go (out: why). */
static mn_watch_reason_t watch_check(watchdog_t *d, mn_watch_result_t *why) {
  const mn_watch_t *w = d->w;
  double now = mn_now_s(), elapsed = now - d->t0;
  if (!d->all_joined) {
    int missing = 0, first = -1;
    for (int r = 0; r < w->nranks; r++)
      if (watched(w, r) && !mn_liveness_joined(d->dir, r) && missing++ == 0) first = r;
    d->all_joined = missing == 0;
    if (!d->all_joined) {
      if (w->start_timeout_s > 0 && elapsed > w->start_timeout_s) {
        *why = (mn_watch_result_t){MN_WATCH_START_TIMEOUT, first, missing, elapsed, 0, 0};
        return why->reason;
      }
      return MN_WATCH_OK;
    }
  }
  int nreported = 0;
  for (int r = 0; r < w->nranks; r++) {
    if (!watched(w, r)) continue;
    mn_report_t rep;
    int reported = mn_report_read(d->dir, r, &rep) == MN_OK;
    nreported += reported;
    if (w->fail_timeout_s <= 0) continue;
    if (reported && is_failure(rep.exit_code) && d->failed_at == 0) {
      d->failed_at = now;
      d->failed_rank = r;
    }
    double silent = reported ? -1 : mn_liveness_silent_s(d->dir, r, &d->seen[r]);
    if (silent > w->fail_timeout_s) {
      *why = (mn_watch_result_t){MN_WATCH_LOST, r, 0, silent, 0, 0};
      return why->reason;
    }
  }
  if (nreported == w->nranks) { /* every rank has said how it ended: the engine must exit */
    if (d->reported_at == 0) d->reported_at = now;
    if (w->exit_timeout_s > 0 && now - d->reported_at > w->exit_timeout_s) {
      *why = (mn_watch_result_t){MN_WATCH_ENGINE_STUCK, 0, 0, now - d->reported_at, 0, 0};
      return why->reason;
    }
    return MN_WATCH_OK;
  }
  if (d->failed_at > 0 && now - d->failed_at > w->fail_timeout_s) {
    *why = (mn_watch_result_t){MN_WATCH_LINGER, d->failed_rank, 0, now - d->failed_at, 0, 0};
    return why->reason;
  }
  return MN_WATCH_OK;
}

mn_status_t mn_supervise_run(const mn_cmd_t *cmd, const char *report_dir, const mn_watch_t *watch,
                             int *exit_code, mn_watch_result_t *why) {
  mn_watch_result_t none = {MN_WATCH_OK, -1, 0, 0, 0, 0};
  if (why) *why = none;
  mn_status_t st = mn_supervise_signals_install();
  if (st != MN_OK) return st;
  watchdog_t dog = {watch, report_dir, mn_now_s(), 0, 0, -1, 0, NULL};
  if (watch && !(dog.seen = calloc((size_t)watch->nranks, sizeof *dog.seen)))
    return mn_error(MN_ERR_NOMEM, "out of memory");
  sigset_t block, saved;
  sigemptyset(&block);
  for (int i = 0; i < NFORWARDED; i++) sigaddset(&block, g_forwarded[i]);
  sigprocmask(SIG_BLOCK, &block, &saved);

  pid_t child = fork();
  if (child == 0) exec_child(cmd, &saved);
  int fork_errno = errno;
  if (child > 0) setpgid(child, child); /* also here, so no signal can precede it */
  sigprocmask(SIG_SETMASK, &saved, NULL);
  if (child < 0) {
    st = mn_error(MN_ERR_INTERNAL, "fork: %s", strerror(fork_errno));
    goto free_watchdog;
  }

  stops_t stops = {0};
  int status = 0, torn_down = 0;
  for (;;) {
    pid_t r = waitpid(child, &status, WNOHANG);
    if (r == child) break;
    if (r < 0 && errno != EINTR) {
      st = mn_error(MN_ERR_INTERNAL, "waitpid: %s", strerror(errno));
      goto free_watchdog;
    }
    struct pollfd pfd = {.fd = g_pipe[0], .events = POLLIN};
    if (poll(&pfd, 1, !watch ? -1 : stops.held ? 50 : 250) < 0 && errno != EINTR) {
      st = mn_error(MN_ERR_INTERNAL, "poll: %s", strerror(errno));
      goto free_watchdog;
    }
    unsigned char sigs[64];
    ssize_t n;
    while ((n = read(g_pipe[0], sigs, sizeof sigs)) > 0)
      for (ssize_t i = 0; i < n; i++)
        handle_signal(sigs[i], cmd, child, report_dir, !watch || dog.all_joined, &stops);
    mn_watch_result_t found;
    if (watch && !torn_down && watch_check(&dog, &found) != MN_WATCH_OK) {
      if (why) *why = found;
      kill_job(child, report_dir);
      torn_down = 1;
    }
    if (stops.held && !torn_down && !stops.killed_by && (!watch || dog.all_joined))
      forward_held(child, &stops);
  }
  if (stops.held && !stops.killed_by)
    mn_log_warn("the job ended before every rank had started: the stop was not forwarded");
  else if (stops.nrequests > 0 && !stops.killed_by)
    mn_log_info("the job ended %.2f s after the stop signal", mn_now_s() - stops.t0);
  if (why) {
    why->stop_requests = stops.nrequests;
    why->killed_by = stops.killed_by;
  }
  if (WIFSIGNALED(status)) {
    /* mpirun died without cleaning up: its local ranks would live on, orphaned. */
    int killed = kill_local_ranks(report_dir);
    if (killed) mn_log_warn("killed %d rank(s) left behind on this machine", killed);
    *exit_code = 128 + WTERMSIG(status);
  } else {
    *exit_code = WEXITSTATUS(status);
  }
free_watchdog:
  free(dog.seen);
  return st;
}

/* ---- accounting ---- */

static void print_failed(const mn_report_t *r) {
  const char *name = mn_report_exit_name(r->exit_code);
  mn_log_say("rank %d on host %s failed (exit %d%s%s)%s%s", r->rank, r->host, r->exit_code,
             name ? ", " : "", name ? name : "", r->message[0] ? ": " : "", r->message);
}

/* The failing ranks' lines: each distinct (exit code, message) once, with its lowest rank;
 * later ranks that failed the same way are only counted. */
typedef struct failed_lines {
  mn_report_t shown[MAX_FAILED_LINES];
  int nshown, nsame, nmore;
} failed_lines_t;

static void add_failed(failed_lines_t *fl, const mn_report_t *r) {
  for (int i = 0; i < fl->nshown; i++)
    if (fl->shown[i].exit_code == r->exit_code && !strcmp(fl->shown[i].message, r->message)) {
      fl->nsame++;
      return;
    }
  if (fl->nshown == MAX_FAILED_LINES) {
    fl->nmore++;
    return;
  }
  fl->shown[fl->nshown++] = *r;
  print_failed(r);
}

/* Whether code is one that a rerun cannot fix (usage, data, input, a snapshot directory in
 * use): it names the cause better than an engine's code or a follower's. */
static int is_final(int code) {
  return code == MN_EXIT_USAGE || code == MN_EXIT_DATAERR || code == MN_EXIT_NOINPUT ||
         code == MN_EXIT_CANTCREAT;
}

int mn_supervise_account(const char *report_dir, int nranks, int job_code) {
  static failed_lines_t fl; /* large; mnrun accounts for one job */
  memset(&fl, 0, sizeof fl);
  int nmissing = 0, nfollowers = 0, nstopped = 0, follower_code = 0;
  int missing[MAX_MISSING_LINES];
  for (int rank = 0; rank < nranks; rank++) {
    mn_report_t r;
    mn_status_t st = mn_report_read(report_dir, rank, &r);
    if (st == MN_OK && !is_failure(r.exit_code)) {
      nstopped += r.exit_code == MN_EXIT_TEMPFAIL;
      continue;
    }
    if (st != MN_OK) {
      if (st != MN_ERR_NOINPUT) mn_log_warn("rank %d: %s", rank, mn_error_message());
      if (nmissing < MAX_MISSING_LINES) missing[nmissing] = rank;
      nmissing++;
      continue;
    }
    if (!strncmp(r.message, MN_REPORT_FOLLOWER, strlen(MN_REPORT_FOLLOWER))) {
      if (nfollowers++ == 0) follower_code = r.exit_code;
    } else {
      add_failed(&fl, &r);
    }
  }
  if (nfollowers)
    mn_log_say("%d other rank%s stopped with %s", nfollowers, nfollowers == 1 ? "" : "s",
               fl.nshown ? "them" : "the failed ones");
  if (fl.nsame)
    mn_log_say("%d more rank%s failed the same way as a rank above", fl.nsame,
               fl.nsame == 1 ? "" : "s");
  if (fl.nmore) mn_log_say("... and %d more failed ranks", fl.nmore);
  int first_failed_code = fl.nshown ? fl.shown[0].exit_code : 0;
  /* Every rank reported (ranks that wrote a report exit 0: runtime/train/mntrain.c): the
   * reports say how the job ended, whatever the engine did afterwards (a crash at exit, or mnrun
   * killing an engine that would not exit). */
  if (nmissing == 0) {
    int code = fl.nshown      ? first_failed_code
               : nfollowers   ? follower_code
               : nstopped > 0 ? MN_EXIT_TEMPFAIL
                              : MN_EXIT_OK;
    if (job_code != MN_EXIT_OK && job_code != code)
      mn_log_say("the launch engine exited %d after every rank had reported; exiting with "
                 "the reports' code, %d",
                 job_code, code);
    return code;
  }
  if (!is_failure(job_code) && fl.nshown == 0)
    return job_code == MN_EXIT_OK && nstopped > 0 ? MN_EXIT_TEMPFAIL : job_code;

  int shown = nmissing < MAX_MISSING_LINES ? nmissing : MAX_MISSING_LINES;
  for (int i = 0; i < shown; i++)
    mn_log_say("rank %d exited without a report (killed, or lost with its node)", missing[i]);
  if (nmissing > shown) mn_log_say("... and %d more ranks without a report", nmissing - shown);

  if (is_final(first_failed_code)) return first_failed_code;
  if (!is_failure(job_code)) return first_failed_code; /* fl.nshown > 0 here */
  return job_code;
}
