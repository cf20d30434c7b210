/* preempt.c: stop requests by signal (mn_preempt.h).
 *
 * The handler stores the signal number and the monotonic time in sig_atomic_t-sized
 * globals: both calls are async-signal-safe. Everything else (logging, agreeing among the
 * ranks, the snapshot) happens in the trainer at a step boundary. Installing also unblocks
 * the stop signals: mnrun starts a directly launched rank with them blocked, so that a
 * stop that arrives before the handler waits for it instead of killing the rank. */
#include "mn_preempt.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const int g_stop_signals[] = {SIGTERM, SIGUSR1, SIGUSR2, SIGINT};
enum { NSTOP = sizeof g_stop_signals / sizeof g_stop_signals[0] };

static volatile sig_atomic_t g_signal;
static struct timespec g_when; /* written once, before g_signal is set */

static void on_stop(int sig) {
  if (g_signal) return; /* the first one counts; later ones change nothing */
  clock_gettime(CLOCK_MONOTONIC, &g_when);
  g_signal = sig;
}

static void install_one(int sig) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < NSTOP; i++) sigaddset(&sa.sa_mask, g_stop_signals[i]);
  sigaction(sig, &sa, NULL);
}

mn_status_t mn_preempt_install(void) {
  sigset_t stop;
  sigemptyset(&stop);
  for (int i = 0; i < NSTOP; i++) {
    install_one(g_stop_signals[i]);
    sigaddset(&stop, g_stop_signals[i]);
  }
  sigprocmask(SIG_UNBLOCK, &stop, NULL); /* a stop held while blocked arrives now */
  return MN_OK;
}

int mn_preempt_check_handlers(void) {
  int ok = 1;
  for (int i = 0; i < NSTOP; i++) {
    struct sigaction cur;
    if (sigaction(g_stop_signals[i], NULL, &cur) == 0 && cur.sa_handler != on_stop) {
      install_one(g_stop_signals[i]);
      ok = 0;
    }
  }
  return ok;
}

int mn_preempt_requested(void) { return g_signal; }

double mn_preempt_since_s(void) {
  if (!g_signal) return 0;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - g_when.tv_sec) + 1e-9 * (double)(now.tv_nsec - g_when.tv_nsec);
}

static int signal_by_name(const char *name) {
  static const struct {
    const char *name;
    int sig;
  } names[] = {
      {"TERM", SIGTERM}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"INT", SIGINT}, {"KILL", SIGKILL}};
  if (!strncmp(name, "SIG", 3)) name += 3;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!strcmp(name, names[i].name)) return names[i].sig;
  return atoi(name);
}

void mn_preempt_test_hook(int rank, int64_t step) {
  static int parsed, armed, sig;
  static long long at;
  if (!parsed) {
    parsed = 1;
    const char *s = getenv("MN_TEST_SIGNAL_STEP"), *r = getenv("MN_TEST_SIGNAL_RANK");
    const char *n = getenv("MN_TEST_SIGNAL");
    armed = s && s[0] && (!r || !r[0] || atoi(r) == rank);
    at = armed ? atoll(s) : 0;
    sig = n && n[0] ? signal_by_name(n) : SIGTERM;
  }
  if (armed && step == at) {
    armed = 0;
    kill(getpid(), sig);
  }
}
