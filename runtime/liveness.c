/* liveness.c: join markers and heartbeats of the ranks (mn_liveness.h).
 *
 * Files only: mnrun reads their existence and modification time. The heartbeat runs in a
 * thread of its own, so that a long step, a long validation or a snapshot never looks like
 * a lost rank; a rank whose process or node is gone stops beating. */
#include "mn_liveness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static struct {
  char path[4200];
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int running, quit;
} g_beat = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static mn_status_t touch(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return mn_error(MN_ERR_IO, "%s: %s", path, strerror(errno));
  int rc = futimens(fd, NULL), e = errno;
  close(fd);
  return rc == 0 ? MN_OK : mn_error(MN_ERR_IO, "%s: %s", path, strerror(e));
}

static void *beat_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&g_beat.mu);
  while (!g_beat.quit) {
    touch(g_beat.path); /* a failed beat is the next one's business */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    long long ns = until.tv_nsec + (long long)(MN_LIVENESS_PERIOD_S * 1e9);
    until.tv_sec += (time_t)(ns / 1000000000LL);
    until.tv_nsec = (long)(ns % 1000000000LL);
    while (!g_beat.quit && pthread_cond_timedwait(&g_beat.cv, &g_beat.mu, &until) == 0) {
    }
  }
  pthread_mutex_unlock(&g_beat.mu);
  return NULL;
}

mn_status_t mn_liveness_start(const char *dir, int rank) {
  if (!dir || !dir[0] || g_beat.running) return MN_OK;
  char join[4200];
  snprintf(join, sizeof join, "%s/join-%d", dir, rank);
  snprintf(g_beat.path, sizeof g_beat.path, "%s/alive-%d", dir, rank);
  mn_status_t st = touch(g_beat.path);
  if (st == MN_OK) st = touch(join); /* after the first beat: joined implies a heartbeat */
  if (st != MN_OK) return st;
  g_beat.quit = 0;
  int rc = pthread_create(&g_beat.thread, NULL, beat_main, NULL);
  if (rc != 0) return mn_error(MN_ERR_INTERNAL, "heartbeat thread: %s", strerror(rc));
  g_beat.running = 1;
  return MN_OK;
}

void mn_liveness_stop(void) {
  if (!g_beat.running) return;
  pthread_mutex_lock(&g_beat.mu);
  g_beat.quit = 1;
  pthread_cond_broadcast(&g_beat.cv);
  pthread_mutex_unlock(&g_beat.mu);
  pthread_join(g_beat.thread, NULL);
  g_beat.running = 0;
}

int mn_liveness_joined(const char *dir, int rank) {
  char path[4200];
  snprintf(path, sizeof path, "%s/join-%d", dir, rank);
  return access(path, F_OK) == 0;
}

double mn_liveness_age_s(const char *dir, int rank) {
  char path[4200];
  snprintf(path, sizeof path, "%s/alive-%d", dir, rank);
  struct stat sb;
  if (stat(path, &sb) != 0) return -1;
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  return (double)(now.tv_sec - sb.st_mtim.tv_sec) +
         1e-9 * (double)(now.tv_nsec - sb.st_mtim.tv_nsec);
}
