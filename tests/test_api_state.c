/* test_api_state.c: snapshots and resume of the public API (mn/state.h, runtime/api/state.c).
 *
 * A trainer's state (parameters, AdamW's m and v, the step count, int, real and blob
 * attributes at their edges: INT64_MIN, -0.0, a denormal, NaN, an empty blob, a blob of
 * exactly 1 MiB) saved, changed, and resumed bitwise; what every rank holds after a resume
 * is rank 0's; a damaged newest snapshot skipped for the one before; a snapshot of another
 * shape or another optimizer refused with MN_ERR_DATA naming the tensor or the kind, nothing
 * changed; NaN parameters never saved; a second state on the same directory locked out;
 * misuse (NULL state, bad names, a blob too large, a bad reason, a kind mismatch) gets
 * MN_ERR_USAGE and a message naming it. Run as a plain process (world 1) and under mpirun
 * at world 2 (tests/CMakeLists.txt: test_api_state_np2). */
#include <dirent.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mn/mn.h>

#include "mn_api.h" /* the optimizer's states, to compare them */
#include "mn_test.h"
#include "mn_test_h5.h"

static int g_rank;

static int has(const char *words) { return strstr(mn_error_message(), words) != NULL; }

/* EXPECT: mn_test.h (on every rank: the statuses are agreed) */

/* ---- a trainer's state ----------------------------------------------------------------- */

typedef struct trainer {
  mn_params_t *p;
  mn_optimizer_t *o;
  mn_state_t *s;
} trainer_t;

static const int64_t g_dims[3][2] = {{3, 5}, {3, 1}, {7, 1}};

/* Tensors a.weight [rows x 5], a.bias [3], b [7]; AdamW (or SGD). */
static mn_status_t trainer_make(mn_world_t *w, int rows, mn_optimizer_choice_t kind, trainer_t *t) {
  static const char *names[3] = {"a.weight", "a.bias", "b"};
  memset(t, 0, sizeof *t);
  mn_status_t st = mn_params_create(w, &t->p);
  for (int i = 0; i < 3 && st == MN_OK; i++) {
    int64_t dims[2] = {i == 0 ? rows : g_dims[i][0], g_dims[i][1]};
    st = mn_params_add(t->p, names[i], i == 0 ? 2 : 1, dims,
                       i == 1 ? MN_PARAM_BIAS : MN_PARAM_WEIGHT, NULL);
  }
  if (st == MN_OK) st = mn_params_commit(t->p);
  mn_optim_opts_t oo = mn_optim_defaults();
  oo.kind = kind;
  oo.lr = 0.05;
  oo.weight_decay = 0.01;
  if (st == MN_OK) st = mn_optimizer_create(t->p, &oo, &t->o);
  for (int i = 0; i < 3 && st == MN_OK; i++) { /* values from the index: the same everywhere */
    float *v = mn_params_data(t->p, i);
    for (int64_t k = 0; k < mn_params_numel(t->p, i); k++) v[k] = 0.1f * (float)(k + 1) - 0.3f * i;
  }
  return st;
}

static void trainer_free(trainer_t *t) {
  mn_state_close(t->s);
  mn_optimizer_free(t->o);
  mn_params_free(t->p);
  memset(t, 0, sizeof *t);
}

/* n steps with made-up gradients (functions of the step and the index: the same on every
 * rank, so that their mean is that). */
static void steps(trainer_t *t, int n) {
  for (int k = 0; k < n; k++) {
    int64_t step = mn_optimizer_steps(t->o);
    mn_step_flags_t flags;
    CHECK(mn_grads_begin(t->p) == MN_OK);
    for (int i = 0; i < mn_params_count(t->p); i++) {
      float *g = mn_params_grad(t->p, i);
      for (int64_t j = 0; j < mn_params_numel(t->p, i); j++)
        g[j] = sinf((float)(step * 31 + i * 7 + j)) * 0.5f;
      CHECK(mn_grads_ready(t->p, i) == MN_OK);
    }
    CHECK(mn_grads_end(t->p, &flags) == MN_OK);
    CHECK(mn_optimizer_step(t->o, &flags) == MN_OK);
  }
}

/* A copy of the whole state's bytes: the flat parameter buffer and the optimizer's states. */
typedef struct image {
  float *buf[3];
  int64_t steps;
} image_t;

static void image_take(const trainer_t *t, image_t *im) {
  size_t n = (size_t)t->p->tensors.size;
  const float *src[3] = {t->p->params, t->o->optim.state[0], t->o->optim.state[1]};
  for (int b = 0; b < 1 + t->o->optim.kind->nstates; b++) {
    im->buf[b] = malloc(n * sizeof(float));
    memcpy(im->buf[b], src[b], n * sizeof(float));
  }
  im->steps = mn_optimizer_steps(t->o);
}

static int image_same(const trainer_t *t, const image_t *im) {
  size_t n = (size_t)t->p->tensors.size;
  const float *now[3] = {t->p->params, t->o->optim.state[0], t->o->optim.state[1]};
  int same = mn_optimizer_steps(t->o) == im->steps;
  for (int b = 0; b < 1 + t->o->optim.kind->nstates; b++)
    same = same && memcmp(now[b], im->buf[b], n * sizeof(float)) == 0;
  return same;
}

static void image_free(image_t *im) {
  for (int b = 0; b < 3; b++) free(im->buf[b]);
}

/* ---- files ----------------------------------------------------------------------------- */

static int count_snapshots(const char *dir) {
  int n = 0;
  DIR *d = opendir(dir);
  for (struct dirent *e; d && (e = readdir(d));) n += !strncmp(e->d_name, "step-", 5);
  if (d) closedir(d);
  return n;
}

/* Flip one byte of dataset name's data in path (rank 0). */
static int damage(const char *path, const char *name) {
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = f >= 0 ? H5Dopen2(f, name, H5P_DEFAULT) : -1;
  haddr_t off = d >= 0 ? H5Dget_offset(d) : HADDR_UNDEF;
  if (d >= 0) H5Dclose(d);
  if (f >= 0) H5Fclose(f);
  int fd = off != HADDR_UNDEF ? open(path, O_RDWR) : -1;
  unsigned char b = 0;
  int rc = fd >= 0 && pread(fd, &b, 1, (off_t)off + 2) == 1 ? 0 : -1;
  b ^= 0x10;
  if (rc == 0 && pwrite(fd, &b, 1, (off_t)off + 2) != 1) rc = -1;
  if (fd >= 0) close(fd);
  return rc;
}

/* ---- the tests ------------------------------------------------------------------------- */

static void misuse(trainer_t *t) {
  int64_t i = 0;
  double r = 0;
  size_t nb = 0;
  char big[64];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  EXPECT(mn_state_set_int(NULL, "a", 1), MN_ERR_USAGE, "NULL state");
  EXPECT(mn_state_get_int(NULL, "a", &i), MN_ERR_USAGE, "NULL state");
  EXPECT(mn_state_save(NULL, "stop", 1), MN_ERR_USAGE, "NULL state");
  EXPECT(mn_state_resume(NULL, NULL), MN_ERR_USAGE, "NULL state");
  mn_state_t *s = NULL;
  EXPECT(mn_state_open(t->p, NULL, "x", 0, &s), MN_ERR_USAGE, "NULL optimizer");
  EXPECT(mn_state_open(t->p, t->o, "x", -1, &s), MN_ERR_USAGE, "keep is -1");
  CHECK(s == NULL);
  s = t->s;
  EXPECT(mn_state_set_int(s, "", 1), MN_ERR_USAGE, "attribute name is empty");
  EXPECT(mn_state_set_int(s, NULL, 1), MN_ERR_USAGE, "attribute name is NULL");
  EXPECT(mn_state_set_real(s, "a/b", 1), MN_ERR_USAGE, "'a/b' holds '/'");
  EXPECT(mn_state_set_real(s, "a b", 1), MN_ERR_USAGE, "holds ' '");
  EXPECT(mn_state_set_int(s, ".hidden", 1), MN_ERR_USAGE, "begins with '.'");
  EXPECT(mn_state_set_int(s, big, 1), MN_ERR_USAGE, "too long");
  static unsigned char huge[(1 << 20) + 1];
  EXPECT(mn_state_set_blob(s, "huge", huge, sizeof huge), MN_ERR_USAGE,
         "1048577 bytes is too large");
  EXPECT(mn_state_set_blob(s, "null", NULL, 3), MN_ERR_USAGE, "NULL data");
  EXPECT(mn_state_save(s, "whenever", 1), MN_ERR_USAGE, "reason \"whenever\"");
  EXPECT(mn_state_get_int(s, "absent", &i), MN_ERR_NOINPUT, "no attribute absent");
  CHECK(mn_state_set_real(s, "kind.check", 2.5) == MN_OK);
  EXPECT(mn_state_get_int(s, "kind.check", &i), MN_ERR_USAGE, "is a real, not an int");
  EXPECT(mn_state_get_blob(s, "kind.check", NULL, 0, &nb), MN_ERR_USAGE, "not a blob");
  CHECK(mn_state_get_real(s, "kind.check", &r) == MN_OK && r == 2.5);
  i = 42;
  CHECK(mn_state_get_int(s, "absent", &i) == MN_ERR_NOINPUT && i == 42); /* a default stays */
}

static unsigned char g_blob[1 << 20]; /* exactly the largest */

static void set_attributes(mn_state_t *s, int variant) {
  CHECK(mn_state_set_int(s, "min", variant ? 0 : INT64_MIN) == MN_OK);
  CHECK(mn_state_set_int(s, "max", INT64_MAX - variant) == MN_OK);
  CHECK(mn_state_set_int(s, "odd", ((int64_t)1 << 53) + 1) == MN_OK); /* not a double's */
  CHECK(mn_state_set_int(s, "who", g_rank) == MN_OK);                 /* rank 0's is saved */
  CHECK(mn_state_set_real(s, "tenth", variant ? 0.2 : 0.1) == MN_OK);
  CHECK(mn_state_set_real(s, "negzero", -0.0) == MN_OK);
  CHECK(mn_state_set_real(s, "denormal", 4.9406564584124654e-324) == MN_OK);
  CHECK(mn_state_set_real(s, "nan", NAN) == MN_OK);
  CHECK(mn_state_set_real(s, "inf", -INFINITY) == MN_OK);
  for (size_t k = 0; k < sizeof g_blob; k++) g_blob[k] = (unsigned char)(k * 131 + 7 + variant);
  CHECK(mn_state_set_blob(s, "rng.state", g_blob, sizeof g_blob) == MN_OK);
  CHECK(mn_state_set_blob(s, "empty", g_blob, 0) == MN_OK);
}

static void check_attributes(const mn_state_t *s) {
  int64_t i = 0;
  double r = 0;
  size_t nb = 0;
  CHECK(mn_state_get_int(s, "min", &i) == MN_OK && i == INT64_MIN);
  CHECK(mn_state_get_int(s, "max", &i) == MN_OK && i == INT64_MAX);
  CHECK(mn_state_get_int(s, "odd", &i) == MN_OK && i == ((int64_t)1 << 53) + 1);
  CHECK(mn_state_get_int(s, "who", &i) == MN_OK && i == 0);
  CHECK(mn_state_get_real(s, "tenth", &r) == MN_OK && r == 0.1);
  CHECK(mn_state_get_real(s, "negzero", &r) == MN_OK && r == 0 && signbit(r));
  CHECK(mn_state_get_real(s, "denormal", &r) == MN_OK && r == 4.9406564584124654e-324);
  CHECK(mn_state_get_real(s, "nan", &r) == MN_OK && isnan(r));
  CHECK(mn_state_get_real(s, "inf", &r) == MN_OK && r == -INFINITY);
  static unsigned char back[(1 << 20) + 16];
  for (size_t k = 0; k < sizeof g_blob; k++) g_blob[k] = (unsigned char)(k * 131 + 7);
  CHECK(mn_state_get_blob(s, "rng.state", back, sizeof back, &nb) == MN_OK && nb == sizeof g_blob);
  CHECK(memcmp(back, g_blob, sizeof g_blob) == 0);
  CHECK(mn_state_get_blob(s, "rng.state", back, 10, &nb) == MN_OK && nb == sizeof g_blob);
  CHECK(mn_state_get_blob(s, "empty", NULL, 0, &nb) == MN_OK && nb == 0);
  CHECK(mn_state_get_real(s, "kind.check", &r) == MN_OK && r == 2.5); /* misuse()'s */
  CHECK(mn_state_get_int(s, "later", &i) == MN_ERR_NOINPUT);          /* set after the save: gone */
}

/* ---- a trainer that describes its run (mntrain's kind) ----------------------------------- */

/* fits: skip (or refuse, when arg says so) a run whose config has "model.x = 2" */
static mn_state_fit_t fits_x(void *arg, const char *path, const mn_state_run_t *run, char *why,
                             size_t len) {
  (void)path;
  if (!run->config || !strstr(run->config, "model.x = 2")) return MN_STATE_FITS;
  snprintf(why, len, "model.x is 2 in the snapshot");
  return *(const int *)arg ? MN_STATE_REFUSE : MN_STATE_SKIP;
}

/* A sample dataset of 40 rows, 5 features, labels 0..2 shifted by salt, at dir/name. */
static mn_data_t *dataset(mn_world_t *w, const char *dir, const char *name, int salt) {
  char path[1100];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (g_rank == 0) {
    float x[40 * 5];
    int32_t y[40];
    for (int i = 0; i < 40 * 5; i++) x[i] = (float)i * 0.01f;
    for (int i = 0; i < 40; i++) y[i] = (i + salt) % 3;
    mn_test_write_samples(path, x, y, 40, 5, 0, 0);
  }
  mn_agree(w, MN_OK, NULL);
  mn_data_opts_t o = {.batch = 4, .seed = 3};
  mn_data_t *d = NULL;
  EXPECT(mn_data_open_samples(w, path, 5, 3, &o, &d), MN_OK, NULL);
  return d;
}

static mn_state_run_t run_desc(const char *config, const mn_data_t *d) {
  mn_state_run_t r = {.config = config,
                      .data = d,
                      .epoch = 0,
                      .epoch_pos = 8,
                      .samples = 88,
                      .batch = 4,
                      .model_seed = 11,
                      .data_seed = 3,
                      .run_hash = 77,
                      .loss = 0.5,
                      .train_loss = 0.25,
                      .val_loss = NAN,
                      .val_accuracy = 0.75};
  return r;
}

static void described(mn_world_t *w, const char *top) {
  char dir[1100];
  snprintf(dir, sizeof dir, "%s/run", top);
  mn_data_t *d = dataset(w, top, "a.h5", 0), *other = dataset(w, top, "b.h5", 1);
  const char *conf1 = "model.x = 1\nmodel.y = 5\n", *conf2 = "model.x = 2\nmodel.y = 5\n";
  int refuse = 0, resumed = -1;
  trainer_t t;
  mn_state_run_t got;
  /* REQUIRE in an empty directory; no run before a resume */
  CHECK(trainer_make(w, 3, MN_SGD, &t) == MN_OK);
  CHECK(mn_state_open(t.p, t.o, dir, 0, &t.s) == MN_OK);
  EXPECT(mn_state_get_run(t.s, &got), MN_ERR_NOINPUT, "no snapshot was resumed");
  EXPECT(mn_state_resume_mode(t.s, MN_STATE_RESUME_REQUIRE, &resumed), MN_ERR_NOINPUT,
         g_rank == 0 ? "no snapshot to resume from" : NULL);
  mn_state_run_t bad = run_desc(conf1, d);
  bad.epoch_pos = -1;
  EXPECT(mn_state_set_run(t.s, &bad), MN_ERR_USAGE, "negative position");
  /* a described snapshot, of conf1 over d, after 3 steps */
  mn_state_run_t r = run_desc(conf1, d);
  CHECK(mn_state_set_run(t.s, &r) == MN_OK);
  r.epoch = 1; /* a position past the steps taken: no file mn could not read back */
  CHECK(mn_state_set_run(t.s, &r) == MN_OK);
  EXPECT(mn_state_save(t.s, "epoch", 1), MN_ERR_USAGE, g_rank == 0 ? "past its 0 steps" : NULL);
  r.epoch = 0;
  CHECK(mn_state_set_run(t.s, &r) == MN_OK);
  steps(&t, 3);
  CHECK(mn_state_set_int(t.s, "extra", 9) == MN_OK);
  EXPECT(mn_state_save(t.s, "epoch", 1), MN_OK, NULL);
  EXPECT(mn_state_poll(t.s), MN_OK, NULL);
  trainer_free(&t);
  /* resumed by the same description: every field back, on every rank */
  CHECK(trainer_make(w, 3, MN_SGD, &t) == MN_OK);
  CHECK(mn_state_open(t.p, t.o, dir, 0, &t.s) == MN_OK);
  CHECK(mn_state_set_run(t.s, &r) == MN_OK && mn_state_set_fits(t.s, fits_x, &refuse) == MN_OK);
  EXPECT(mn_state_resume(t.s, &resumed), MN_OK, NULL);
  CHECK(resumed == 1 && mn_optimizer_steps(t.o) == 3);
  EXPECT(mn_state_get_run(t.s, &got), MN_OK, NULL);
  CHECK_MSG(got.config && !strncmp(got.config, conf1, strlen(conf1)) &&
                strstr(got.config, "user.int.extra = 9"),
            "config: %s", got.config ? got.config : "(null)");
  CHECK(got.epoch == 0 && got.epoch_pos == 8 && got.samples == 88 && got.batch == 4);
  CHECK(got.model_seed == 11 && got.data_seed == 3 && got.run_hash == 77);
  CHECK(got.loss == 0.5 && got.train_loss == 0.25 && isnan(got.val_loss) &&
        got.val_accuracy == 0.75);
  CHECK(got.world == mn_world_size(w) && got.elapsed_s >= 0 && !got.data);
  int64_t extra = 0;
  CHECK(mn_state_get_int(t.s, "extra", &extra) == MN_OK && extra == 9);
  trainer_free(&t);
  /* the trainer's fits function: conf2's run skips it (AUTO), refuses it (REQUIRE) */
  CHECK(trainer_make(w, 3, MN_SGD, &t) == MN_OK);
  CHECK(mn_state_open(t.p, t.o, dir, 0, &t.s) == MN_OK);
  CHECK(mn_state_set_run(t.s, &r) == MN_OK && mn_state_set_fits(t.s, fits_x, &refuse) == MN_OK);
  EXPECT(mn_state_resume(t.s, &resumed), MN_OK, NULL);
  steps(&t, 1);
  r.config = conf2;
  CHECK(mn_state_set_run(t.s, &r) == MN_OK);
  EXPECT(mn_state_save(t.s, "epoch", 1), MN_OK, NULL); /* step 4, of conf2: the newest */
  r.config = conf1;
  CHECK(mn_state_set_run(t.s, &r) == MN_OK);
  EXPECT(mn_state_resume(t.s, &resumed), MN_OK, NULL); /* conf2's skipped: step 3's */
  CHECK(resumed == 1 && mn_optimizer_steps(t.o) == 3);
  refuse = 1;
  EXPECT(mn_state_resume_mode(t.s, MN_STATE_RESUME_REQUIRE, &resumed), MN_ERR_DATA,
         g_rank == 0 ? "step-000000004.h5: model.x is 2 in the snapshot" : NULL);
  EXPECT(mn_state_resume_mode(t.s, MN_STATE_RESUME_AUTO, &resumed), MN_OK, NULL);
  CHECK(mn_optimizer_steps(t.o) == 3);
  /* another training set: skipped, naming what differs; none left */
  r.data = other;
  CHECK(mn_state_set_run(t.s, &r) == MN_OK && mn_state_set_fits(t.s, NULL, NULL) == MN_OK);
  EXPECT(mn_state_resume(t.s, &resumed), MN_ERR_DATA, g_rank == 0 ? "none can be resumed" : NULL);
  if (g_rank == 0)
    CHECK_MSG(has("step-000000004.h5: another training set: the labels differ"), "%s",
              mn_error_message());
  /* a trainer that describes nothing takes none of them */
  mn_state_set_run(t.s, NULL);
  EXPECT(mn_state_resume(t.s, &resumed), MN_ERR_DATA,
         g_rank == 0 ? "not written through mn's API" : NULL);
  /* NEVER: set aside, a fresh start */
  resumed = -1;
  EXPECT(mn_state_resume_mode(t.s, MN_STATE_RESUME_NEVER, &resumed), MN_OK, NULL);
  CHECK(resumed == 0);
  if (g_rank == 0) CHECK(count_snapshots(dir) == 0);
  trainer_free(&t);
  mn_data_close(d);
  mn_data_close(other);
  mn_agree(w, MN_OK, NULL);
  if (g_rank == 0) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s/a.h5' '%s/b.h5'", dir, top, top);
    CHECK(system(cmd) == 0);
  }
}

int main(int argc, char **argv) {
  mn_world_t *w = NULL;
  mn_init_opts_t init = {.device = MN_COMPUTE_CPU, .threads = 1};
  if (mn_init(&argc, &argv, &init, &w) != MN_OK) {
    fprintf(stderr, "test_api_state: mn_init: %s\n", mn_error_message());
    return mn_finish(w, MN_ERR_INTERNAL);
  }
  g_rank = mn_test_rank = mn_world_rank(w);
  char dir[512] = "", path[1024];
  if (g_rank == 0) {
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/mn-api-state-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
  }
  CHECK(mn_broadcast(w, dir, sizeof dir, MN_BYTE, 0) == MN_OK);

  /* a fresh directory: nothing to resume */
  trainer_t t;
  CHECK(trainer_make(w, 3, MN_ADAMW, &t) == MN_OK);
  int resumed = -1;
  CHECK(mn_state_open(t.p, t.o, dir, 0, &t.s) == MN_OK);
  CHECK(mn_state_resume(t.s, &resumed) == MN_OK && resumed == 0);
  misuse(&t);

  /* a second state on the directory, while this one holds it (rank 0 takes the lock) */
  mn_state_t *other = NULL;
  EXPECT(mn_state_open(t.p, t.o, dir, 0, &other), MN_ERR_LOCKED, NULL);
  CHECK(other == NULL);

  /* save at step 5; change everything; resume: step 5's state, bitwise */
  steps(&t, 5);
  set_attributes(t.s, 0);
  CHECK(mn_state_save(t.s, "interval", 0) == MN_OK); /* the background write */
  image_t five;
  image_take(&t, &five);
  steps(&t, 3);
  set_attributes(t.s, 1);
  CHECK(mn_state_set_real(t.s, "kind.check", 1) == MN_OK);
  CHECK(mn_state_set_int(t.s, "later", 1) == MN_OK);
  CHECK(mn_state_save(t.s, "stop", 1) == MN_OK); /* step 8, waited for */
  if (g_rank == 0) CHECK(count_snapshots(dir) == 2);
  CHECK(!image_same(&t, &five));
  if (g_rank == 0) { /* the newest damaged: skipped for step 5's */
    snprintf(path, sizeof path, "%s/step-000000008.h5", dir);
    CHECK(damage(path, "optim/adamw/m/b") == 0);
  }
  CHECK(mn_state_resume(t.s, &resumed) == MN_OK && resumed == 1);
  CHECK_MSG(image_same(&t, &five), "rank %d: the state resumed is not step 5's, bitwise", g_rank);
  CHECK(mn_optimizer_steps(t.o) == 5);
  check_attributes(t.s);

  /* NaN parameters are never saved, on any rank's word */
  mn_params_data(t.p, 2)[3] = NAN;
  EXPECT(mn_state_save(t.s, "interval", 1), MN_ERR_NONFINITE, NULL);
  if (g_rank == 0) CHECK(has("1 parameters") && has("no interval snapshot written"));
  if (g_rank == 0) CHECK(count_snapshots(dir) == 2);
  trainer_free(&t);
  if (g_rank == 0) unlink(path); /* the damaged one: the newest is step 5's again */

  /* another shape: refused, naming the tensor; nothing changed */
  CHECK(trainer_make(w, 4, MN_ADAMW, &t) == MN_OK);
  CHECK(mn_state_open(t.p, t.o, dir, 0, &t.s) == MN_OK);
  image_t fresh;
  image_take(&t, &fresh);
  resumed = -1;
  EXPECT(mn_state_resume(t.s, &resumed), MN_ERR_DATA, NULL);
  if (g_rank == 0)
    CHECK_MSG(has("tensor params/a.weight is 3x5 in the snapshot, 4x5 here") && has("none fits"),
              "%s", mn_error_message());
  CHECK(resumed == -1 && image_same(&t, &fresh));
  image_free(&fresh);
  trainer_free(&t);

  /* another optimizer: refused, naming both */
  CHECK(trainer_make(w, 3, MN_SGD, &t) == MN_OK);
  CHECK(mn_state_open(t.p, t.o, dir, 0, &t.s) == MN_OK);
  EXPECT(mn_state_resume(t.s, &resumed), MN_ERR_DATA, NULL);
  if (g_rank == 0)
    CHECK_MSG(has("optimizer adamw, and this trainer uses sgd"), "%s", mn_error_message());
  trainer_free(&t);

  /* the same trainer again, in a new state: step 5's, bitwise (a process that starts over) */
  CHECK(trainer_make(w, 3, MN_ADAMW, &t) == MN_OK);
  CHECK(mn_state_open(t.p, t.o, dir, 0, &t.s) == MN_OK);
  CHECK(mn_state_resume(t.s, &resumed) == MN_OK && resumed == 1);
  CHECK_MSG(image_same(&t, &five), "rank %d: a new state's resume is not step 5's", g_rank);
  check_attributes(t.s);
  trainer_free(&t);
  image_free(&five);
  described(w, dir);

  if (g_rank == 0) {
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));)
      if (e->d_name[0] != '.' || strlen(e->d_name) > 2) {
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
      }
    if (d) closedir(d);
    rmdir(dir);
  }
  int failed = mn_test_failures;
  CHECK(mn_allreduce(w, &failed, 1, MN_INT32, MN_MAX) == MN_OK);
  mn_test_failures = failed; /* a failure on any rank fails every rank */
  int rc = mn_test_result("test_api_state");
  mn_finish(w, MN_OK);
  return rc;
}
