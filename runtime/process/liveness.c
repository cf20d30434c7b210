/* liveness.c: join markers and heartbeats of the ranks (mn_liveness.h).
 *
 * Files only: mnrun reads their existence and the heartbeat's count, and keeps the times
 * on its own monotonic clock. The heartbeat runs in a thread of its own (its waits on the
 * monotonic clock too), so that a long step, a long validation or a snapshot never looks
 * like a lost rank; a rank whose process or node is gone stops beating. */
#include "mn_liveness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
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
  unsigned long long count;
} g_beat = {.mu = PTHREAD_MUTEX_INITIALIZER};

static mn_status_t touch(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return mn_error(MN_ERR_IO, "%s: %s", path, strerror(errno));
  int rc = futimens(fd, NULL), e = errno;
  close(fd);
  return rc == 0 ? MN_OK : mn_error(MN_ERR_IO, "%s: %s", path, strerror(e));
}

/* One beat: the next count, written over the last (a fixed width, so that a reader sees
 * one whole count; a torn read only looks like one more beat). Opened and closed each time,
 * so that a reader on NFS sees it (close-to-open consistency). */
static mn_status_t beat(const char *path, unsigned long long count) {
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return mn_error(MN_ERR_IO, "%s: %s", path, strerror(errno));
  char text[32];
  int len = snprintf(text, sizeof text, "%020llu\n", count);
  ssize_t w = pwrite(fd, text, (size_t)len, 0);
  int e = errno;
  close(fd);
  return w == len ? MN_OK
                  : mn_error(MN_ERR_IO, "%s: %s", path, w < 0 ? strerror(e) : "short write");
}

static void *beat_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&g_beat.mu);
  while (!g_beat.quit) {
    beat(g_beat.path, ++g_beat.count); /* a failed beat is the next one's business */
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    long long ns = until.tv_nsec + (long long)(MN_LIVENESS_PERIOD_S * 1e9);
    until.tv_sec += (time_t)(ns / 1000000000LL);
    until.tv_nsec = (long)(ns % 1000000000LL);
    while (!g_beat.quit && pthread_cond_timedwait(&g_beat.cv, &g_beat.mu, &until) == 0) {
    }
  }
  pthread_mutex_unlock(&g_beat.mu);
  return NULL;
}

mn_status_t mn_liveness_join(const char *dir, int rank) {
  if (!dir || !dir[0]) return MN_OK;
  char join[4200];
  snprintf(join, sizeof join, "%s/join-%d", dir, rank);
  return touch(join);
}

mn_status_t mn_liveness_start(const char *dir, int rank) {
  if (!dir || !dir[0] || g_beat.running) return MN_OK;
  snprintf(g_beat.path, sizeof g_beat.path, "%s/alive-%d", dir, rank);
  mn_status_t st = beat(g_beat.path, g_beat.count = 1);
  /* after the first beat: joined implies a heartbeat (for mntrain; mnrank's rank may have
   * joined before its program beats, mn_liveness_join) */
  if (st == MN_OK) st = mn_liveness_join(dir, rank);
  if (st != MN_OK) return st;
  g_beat.quit = 0;
  pthread_condattr_t attr; /* timed waits on the monotonic clock: a clock step changes none */
  int rc = pthread_condattr_init(&attr);
  if (rc == 0) rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  if (rc == 0) rc = pthread_cond_init(&g_beat.cv, &attr);
  pthread_condattr_destroy(&attr);
  if (rc != 0) return mn_error(MN_ERR_INTERNAL, "heartbeat condition: %s", strerror(rc));
  rc = pthread_create(&g_beat.thread, NULL, beat_main, NULL);
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
  pthread_cond_destroy(&g_beat.cv);
  g_beat.running = 0;
}

int mn_liveness_joined(const char *dir, int rank) {
  char path[4200];
  snprintf(path, sizeof path, "%s/join-%d", dir, rank);
  return access(path, F_OK) == 0;
}

double mn_liveness_silent_s(const char *dir, int rank, mn_liveness_seen_t *seen) {
  char path[4200];
  snprintf(path, sizeof path, "%s/alive-%d", dir, rank);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat sb;
  char text[32] = "";
  ssize_t n = fstat(fd, &sb) == 0 ? read(fd, text, sizeof text - 1) : -1;
  close(fd);
  if (n < 0) return -1;
  text[n] = '\0';
  mn_liveness_seen_t now = {
      .count = strtoull(text, NULL, 10),
      .size = (long long)sb.st_size,
      .ino = (long long)sb.st_ino,
      .mtime_ns = (long long)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec,
  };
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  now.at_s = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
  if (seen->at_s == 0 || now.count != seen->count || now.size != seen->size ||
      now.ino != seen->ino || now.mtime_ns != seen->mtime_ns) {
    *seen = now;
    return 0;
  }
  return now.at_s - seen->at_s;
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
