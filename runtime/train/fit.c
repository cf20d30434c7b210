/* fit.c: whether a snapshot can continue a run of this config (mn_train.h): mntrain's fits
 * function for mn/state.h, and the changed keys a resume logs.
 *
 * A snapshot records its run's effective config. It fits when the keys that shape the model
 * and the data order (mn_config_is_shape_key) have the same values, and it holds the state
 * of the same optimizer kind. A key the snapshot predates counts as the default it had then
 * (new keys default to what mn did before them). The training set's identity and the
 * tensors are mn/state.h's checks. */
#include "mn_train.h"

#include <stdio.h>
#include <string.h>

#include <mn/log.h>

#define VALUE_MAX 512

/* The value of section.key in a snapshot's config text, into value; returns value
 * ("(unset)" for a required key without a line). */
static const char *snapshot_value(const char *config, const char *section, const char *key,
                                  char *value, size_t len) {
  if (!mn_config_text_value(config, section, key, value, len) &&
      !mn_config_default_value(section, key, value, len))
    snprintf(value, len, "(unset)");
  return value;
}

mn_state_fit_t mn_train_fits(void *arg, const char *path, const mn_state_run_t *run, char *why,
                             size_t len) {
  const char *here = arg; /* this run's config text */
  char a[VALUE_MAX], b[VALUE_MAX];
  (void)path;
  if (mn_config_text_value(here, "model", "layers", a, sizeof a) &&
      strcmp(a, snapshot_value(run->config, "model", "layers", b, sizeof b))) {
    snprintf(why, len, "another model shape: model.layers is %.200s in the snapshot, %.200s here",
             b, a);
    return MN_STATE_REFUSE;
  }
  for (const char *line = here; *line;) {
    char section[64], key[64];
    if (sscanf(line, "%63[^.].%63[^ ] = ", section, key) == 2 &&
        mn_config_is_shape_key(section, key) &&
        mn_config_text_value(here, section, key, a, sizeof a) &&
        strcmp(a, snapshot_value(run->config, section, key, b, sizeof b))) {
      /* a gpt's shape keys (model.type, vocab, context, heads, width) shape the model */
      int shape = !strcmp(section, "model") && strcmp(key, "seed") != 0;
      snprintf(why, len, "another %s: %s.%s is %.200s in the snapshot, %.200s here",
               shape ? "model shape" : "run", section, key, b, a);
      return shape ? MN_STATE_REFUSE : MN_STATE_SKIP;
    }
    const char *nl = strchr(line, '\n');
    line = nl ? nl + 1 : line + strlen(line);
  }
  mn_config_text_value(here, "optimizer", "kind", a, sizeof a);
  if (strcmp(a, snapshot_value(run->config, "optimizer", "kind", b, sizeof b))) {
    snprintf(why, len,
             "it holds the state of optimizer.kind = %s, and this run uses %s (resume with %s, "
             "or start afresh with --resume never)",
             b, a, b);
    return MN_STATE_REFUSE;
  }
  return MN_STATE_FITS;
}

void mn_train_log_changes(const char *here, const char *snapshot) {
  for (const char *line = here; *line;) {
    char section[64], key[64], a[VALUE_MAX], b[VALUE_MAX];
    if (sscanf(line, "%63[^.].%63[^ ] = ", section, key) == 2 && strcmp(section, "log") &&
        strcmp(section, "snapshot") && mn_config_text_value(here, section, key, a, sizeof a) &&
        strcmp(a, snapshot_value(snapshot, section, key, b, sizeof b)))
      mn_log_warn("%s.%s is %s now, %s in the snapshot's run", section, key, a, b);
    const char *nl = strchr(line, '\n');
    line = nl ? nl + 1 : line + strlen(line);
  }
}
