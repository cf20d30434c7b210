/* ranks: 2 */
/* test_api_metrics.c: the public metrics API (mn/metrics.h) at world 2: the JSON lines a
 * trainer of its own gets (start with both ranks' hosts and its config pairs by section,
 * step records with the rate and elapsed time filled in, an epoch record, the summary
 * counted from the records), a resumed run adding to the file, and failures agreed on
 * every rank: a file rank 0 cannot create and one whose writes fail (/dev/full), both
 * MN_ERR_IO on both ranks, and bad options. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mn/mn.h>

#include "mn_test.h"

static int g_rank;

/* The file's lines, read whole. out: lines[max] (each malloc'd), their count. */
static int read_lines(const char *path, char **lines, int max) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  int n = 0;
  char buf[8192];
  while (n < max && fgets(buf, sizeof buf, f)) lines[n++] = strdup(buf);
  fclose(f);
  return n;
}

static void free_lines(char **lines, int n) {
  for (int i = 0; i < n; i++) free(lines[i]);
}

/* A run of 3 steps (losses 3, 2, 1) and an epoch, recorded. */
static mn_status_t run(mn_world_t *w, const mn_metrics_opts_t *o) {
  mn_metrics_t *m;
  mn_status_t st = mn_metrics_open(w, o, &m);
  if (st != MN_OK) return st;
  for (int s = 1; s <= 3 && st == MN_OK; s++) {
    mn_step_record_t r = {1, s, 0, o->start_step + s, 4.0 - s, 0.1, 0, NAN, 0, 0, 0};
    usleep(2000);
    st = mn_metrics_step(m, &r);
  }
  mn_epoch_record_t e = {1, o->start_step + 3, 2.0, 1.5, 0.75, 0};
  if (st == MN_OK) st = mn_metrics_epoch(m, &e);
  return mn_metrics_close(m, -1, st);
}

static void records(mn_world_t *w, const char *path) {
  const char *config[] = {"model.width=8", "optim.lr=0.1", "model.depth=2", "note=x", NULL};
  mn_metrics_opts_t o = {path, NULL, MN_PROGRESS_PLAIN, 6, 3, 16, 0, 0, 0, 0, NULL, config};
  EXPECT(run(w, &o), MN_OK, NULL);
  if (g_rank == 0) {
    char *l[16];
    int n = read_lines(path, l, 16);
    CHECK_MSG(n == 6, "%d lines in %s", n, path);
    if (n == 6) {
      CHECK(strstr(l[0], "\"event\":\"start\"") && strstr(l[0], "\"world\":2"));
      CHECK(strstr(l[0], "\"hosts\":[\"") && strstr(l[0], "\"resumed_from\":null"));
      CHECK_MSG(strstr(l[0], "\"config\":{\"model\":{\"width\":\"8\",\"depth\":\"2\"},\"optim\":"
                             "{\"lr\":\"0.1\"},\"user\":{\"note\":\"x\"}}"),
                "start record: %s", l[0]);
      for (int s = 1; s <= 3; s++) {
        char want[64];
        snprintf(want, sizeof want, "\"epoch\":1,\"step\":%d,\"global_step\":%d", s, s);
        CHECK_MSG(strstr(l[s], "\"event\":\"step\"") && strstr(l[s], want), "step %d: %s", s, l[s]);
        CHECK(strstr(l[s], "\"grad_norm\":null") && !strstr(l[s], "\"samples_per_s\":null"));
        CHECK(!strstr(l[s], "\"samples_per_s\":0,") && !strstr(l[s], "\"elapsed_s\":0,"));
      }
      CHECK(strstr(l[4], "\"event\":\"epoch\"") && strstr(l[4], "\"val_accuracy\":0.75"));
      CHECK_MSG(strstr(l[5], "\"event\":\"summary\"") && strstr(l[5], "\"status\":\"done\"") &&
                    strstr(l[5], "\"steps\":3") && strstr(l[5], "\"samples\":48") &&
                    strstr(l[5], "\"first_loss\":3") && strstr(l[5], "\"final_loss\":1") &&
                    strstr(l[5], "\"compute_s\":null"),
                "summary: %s", l[5]);
    }
    free_lines(l, n);
  }
  /* a resumed run: added to the file, its steps counted on from the snapshot's */
  mn_metrics_opts_t r = o;
  r.start_step = 3;
  r.resumed_from = "snap/step-3.h5";
  r.config = NULL;
  EXPECT(run(w, &r), MN_OK, NULL);
  if (g_rank == 0) {
    char *l[16];
    int n = read_lines(path, l, 16);
    CHECK_MSG(n == 12, "%d lines after the resumed run", n);
    if (n == 12) {
      CHECK(strstr(l[6], "\"resumed_from\":\"snap/step-3.h5\"") && strstr(l[6], "\"config\":{}"));
      CHECK(strstr(l[9], "\"global_step\":6") && strstr(l[11], "\"start_step\":3"));
    }
    free_lines(l, n);
  }
}

static void failures(mn_world_t *w) {
  mn_metrics_t *m = (mn_metrics_t *)1;
  mn_metrics_opts_t o = {
      "/nonexistent-dir/m.jsonl", NULL, MN_PROGRESS_OFF, 0, 0, 0, 0, 0, 0, 0, NULL, NULL};
  EXPECT(mn_metrics_open(w, &o, &m), MN_ERR_IO, g_rank == 0 ? "/nonexistent-dir/m.jsonl" : NULL);
  CHECK(m == NULL);
  o.path = "/dev/full"; /* opens, and every flush fails (ENOSPC): the run goes on, the close says */
  EXPECT(run(w, &o), MN_ERR_IO, g_rank == 0 ? "/dev/full" : NULL);
  o.path = NULL;
  o.progress = (mn_progress_t)7;
  EXPECT(mn_metrics_open(w, &o, &m), MN_ERR_USAGE, "progress 7");
  o.progress = MN_PROGRESS_OFF;
  o.samples_per_step = -1;
  EXPECT(mn_metrics_open(w, &o, &m), MN_ERR_USAGE, "negative");
  EXPECT(mn_metrics_step(NULL, NULL), MN_ERR_USAGE, "mn_metrics_step");
  /* a failed run's status comes back from the close as it was */
  o.samples_per_step = 0;
  EXPECT(mn_metrics_open(w, &o, &m), MN_OK, NULL);
  EXPECT(mn_metrics_close(m, 0, MN_ERR_PREEMPTED), MN_ERR_PREEMPTED, NULL);
}

int main(int argc, char **argv) {
  mn_init_opts_t io = {.device = MN_COMPUTE_CPU, .threads = 1};
  mn_world_t *w;
  if (mn_init(&argc, &argv, &io, &w) != MN_OK) return mn_finish(w, MN_ERR_INTERNAL);
  g_rank = mn_test_rank = mn_world_rank(w);
  char dir[64] = "/tmp/mn_api_metrics_XXXXXX", path[128];
  if (g_rank == 0) CHECK(mkdtemp(dir) != NULL);
  EXPECT(mn_broadcast(w, dir, sizeof dir, MN_BYTE, 0), MN_OK, NULL);
  snprintf(path, sizeof path, "%s/m.jsonl", dir);
  records(w, path);
  failures(w);
  mn_agree(w, MN_OK, NULL);
  if (g_rank == 0) {
    unlink(path);
    rmdir(dir);
  }
  int failed = mn_test_failures;
  mn_finish(w, MN_OK);
  return failed ? 1 : 0;
}
