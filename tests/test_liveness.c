/* test_liveness.c: join markers and heartbeats (runtime/process/mn_liveness.h), timed on the
 * watcher's monotonic clock: a heartbeat file whose modification time is an hour in the past
 * (a clock stepped forward) while its count advances is alive, and one dated an hour ahead
 * (a clock stepped back) that no longer changes is found silent. The real heartbeat thread
 * beats and stops. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mn_liveness.h"
#include "mn_test.h"

/* Write count into path and date the file offset_s seconds from now (wall clock). */
static void fake_beat(const char *path, unsigned long long count, long offset_s) {
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (!f) return;
  fprintf(f, "%020llu\n", count);
  fclose(f);
  struct timespec times[2];
  clock_gettime(CLOCK_REALTIME, &times[0]);
  times[0].tv_sec += offset_s;
  times[1] = times[0];
  CHECK(utimensat(AT_FDCWD, path, times, 0) == 0);
}

static void nap_s(double s) {
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  nanosleep(&ts, NULL);
}

int main(void) {
  char dir[] = "/tmp/mn-test-liveness-XXXXXX", path[128];
  if (!mkdtemp(dir)) return 1;
  mn_liveness_seen_t seen = {0};
  CHECK(mn_liveness_silent_s(dir, 0, &seen) < 0); /* no heartbeat yet */

  /* dated an hour back, but the count advances: never silent */
  snprintf(path, sizeof path, "%s/alive-0", dir);
  for (int i = 1; i <= 4; i++) {
    fake_beat(path, (unsigned long long)i, -3600);
    double s = mn_liveness_silent_s(dir, 0, &seen);
    CHECK_MSG(s >= 0 && s < 0.1, "beat %d: silent %.3f s", i, s);
    nap_s(0.1);
  }
  CHECK(mn_liveness_silent_s(dir, 0, &seen) >= 0.09); /* no beat since the last look */

  /* dated an hour ahead, then unchanged: silent for as long as it does not change */
  mn_liveness_seen_t ahead = {0};
  snprintf(path, sizeof path, "%s/alive-1", dir);
  fake_beat(path, 7, 3600);
  CHECK(mn_liveness_silent_s(dir, 1, &ahead) == 0);
  nap_s(0.3);
  double s = mn_liveness_silent_s(dir, 1, &ahead);
  CHECK_MSG(s >= 0.29 && s < 5, "silent %.3f s, want about 0.3", s);

  /* the real heartbeat: joined, beating within a period, gone quiet after stop */
  mn_liveness_seen_t real = {0};
  CHECK(mn_liveness_start(dir, 2) == MN_OK);
  CHECK(mn_liveness_joined(dir, 2));
  CHECK(mn_liveness_silent_s(dir, 2, &real) == 0);
  double worst = 0;
  for (int i = 0; i < 12; i++) { /* 1.2 s: about five beats */
    nap_s(0.1);
    double q = mn_liveness_silent_s(dir, 2, &real);
    if (q > worst) worst = q;
  }
  CHECK_MSG(worst < 3 * MN_LIVENESS_PERIOD_S, "the beating rank was silent %.2f s", worst);
  mn_liveness_stop();
  mn_liveness_silent_s(dir, 2, &real);
  nap_s(3 * MN_LIVENESS_PERIOD_S);
  s = mn_liveness_silent_s(dir, 2, &real);
  CHECK_MSG(s >= 2.9 * MN_LIVENESS_PERIOD_S, "stopped, yet silent only %.2f s", s);

  char cmd[200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
  return mn_test_result("test_liveness");
}
