/* mn_config.h: train.conf, validated into one struct.
 *
 * The file is INI (parsed with libinih); every key is documented in docs/config.md with
 * type, default and range. mn_config_load() reads the file, applies --set overrides, and
 * checks everything before a rank trains: unknown keys, missing required keys, bad types,
 * out-of-range values. On error it writes one message naming file:line (or the --set
 * argument) and the key into err, and returns MN_ERR_CONFIG (MN_ERR_NOINPUT when the file
 * itself cannot be opened). */
#ifndef MN_CONFIG_H
#define MN_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include <mn/metrics.h> /* mn_progress_t */

#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MN_MAX_LAYERS 32 /* most entries in model.layers */
#define MN_PATH_MAX 4096

typedef enum { MN_MODEL_MLP = 0, MN_MODEL_GPT = 1 } mn_model_type_t;
typedef enum { MN_OPTIM_SGD = 0, MN_OPTIM_ADAMW = 1 } mn_optimizer_kind_t;
/* What a parameter tensor is, for optimizer.no_decay: tensors of role r skip weight decay
 * when bit (1u << r) of no_decay_mask is set. */
typedef enum {
  MN_ROLE_WEIGHT = 0,
  MN_ROLE_BIAS = 1,
  MN_ROLE_NORM = 2,
  MN_ROLE_EMBEDDING = 3,
  MN_ROLE_COUNT
} mn_tensor_role_t;
/* "weight", "bias", "norm", "embedding" ("?" for another value). */
const char *mn_tensor_role_name(mn_tensor_role_t role);
typedef enum { MN_REMAINDER_DROP = 0, MN_REMAINDER_PAD = 1 } mn_remainder_t;
typedef enum { MN_LR_CONSTANT = 0, MN_LR_STEP = 1, MN_LR_COSINE = 2 } mn_lr_schedule_t;
typedef enum { MN_BACKEND_AUTO = 0, MN_BACKEND_MPI = 1, MN_BACKEND_NCCL = 2 } mn_comm_backend_t;
typedef enum { MN_DEVICE_AUTO = 0, MN_DEVICE_CPU = 1, MN_DEVICE_GPU = 2 } mn_device_kind_t;
typedef enum { MN_RESUME_AUTO = 0, MN_RESUME_REQUIRE = 1, MN_RESUME_NEVER = 2 } mn_resume_t;
typedef enum { MN_ON_ERROR_STOP = 0, MN_ON_ERROR_CONTINUE = 1 } mn_on_error_t;
/* a step whose loss or gradient is NaN or infinite: stop the run, or skip its update */
typedef enum { MN_NONFINITE_STOP = 0, MN_NONFINITE_SKIP = 1 } mn_nonfinite_t;
/* mn_progress_t (log.progress): <mn/metrics.h> */

typedef struct mn_config {
  char path[MN_PATH_MAX]; /* the file it came from */

  struct {
    mn_model_type_t type;
    int layers[MN_MAX_LAYERS];   /* mlp: widths, input first, classes last (>= 2 of them);
                                    gpt: one entry, the number of transformer blocks */
    int nlayers;                 /* entries in layers */
    int vocab, context, heads, width; /* gpt: token ids in [0, vocab), sequence length,
                                         attention heads, channels (0 for an mlp) */
    uint64_t seed;               /* weight initialisation */
    char init_from[MN_PATH_MAX]; /* initial weights: safetensors or a snapshot; "" = seed */
  } model;

  struct {
    char train[MN_PATH_MAX]; /* file, comma-separated list, or glob */
    char val[MN_PATH_MAX];   /* same; "" = no validation */
    int batch_size;          /* per rank */
    mn_remainder_t remainder;
    int shuffle;        /* bool */
    int block_size;     /* samples per contiguous block */
    int shuffle_blocks; /* blocks per shuffle window */
    int prefetch;       /* batches read ahead by the loader thread */
    uint64_t seed;      /* sample order */
  } data;

  struct {
    mn_optimizer_kind_t kind;
    double lr;
    double momentum;        /* SGD */
    int nesterov;           /* bool; SGD */
    double beta1;           /* AdamW */
    double beta2;           /* AdamW */
    double eps;             /* AdamW */
    double weight_decay;    /* both kinds; decoupled in AdamW */
    char no_decay[64];      /* as written: "auto", "none" or a list of roles */
    unsigned no_decay_mask; /* no_decay resolved for kind: bit (1u << mn_tensor_role_t) = skipped */
    int accum_steps;        /* micro-batches of data.batch_size per optimizer step */
    double clip_norm;       /* global L2 norm of the gradient; 0 = no clipping */
    mn_nonfinite_t nonfinite;
    int nonfinite_max_skips; /* skip: stop after this many non-finite steps in a row */
  } optimizer;

  struct {
    int epochs;
    int64_t max_steps; /* 0 = no limit */
    mn_lr_schedule_t lr_schedule;
    int64_t warmup_steps;
    int step_epochs;   /* step schedule: decay every this many epochs */
    double step_gamma; /* step schedule: factor per decay */
    double min_lr;     /* cosine schedule: floor */
  } schedule;

  struct {
    double bucket_mb;
    mn_comm_backend_t backend;
    double timeout_s; /* a GPU collective that takes longer means a dead peer */
  } comm;

  struct {
    mn_device_kind_t device;
    int tf32;          /* TF32 tensor-core GEMMs on the GPU */
    int deterministic; /* bitwise reproducible GPU runs where cuBLAS and NCCL allow */
    double peak_tflops; /* one device's peak, for MFU; 0 = known GPUs' from their name */
  } compute;

  struct {
    int interval; /* steps between progress lines and metrics records */
    int level;    /* mn_log_level_t */
    mn_progress_t progress;
    char metrics[MN_PATH_MAX];     /* JSON lines; "" = none */
    char tensorboard[MN_PATH_MAX]; /* a directory for TensorBoard events; "" = none */
  } log;

  struct {
    int enabled;           /* bool */
    char dir[MN_PATH_MAX]; /* never "" after loading: the default is derived from the path */
    int64_t every_steps;   /* 0 = only at epoch ends, the end, and on a stop signal */
    int keep;              /* newest snapshots kept; 0 = all */
    mn_resume_t resume;
    mn_on_error_t on_error; /* after a failed epoch or interval snapshot */
  } snapshot;
} mn_config_t;

/* Load path, then apply sets[0..nsets) ("section.key=value") in order. A NULL path means
 * no file: every required key must then come from sets. Lines longer than the INI
 * reader's limit (197 characters) are an error, not truncated; --set has no such limit.
 * in: path, sets, nsets; out: cfg (written only on success), err (always, "" on success). */
mn_status_t mn_config_load(const char *path, const char *const *sets, int nsets, mn_config_t *cfg,
                           char *err, size_t errlen);

/* Every key, for docs and tests: calls fn(section, key, user) once per key. */
void mn_config_each_key(void (*fn)(const char *section, const char *key, void *user), void *user);

/* One key of the schema, as docs/config.md and --help describe it. The strings live only
 * for the duration of the callback. */
typedef struct mn_config_key_info {
  const char *section;
  const char *key;
  const char *type;  /* "int", "int64", "uint64", "double", "bool", "string", "enum", "int list" */
  const char *def;   /* the default as text; NULL when the key is required */
  const char *range; /* "1 to 1048576", "more than 0, at most 100", "drop, pad"; "" = any */
  const char *doc;   /* one line */
} mn_config_key_info_t;

/* Every key with its type, default, range and meaning, in schema order. */
void mn_config_each_key_info(void (*fn)(const mn_config_key_info_t *info, void *user), void *user);

/* The default of section.key in canonical text, as mn_config_each_value would write it
 * for a config that leaves the key alone (a snapshot written before a key existed had its
 * default). out: value. Returns 0, value untouched, when the key is unknown or required. */
int mn_config_default_value(const char *section, const char *key, char *value, size_t len);

/* The effective value of every key, in schema order and canonical text (integers in
 * decimal, doubles as %.17g, bools as true/false, enums by name, lists as "784,10"), for
 * logging and metrics headers: calls fn(section, key, value, user) once per key. */
void mn_config_each_value(const mn_config_t *cfg,
                          void (*fn)(const char *section, const char *key, const char *value,
                                     void *user),
                          void *user);

/* The effective config as text, one "section.key = value" line per key in schema order
 * (mn_config_each_value's values): what a snapshot records. Heap (the caller frees); NULL
 * when out of memory. */
char *mn_config_text(const mn_config_t *cfg);
/* The value of section.key in such a text, into value[0, len). Returns 0 when the text has
 * no line for it (value untouched). */
int mn_config_text_value(const char *text, const char *section, const char *key, char *value,
                         size_t len);

/* A hash of the keys that shape the model and the data order (snapshots compare it):
 * FNV-1a 64 over the lines "section.key=value\n", canonical values as in
 * mn_config_each_value, of model.layers, model.seed, data.seed, data.shuffle,
 * data.block_size, data.shuffle_blocks and data.remainder, in that order, then, for a gpt
 * only (so that an mlp's hash is what it was before gpts), model.type, model.vocab,
 * model.context, model.heads and model.width. Not included: data.batch_size (the data
 * order depends on the global batch, which snapshots record themselves), file paths,
 * optimizer, schedule, comm and log keys. */
uint64_t mn_config_shape_hash(const mn_config_t *cfg);
/* Whether section.key is one of the keys of mn_config_shape_hash. */
int mn_config_is_shape_key(const char *section, const char *key);

#ifdef __cplusplus
}
#endif
#endif /* MN_CONFIG_H */
