/* test_config.c: train.conf parsing (runtime/config/config.c) and its documentation.
 *
 * Good files (defaults, every type, comments, white space, bool spellings, lists), every
 * kind of error with the exact file:line and key in its message, --set overrides, the
 * cross-checks (min_lr against lr, nesterov against momentum), optimizer.no_decay resolved for
 * the optimizer's kind, the defaults a snapshot that predates a key is taken to have, the
 * shape hash, and that docs/config.md documents every key of the schema with its type,
 * default and range in the table of its section. Fixture files are written into a fresh
 * temporary directory. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mn_config.h"
#include "mn_log.h"
#include "mn_test.h"

static char g_dir[256];
static int g_nfiles;

/* Write text to a new file in the scratch directory; returns its path (static storage). */
static const char *fixture(const char *text) {
  static char paths[64][512];
  char *path = paths[g_nfiles % 64];
  snprintf(path, 512, "%s/t%02d.conf", g_dir, g_nfiles++);
  FILE *f = fopen(path, "w");
  if (!f) {
    perror(path);
    exit(2);
  }
  fputs(text, f);
  fclose(f);
  return path;
}

#define MINIMAL "[model]\nlayers = 4,3\n[data]\ntrain = d.h5\n[schedule]\nepochs = 2\n"

/* Load text (+ sets) and check that it fails with status st and a message that contains
 * each fragment; "%F" in a fragment stands for the fixture's path. Also checks that cfg is
 * left alone and that mn_error_message() holds the same text. */
static void expect_error_at(int line, const char *text, const char *const *sets, int nsets,
                            mn_status_t st, ...) {
  const char *path = text ? fixture(text) : NULL;
  mn_config_t cfg, before;
  char err[2048];
  memset(&cfg, 0xAB, sizeof cfg);
  before = cfg;
  mn_status_t got = mn_config_load(path, sets, nsets, &cfg, err, sizeof err);
  CHECK_MSG(got == st, "line %d: status %d, want %d (%s)", line, got, st, err);
  CHECK_MSG(memcmp(&cfg, &before, sizeof cfg) == 0, "line %d: cfg written on failure", line);
  CHECK_MSG(strcmp(err, mn_error_message()) == 0, "line %d: err '%s' vs last error '%s'", line, err,
            mn_error_message());
  va_list ap;
  va_start(ap, st);
  for (const char *frag; (frag = va_arg(ap, const char *)) != NULL;) {
    char want[1024];
    const char *f = strstr(frag, "%F");
    if (f)
      snprintf(want, sizeof want, "%.*s%s%s", (int)(f - frag), frag, path, f + 2);
    else
      snprintf(want, sizeof want, "%s", frag);
    CHECK_MSG(strstr(err, want) != NULL, "line %d: message '%s' lacks '%s'", line, err, want);
  }
  va_end(ap);
}
#define EXPECT_ERROR(text, sets, nsets, st, ...)                                                   \
  expect_error_at(__LINE__, text, sets, nsets, st, __VA_ARGS__, (const char *)NULL)

static mn_status_t load_text(const char *text, const char *const *sets, int nsets, mn_config_t *cfg,
                             char *err) {
  return mn_config_load(text ? fixture(text) : NULL, sets, nsets, cfg, err, 2048);
}

static void test_defaults(void) {
  mn_config_t cfg;
  char err[2048] = "junk";
  const char *path = fixture(MINIMAL);
  CHECK(mn_config_load(path, NULL, 0, &cfg, err, sizeof err) == MN_OK);
  CHECK(err[0] == '\0');
  CHECK(strcmp(cfg.path, path) == 0);
  CHECK(cfg.model.type == MN_MODEL_MLP);
  CHECK(cfg.model.nlayers == 2 && cfg.model.layers[0] == 4 && cfg.model.layers[1] == 3);
  CHECK(cfg.model.seed == 1);
  CHECK(strcmp(cfg.data.train, "d.h5") == 0);
  CHECK(strcmp(cfg.data.val, "") == 0);
  CHECK(cfg.data.batch_size == 128);
  CHECK(cfg.data.remainder == MN_REMAINDER_DROP);
  CHECK(cfg.data.shuffle == 1);
  CHECK(cfg.data.block_size == 256);
  CHECK(cfg.data.shuffle_blocks == 16);
  CHECK(cfg.data.prefetch == 4);
  CHECK(cfg.data.seed == 1);
  CHECK(cfg.optimizer.kind == MN_OPTIM_SGD);
  CHECK(cfg.optimizer.lr == 0.1);
  CHECK(cfg.optimizer.momentum == 0.9);
  CHECK(cfg.optimizer.nesterov == 0);
  CHECK(cfg.optimizer.beta1 == 0.9);
  CHECK(cfg.optimizer.beta2 == 0.999);
  CHECK(cfg.optimizer.eps == 1e-8);
  CHECK(cfg.optimizer.weight_decay == 0.0);
  CHECK(strcmp(cfg.optimizer.no_decay, "auto") == 0);
  CHECK(cfg.optimizer.no_decay_mask == 0); /* auto under sgd: every tensor is decayed */
  CHECK(cfg.optimizer.accum_steps == 1);
  CHECK(cfg.optimizer.clip_norm == 0.0);
  CHECK(cfg.schedule.epochs == 2);
  CHECK(cfg.schedule.max_steps == 0);
  CHECK(cfg.schedule.lr_schedule == MN_LR_CONSTANT);
  CHECK(cfg.schedule.warmup_steps == 0);
  CHECK(cfg.schedule.step_epochs == 30);
  CHECK(cfg.schedule.step_gamma == 0.1);
  CHECK(cfg.schedule.min_lr == 0.0);
  CHECK(cfg.comm.bucket_mb == 25.0);
  CHECK(cfg.comm.backend == MN_BACKEND_AUTO);
  CHECK(cfg.log.interval == 50);
  CHECK(cfg.log.level == MN_LOG_INFO);
  CHECK(cfg.log.progress == MN_PROGRESS_AUTO);
  CHECK(strcmp(cfg.log.metrics, "") == 0);
}

static void test_full_file(void) {
  /* BOM, CRLF, comments of both kinds, inline comments, indentation, "key: value",
   * section headers with blanks, mixed-case enum and bool values. */
  const char *text = "\xEF\xBB\xBF; a full file\r\n"
                     "# another comment\n"
                     "\n"
                     "[ model ]\n"
                     "  layers =  784 , 1024,1024,  10   ; widths\n"
                     "seed = 18446744073709551615\n"
                     "[data]\n"
                     "train = /data/shards/train-*.h5\n"
                     "\tval: /data/val.h5\n"
                     "batch_size = 64\n"
                     "remainder = PAD\n"
                     "shuffle = Off\n"
                     "block_size = 16777216\n"
                     "shuffle_blocks = 65536\n"
                     "prefetch = 256\n"
                     "seed = 42\n"
                     "[optimizer]\n"
                     "lr = 1e-2\n"
                     "momentum = 0\n"
                     "weight_decay = 5e-4\n"
                     "[schedule]\n"
                     "epochs = 90\n"
                     "max_steps = 9000000000\n"
                     "lr_schedule = cosine\n"
                     "warmup_steps = 500\n"
                     "step_epochs = 1\n"
                     "step_gamma = 1\n"
                     "min_lr = 0.001\n"
                     "[comm]\n"
                     "bucket_mb = 0.5\n"
                     "backend = mpi\n"
                     "[log]\n"
                     "interval = 1000000000\n"
                     "level = debug\n"
                     "progress = plain\n"
                     "metrics = out/metrics.jsonl\n";
  mn_config_t cfg;
  char err[2048];
  CHECK_MSG(load_text(text, NULL, 0, &cfg, err) == MN_OK, "%s", err);
  CHECK(cfg.model.nlayers == 4);
  CHECK(cfg.model.layers[0] == 784 && cfg.model.layers[1] == 1024 && cfg.model.layers[2] == 1024 &&
        cfg.model.layers[3] == 10);
  CHECK(cfg.model.seed == UINT64_MAX);
  CHECK(strcmp(cfg.data.train, "/data/shards/train-*.h5") == 0);
  CHECK(strcmp(cfg.data.val, "/data/val.h5") == 0);
  CHECK(cfg.data.batch_size == 64);
  CHECK(cfg.data.remainder == MN_REMAINDER_PAD);
  CHECK(cfg.data.shuffle == 0);
  CHECK(cfg.data.block_size == 1 << 24);
  CHECK(cfg.data.shuffle_blocks == 65536);
  CHECK(cfg.data.prefetch == 256);
  CHECK(cfg.data.seed == 42);
  CHECK(cfg.optimizer.lr == 0.01);
  CHECK(cfg.optimizer.momentum == 0.0);
  CHECK(cfg.optimizer.weight_decay == 5e-4);
  CHECK(cfg.schedule.epochs == 90);
  CHECK(cfg.schedule.max_steps == INT64_C(9000000000));
  CHECK(cfg.schedule.lr_schedule == MN_LR_COSINE);
  CHECK(cfg.schedule.warmup_steps == 500);
  CHECK(cfg.schedule.step_epochs == 1);
  CHECK(cfg.schedule.step_gamma == 1.0);
  CHECK(cfg.schedule.min_lr == 0.001);
  CHECK(cfg.comm.bucket_mb == 0.5);
  CHECK(cfg.comm.backend == MN_BACKEND_MPI);
  CHECK(cfg.log.interval == 1000000000);
  CHECK(cfg.log.level == MN_LOG_DEBUG);
  CHECK(cfg.log.progress == MN_PROGRESS_PLAIN);
  CHECK(strcmp(cfg.log.metrics, "out/metrics.jsonl") == 0);
}

static void test_bools(void) {
  static const char *const yes[] = {"true", "TRUE", "yes", "Yes", "on", "ON", "1"};
  static const char *const no[] = {"false", "False", "no", "NO", "off", "oFF", "0"};
  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
    for (int want = 0; want <= 1; want++) {
      char text[256], err[2048];
      mn_config_t cfg;
      snprintf(text, sizeof text, MINIMAL "[data]\nshuffle = %s\n", want ? yes[i] : no[i]);
      CHECK_MSG(load_text(text, NULL, 0, &cfg, err) == MN_OK, "%s", err);
      CHECK_MSG(cfg.data.shuffle == want, "shuffle = %s", want ? yes[i] : no[i]);
    }
  }
  EXPECT_ERROR(MINIMAL "[data]\nshuffle = maybe\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [data] shuffle: expected a boolean", "got 'maybe'");
}

static void test_file_errors(void) {
  /* unknown keys and sections, with and without suggestions */
  EXPECT_ERROR("[model]\nlayers = 4,3\n[data]\ntrain = d.h5\nbatch_sise = 4\n", NULL, 0,
               MN_ERR_CONFIG,
               "%F:5: unknown key 'batch_sise' in [data] (did you mean 'batch_size'?)");
  EXPECT_ERROR("[data]\nfrobnicate = 4\n", NULL, 0, MN_ERR_CONFIG,
               "%F:2: unknown key 'frobnicate' in [data]");
  EXPECT_ERROR("[schedule]\nlr = 0.4\n", NULL, 0, MN_ERR_CONFIG,
               "%F:2: unknown key 'lr' in [schedule] (did you mean [optimizer] lr?)");
  EXPECT_ERROR("[data]\ntrain = x\n\n[modle]\nlayers = 4,3\n", NULL, 0, MN_ERR_CONFIG,
               "%F:4: unknown section [modle] (did you mean [model]?)");
  EXPECT_ERROR("[whatever]\n", NULL, 0, MN_ERR_CONFIG, "%F:1: unknown section [whatever]");

  /* bad types */
  EXPECT_ERROR(MINIMAL "[data]\nbatch_size = abc\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [data] batch_size: expected an integer, got 'abc'");
  EXPECT_ERROR(MINIMAL "[data]\nbatch_size = 64 # per rank\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [data] batch_size: expected an integer, got '64 # per rank'");
  EXPECT_ERROR(MINIMAL "[data]\nbatch_size = 12.5\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [data] batch_size: expected an integer, got '12.5'");
  EXPECT_ERROR(MINIMAL "[data]\nbatch_size =\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [data] batch_size: expected an integer, got ''");
  EXPECT_ERROR(MINIMAL "[optimizer]\nlr = fast\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [optimizer] lr: expected a number, got 'fast'");
  EXPECT_ERROR(MINIMAL "[optimizer]\nlr = nan\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [optimizer] lr: expected a finite number, got 'nan'");
  EXPECT_ERROR(MINIMAL "[optimizer]\nmomentum = 1e999\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [optimizer] momentum: expected a finite number, got '1e999'");
  EXPECT_ERROR(MINIMAL "[data]\nseed = -1\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [data] seed: expected a non-negative integer, got '-1'");
  EXPECT_ERROR(MINIMAL "[model]\nseed = 18446744073709551616\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [model] seed: 18446744073709551616 is out of range");

  /* out of range, inclusive and exclusive bounds, and integer overflow */
  EXPECT_ERROR(MINIMAL "[data]\nbatch_size = 0\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [data] batch_size: 0 is out of range (1 to 1048576)");
  EXPECT_ERROR(MINIMAL "[data]\nbatch_size = 1048577\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [data] batch_size: 1048577 is out of range (1 to 1048576)");
  EXPECT_ERROR(MINIMAL "[data]\nbatch_size = 99999999999999999999\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [data] batch_size: 99999999999999999999 is out of range (1 to 1048576)");
  EXPECT_ERROR(MINIMAL "[optimizer]\nlr = 0\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [optimizer] lr: 0 is out of range (more than 0, at most 100)");
  EXPECT_ERROR(MINIMAL "[optimizer]\nlr = 100.5\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [optimizer] lr: 100.5 is out of range");
  EXPECT_ERROR(MINIMAL "[optimizer]\nmomentum = 1\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [optimizer] momentum: 1 is out of range (at least 0, less than 1)");
  EXPECT_ERROR(MINIMAL "[schedule]\nmax_steps = -1\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [schedule] max_steps: -1 is out of range (at least 0)");
  EXPECT_ERROR(MINIMAL "[comm]\nbucket_mb = 0\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [comm] bucket_mb: 0 is out of range (more than 0, at most 4096)");
  EXPECT_ERROR(MINIMAL "[schedule]\nstep_gamma = 0\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [schedule] step_gamma: 0 is out of range");

  /* enums */
  EXPECT_ERROR(MINIMAL "[data]\nremainder = maybe\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [data] remainder: 'maybe' is not one of drop, pad");
  EXPECT_ERROR(MINIMAL "[log]\nlevel = verbose\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [log] level: 'verbose' is not one of error, warn, info, debug");
  EXPECT_ERROR(MINIMAL "[snapshot]\non_error = ignore\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [snapshot] on_error: 'ignore' is not one of stop, continue");

  /* strings */
  EXPECT_ERROR("[model]\nlayers = 4,3\n[data]\ntrain =\n[schedule]\nepochs = 1\n", NULL, 0,
               MN_ERR_CONFIG, "%F:4: [data] train: must not be empty");

  /* lists */
  EXPECT_ERROR("[model]\nlayers = 784,,10\n", NULL, 0, MN_ERR_CONFIG,
               "%F:2: [model] layers: entry 2 is empty");
  EXPECT_ERROR("[model]\nlayers = 784,10,\n", NULL, 0, MN_ERR_CONFIG,
               "%F:2: [model] layers: entry 3 is empty");
  EXPECT_ERROR("[model]\nlayers = 784,ten\n", NULL, 0, MN_ERR_CONFIG,
               "%F:2: [model] layers: entry 2: expected an integer, got 'ten'");
  EXPECT_ERROR("[model]\nlayers = 784,0,10\n", NULL, 0, MN_ERR_CONFIG,
               "%F:2: [model] layers: entry 2 (0) is out of range (1 to 1048576)");
  EXPECT_ERROR("[model]\nlayers = 784\n", NULL, 0, MN_ERR_CONFIG,
               "%F:2: [model] layers: needs at least 2 entries");
  EXPECT_ERROR("[model]\nlayers = 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,"
               "24,25,26,27,28,29,30,31,32,33\n",
               NULL, 0, MN_ERR_CONFIG, "%F:2: [model] layers: more than 32 entries");

  /* duplicates and missing keys */
  EXPECT_ERROR(MINIMAL "[data]\nbatch_size = 4\n\n[data]\nbatch_size = 8\n", NULL, 0, MN_ERR_CONFIG,
               "%F:11: [data] batch_size is set twice (first at line 8)");
  EXPECT_ERROR("[model]\nlayers = 4,3\n[data]\ntrain = d.h5\n", NULL, 0, MN_ERR_CONFIG,
               "%F: missing required key [schedule] epochs");
  EXPECT_ERROR("[schedule]\nepochs = 1\n", NULL, 0, MN_ERR_CONFIG,
               "%F: missing required key [model] layers");

  /* syntax: keys outside a section, malformed lines, an unclosed header, a long line */
  EXPECT_ERROR("epochs = 1\n" MINIMAL, NULL, 0, MN_ERR_CONFIG, "%F:1: syntax error");
  EXPECT_ERROR("[data]\ntrain = d.h5\njunk\n", NULL, 0, MN_ERR_CONFIG, "%F:3: syntax error");
  EXPECT_ERROR("[data\ntrain = d.h5\n", NULL, 0, MN_ERR_CONFIG, "%F:1: syntax error");
  EXPECT_ERROR("[data]\n= 5\n", NULL, 0, MN_ERR_CONFIG, "%F:2: syntax error");
  {
    char text[600];
    snprintf(text, sizeof text, "[data]\ntrain = %0300d\n", 0);
    EXPECT_ERROR(text, NULL, 0, MN_ERR_CONFIG, "%F:2: line is too long");
    /* the documented limit: 197 characters fit, 198 do not */
    mn_config_t cfg;
    char err[2048];
    snprintf(text, sizeof text, MINIMAL "[data]\nval = %0191d\r\n", 0);
    CHECK_MSG(load_text(text, NULL, 0, &cfg, err) == MN_OK, "%s", err);
    CHECK(strlen(cfg.data.val) == 191);
    snprintf(text, sizeof text, MINIMAL "[data]\nval = %0192d\n", 0);
    EXPECT_ERROR(text, NULL, 0, MN_ERR_CONFIG,
                 "%F:8: line is too long (198 characters, at most 197)");
  }

  /* a NUL byte inside a line is refused (the line was cut there: val = v.h5\0.bak read v.h5) */
  {
    static const char text[] = MINIMAL "[data]\nval = v.h5\0.bak\n";
    const char *path = fixture("");
    FILE *f = fopen(path, "w");
    CHECK(f && fwrite(text, 1, sizeof text - 1, f) == sizeof text - 1);
    if (f) fclose(f);
    mn_config_t cfg;
    char err[2048], want[600];
    CHECK(mn_config_load(path, NULL, 0, &cfg, err, sizeof err) == MN_ERR_CONFIG);
    snprintf(want, sizeof want, "%s:8: a NUL byte at column 11", path);
    CHECK_MSG(strstr(err, want), "'%s' lacks '%s'", err, want);
  }

  /* the first error wins, whichever kind it is */
  EXPECT_ERROR("[data]\ntrain = d.h5\njunk\nbatch_sise = 4\n", NULL, 0, MN_ERR_CONFIG,
               "%F:3: syntax error");
  EXPECT_ERROR("[data]\nbatch_sise = 4\njunk\n[nope]\n", NULL, 0, MN_ERR_CONFIG,
               "%F:2: unknown key 'batch_sise'");
  EXPECT_ERROR("[data]\nbatch_size = 0\nbatch_size = x\n", NULL, 0, MN_ERR_CONFIG,
               "%F:2: [data] batch_size: 0 is out of range");

  /* an indented line is a key of its own, not the continuation of the one above */
  {
    mn_config_t cfg;
    char err[2048];
    CHECK_MSG(load_text(MINIMAL "[data]\nprefetch = 2\n    batch_size = 7\n", NULL, 0, &cfg, err) ==
                  MN_OK,
              "%s", err);
    CHECK(cfg.data.prefetch == 2 && cfg.data.batch_size == 7);
  }
}

static void test_missing_file(void) {
  char path[512], err[2048];
  mn_config_t cfg;
  snprintf(path, sizeof path, "%s/no-such.conf", g_dir);
  CHECK(mn_config_load(path, NULL, 0, &cfg, err, sizeof err) == MN_ERR_NOINPUT);
  CHECK_MSG(strstr(err, path) && strstr(err, ": cannot open: No such file or directory"), "%s",
            err);
  CHECK(mn_status_exit_code(MN_ERR_NOINPUT) == 66);
  CHECK(mn_status_exit_code(MN_ERR_CONFIG) == 64);
}

static void test_sets(void) {
  mn_config_t cfg;
  char err[2048];
  {
    const char *sets[] = {"data.batch_size=32", " optimizer . lr = 0.4 ", "data.batch_size=16",
                          "data.val=", "model.layers=8,8,2"};
    CHECK_MSG(load_text(MINIMAL "[data]\nbatch_size = 4\nval = v.h5\n", sets, 5, &cfg, err) ==
                  MN_OK,
              "%s", err);
    CHECK(cfg.data.batch_size == 16); /* applied in order, after the file */
    CHECK(cfg.optimizer.lr == 0.4);
    CHECK(strcmp(cfg.data.val, "") == 0);
    CHECK(cfg.model.nlayers == 3 && cfg.model.layers[2] == 2);
  }
  {
    const char *sets[] = {"schedule.epochs=3"}; /* a required key missing from the file */
    CHECK_MSG(load_text("[model]\nlayers = 4,3\n[data]\ntrain = d.h5\n", sets, 1, &cfg, err) ==
                  MN_OK,
              "%s", err);
    CHECK(cfg.schedule.epochs == 3);
  }
  {
    const char *sets[] = {"model.layers=4,3", "data.train=a.h5,b.h5", "schedule.epochs=1"};
    CHECK_MSG(mn_config_load(NULL, sets, 3, &cfg, err, sizeof err) == MN_OK, "%s", err);
    CHECK(strcmp(cfg.data.train, "a.h5,b.h5") == 0 && cfg.path[0] == '\0');
  }
  {
    const char *sets[] = {"data.batch_size=abc"};
    EXPECT_ERROR(MINIMAL, sets, 1, MN_ERR_CONFIG,
                 "--set data.batch_size=abc: [data] batch_size: expected an integer, got 'abc'");
  }
  {
    const char *sets[] = {"data.batch_size=8", "foo"};
    EXPECT_ERROR(MINIMAL, sets, 2, MN_ERR_CONFIG, "--set foo: expected section.key=value");
  }
  {
    const char *sets[] = {"a=b"};
    EXPECT_ERROR(MINIMAL, sets, 1, MN_ERR_CONFIG, "--set a=b: expected section.key=value");
  }
  {
    const char *sets[] = {".x=1"};
    EXPECT_ERROR(MINIMAL, sets, 1, MN_ERR_CONFIG, "--set .x=1: expected section.key=value");
  }
  {
    const char *sets[] = {"data.batch_sise=4"};
    EXPECT_ERROR(MINIMAL, sets, 1, MN_ERR_CONFIG,
                 "--set data.batch_sise=4: unknown key 'batch_sise' in [data] (did you mean "
                 "'batch_size'?)");
  }
  {
    const char *sets[] = {"optimiser.lr=4"};
    EXPECT_ERROR(MINIMAL, sets, 1, MN_ERR_CONFIG,
                 "--set optimiser.lr=4: unknown section [optimiser] (did you mean [optimizer]?)");
  }
  {
    const char *sets[] = {"data.remainder=maybe"};
    EXPECT_ERROR(MINIMAL, sets, 1, MN_ERR_CONFIG,
                 "--set data.remainder=maybe: [data] remainder: 'maybe' is not one of drop, pad");
  }
  {
    /* a bad file is reported before any --set is looked at */
    const char *sets[] = {"foo"};
    EXPECT_ERROR("[data]\nbatch_size = 0\n", sets, 1, MN_ERR_CONFIG, "%F:2: [data] batch_size");
  }
  EXPECT_ERROR(NULL, NULL, 0, MN_ERR_CONFIG, "missing required key [model] layers");
}

static void test_min_lr(void) {
  EXPECT_ERROR(MINIMAL "[optimizer]\nlr = 0.1\n[schedule]\nmin_lr = 0.5\n", NULL, 0, MN_ERR_CONFIG,
               "%F:10: [schedule] min_lr: 0.5 is larger than [optimizer] lr (0.1)");
  {
    const char *sets[] = {"optimizer.lr=0.01"};
    EXPECT_ERROR(MINIMAL "[schedule]\nmin_lr = 0.05\n", sets, 1, MN_ERR_CONFIG,
                 "%F:8: [schedule] min_lr: 0.05 is larger than [optimizer] lr (0.01)");
  }
  {
    const char *sets[] = {"schedule.min_lr=0.2"};
    EXPECT_ERROR(MINIMAL, sets, 1, MN_ERR_CONFIG,
                 "--set schedule.min_lr=0.2: [schedule] min_lr: 0.2 is larger than");
  }
  mn_config_t cfg;
  char err[2048];
  CHECK_MSG(load_text(MINIMAL "[schedule]\nmin_lr = 0.1\n", NULL, 0, &cfg, err) == MN_OK, "%s",
            err); /* equal is fine */
}

static void test_device_keys(void) {
  EXPECT_ERROR(MINIMAL "[compute]\ndevice = tpu\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [compute] device: 'tpu' is not one of auto, cpu, gpu");
  EXPECT_ERROR(MINIMAL "[compute]\ndevice = cpu\n[comm]\nbackend = nccl\n", NULL, 0, MN_ERR_CONFIG,
               "%F:10: [comm] backend: nccl needs [compute] device = gpu or auto, not cpu");
  {
    const char *sets[] = {"comm.backend=nccl", "compute.device=cpu"};
    EXPECT_ERROR(MINIMAL, sets, 2, MN_ERR_CONFIG, "--set comm.backend=nccl: [comm] backend: nccl");
  }
  EXPECT_ERROR(MINIMAL "[comm]\ntimeout_s = 0\n", NULL, 0, MN_ERR_CONFIG, "%F:8: [comm] timeout_s");
  mn_config_t cfg;
  char err[2048];
  CHECK_MSG(load_text(MINIMAL, NULL, 0, &cfg, err) == MN_OK, "%s", err);
  CHECK(cfg.compute.device == MN_DEVICE_AUTO && cfg.comm.backend == MN_BACKEND_AUTO);
  CHECK(!cfg.compute.tf32 && !cfg.compute.deterministic && cfg.comm.timeout_s == 300);
  CHECK_MSG(load_text(MINIMAL "[compute]\ndevice = gpu\ntf32 = true\n[comm]\nbackend = nccl\n",
                      NULL, 0, &cfg, err) == MN_OK,
            "%s", err);
  CHECK(cfg.compute.device == MN_DEVICE_GPU && cfg.compute.tf32 &&
        cfg.comm.backend == MN_BACKEND_NCCL);
}

/* ---- canonical values and the shape hash -------------------------------------------- */

typedef struct {
  int nkeys;
  char layers[256];
} values_t;

static void collect_value(const char *section, const char *key, const char *value, void *user) {
  values_t *v = user;
  v->nkeys++;
  if (strcmp(section, "model") == 0 && strcmp(key, "layers") == 0)
    snprintf(v->layers, sizeof v->layers, "%s", value);
}

typedef struct {
  const char *section, *key;
  char value[512];
} pick_t;

static void pick_value(const char *section, const char *key, const char *value, void *user) {
  pick_t *p = user;
  if (strcmp(section, p->section) == 0 && strcmp(key, p->key) == 0)
    snprintf(p->value, sizeof p->value, "%s", value);
}

/* The hash as mn_config.h documents it, computed here from the canonical values. */
static uint64_t documented_hash(const mn_config_t *cfg) {
  static const char *const order[][2] = {
      {"model", "layers"},    {"model", "seed"},          {"data", "seed"},     {"data", "shuffle"},
      {"data", "block_size"}, {"data", "shuffle_blocks"}, {"data", "remainder"}};
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
    pick_t p = {order[i][0], order[i][1], ""};
    char line[700];
    mn_config_each_value(cfg, pick_value, &p);
    snprintf(line, sizeof line, "%s.%s=%s\n", p.section, p.key, p.value);
    for (const char *c = line; *c; c++) h = (h ^ (unsigned char)*c) * 0x100000001b3ULL;
  }
  return h;
}

static void test_values_and_hash(void) {
  mn_config_t a, b;
  char err[2048];
  CHECK_MSG(load_text("[model]\nlayers = 784, 1024,10\n[data]\ntrain=d\n[schedule]\nepochs=1\n",
                      NULL, 0, &a, err) == MN_OK,
            "%s", err);
  values_t v = {0};
  mn_config_each_value(&a, collect_value, &v);
  CHECK(v.nkeys == 55);
  CHECK(a.snapshot.on_error == MN_ON_ERROR_STOP); /* the default */
  const char *cont[] = {"snapshot.on_error=continue"};
  CHECK(load_text(MINIMAL, cont, 1, &b, err) == MN_OK &&
        b.snapshot.on_error == MN_ON_ERROR_CONTINUE);
  CHECK_MSG(strcmp(v.layers, "784,1024,10") == 0, "%s", v.layers);

  uint64_t ha = mn_config_shape_hash(&a);
  CHECK(ha == documented_hash(&a));
  const char *same[] = {"optimizer.lr=0.5",          "data.batch_size=3",
                        "data.train=other",          "log.interval=7",
                        "data.prefetch=9",           "optimizer.kind=adamw",
                        "optimizer.nesterov=on",     "optimizer.beta1=0.5",
                        "optimizer.beta2=0.5",       "optimizer.eps=1",
                        "optimizer.no_decay=weight", "optimizer.accum_steps=2",
                        "optimizer.clip_norm=1"};
  int nsame = (int)(sizeof same / sizeof same[0]);
  CHECK(load_text("[model]\nlayers = 784,1024,10\n[data]\ntrain=d\n[schedule]\nepochs=1\n", same,
                  nsame, &b, err) == MN_OK);
  CHECK(mn_config_shape_hash(&b) == ha);
  for (int i = 0; i < nsame; i++) { /* none of them is a shape key */
    char sec[32], key[32];
    CHECK(sscanf(same[i], "%31[^.].%31[^=]", sec, key) == 2 && !mn_config_is_shape_key(sec, key));
  }
  const char *shape_sets[] = {
      "model.layers=784,1024,11", "model.seed=2",          "data.seed=2",       "data.shuffle=no",
      "data.block_size=8",        "data.shuffle_blocks=2", "data.remainder=pad"};
  for (int i = 0; i < 7; i++) {
    CHECK(load_text("[model]\nlayers = 784,1024,10\n[data]\ntrain=d\n[schedule]\nepochs=1\n",
                    &shape_sets[i], 1, &b, err) == MN_OK);
    CHECK_MSG(mn_config_shape_hash(&b) != ha, "%s does not change the hash", shape_sets[i]);
    CHECK(mn_config_shape_hash(&b) == documented_hash(&b));
  }
}

/* ---- the model and optimizer keys of issue 13 ---------------------------------------- */

#define ROLE(r) (1u << (r))

/* Load MINIMAL + "[optimizer]\n" + body; returns the mask, or ~0u (and a failed check) when
 * the file does not load. */
static unsigned no_decay_of(const char *body) {
  char text[512], err[2048];
  mn_config_t cfg;
  snprintf(text, sizeof text, MINIMAL "[optimizer]\n%s", body);
  mn_status_t st = load_text(text, NULL, 0, &cfg, err);
  CHECK_MSG(st == MN_OK, "%s: %s", body, err);
  return st == MN_OK ? cfg.optimizer.no_decay_mask : ~0u;
}

static void test_optimizer_keys(void) {
  mn_config_t cfg;
  char err[2048];
  CHECK_MSG(load_text(MINIMAL "[model]\ntype = MLP\n"
                              "[optimizer]\nkind = adamw\nbeta1 = 0\nbeta2 = 0.95\neps = 1e-6\n"
                              "accum_steps = 1024\nclip_norm = 1.5\nno_decay = bias\n",
                      NULL, 0, &cfg, err) == MN_OK,
            "%s", err);
  CHECK(cfg.model.type == MN_MODEL_MLP);
  CHECK(cfg.optimizer.kind == MN_OPTIM_ADAMW);
  CHECK(cfg.optimizer.beta1 == 0.0 && cfg.optimizer.beta2 == 0.95 && cfg.optimizer.eps == 1e-6);
  CHECK(cfg.optimizer.accum_steps == 1024 && cfg.optimizer.clip_norm == 1.5);
  CHECK(cfg.optimizer.no_decay_mask == ROLE(MN_ROLE_BIAS));
  {
    const char *sets[] = {"optimizer.kind=sgd", "optimizer.nesterov=yes",
                          "optimizer.accum_steps=3"};
    CHECK_MSG(load_text(MINIMAL, sets, 3, &cfg, err) == MN_OK, "%s", err);
    CHECK(cfg.optimizer.kind == MN_OPTIM_SGD && cfg.optimizer.nesterov == 1 &&
          cfg.optimizer.accum_steps == 3);
  }

  /* enums */
  EXPECT_ERROR(MINIMAL "[model]\ntype = gpx\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [model] type: 'gpx' is not one of mlp, gpt");
  /* a gpt: one entry in layers, its four keys set and consistent; an mlp without them */
  {
    mn_config_t g;
    char why[2048];
    const char *gpt[] = {"model.type=gpt", "model.layers=2", "model.vocab=256",
                         "model.context=64", "model.heads=4", "model.width=128"};
    CHECK_MSG(load_text(MINIMAL, gpt, 6, &g, why) == MN_OK, "%s", why);
    CHECK(g.model.type == MN_MODEL_GPT && g.model.nlayers == 1 && g.model.layers[0] == 2 &&
          g.model.vocab == 256 && g.model.context == 64 && g.model.heads == 4 &&
          g.model.width == 128);
    EXPECT_ERROR(MINIMAL, gpt, 1, MN_ERR_CONFIG,
                 "%F:2: [model] layers: a gpt takes one entry");
    EXPECT_ERROR(MINIMAL, gpt, 5, MN_ERR_CONFIG, "missing required key [model] width");
    const char *odd[] = {"model.type=gpt", "model.layers=2", "model.vocab=256",
                         "model.context=64", "model.heads=3", "model.width=128"};
    EXPECT_ERROR(MINIMAL, odd, 6, MN_ERR_CONFIG,
                 "--set model.width=128: [model] width: 128 is not a multiple of [model] heads (3)");
    const char *mlp_vocab[] = {"model.vocab=256"};
    EXPECT_ERROR(MINIMAL, mlp_vocab, 1, MN_ERR_CONFIG,
                 "--set model.vocab=256: [model] vocab: is a gpt's key; model.type is mlp");
  }
  EXPECT_ERROR(MINIMAL "[optimizer]\nkind = adam\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [optimizer] kind: 'adam' is not one of sgd, adamw");

  /* ranges */
  EXPECT_ERROR(MINIMAL "[optimizer]\nbeta1 = 1\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [optimizer] beta1: 1 is out of range (at least 0, less than 1)");
  EXPECT_ERROR(MINIMAL "[optimizer]\nbeta2 = -0.1\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [optimizer] beta2: -0.1 is out of range (at least 0, less than 1)");
  EXPECT_ERROR(MINIMAL "[optimizer]\neps = 0\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [optimizer] eps: 0 is out of range (more than 0)");
  EXPECT_ERROR(MINIMAL "[optimizer]\naccum_steps = 0\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [optimizer] accum_steps: 0 is out of range (1 to 1024)");
  EXPECT_ERROR(MINIMAL "[optimizer]\naccum_steps = 1025\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [optimizer] accum_steps: 1025 is out of range (1 to 1024)");
  EXPECT_ERROR(MINIMAL "[optimizer]\nclip_norm = -1\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [optimizer] clip_norm: -1 is out of range (at least 0)");
  EXPECT_ERROR(MINIMAL "[optimizer]\nnesterov = sometimes\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [optimizer] nesterov: expected a boolean");

  /* Nesterov needs momentum under sgd (PyTorch's SGD refuses it too); adamw ignores both */
  EXPECT_ERROR(MINIMAL "[optimizer]\nnesterov = true\nmomentum = 0\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [optimizer] nesterov: true needs [optimizer] momentum above 0");
  {
    const char *sets[] = {"optimizer.momentum=0", "optimizer.nesterov=1"};
    EXPECT_ERROR(MINIMAL, sets, 2, MN_ERR_CONFIG,
                 "--set optimizer.nesterov=1: [optimizer] nesterov: true needs [optimizer] "
                 "momentum above 0");
  }
  CHECK_MSG(load_text(MINIMAL "[optimizer]\nnesterov = true\n", NULL, 0, &cfg, err) == MN_OK, "%s",
            err); /* with the default momentum */
  CHECK_MSG(load_text(MINIMAL "[optimizer]\nkind = adamw\nnesterov = true\nmomentum = 0\n", NULL, 0,
                      &cfg, err) == MN_OK,
            "%s", err);

  /* no_decay: auto depends on kind wherever kind is set, lists, none, case and blanks */
  CHECK(no_decay_of("") == 0);
  CHECK(no_decay_of("kind = adamw\n") ==
        (ROLE(MN_ROLE_BIAS) | ROLE(MN_ROLE_NORM) | ROLE(MN_ROLE_EMBEDDING)));
  CHECK(no_decay_of("no_decay = auto\nkind = adamw\n") ==
        (ROLE(MN_ROLE_BIAS) | ROLE(MN_ROLE_NORM) | ROLE(MN_ROLE_EMBEDDING)));
  CHECK(no_decay_of("kind = sgd\nno_decay = AUTO\n") == 0);
  CHECK(no_decay_of("kind = adamw\nno_decay = none\n") == 0);
  CHECK(no_decay_of("no_decay = weight, Bias ,norm,embedding\n") ==
        (ROLE(MN_ROLE_WEIGHT) | ROLE(MN_ROLE_BIAS) | ROLE(MN_ROLE_NORM) | ROLE(MN_ROLE_EMBEDDING)));
  CHECK(no_decay_of("kind = adamw\nno_decay = embedding\n") == ROLE(MN_ROLE_EMBEDDING));
  {
    const char *sets[] = {"optimizer.kind=adamw"}; /* kind from --set, after the file */
    CHECK_MSG(load_text(MINIMAL "[optimizer]\nno_decay = auto\n", sets, 1, &cfg, err) == MN_OK,
              "%s", err);
    CHECK(cfg.optimizer.no_decay_mask ==
          (ROLE(MN_ROLE_BIAS) | ROLE(MN_ROLE_NORM) | ROLE(MN_ROLE_EMBEDDING)));
  }
  {
    /* mn_config_each_value gives the text as written, not the mask */
    pick_t p = {"optimizer", "no_decay", ""};
    CHECK_MSG(load_text(MINIMAL "[optimizer]\nno_decay = bias, norm\n", NULL, 0, &cfg, err) ==
                  MN_OK,
              "%s", err);
    mn_config_each_value(&cfg, pick_value, &p);
    CHECK_MSG(strcmp(p.value, "bias, norm") == 0, "%s", p.value);
  }
  EXPECT_ERROR(MINIMAL "[optimizer]\nno_decay = bias,wieght\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [optimizer] no_decay: 'wieght' is not a tensor role (weight, bias, norm, "
               "embedding; or auto or none alone)");
  EXPECT_ERROR(MINIMAL "[optimizer]\nno_decay = none,bias\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [optimizer] no_decay: 'none' is not a tensor role");
  EXPECT_ERROR(MINIMAL "[optimizer]\nno_decay = bias,\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [optimizer] no_decay: '' is not a tensor role");
  EXPECT_ERROR(MINIMAL "[optimizer]\nno_decay =\n", NULL, 0, MN_ERR_CONFIG,
               "%F:8: [optimizer] no_decay: must not be empty");
  {
    const char *sets[] = {"optimizer.no_decay=layernorm"};
    EXPECT_ERROR(MINIMAL, sets, 1, MN_ERR_CONFIG,
                 "--set optimizer.no_decay=layernorm: [optimizer] no_decay: 'layernorm' is not a "
                 "tensor role (weight, bias, norm, embedding");
  }
}

/* mn_config_default_value: the canonical text mn_config_each_value gives a key left at its
 * default (what resume.c assumes for a key a snapshot predates). */
static void check_default_value(const char *section, const char *key, const char *value,
                                void *user) {
  char def[4200] = "untouched";
  int *n = user;
  int required = (!strcmp(section, "model") && !strcmp(key, "layers")) ||
                 (!strcmp(section, "data") && !strcmp(key, "train")) ||
                 (!strcmp(section, "schedule") && !strcmp(key, "epochs"));
  int got = mn_config_default_value(section, key, def, sizeof def);
  if (required) {
    CHECK_MSG(!got && !strcmp(def, "untouched"), "%s.%s is required: no default", section, key);
  } else if (!(strcmp(section, "snapshot") == 0 && strcmp(key, "dir") == 0)) { /* derived */
    CHECK_MSG(got && strcmp(def, value) == 0, "%s.%s: default '%s', loaded '%s'", section, key, def,
              value);
    (*n)++;
  }
}

static void test_default_values(void) {
  mn_config_t cfg;
  char err[2048], def[64] = "untouched";
  int n = 0;
  CHECK_MSG(load_text(MINIMAL, NULL, 0, &cfg, err) == MN_OK, "%s", err);
  mn_config_each_value(&cfg, check_default_value, &n);
  CHECK(n == 51); /* 55 keys less 3 required and snapshot.dir */
  CHECK(mn_config_default_value("optimizer", "eps", def, sizeof def) && strcmp(def, "1e-8") != 0 &&
        strtod(def, NULL) == 1e-8); /* canonical, not the table's */
  CHECK(mn_config_default_value("optimizer", "kind", def, sizeof def) && !strcmp(def, "sgd"));
  CHECK(mn_config_default_value("optimizer", "no_decay", def, sizeof def) && !strcmp(def, "auto"));
  strcpy(def, "untouched");
  CHECK(!mn_config_default_value("optimizer", "nope", def, sizeof def) &&
        !strcmp(def, "untouched"));
  CHECK(!mn_config_default_value("nope", "kind", def, sizeof def));
}

/* ---- docs/config.md documents every key ---------------------------------------------- */

typedef struct {
  char *doc;
  int nkeys;
} doc_t;

static char *read_all(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) n = 0;
  if (buf) buf[n] = '\0';
  fclose(f);
  return buf;
}

/* The table cells of a markdown row into cells[0..n), trimmed, in place. */
static int split_row(char *row, char **cells, int max) {
  int n = 0;
  char *p = row + 1;
  while (n < max) {
    char *bar = strchr(p, '|');
    if (!bar) break;
    *bar = '\0';
    while (*p == ' ') p++;
    char *e = bar;
    while (e > p && e[-1] == ' ') *--e = '\0';
    cells[n++] = p;
    p = bar + 1;
  }
  return n;
}

static void check_documented(const mn_config_key_info_t *info, void *user) {
  doc_t *d = user;
  char heading[64], want[64];
  d->nkeys++;
  snprintf(heading, sizeof heading, "### [%s]\n", info->section);
  snprintf(want, sizeof want, "`%s`", info->key);
  const char *start = strstr(d->doc, heading);
  CHECK_MSG(start != NULL, "docs/config.md has no heading '### [%s]'", info->section);
  if (!start) return;
  start += strlen(heading);
  const char *end = strstr(start, "\n#");
  if (!end) end = start + strlen(start);
  for (const char *line = start; line < end;) {
    const char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    char row[2048], *cells[8];
    if (len < sizeof row && line[0] == '|') {
      memcpy(row, line, len);
      row[len] = '\0';
      int n = split_row(row, cells, 8);
      if (n == 5 && strcmp(cells[0], want) == 0) {
        CHECK_MSG(strcmp(cells[1], info->type) == 0, "[%s] %s: documented type '%s', is '%s'",
                  info->section, info->key, cells[1], info->type);
        if (!info->def)
          CHECK_MSG(strcmp(cells[2], "required") == 0, "[%s] %s: default should say required",
                    info->section, info->key);
        else if (!info->def[0])
          CHECK_MSG(strstr(cells[2], "\"\"") != NULL, "[%s] %s: default should be \"\"",
                    info->section, info->key);
        else
          CHECK_MSG(strcmp(cells[2], info->def) == 0, "[%s] %s: documented default '%s', is '%s'",
                    info->section, info->key, cells[2], info->def);
        CHECK_MSG(strstr(cells[3], info->range) != NULL,
                  "[%s] %s: documented range '%s' lacks '%s'", info->section, info->key, cells[3],
                  info->range);
        CHECK_MSG(cells[4][0] != '\0', "[%s] %s: no meaning documented", info->section, info->key);
        return;
      }
    }
    if (!nl) break;
    line = nl + 1;
  }
  CHECK_MSG(0, "docs/config.md: no row for %s in the table of [%s]", want, info->section);
}

static void count_key(const char *section, const char *key, void *user) {
  (void)section, (void)key;
  (*(int *)user)++;
}

static void test_docs(void) {
  char path[4096];
  const char *src = getenv("MN_SRC");
  if (src) {
    snprintf(path, sizeof path, "%s/docs/config.md", src);
  } else { /* run by hand: next to this file's directory */
    const char *slash = strrchr(__FILE__, '/');
    snprintf(path, sizeof path, "%.*s/../docs/config.md", slash ? (int)(slash - __FILE__) : 1,
             slash ? __FILE__ : ".");
  }
  doc_t d = {read_all(path), 0};
  CHECK_MSG(d.doc != NULL, "cannot read %s", path);
  if (!d.doc) return;
  mn_config_each_key_info(check_documented, &d);
  int n = 0;
  mn_config_each_key(count_key, &n);
  CHECK(n == d.nkeys && n == 55);
  /* the scaling rule and the remainder modes are explained */
  CHECK(strstr(d.doc, "## Scaling the learning rate with the world size") != NULL);
  CHECK(strstr(d.doc, "Goyal") != NULL && strstr(d.doc, "warmup_steps") != NULL);
  CHECK(strstr(d.doc, "wrapping round to") != NULL);
  free(d.doc);
}

int main(void) {
  snprintf(g_dir, sizeof g_dir, "/tmp/mn_test_config.XXXXXX");
  if (!mkdtemp(g_dir)) {
    perror("mkdtemp");
    return 2;
  }
  test_defaults();
  test_full_file();
  test_bools();
  test_file_errors();
  test_missing_file();
  test_sets();
  test_min_lr();
  test_device_keys();
  test_optimizer_keys();
  test_values_and_hash();
  test_default_values();
  test_docs();
  for (int i = 0; i < g_nfiles; i++) {
    char path[512];
    snprintf(path, sizeof path, "%s/t%02d.conf", g_dir, i);
    unlink(path);
  }
  rmdir(g_dir);
  return mn_test_result("test_config");
}
