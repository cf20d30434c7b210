/* resume.c: choosing and loading the snapshot a run continues from (mn_resume.h).
 *
 * Rank 0 does the choosing and the reading (snapshots are written by rank 0, and the other
 * ranks' nodes need not see the directory); the outcome is agreed, and the position and
 * the tensors are broadcast. The file format is mn_snapshot.h's; what the tensors are is
 * mn_trainstate.h's. */
#include "mn_resume.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mn_log.h"

#define VALUE_MAX 512

/* The value of section.key in a snapshot's config text, into value; returns value. A
 * snapshot written before the key existed has no line for it, and its run had the key's
 * default (new keys default to what mn did before them); "(unset)" for a required key
 * without a line. */
static const char *snapshot_value(const char *config, const char *section, const char *key,
                                  char *value, size_t len) {
  if (!mn_trainstate_config_value(config, section, key, value, len) &&
      !mn_config_default_value(section, key, value, len))
    snprintf(value, len, "(unset)");
  return value;
}

/* Whether snapshot s fits this run (here). NULL when it does; otherwise why not, in why,
 * and *model_shape = 1 when it is the model's shape that differs. */
static const char *misfit(const mn_snapshot_meta_t *here, const mn_snapshot_meta_t *s,
                          int *model_shape, char *why, size_t len) {
  char a[VALUE_MAX], b[VALUE_MAX];
  *model_shape = 0;
  if (!s->config || !s->config[0]) return snprintf(why, len, "it records no config"), why;
  if (mn_trainstate_config_value(here->config, "model", "layers", a, sizeof a) &&
      strcmp(a, snapshot_value(s->config, "model", "layers", b, sizeof b))) {
    *model_shape = 1;
    snprintf(why, len, "another model shape: model.layers is %.200s in the snapshot, %.200s here",
             b, a);
    return why;
  }
  for (const char *line = here->config; *line;) {
    char section[64], key[64];
    if (sscanf(line, "%63[^.].%63[^ ] = ", section, key) == 2 &&
        mn_config_is_shape_key(section, key) &&
        mn_trainstate_config_value(here->config, section, key, a, sizeof a)) {
      if (strcmp(a, snapshot_value(s->config, section, key, b, sizeof b))) {
        /* a gpt's shape keys (model.type, vocab, context, heads, width) shape the model */
        *model_shape = !strcmp(section, "model") && strcmp(key, "seed") != 0;
        snprintf(why, len, "another %s: %s.%s is %.200s in the snapshot, %.200s here",
                 *model_shape ? "model shape" : "run", section, key, b, a);
        return why;
      }
    }
    const char *nl = strchr(line, '\n');
    line = nl ? nl + 1 : line + strlen(line);
  }
  if (s->data_n != here->data_n || s->data_dim != here->data_dim ||
      s->data_classes != here->data_classes) {
    int tokens = mn_trainstate_config_value(here->config, "model", "type", a, sizeof a) &&
                 !strcmp(a, "gpt");
    snprintf(why, len,
             tokens ? "another training set: %lld windows of %d tokens, vocabulary %d in the "
                      "snapshot, %lld x %d and %d here"
                    : "another training set: %lld samples of %d features and %d classes in the "
                      "snapshot, %lld x %d and %d here",
             (long long)s->data_n, s->data_dim, s->data_classes, (long long)here->data_n,
             here->data_dim, here->data_classes);
    return why;
  }
  if (s->data_label_crc != here->data_label_crc) {
    snprintf(why, len,
             "another training set: the labels differ (CRC %08x in the snapshot, %08x here)",
             (unsigned)s->data_label_crc, (unsigned)here->data_label_crc);
    return why;
  }
  if (s->data_feature_crc_set && s->data_feature_crc != here->data_feature_crc) {
    snprintf(why, len,
             "another training set: the features differ (CRC of %d fixed rows %08x in the "
             "snapshot, %08x here: regenerated or renormalised?)",
             MN_DATA_FEATURE_ROWS, (unsigned)s->data_feature_crc,
             (unsigned)here->data_feature_crc);
    return why;
  }
  return NULL;
}

/* Keys that changed since the snapshot's run and matter to the result: logged, not
 * refused (a new learning rate after a resume is a legitimate choice). A key the snapshot
 * predates counts as its default there. */
static void log_changes(const mn_snapshot_meta_t *here, const mn_snapshot_meta_t *s) {
  for (const char *line = here->config; *line;) {
    char section[64], key[64], a[VALUE_MAX], b[VALUE_MAX];
    if (sscanf(line, "%63[^.].%63[^ ] = ", section, key) == 2 && strcmp(section, "log") &&
        strcmp(section, "snapshot") &&
        mn_trainstate_config_value(here->config, section, key, a, sizeof a) &&
        strcmp(a, snapshot_value(s->config, section, key, b, sizeof b)))
      mn_log_warn("%s.%s is %s now, %s in the snapshot's run", section, key, a, b);
    const char *nl = strchr(line, '\n');
    line = nl ? nl + 1 : line + strlen(line);
  }
}

/* Whether snapshot s holds the state this run keeps: the same optimizer kind, and a format
 * that can name this model's tensors (format 1: MLPs with SGD). NULL when it does; the
 * reason otherwise (*model_shape = 1: refused under resume = require). The tensors' names
 * and shapes are checked as they are read. */
static const char *state_misfit(const mn_model_t *m, const mn_optim_kind_t *kind,
                                const mn_snapshot_meta_t *s, int *model_shape, char *why,
                                size_t len) {
  const mn_optim_kind_t *theirs = mn_trainstate_kind(s);
  *model_shape = 1;
  if (theirs != kind) {
    snprintf(why, len,
             "it holds the state of optimizer.kind = %s, and this run uses %s (resume with %s, "
             "or start afresh with --resume never)",
             theirs->name, kind->name, theirs->name);
    return why;
  }
  if (mn_trainstate_check_format(m, kind, s->format) != MN_OK) {
    snprintf(why, len, "%s", mn_error_message());
    return why;
  }
  *model_shape = 0;
  return NULL;
}

/* Rank 0: the choice. */
static mn_status_t choose(const mn_config_t *cfg, const mn_snapshot_meta_t *here,
                          const mn_model_t *m, const mn_optim_kind_t *kind, float *const *bufs,
                          mn_resume_result_t *res) {
  const char *dir = cfg->snapshot.dir;
  mn_snapshot_entry_t *e = NULL;
  int n = 0;
  mn_status_t st = mn_snapshot_scan(dir, &e, &n);
  if (st != MN_OK) return st;
  if (cfg->snapshot.resume == MN_RESUME_NEVER) {
    int moved = 0;
    char sub[4096] = "";
    if (n > 0) st = mn_snapshot_set_aside(dir, &moved, sub, sizeof sub);
    if (moved > 0) mn_log_info("resume never: moved %d old snapshot(s) to %s", moved, sub);
    mn_snapshot_entries_free(e, n);
    return st;
  }
  for (int i = 0; i < n; i++) /* unreadable files come last in the scan: told first */
    if (e[i].status != MN_OK) mn_log_warn("skipping snapshot %s", e[i].reason); /* names it */
  for (int i = 0; i < n; i++) {
    char why[1024];
    int shape = 0;
    if (e[i].status != MN_OK) continue;
    if (misfit(here, &e[i].meta, &shape, why, sizeof why) ||
        state_misfit(m, kind, &e[i].meta, &shape, why, sizeof why)) {
      if (shape && cfg->snapshot.resume == MN_RESUME_REQUIRE) {
        st = mn_error(MN_ERR_DATA, "%s: %s", e[i].path, why);
        goto done;
      }
      mn_log_warn("skipping snapshot %s: %s", e[i].path, why);
      continue;
    }
    mn_snapshot_tensor_t *t = NULL;
    int nt = 0;
    st = mn_trainstate_tensors(m, kind, e[i].meta.format, bufs, &t, &nt);
    if (st == MN_OK) st = mn_snapshot_read_tensors(e[i].path, t, nt);
    free(t);
    if (st == MN_ERR_NOMEM) goto done;
    if (st != MN_OK) {
      st = MN_OK;
      mn_log_warn("skipping snapshot %s", mn_error_message());
      continue;
    }
    const mn_snapshot_meta_t *s = &e[i].meta;
    res->resumed = 1;
    snprintf(res->path, sizeof res->path, "%s", e[i].path);
    res->pos = (mn_position_t){s->epoch, s->epoch_pos, s->step, s->samples};
    res->world = s->world;
    res->batch = s->batch;
    res->elapsed_s = s->elapsed_s;
    res->loss = s->loss;
    res->train_loss = s->train_loss;
    res->val_loss = s->val_loss;
    res->val_accuracy = s->val_accuracy;
    mn_log_info("resuming from %s: %lld steps and %lld samples done, in epoch %lld (written by "
                "mn %s on %d ranks)",
                e[i].path, (long long)s->step, (long long)s->samples, (long long)s->epoch + 1,
                s->mn_version, s->world);
    if (!s->data_feature_crc_set)
      mn_log_info("%s predates the check of the features (no data_feature_crc): only N, D, "
                  "classes and the labels were compared",
                  e[i].path);
    log_changes(here, s);
    goto done;
  }
  if (n == 0 && cfg->snapshot.resume == MN_RESUME_REQUIRE)
    st = mn_error(MN_ERR_NOINPUT, "%s: no snapshot to resume from (--resume require)", dir);
  else if (n > 0)
    st = mn_error(MN_ERR_DATA,
                  "%s holds %d snapshot file(s) and none can be resumed (reasons above); to start "
                  "afresh use --resume never (they are moved to a subdirectory), or set "
                  "snapshot.dir elsewhere",
                  dir, n);
done:
  mn_snapshot_entries_free(e, n);
  return st;
}

mn_status_t mn_resume(const mn_config_t *cfg, mn_comm_t *comm, const mn_snapshot_meta_t *here,
                      const mn_model_t *m, const mn_optim_kind_t *kind, float *const *bufs,
                      mn_resume_result_t *res) {
  memset(res, 0, sizeof *res);
  mn_status_t st = MN_OK;
  if (comm->rank == 0 && cfg->snapshot.enabled) st = choose(cfg, here, m, kind, bufs, res);
  int first;
  st = mn_comm_settle(comm, st, &first);
  if (st != MN_OK) return st;
  int64_t v[7] = {res->resumed,     res->pos.epoch, res->pos.epoch_pos, res->pos.step,
                  res->pos.samples, res->world,     res->batch};
  st = mn_comm_bcast_i64(comm, v, 7);
  for (int b = 0; st == MN_OK && v[0] && b < 1 + kind->nstates; b++)
    st = mn_comm_bcast_f32(comm, bufs[b], m->nparams);
  if (st != MN_OK) return mn_comm_settle(comm, st, &first);
  res->resumed = (int)v[0];
  res->pos = (mn_position_t){v[1], v[2], v[3], v[4]};
  res->world = (int)v[5];
  res->batch = (int)v[6];
  return MN_OK;
}
