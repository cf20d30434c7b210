/* config.c: train.conf -> mn_config_t, through one table of keys.
 *
 * Every key is one row of `keys` below: section, name, type, where it lives in the struct,
 * whether it is required, its default as text, its range and a line of documentation.
 * Defaults, file values and --set values all go through the same parser (key_parse), so
 * a default obeys the same rules as what a user writes. libinih splits the file into
 * lines, sections and key = value pairs; we feed it through our own reader, which counts
 * lines (Debian's libinih has no INI_HANDLER_LINENO), refuses lines that libinih would
 * silently cut, turns off continuation lines (an indented line is just a line), and
 * spots unknown [sections] at their header. The first error wins and stops the parse.
 *
 * It does not resolve paths, check that data files exist, or know anything about the
 * world size: those are checked where they are used. */
#include "mn_config.h"
#include "mn_suggest.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- The schema --------------------------------------------------------------------- */

typedef enum {
  KEY_INT,
  KEY_INT64,
  KEY_UINT64,
  KEY_DOUBLE,
  KEY_BOOL,
  KEY_STRING,
  KEY_ENUM,
  KEY_INTLIST,
} key_type_t;

enum {
  KEY_REQUIRED = 1u << 0,
  KEY_NONEMPTY = 1u << 1, /* strings: "" is an error */
  KEY_HAS_MIN = 1u << 2,
  KEY_HAS_MAX = 1u << 3,
  KEY_MIN_EXCL = 1u << 4, /* doubles: min itself is out of range */
  KEY_MAX_EXCL = 1u << 5,
};

typedef struct key_spec {
  const char *section;
  const char *key;
  key_type_t type;
  size_t offset; /* of the value in mn_config_t */
  size_t aux;    /* strings: capacity; int lists: offset of the entry count */
  unsigned flags;
  const char *def;          /* default text; NULL for required keys */
  long long imin, imax;     /* integer types and int-list entries */
  double dmin, dmax;        /* doubles */
  const char *const *names; /* enums: NULL-terminated, value = index */
  const char *doc;
} key_spec_t;

static const char *const model_type_names[] = {"mlp", "gpt", NULL};
static const char *const optim_kind_names[] = {"sgd", "adamw", NULL};
static const char *const remainder_names[] = {"drop", "pad", NULL};
static const char *const schedule_names[] = {"constant", "step", "cosine", NULL};
static const char *const backend_names[] = {"auto", "mpi", "nccl", NULL};
static const char *const device_names[] = {"auto", "cpu", "gpu", NULL};
static const char *const level_names[] = {"error", "warn", "info", "debug", NULL};
static const char *const progress_names[] = {"auto", "tty", "plain", "off", NULL};
static const char *const resume_names[] = {"auto", "require", "never", NULL};
static const char *const on_error_names[] = {"stop", "continue", NULL};
static const char *const nonfinite_names[] = {"stop", "skip", NULL};
/* optimizer.no_decay's words, indexed by mn_tensor_role_t */
static const char *const role_names[] = {"weight", "bias", "norm", "embedding"};
#define NROLES ((int)(sizeof role_names / sizeof role_names[0]))
#define ROLES_TEXT "weight, bias, norm, embedding"

_Static_assert(sizeof(mn_model_type_t) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(mn_optimizer_kind_t) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(mn_remainder_t) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(mn_lr_schedule_t) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(mn_comm_backend_t) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(mn_device_kind_t) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(mn_progress_t) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(mn_resume_t) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(mn_nonfinite_t) == sizeof(int), "enums are stored as int");
_Static_assert(MN_ROLE_COUNT == NROLES, "role_names follows mn_tensor_role_t");

const char *mn_tensor_role_name(mn_tensor_role_t role) {
  return role >= 0 && role < NROLES ? role_names[role] : "?";
}

#define AT(field) offsetof(mn_config_t, field)
#define CAP(field) sizeof(((mn_config_t *)0)->field)
#define RANGE (KEY_HAS_MIN | KEY_HAS_MAX)

static const key_spec_t keys[] = {
    {"model", "type", KEY_ENUM, AT(model.type), 0, 0, "mlp", 0, 0, 0, 0, model_type_names,
     "the network: mlp (Linear and ReLU layers of model.layers, softmax cross-entropy) or gpt "
     "(a GPT-2 language model of model.vocab, context, layers, heads, width)"},
    {"model", "layers", KEY_INTLIST, AT(model.layers), AT(model.nlayers), KEY_REQUIRED | RANGE,
     NULL, 1, 1048576, 0, 0, NULL,
     "mlp: layer widths, input first and classes last, e.g. 784,1024,1024,10; gpt: the number "
     "of transformer blocks, e.g. 12"},
    {"model", "vocab", KEY_INT, AT(model.vocab), 0, RANGE, "0", 0, 1 << 30, 0, 0, NULL,
     "gpt: the vocabulary (token ids in [0, vocab); 256 for mnprep text's bytes, 50257 for "
     "GPT-2's BPE); padded to a multiple of 64 for the output head"},
    {"model", "context", KEY_INT, AT(model.context), 0, RANGE, "0", 0, 1 << 20, 0, 0, NULL,
     "gpt: the sequence length (positions), e.g. 1024"},
    {"model", "heads", KEY_INT, AT(model.heads), 0, RANGE, "0", 0, 65536, 0, 0, NULL,
     "gpt: attention heads (width must be a multiple)"},
    {"model", "width", KEY_INT, AT(model.width), 0, RANGE, "0", 0, 1 << 20, 0, 0, NULL,
     "gpt: channels of the residual stream, e.g. 768"},
    {"model", "seed", KEY_UINT64, AT(model.seed), 0, 0, "1", 0, 0, 0, 0, NULL,
     "seed of the weight initialisation"},
    {"model", "init_from", KEY_STRING, AT(model.init_from), CAP(model.init_from), 0, "", 0, 0, 0, 0,
     NULL,
     "initial weights for a fresh run (not a resume): a .safetensors file (mninfo --export's "
     "names), an llm.c checkpoint (gpt) or an mn snapshot; empty = from model.seed"},

    {"data", "train", KEY_STRING, AT(data.train), CAP(data.train), KEY_REQUIRED | KEY_NONEMPTY,
     NULL, 0, 0, 0, 0, NULL, "training set: an HDF5 file, comma-separated files, or a glob"},
    {"data", "val", KEY_STRING, AT(data.val), CAP(data.val), 0, "", 0, 0, 0, 0, NULL,
     "validation set, same forms as train; empty = no validation"},
    {"data", "batch_size", KEY_INT, AT(data.batch_size), 0, RANGE, "128", 1, 1048576, 0, 0, NULL,
     "samples per step on each rank (global batch = world size x batch_size)"},
    {"data", "remainder", KEY_ENUM, AT(data.remainder), 0, 0, "drop", 0, 0, 0, 0, remainder_names,
     "last partial global batch of an epoch: drop it, or pad it"},
    {"data", "shuffle", KEY_BOOL, AT(data.shuffle), 0, 0, "true", 0, 0, 0, 0, NULL,
     "shuffle the sample order every epoch"},
    {"data", "block_size", KEY_INT, AT(data.block_size), 0, RANGE, "256", 1, 1 << 24, 0, 0, NULL,
     "samples per contiguous read block (the unit of shuffling and reading)"},
    {"data", "shuffle_blocks", KEY_INT, AT(data.shuffle_blocks), 0, RANGE, "16", 1, 65536, 0, 0,
     NULL, "blocks per shuffle window (samples are shuffled within a window)"},
    {"data", "prefetch", KEY_INT, AT(data.prefetch), 0, RANGE, "4", 1, 256, 0, 0, NULL,
     "batches the loader thread reads ahead"},
    {"data", "seed", KEY_UINT64, AT(data.seed), 0, 0, "1", 0, 0, 0, 0, NULL,
     "seed of the sample order"},

    {"optimizer", "kind", KEY_ENUM, AT(optimizer.kind), 0, 0, "sgd", 0, 0, 0, 0, optim_kind_names,
     "the update rule: sgd (with momentum) or adamw (Adam with decoupled weight decay)"},
    {"optimizer", "lr", KEY_DOUBLE, AT(optimizer.lr), 0, RANGE | KEY_MIN_EXCL, "0.1", 0, 0, 0, 100,
     NULL, "learning rate (peak rate when a schedule is used)"},
    {"optimizer", "momentum", KEY_DOUBLE, AT(optimizer.momentum), 0, RANGE | KEY_MAX_EXCL, "0.9", 0,
     0, 0, 1, NULL, "sgd only: momentum; 0 = plain SGD (adamw has beta1 instead)"},
    {"optimizer", "nesterov", KEY_BOOL, AT(optimizer.nesterov), 0, 0, "false", 0, 0, 0, 0, NULL,
     "sgd only: Nesterov momentum, as PyTorch's SGD(nesterov=True); needs momentum > 0"},
    {"optimizer", "beta1", KEY_DOUBLE, AT(optimizer.beta1), 0, RANGE | KEY_MAX_EXCL, "0.9", 0, 0, 0,
     1, NULL, "adamw only: decay rate of the running mean of the gradient"},
    {"optimizer", "beta2", KEY_DOUBLE, AT(optimizer.beta2), 0, RANGE | KEY_MAX_EXCL, "0.999", 0, 0,
     0, 1, NULL, "adamw only: decay rate of the running mean of the squared gradient"},
    {"optimizer", "eps", KEY_DOUBLE, AT(optimizer.eps), 0, KEY_HAS_MIN | KEY_MIN_EXCL, "1e-8", 0, 0,
     0, 0, NULL, "adamw only: added to the square root of the second moment in the denominator"},
    {"optimizer", "weight_decay", KEY_DOUBLE, AT(optimizer.weight_decay), 0, RANGE | KEY_MAX_EXCL,
     "0", 0, 0, 0, 1, NULL,
     "weight decay, both kinds: sgd adds weight_decay x w to the gradient (L2), adamw decays "
     "the weights directly (decoupled)"},
    {"optimizer", "no_decay", KEY_STRING, AT(optimizer.no_decay), CAP(optimizer.no_decay),
     KEY_NONEMPTY, "auto", 0, 0, 0, 0, NULL,
     "tensor roles weight decay skips, comma-separated from " ROLES_TEXT
     "; auto = bias,norm,embedding with adamw, none with sgd; none = none"},
    {"optimizer", "accum_steps", KEY_INT, AT(optimizer.accum_steps), 0, RANGE, "1", 1, 1024, 0, 0,
     NULL,
     "micro-batches of data.batch_size per optimizer step (gradient accumulation; the allreduce "
     "runs once per step)"},
    {"optimizer", "clip_norm", KEY_DOUBLE, AT(optimizer.clip_norm), 0, KEY_HAS_MIN, "0", 0, 0, 0, 0,
     NULL, "clip the gradient to this global L2 norm; 0 = off"},
    {"optimizer", "nonfinite", KEY_ENUM, AT(optimizer.nonfinite), 0, 0, "stop", 0, 0, 0, 0,
     nonfinite_names,
     "a step whose loss or gradient is NaN or infinite: stop (exit 65), or skip its update"},
    {"optimizer", "nonfinite_max_skips", KEY_INT, AT(optimizer.nonfinite_max_skips), 0, RANGE, "10",
     1, 1000000, 0, 0, NULL,
     "skip: the most steps skipped in a row; one more stops the run (exit 65)"},

    {"schedule", "epochs", KEY_INT, AT(schedule.epochs), 0, KEY_REQUIRED | RANGE, NULL, 1, 1000000,
     0, 0, NULL, "passes over the training set"},
    {"schedule", "max_steps", KEY_INT64, AT(schedule.max_steps), 0, KEY_HAS_MIN, "0", 0, 0, 0, 0,
     NULL, "stop after this many steps in total; 0 = no limit"},
    {"schedule", "lr_schedule", KEY_ENUM, AT(schedule.lr_schedule), 0, 0, "constant", 0, 0, 0, 0,
     schedule_names, "learning-rate schedule after warm-up"},
    {"schedule", "warmup_steps", KEY_INT64, AT(schedule.warmup_steps), 0, KEY_HAS_MIN, "0", 0, 0, 0,
     0, NULL, "steps of linear warm-up up to optimizer.lr; 0 = none"},
    {"schedule", "step_epochs", KEY_INT, AT(schedule.step_epochs), 0, KEY_HAS_MIN, "30", 1, 0, 0, 0,
     NULL, "step schedule: multiply the rate by step_gamma every this many epochs"},
    {"schedule", "step_gamma", KEY_DOUBLE, AT(schedule.step_gamma), 0, RANGE | KEY_MIN_EXCL, "0.1",
     0, 0, 0, 1, NULL, "step schedule: factor per decay"},
    {"schedule", "min_lr", KEY_DOUBLE, AT(schedule.min_lr), 0, KEY_HAS_MIN, "0", 0, 0, 0, 0, NULL,
     "cosine schedule: the rate it decays to; at most optimizer.lr"},

    {"comm", "bucket_mb", KEY_DOUBLE, AT(comm.bucket_mb), 0, RANGE | KEY_MIN_EXCL, "25", 0, 0, 0,
     4096, NULL, "gradient bucket size in MiB for the allreduce"},
    {"comm", "backend", KEY_ENUM, AT(comm.backend), 0, 0, "auto", 0, 0, 0, 0, backend_names,
     "allreduce back end; auto = NCCL when the ranks run on GPUs (and NCCL is built), else MPI"},
    {"comm", "timeout_s", KEY_DOUBLE, AT(comm.timeout_s), 0, RANGE | KEY_MIN_EXCL, "300", 0, 0, 0,
     86400, NULL, "a GPU collective not done after this long means a dead peer: abort, exit 69"},

    {"compute", "device", KEY_ENUM, AT(compute.device), 0, 0, "auto", 0, 0, 0, 0, device_names,
     "where the model runs; auto = this rank's GPU when one is usable, else the CPU"},
    {"compute", "tf32", KEY_BOOL, AT(compute.tf32), 0, 0, "false", 0, 0, 0, 0, NULL,
     "GPU: TF32 tensor-core GEMMs (faster, about 10 mantissa bits)"},
    {"compute", "deterministic", KEY_BOOL, AT(compute.deterministic), 0, 0, "false", 0, 0, 0, 0,
     NULL, "GPU: bitwise reproducible runs (fixed NCCL algorithm and protocol; no TF32)"},
    {"compute", "peak_tflops", KEY_DOUBLE, AT(compute.peak_tflops), 0, RANGE, "0", 0, 0, 0, 1e6,
     NULL,
     "peak dense TFLOP/s of one device, for MFU; 0 = the GPU's from its name where known "
     "(H100, H200, A100), else no MFU"},

    {"log", "interval", KEY_INT, AT(log.interval), 0, RANGE, "50", 1, 1000000000, 0, 0, NULL,
     "steps between progress lines and metrics records"},
    {"log", "level", KEY_ENUM, AT(log.level), 0, 0, "info", 0, 0, 0, 0, level_names,
     "least severe messages printed"},
    {"log", "progress", KEY_ENUM, AT(log.progress), 0, 0, "auto", 0, 0, 0, 0, progress_names,
     "progress display; auto = redraw on a terminal, plain lines otherwise"},
    {"log", "metrics", KEY_STRING, AT(log.metrics), CAP(log.metrics), 0, "", 0, 0, 0, 0, NULL,
     "JSON-lines metrics file written by rank 0; empty = none"},
    {"log", "tensorboard", KEY_STRING, AT(log.tensorboard), CAP(log.tensorboard), 0, "", 0, 0, 0, 0,
     NULL, "directory for a TensorBoard event file of the metrics' scalars (rank 0); empty = none"},

    {"snapshot", "enabled", KEY_BOOL, AT(snapshot.enabled), 0, 0, "true", 0, 0, 0, 0, NULL,
     "write snapshots and resume from them"},
    {"snapshot", "dir", KEY_STRING, AT(snapshot.dir), CAP(snapshot.dir), 0, "", 0, 0, 0, 0, NULL,
     "snapshot directory; empty = snapshots/<config file name without .conf>"},
    {"snapshot", "every_steps", KEY_INT64, AT(snapshot.every_steps), 0, KEY_HAS_MIN, "0", 0, 0, 0,
     0, NULL, "also snapshot every this many steps; 0 = at epoch ends, the end and stops only"},
    {"snapshot", "keep", KEY_INT, AT(snapshot.keep), 0, RANGE, "3", 0, 1000000, 0, 0, NULL,
     "newest snapshots kept (older ones go once a new one is durable); 0 = keep all"},
    {"snapshot", "resume", KEY_ENUM, AT(snapshot.resume), 0, 0, "auto", 0, 0, 0, 0, resume_names,
     "auto: from the newest valid snapshot if any; require: fail without one; never: afresh"},
    {"snapshot", "on_error", KEY_ENUM, AT(snapshot.on_error), 0, 0, "stop", 0, 0, 0, 0,
     on_error_names, "after a failed epoch/interval snapshot: stop (exit 74) or continue"},
};

#define NKEYS ((int)(sizeof keys / sizeof keys[0]))

/* Keys whose canonical values make up mn_config_shape_hash (see mn_config.h). */
static const char *const shape_keys[][2] = {
    {"model", "layers"},    {"model", "seed"},          {"data", "seed"},      {"data", "shuffle"},
    {"data", "block_size"}, {"data", "shuffle_blocks"}, {"data", "remainder"},
};
/* and after them for a gpt only */
static const char *const gpt_shape_keys[][2] = {
    {"model", "type"},  {"model", "vocab"}, {"model", "context"},
    {"model", "heads"}, {"model", "width"},
};

static const char *const type_names[] = {
    [KEY_INT] = "int",       [KEY_INT64] = "int64",      [KEY_UINT64] = "uint64",
    [KEY_DOUBLE] = "double", [KEY_BOOL] = "bool",        [KEY_STRING] = "string",
    [KEY_ENUM] = "enum",     [KEY_INTLIST] = "int list",
};

static int key_find(const char *section, const char *key) {
  for (int i = 0; i < NKEYS; i++)
    if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].key, key) == 0) return i;
  return -1;
}

static int section_known(const char *section) {
  for (int i = 0; i < NKEYS; i++)
    if (strcmp(keys[i].section, section) == 0) return 1;
  return 0;
}

/* ---- Small text helpers ------------------------------------------------------------- */

/* Copy s without leading and trailing white space into out[cap]; -1 when it does not fit. */
static int trim_copy(const char *s, size_t n, char *out, size_t cap) {
  while (n > 0 && isspace((unsigned char)*s)) s++, n--;
  while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
  if (n >= cap) return -1;
  memcpy(out, s, n);
  out[n] = '\0';
  return 0;
}

static const char *suggest_section(const char *section) {
  for (int i = 0; i < NKEYS; i++)
    if (mn_suggest_close(section, keys[i].section)) return keys[i].section;
  return NULL;
}

/* The message for a section.key that is not in the table, with a suggestion if one fits:
 * a close key of the same section, else the same key in another section. */
static void unknown_message(const char *section, const char *key, char *out, size_t cap) {
  if (!section_known(section)) {
    const char *s = suggest_section(section);
    if (s)
      snprintf(out, cap, "unknown section [%s] (did you mean [%s]?)", section, s);
    else
      snprintf(out, cap, "unknown section [%s]", section);
    return;
  }
  int best = -1, best_dist = 99;
  for (int i = 0; i < NKEYS; i++) {
    if (strcmp(keys[i].section, section) != 0 || !mn_suggest_close(key, keys[i].key)) continue;
    int dist = mn_suggest_distance(key, keys[i].key);
    if (dist < best_dist) best = i, best_dist = dist;
  }
  if (best >= 0) {
    snprintf(out, cap, "unknown key '%s' in [%s] (did you mean '%s'?)", key, section,
             keys[best].key);
    return;
  }
  for (int i = 0; i < NKEYS; i++) {
    if (strcmp(keys[i].key, key) == 0) {
      snprintf(out, cap, "unknown key '%s' in [%s] (did you mean [%s] %s?)", key, section,
               keys[i].section, key);
      return;
    }
  }
  snprintf(out, cap, "unknown key '%s' in [%s]", key, section);
}

/* "1 to 1048576", "at least 0", "more than 0, at most 100", "drop, pad"; "" = any value. */
static void range_text(const key_spec_t *k, char *out, size_t cap) {
  out[0] = '\0';
  if (k->type == KEY_ENUM) {
    size_t used = 0;
    for (int i = 0; k->names[i] && used < cap; i++)
      used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? ", " : "", k->names[i]);
    return;
  }
  int has_min = (k->flags & KEY_HAS_MIN) != 0, has_max = (k->flags & KEY_HAS_MAX) != 0;
  if (k->type == KEY_DOUBLE) {
    int min_excl = (k->flags & KEY_MIN_EXCL) != 0, max_excl = (k->flags & KEY_MAX_EXCL) != 0;
    if (has_min && has_max && !min_excl && !max_excl)
      snprintf(out, cap, "%g to %g", k->dmin, k->dmax);
    else if (has_min && has_max)
      snprintf(out, cap, "%s %g, %s %g", min_excl ? "more than" : "at least", k->dmin,
               max_excl ? "less than" : "at most", k->dmax);
    else if (has_min)
      snprintf(out, cap, "%s %g", min_excl ? "more than" : "at least", k->dmin);
    else if (has_max)
      snprintf(out, cap, "%s %g", max_excl ? "less than" : "at most", k->dmax);
    return;
  }
  if (has_min && has_max)
    snprintf(out, cap, "%lld to %lld", k->imin, k->imax);
  else if (has_min)
    snprintf(out, cap, "at least %lld", k->imin);
  else if (has_max)
    snprintf(out, cap, "at most %lld", k->imax);
}

/* ---- Parsing one value -------------------------------------------------------------- */

/* Strict decimal integer: the whole string, no overflow. 0 ok, -1 not a number, -2 overflow. */
static int parse_ll(const char *s, long long *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (end == s || *end != '\0') return -1;
  if (errno == ERANGE) return -2;
  *out = v;
  return 0;
}

static int int_in_range(const key_spec_t *k, long long v) {
  if ((k->flags & KEY_HAS_MIN) && v < k->imin) return 0;
  if ((k->flags & KEY_HAS_MAX) && v > k->imax) return 0;
  return 1;
}

static int double_in_range(const key_spec_t *k, double v) {
  if (k->flags & KEY_HAS_MIN) {
    if ((k->flags & KEY_MIN_EXCL) ? v <= k->dmin : v < k->dmin) return 0;
  }
  if (k->flags & KEY_HAS_MAX) {
    if ((k->flags & KEY_MAX_EXCL) ? v >= k->dmax : v > k->dmax) return 0;
  }
  return 1;
}

static int parse_bool(const char *s, int *out) {
  static const char *const yes[] = {"true", "yes", "on", "1"};
  static const char *const no[] = {"false", "no", "off", "0"};
  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
    if (strcasecmp(s, yes[i]) == 0) return *out = 1, 0;
    if (strcasecmp(s, no[i]) == 0) return *out = 0, 0;
  }
  return -1;
}

static int parse_intlist(const key_spec_t *k, const char *v, void *base, char *why, size_t cap) {
  int values[MN_MAX_LAYERS];
  int n = 0;
  char range[96];
  range_text(k, range, sizeof range);
  for (const char *p = v;; n++) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    char entry[64];
    long long x;
    if (n == MN_MAX_LAYERS) {
      snprintf(why, cap, "more than %d entries", MN_MAX_LAYERS);
      return -1;
    }
    if (trim_copy(p, len, entry, sizeof entry) != 0) {
      snprintf(why, cap, "entry %d: expected an integer, got '%.*s'", n + 1, (int)len, p);
      return -1;
    }
    if (entry[0] == '\0') {
      snprintf(why, cap, "entry %d is empty in '%s'", n + 1, v);
      return -1;
    }
    int rc = parse_ll(entry, &x);
    if (rc == -1) {
      snprintf(why, cap, "entry %d: expected an integer, got '%s'", n + 1, entry);
      return -1;
    }
    if (rc == -2 || !int_in_range(k, x)) {
      snprintf(why, cap, "entry %d (%s) is out of range (%s)", n + 1, entry, range);
      return -1;
    }
    values[n] = (int)x;
    if (!comma) break;
    p = comma + 1;
  }
  n++;
  memcpy((char *)base + k->offset, values, (size_t)n * sizeof values[0]);
  memcpy((char *)base + k->aux, &n, sizeof n);
  return 0;
}

/* Parse text (already trimmed) as key k and store it in *cfg. On failure write the reason,
 * without the key's name, into why and return -1 (cfg may be partly written: callers
 * work on a scratch copy). */
static int key_parse(const key_spec_t *k, const char *text, mn_config_t *cfg, char *why,
                     size_t cap) {
  char *dst = (char *)cfg + k->offset;
  char range[96];
  range_text(k, range, sizeof range);
  switch (k->type) {
  case KEY_INT:
  case KEY_INT64: {
    long long v;
    int rc = parse_ll(text, &v);
    if (rc == -1) return snprintf(why, cap, "expected an integer, got '%s'", text), -1;
    if (rc == -2 || !int_in_range(k, v) || (k->type == KEY_INT && (v < INT_MIN || v > INT_MAX))) {
      if (range[0])
        snprintf(why, cap, "%s is out of range (%s)", text, range);
      else
        snprintf(why, cap, "%s is out of range", text);
      return -1;
    }
    if (k->type == KEY_INT) {
      int iv = (int)v;
      memcpy(dst, &iv, sizeof iv);
    } else {
      int64_t lv = (int64_t)v;
      memcpy(dst, &lv, sizeof lv);
    }
    return 0;
  }
  case KEY_UINT64: {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (text[0] == '-' || end == text || *end != '\0')
      return snprintf(why, cap, "expected a non-negative integer, got '%s'", text), -1;
    if (errno == ERANGE)
      return snprintf(why, cap, "%s is out of range (0 to %" PRIu64 ")", text, UINT64_MAX), -1;
    uint64_t uv = (uint64_t)v;
    memcpy(dst, &uv, sizeof uv);
    return 0;
  }
  case KEY_DOUBLE: {
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end != '\0')
      return snprintf(why, cap, "expected a number, got '%s'", text), -1;
    if (!isfinite(v)) return snprintf(why, cap, "expected a finite number, got '%s'", text), -1;
    if (!double_in_range(k, v))
      return snprintf(why, cap, "%s is out of range (%s)", text, range), -1;
    memcpy(dst, &v, sizeof v);
    return 0;
  }
  case KEY_BOOL: {
    int b;
    if (parse_bool(text, &b) != 0)
      return snprintf(why, cap, "expected a boolean (true/false, yes/no, on/off, 1/0), got '%s'",
                      text),
             -1;
    memcpy(dst, &b, sizeof b);
    return 0;
  }
  case KEY_STRING: {
    size_t len = strlen(text);
    if ((k->flags & KEY_NONEMPTY) && len == 0) return snprintf(why, cap, "must not be empty"), -1;
    if (len >= k->aux)
      return snprintf(why, cap, "is too long (%zu characters, at most %zu)", len, k->aux - 1), -1;
    memcpy(dst, text, len + 1);
    return 0;
  }
  case KEY_ENUM:
    for (int i = 0; k->names[i]; i++) {
      if (strcasecmp(text, k->names[i]) == 0) {
        memcpy(dst, &i, sizeof i);
        return 0;
      }
    }
    return snprintf(why, cap, "'%s' is not one of %s", text, range), -1;
  case KEY_INTLIST: return parse_intlist(k, text, cfg, why, cap);
  }
  return snprintf(why, cap, "unsupported type"), -1;
}

/* Canonical text of key k's value in cfg. */
static void key_format(const key_spec_t *k, const mn_config_t *cfg, char *out, size_t cap) {
  const char *src = (const char *)cfg + k->offset;
  int iv;
  int64_t lv;
  uint64_t uv;
  double dv;
  switch (k->type) {
  case KEY_INT:
    memcpy(&iv, src, sizeof iv);
    snprintf(out, cap, "%d", iv);
    return;
  case KEY_INT64:
    memcpy(&lv, src, sizeof lv);
    snprintf(out, cap, "%" PRId64, lv);
    return;
  case KEY_UINT64:
    memcpy(&uv, src, sizeof uv);
    snprintf(out, cap, "%" PRIu64, uv);
    return;
  case KEY_DOUBLE:
    memcpy(&dv, src, sizeof dv);
    snprintf(out, cap, "%.17g", dv);
    return;
  case KEY_BOOL:
    memcpy(&iv, src, sizeof iv);
    snprintf(out, cap, "%s", iv ? "true" : "false");
    return;
  case KEY_STRING: snprintf(out, cap, "%s", src); return;
  case KEY_ENUM: {
    int n = 0;
    memcpy(&iv, src, sizeof iv);
    while (k->names[n]) n++;
    snprintf(out, cap, "%s", iv >= 0 && iv < n ? k->names[iv] : "?");
    return;
  }
  case KEY_INTLIST: {
    int count;
    size_t used = 0;
    memcpy(&count, (const char *)cfg + k->aux, sizeof count);
    out[0] = '\0';
    for (int i = 0; i < count && i < MN_MAX_LAYERS && used < cap; i++) {
      memcpy(&iv, src + (size_t)i * sizeof iv, sizeof iv);
      used += (size_t)snprintf(out + used, cap - used, "%s%d", i ? "," : "", iv);
    }
    return;
  }
  }
  snprintf(out, cap, "?");
}

/* ---- Loading ------------------------------------------------------------------------ */

typedef struct load_state {
  mn_config_t cfg;  /* scratch: copied out only on success */
  const char *file; /* name for messages */
  FILE *fp;
  char *line; /* the reader's getline buffer */
  size_t line_cap;
  int lineno;                              /* of the line libinih is working on */
  int where[sizeof keys / sizeof keys[0]]; /* >0 file line, <0 -(set index + 1), 0 default */
  const char *const *sets;
  int failed;
  mn_status_t status;
  char msg[1536];
} load_state_t;

static int fail(load_state_t *st, mn_status_t status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record the first error only; return 0, which is what a failing ini handler returns. */
static int fail(load_state_t *st, mn_status_t status, const char *fmt, ...) {
  if (st->failed) return 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(st->msg, sizeof st->msg, fmt, ap);
  va_end(ap);
  st->failed = 1;
  st->status = status;
  return 0;
}

/* Where key i got its value, for messages: "FILE:LINE" or "--set ARG". */
static void origin_text(const load_state_t *st, int i, char *out, size_t cap) {
  if (st->where[i] > 0)
    snprintf(out, cap, "%s:%d", st->file, st->where[i]);
  else if (st->where[i] < 0)
    snprintf(out, cap, "--set %s", st->sets[-st->where[i] - 1]);
  else
    snprintf(out, cap, "%s", st->file);
}

/* libinih reader: one physical line per call, so that st->lineno is the line the handler
 * sees. Leading blanks are dropped (no continuation lines), a BOM is dropped, a line that
 * libinih would cut is an error (too long, or holding a NUL byte), an unknown [section] is an error
 * at its header, and after the first error we report end of file so nothing later counts. */
static char *conf_reader(char *str, int num, void *stream) {
  load_state_t *st = stream;
  if (st->failed) return NULL;
  ssize_t got = getline(&st->line, &st->line_cap, st->fp);
  if (got < 0) return NULL;
  st->lineno++;
  const char *nul = memchr(st->line, '\0', (size_t)got); /* would cut the line short */
  if (nul) {
    fail(st, MN_ERR_CONFIG, "%s:%d: a NUL byte at column %d (is this a text file?)", st->file,
         st->lineno, (int)(nul - st->line) + 1);
    return NULL;
  }
  char *s = st->line;
  if (st->lineno == 1 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB &&
      (unsigned char)s[2] == 0xBF)
    s += 3;
  while (*s == ' ' || *s == '\t') s++;
  size_t len = strlen(s);
  while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r')) len--;
  if (num < 4 || len > (size_t)num - 3) {
    fail(st, MN_ERR_CONFIG, "%s:%d: line is too long (%zu characters, at most %d)", st->file,
         st->lineno, len, num - 3);
    return NULL;
  }
  if (s[0] == '[') {
    const char *close = strchr(s, ']');
    char name[128];
    if (close && trim_copy(s + 1, (size_t)(close - s - 1), name, sizeof name) == 0 &&
        !section_known(name)) {
      char why[256];
      unknown_message(name, "", why, sizeof why);
      fail(st, MN_ERR_CONFIG, "%s:%d: %s", st->file, st->lineno, why);
      return NULL;
    }
  }
  memcpy(str, s, len);
  str[len] = '\n';
  str[len + 1] = '\0';
  return str;
}

static int conf_handler(void *user, const char *section, const char *name, const char *value) {
  load_state_t *st = user;
  char sec[128], why[512];
  if (st->failed) return 1;
  if (trim_copy(section, strlen(section), sec, sizeof sec) != 0)
    return fail(st, MN_ERR_CONFIG, "%s:%d: syntax error: section name too long", st->file,
                st->lineno);
  if (sec[0] == '\0')
    return fail(st, MN_ERR_CONFIG, "%s:%d: syntax error: '%s' is outside any [section]", st->file,
                st->lineno, name);
  if (name[0] == '\0' || !value)
    return fail(st, MN_ERR_CONFIG, "%s:%d: syntax error: expected key = value", st->file,
                st->lineno);
  int i = key_find(sec, name);
  if (i < 0) {
    unknown_message(sec, name, why, sizeof why);
    return fail(st, MN_ERR_CONFIG, "%s:%d: %s", st->file, st->lineno, why);
  }
  if (st->where[i] > 0)
    return fail(st, MN_ERR_CONFIG, "%s:%d: [%s] %s is set twice (first at line %d)", st->file,
                st->lineno, sec, name, st->where[i]);
  if (key_parse(&keys[i], value, &st->cfg, why, sizeof why) != 0)
    return fail(st, MN_ERR_CONFIG, "%s:%d: [%s] %s: %s", st->file, st->lineno, sec, name, why);
  st->where[i] = st->lineno;
  return 1;
}

static void load_defaults(load_state_t *st) {
  char why[512];
  for (int i = 0; i < NKEYS && !st->failed; i++) {
    if (!keys[i].def) continue;
    if (key_parse(&keys[i], keys[i].def, &st->cfg, why, sizeof why) != 0)
      fail(st, MN_ERR_INTERNAL, "config.c: the default of [%s] %s is wrong: %s", keys[i].section,
           keys[i].key, why);
  }
}

static void load_file(load_state_t *st, const char *path) {
  st->fp = fopen(path, "r");
  if (!st->fp) {
    fail(st, MN_ERR_NOINPUT, "%s: cannot open: %s", path, strerror(errno));
    return;
  }
  int rc = ini_parse_stream(conf_reader, st, conf_handler, st);
  if (!st->failed && ferror(st->fp))
    fail(st, MN_ERR_NOINPUT, "%s: cannot read: %s", path, strerror(errno));
  /* libinih returns the first line it found wrong: ours (a handler error) or its own (a
   * malformed line), whichever came first. Ours carry their own message. */
  if (rc > 0 && (!st->failed || rc < st->lineno)) {
    st->failed = 0;
    fail(st, MN_ERR_CONFIG, "%s:%d: syntax error: expected key = value, [section] or a comment",
         st->file, rc);
  } else if (rc < 0) {
    fail(st, MN_ERR_NOMEM, "%s: out of memory while parsing", path);
  }
  free(st->line);
  st->line = NULL;
  fclose(st->fp);
  st->fp = NULL;
}

/* Apply sets[j], "section.key=value". */
static void load_set(load_state_t *st, int j) {
  const char *arg = st->sets[j];
  const char *eq = strchr(arg, '=');
  const char *dot = eq ? memchr(arg, '.', (size_t)(eq - arg)) : NULL;
  char sec[128], key[128], value[MN_PATH_MAX + 1], why[512];
  if (!eq || !dot || trim_copy(arg, (size_t)(dot - arg), sec, sizeof sec) != 0 ||
      trim_copy(dot + 1, (size_t)(eq - dot - 1), key, sizeof key) != 0 || !sec[0] || !key[0]) {
    fail(st, MN_ERR_CONFIG, "--set %s: expected section.key=value", arg);
    return;
  }
  int i = key_find(sec, key);
  if (i < 0) {
    unknown_message(sec, key, why, sizeof why);
    fail(st, MN_ERR_CONFIG, "--set %s: %s", arg, why);
    return;
  }
  if (trim_copy(eq + 1, strlen(eq + 1), value, sizeof value) != 0) {
    fail(st, MN_ERR_CONFIG, "--set %s: [%s] %s: value is too long", arg, sec, key);
    return;
  }
  if (key_parse(&keys[i], value, &st->cfg, why, sizeof why) != 0) {
    fail(st, MN_ERR_CONFIG, "--set %s: [%s] %s: %s", arg, sec, key, why);
    return;
  }
  st->where[i] = -(j + 1);
}

/* snapshots/<stem of the config file's name>, or snapshots/run without a file. */
static void default_snapshot_dir(mn_config_t *cfg) {
  const char *base = strrchr(cfg->path, '/');
  base = base ? base + 1 : cfg->path;
  size_t len = strlen(base);
  if (len > 5 && !strcmp(base + len - 5, ".conf")) len -= 5;
  if (len == 0) {
    base = "run";
    len = 3;
  }
  snprintf(cfg->snapshot.dir, sizeof cfg->snapshot.dir, "snapshots/%.*s", (int)len, base);
}

/* optimizer.no_decay (text) resolved for kind into bits (1u << mn_tensor_role_t). On
 * failure writes the reason, without the key's name, into why and returns -1. */
static int no_decay_mask(const char *text, mn_optimizer_kind_t kind, unsigned *mask, char *why,
                         size_t cap) {
  unsigned m = 0;
  if (!strcasecmp(text, "auto")) {
    if (kind == MN_OPTIM_ADAMW)
      m = (1u << MN_ROLE_BIAS) | (1u << MN_ROLE_NORM) | (1u << MN_ROLE_EMBEDDING);
  } else if (strcasecmp(text, "none") != 0) {
    for (const char *p = text;;) {
      const char *comma = strchr(p, ',');
      size_t len = comma ? (size_t)(comma - p) : strlen(p);
      char word[CAP(optimizer.no_decay)]; /* text came from a field of this size: it fits */
      int r = 0;
      (void)trim_copy(p, len, word, sizeof word);
      while (r < NROLES && strcasecmp(word, role_names[r]) != 0) r++;
      if (r == NROLES)
        return snprintf(why, cap, "'%s' is not a tensor role (%s; or auto or none alone)", word,
                        ROLES_TEXT),
               -1;
      m |= 1u << r;
      if (!comma) break;
      p = comma + 1;
    }
  }
  *mask = m;
  return 0;
}

static int fail_key(load_state_t *st, const char *section, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* fail() for a check that involves more than one key: "WHERE: [section] key: ..." with
 * WHERE the place section.key got its value. */
static int fail_key(load_state_t *st, const char *section, const char *key, const char *fmt, ...) {
  char where[MN_PATH_MAX + 64], text[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  origin_text(st, key_find(section, key), where, sizeof where);
  return fail(st, MN_ERR_CONFIG, "%s: [%s] %s: %s", where, section, key, text);
}

/* [model]: model.layers as the type reads it, and a gpt's keys set (an mlp's unset). */
static void model_check(load_state_t *st) {
  const mn_config_t *cfg = &st->cfg;
  if (st->where[key_find("model", "layers")] == 0) return; /* missing: a required key */
  static const char *const gpt_keys[] = {"vocab", "context", "heads", "width"};
  const int gpt_values[] = {cfg->model.vocab, cfg->model.context, cfg->model.heads,
                            cfg->model.width};
  if (cfg->model.type == MN_MODEL_MLP) {
    if (cfg->model.nlayers < 2)
      fail_key(st, "model", "layers",
               "needs at least 2 entries (input width and number of classes), got %d",
               cfg->model.nlayers);
    for (int i = 0; i < 4 && !st->failed; i++)
      if (gpt_values[i] != 0)
        fail_key(st, "model", gpt_keys[i], "is a gpt's key; model.type is mlp");
    return;
  }
  if (cfg->model.nlayers != 1)
    fail_key(st, "model", "layers",
             "a gpt takes one entry, the number of transformer blocks (e.g. 12), got %d",
             cfg->model.nlayers);
  for (int i = 0; i < 4 && !st->failed; i++)
    if (gpt_values[i] < 1)
      fail(st, MN_ERR_CONFIG, "%s: missing required key [model] %s (model.type is gpt)", st->file,
           gpt_keys[i]);
  if (!st->failed && cfg->model.width % cfg->model.heads != 0)
    fail_key(st, "model", "width", "%d is not a multiple of [model] heads (%d)", cfg->model.width,
             cfg->model.heads);
}

/* Required keys present, the checks that involve more than one key, and the values
 * derived from others. */
static void load_check(load_state_t *st) {
  mn_config_t *cfg = &st->cfg;
  char why[512];
  model_check(st);
  for (int i = 0; i < NKEYS && !st->failed; i++)
    if ((keys[i].flags & KEY_REQUIRED) && st->where[i] == 0)
      fail(st, MN_ERR_CONFIG, "%s: missing required key [%s] %s", st->file, keys[i].section,
           keys[i].key);
  if (st->failed) return;
  if (cfg->schedule.min_lr > cfg->optimizer.lr)
    fail_key(st, "schedule", "min_lr", "%g is larger than [optimizer] lr (%g)",
             cfg->schedule.min_lr, cfg->optimizer.lr);
  if (cfg->comm.backend == MN_BACKEND_NCCL && cfg->compute.device == MN_DEVICE_CPU)
    fail_key(st, "comm", "backend", "nccl needs [compute] device = gpu or auto, not cpu");
  if (cfg->optimizer.kind == MN_OPTIM_SGD && cfg->optimizer.nesterov &&
      cfg->optimizer.momentum == 0)
    fail_key(st, "optimizer", "nesterov",
             "true needs [optimizer] momentum above 0, it is 0 (Nesterov momentum without "
             "momentum; PyTorch refuses it too)");
  if (no_decay_mask(cfg->optimizer.no_decay, cfg->optimizer.kind, &cfg->optimizer.no_decay_mask,
                    why, sizeof why) != 0)
    fail_key(st, "optimizer", "no_decay", "%s", why);
  if (!st->failed && !cfg->snapshot.dir[0]) default_snapshot_dir(cfg);
}

mn_status_t mn_config_load(const char *path, const char *const *sets, int nsets, mn_config_t *cfg,
                           char *err, size_t errlen) {
  load_state_t *st = calloc(1, sizeof *st);
  mn_status_t status = MN_OK;
  if (err && errlen) err[0] = '\0';
  if (!st) {
    if (err && errlen) snprintf(err, errlen, "out of memory loading %s", path ? path : "config");
    return mn_error(MN_ERR_NOMEM, "out of memory loading %s", path ? path : "config");
  }
  st->file = path ? path : "(no config file)";
  st->sets = sets;
  load_defaults(st);
  if (!st->failed && path && strlen(path) >= sizeof st->cfg.path)
    fail(st, MN_ERR_CONFIG, "%.200s...: path is too long", path);
  if (!st->failed && path) {
    snprintf(st->cfg.path, sizeof st->cfg.path, "%s", path);
    load_file(st, path);
  }
  for (int j = 0; j < nsets && !st->failed; j++) load_set(st, j);
  if (!st->failed) load_check(st);

  if (st->failed) {
    status = st->status;
    if (err && errlen) snprintf(err, errlen, "%s", st->msg);
    mn_error(status, "%s", st->msg);
  } else {
    *cfg = st->cfg;
  }
  free(st);
  return status;
}

/* ---- Introspection ------------------------------------------------------------------ */

void mn_config_each_key(void (*fn)(const char *section, const char *key, void *user), void *user) {
  for (int i = 0; i < NKEYS; i++) fn(keys[i].section, keys[i].key, user);
}

void mn_config_each_key_info(void (*fn)(const mn_config_key_info_t *info, void *user), void *user) {
  for (int i = 0; i < NKEYS; i++) {
    char range[128];
    range_text(&keys[i], range, sizeof range);
    mn_config_key_info_t info = {keys[i].section, keys[i].key, type_names[keys[i].type],
                                 keys[i].def,     range,       keys[i].doc};
    fn(&info, user);
  }
}

int mn_config_default_value(const char *section, const char *key, char *value, size_t len) {
  int i = key_find(section, key);
  mn_config_t scratch; /* only key i's field is written, then read */
  char why[512];
  if (i < 0 || !keys[i].def || key_parse(&keys[i], keys[i].def, &scratch, why, sizeof why) != 0)
    return 0;
  key_format(&keys[i], &scratch, value, len);
  return 1;
}

void mn_config_each_value(const mn_config_t *cfg,
                          void (*fn)(const char *section, const char *key, const char *value,
                                     void *user),
                          void *user) {
  char value[MN_PATH_MAX + 16];
  for (int i = 0; i < NKEYS; i++) {
    key_format(&keys[i], cfg, value, sizeof value);
    fn(keys[i].section, keys[i].key, value, user);
  }
}

char *mn_config_text(const mn_config_t *cfg) {
  char value[MN_PATH_MAX + 16];
  size_t len = 1, at = 0;
  for (int pass = 0; pass < 2; pass++) {
    char *text = pass ? malloc(len) : NULL;
    if (pass && !text) return NULL;
    for (int i = 0; i < NKEYS; i++) {
      key_format(&keys[i], cfg, value, sizeof value);
      if (!pass)
        len += strlen(keys[i].section) + strlen(keys[i].key) + strlen(value) + 5;
      else
        at += (size_t)snprintf(text + at, len - at, "%s.%s = %s\n", keys[i].section, keys[i].key,
                               value);
    }
    if (pass) {
      text[at] = '\0';
      return text;
    }
  }
  return NULL;
}

int mn_config_text_value(const char *text, const char *section, const char *key, char *value,
                         size_t len) {
  char want[160];
  int n = snprintf(want, sizeof want, "%s.%s = ", section, key);
  for (const char *line = text; line && *line;) {
    const char *end = strchr(line, '\n');
    size_t linelen = end ? (size_t)(end - line) : strlen(line);
    if (linelen >= (size_t)n && !strncmp(line, want, (size_t)n)) {
      size_t vlen = linelen - (size_t)n;
      if (vlen >= len) vlen = len - 1;
      memcpy(value, line + n, vlen);
      value[vlen] = '\0';
      return 1;
    }
    line = end ? end + 1 : NULL;
  }
  return 0;
}

static uint64_t fnv1a(uint64_t h, const char *s) {
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 0x100000001b3ULL;
  }
  return h;
}

int mn_config_is_shape_key(const char *section, const char *key) {
  for (size_t j = 0; j < sizeof shape_keys / sizeof shape_keys[0]; j++)
    if (!strcmp(shape_keys[j][0], section) && !strcmp(shape_keys[j][1], key)) return 1;
  for (size_t j = 0; j < sizeof gpt_shape_keys / sizeof gpt_shape_keys[0]; j++)
    if (!strcmp(gpt_shape_keys[j][0], section) && !strcmp(gpt_shape_keys[j][1], key)) return 1;
  return 0;
}

static uint64_t hash_keys(uint64_t h, const mn_config_t *cfg, const char *const (*list)[2],
                          size_t n) {
  char value[MN_PATH_MAX + 16];
  for (size_t j = 0; j < n; j++) {
    const key_spec_t *k = &keys[key_find(list[j][0], list[j][1])];
    key_format(k, cfg, value, sizeof value);
    h = fnv1a(h, k->section);
    h = fnv1a(h, ".");
    h = fnv1a(h, k->key);
    h = fnv1a(h, "=");
    h = fnv1a(h, value);
    h = fnv1a(h, "\n");
  }
  return h;
}

uint64_t mn_config_shape_hash(const mn_config_t *cfg) {
  uint64_t h = hash_keys(0xcbf29ce484222325ULL, cfg, shape_keys,
                         sizeof shape_keys / sizeof shape_keys[0]);
  if (cfg->model.type == MN_MODEL_GPT)
    h = hash_keys(h, cfg, gpt_shape_keys, sizeof gpt_shape_keys / sizeof gpt_shape_keys[0]);
  return h;
}
