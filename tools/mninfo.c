/* mninfo: look at mn snapshots (docs/snapshot-format.md).
 *
 *   mninfo SNAPSHOT.h5        its metadata and a table of its tensors, each checked
 *   mninfo --latest DIR       the path of the newest valid snapshot in DIR
 *   mninfo --verify FILE...   "FILE: ok" or "FILE: invalid: reason", one line per file
 *   mninfo --json FILE        the metadata as one JSON object
 *   mninfo --export OUT FILE  the parameters as safetensors, named as PyTorch names them
 *   mninfo --export-llmc OUT FILE  a gpt's parameters as an llm.c checkpoint
 *
 * It only reads snapshots (runtime/state/: snapshot.c, snapscan.c and snapdir.c do the
 * work) and never changes one; the exports write OUT alone (runtime/state/safetensors.c,
 * llmc.c).
 * Exit codes: 0 valid, 64 usage, 65 invalid or damaged, 66 missing (or no snapshot), 74 the
 * export could not be written. */
#include <getopt.h>
#include <stdlib.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mn_log.h"
#include "mn_json.h"
#include "mn_llmc.h"
#include "mn_safetensors.h"
#include "mn_snapshot.h"
#include "mn_status.h"
#include "mn_suggest.h"
#include "mn_trainstate.h"

static const char usage_text[] =
    "usage: mninfo SNAPSHOT.h5\n"
    "       mninfo --latest DIR\n"
    "       mninfo --verify FILE...\n"
    "       mninfo --json SNAPSHOT.h5\n"
    "       mninfo --export OUT.safetensors SNAPSHOT.h5|DIR\n"
    "       mninfo --export-llmc OUT.bin SNAPSHOT.h5|DIR\n"
    "\n"
    "Show and check mn snapshots (docs/snapshot-format.md). Nothing is ever modified.\n"
    "  (no option)   print the metadata (position, run, dataset, config, version) and a\n"
    "                table of the tensors (name, shape, L2 norm, CRC-32, ok or DAMAGED)\n"
    "  --latest DIR  print the path of the newest valid snapshot in DIR; damaged newer ones\n"
    "                are reported on stderr and skipped\n"
    "  --verify      check each FILE fully; print \"FILE: ok\" or \"FILE: invalid: reason\"\n"
    "  --json        print the metadata as one JSON object (the file is checked fully too)\n"
    "  --export OUT  write the model's parameters to OUT in the safetensors format, named\n"
    "                as torch.nn.Sequential(Linear, ReLU, ..., Linear) names them (\"0.weight\",\n"
    "                \"0.bias\", \"2.weight\", ...), a gpt as GPT-2's (\"wte.weight\",\n"
    "                \"h.0.attn.c_attn.weight\", ...; docs/export.md); DIR: its newest valid one\n"
    "  --export-llmc OUT  a gpt's parameters in llm.c's checkpoint format (version 3,\n"
    "                float32), which llm.c's train_gpt2 and mn's model.init_from read\n"
    "  -h, --help    this text\n"
    "  --version     print \"mninfo VERSION\" and exit\n"
    "\n"
    "Exit codes: 0 valid, 64 usage, 65 invalid or damaged, 66 missing file or no snapshot,\n"
    "74 the export could not be written.\n";

/* mn_error messages start with the path; the --verify lines already do. */
static const char *reason_of(const char *path, const char *msg) {
  size_t len = strlen(path);
  if (strncmp(msg, path, len) == 0 && msg[len] == ':' && msg[len + 1] == ' ') return msg + len + 2;
  return msg;
}

/* ---- the readable report ------------------------------------------------------------------ */

static void print_lines(const char *title, const char *text) {
  printf("%s\n", title);
  if (!text || !*text) {
    printf("  (none)\n");
    return;
  }
  for (const char *p = text; *p;) {
    size_t k = strcspn(p, "\n");
    printf("  %.*s\n", (int)k, p);
    p += k + (p[k] == '\n');
  }
}

static void print_meta(const char *path, const mn_snapshot_meta_t *m) {
  char when[64] = "?";
  time_t t = (time_t)m->created;
  struct tm tm;
  if (gmtime_r(&t, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
  printf("snapshot  %s\n", path);
  printf("version   format %d, written by mn %s at %s\n", m->format, m->mn_version, when);
  printf("position  epoch %" PRId64 ", epoch_pos %" PRId64 ", step %" PRId64 ", samples %" PRId64
         "%s\n",
         m->epoch, m->epoch_pos, m->step, m->samples, m->finished ? " (training finished)" : "");
  printf("reason    %s\n", m->reason);
  char api[16];
  if (mn_config_text_value(m->config, "api", "version", api, sizeof api)) {
    /* a trainer of the public API: no batch, seeds or dataset of mn's (docs/api.md) */
    printf("run       world %d, shape_hash 0x%016" PRIx64 " (a trainer of mn's API, version %s)\n",
           m->world, m->shape_hash, api);
    print_lines("config:", m->config);
    return;
  }
  printf("run       world %d, batch %d per rank, shape_hash 0x%016" PRIx64 ", model_seed %" PRIu64
         ", data_seed %" PRIu64 "\n",
         m->world, m->batch, m->shape_hash, m->model_seed, m->data_seed);
  printf("dataset   %" PRId64 " samples, dim %d, %d classes, label CRC 0x%08" PRIx32, m->data_n,
         m->data_dim, m->data_classes, m->data_label_crc);
  if (m->data_feature_crc_set)
    printf(", feature CRC 0x%08" PRIx32 "\n", m->data_feature_crc);
  else
    printf(", no feature CRC (written before mn had one)\n");
  print_lines("data files (path, rows):", m->data_files);
  print_lines("config:", m->config);
}

static void print_tensor(const mn_snapshot_tensor_info_t *t, void *user) {
  char shape[96] = "";
  size_t used = 0;
  for (int d = 0; d < t->ndims && used < sizeof shape; d++)
    used +=
        (size_t)snprintf(shape + used, sizeof shape - used, "%s%" PRId64, d ? "x" : "", t->dims[d]);
  if (t->dtype == MN_SNAPSHOT_U8 && used < sizeof shape)
    snprintf(shape + used, sizeof shape - used, " bytes");
  char status[64] = "ok";
  if (!t->readable)
    snprintf(status, sizeof status, "DAMAGED (unreadable)");
  else if (t->crc_stored != t->crc_computed)
    snprintf(status, sizeof status, "DAMAGED (computed 0x%08" PRIx32 ")", t->crc_computed);
  if (t->dtype == MN_SNAPSHOT_U8) /* a trainer's blob (docs/api.md): bytes, no norm */
    printf("  %-28s %-14s %14s  0x%08" PRIx32 "  %s\n", t->name, shape, "(bytes)", t->crc_stored,
           status);
  else
    printf("  %-28s %-14s %14.6g  0x%08" PRIx32 "  %s\n", t->name, shape, t->norm, t->crc_stored,
           status);
  ++*(int *)user;
}

static int show(const char *path) {
  mn_snapshot_meta_t meta;
  mn_status_t st = mn_snapshot_read_meta(path, &meta);
  if (st != MN_OK) {
    mn_log_error("%s", mn_error_message());
    return mn_status_exit_code(st);
  }
  print_meta(path, &meta);
  mn_snapshot_meta_free(&meta);
  printf("tensors:\n  %-28s %-14s %14s  %-10s  %s\n", "name", "shape", "L2 norm", "crc32",
         "status");
  int count = 0;
  st = mn_snapshot_each_tensor(path, print_tensor, &count);
  printf("  (%d tensors)\n", count);
  fflush(stdout);
  if (st != MN_OK) {
    mn_log_error("%s", mn_error_message());
    return mn_status_exit_code(st);
  }
  return MN_EXIT_OK;
}

/* ---- JSON ---------------------------------------------------------------------------------- */

static int show_json(const char *path) {
  mn_snapshot_meta_t m;
  mn_status_t st = mn_snapshot_read_meta(path, &m);
  if (st == MN_OK) {
    st = mn_snapshot_each_tensor(path, NULL, NULL);
    if (st != MN_OK) mn_snapshot_meta_free(&m);
  }
  if (st != MN_OK) {
    mn_log_error("%s", mn_error_message());
    return mn_status_exit_code(st);
  }
  printf("{\"path\":");
  mn_json_string(stdout, path);
  printf(",\"format\":%d,\"mn_version\":", m.format);
  mn_json_string(stdout, m.mn_version);
  printf(",\"created\":%.3f,\"epoch\":%" PRId64 ",\"epoch_pos\":%" PRId64 ",\"step\":%" PRId64
         ",\"samples\":%" PRId64 ",\"finished\":%s,\"reason\":",
         m.created, m.epoch, m.epoch_pos, m.step, m.samples, m.finished ? "true" : "false");
  mn_json_string(stdout, m.reason);
  printf(",\"world\":%d,\"batch\":%d,\"shape_hash\":\"0x%016" PRIx64 "\",\"model_seed\":%" PRIu64
         ",\"data_seed\":%" PRIu64 ",\"data_n\":%" PRId64 ",\"data_dim\":%d,\"data_classes\":%d"
         ",\"data_label_crc\":\"0x%08" PRIx32 "\",\"data_files\":",
         m.world, m.batch, m.shape_hash, m.model_seed, m.data_seed, m.data_n, m.data_dim,
         m.data_classes, m.data_label_crc);
  mn_json_string(stdout, m.data_files);
  if (m.data_feature_crc_set)
    printf(",\"data_feature_crc\":\"0x%08" PRIx32 "\"", m.data_feature_crc);
  printf(",\"config\":");
  mn_json_string(stdout, m.config);
  printf("}\n");
  mn_snapshot_meta_free(&m);
  return MN_EXIT_OK;
}

/* ---- --latest and --verify ----------------------------------------------------------------- */

static int latest(const char *dir) {
  char path[4096];
  mn_status_t st = mn_snapshot_latest(dir, path, sizeof path);
  if (st != MN_OK) {
    mn_log_error("%s", mn_error_message());
    return mn_status_exit_code(st);
  }
  printf("%s\n", path);
  return MN_EXIT_OK;
}

static int verify(char **files, int n) {
  int invalid = 0, missing = 0;
  for (int i = 0; i < n; i++) {
    mn_status_t st = mn_snapshot_verify(files[i]);
    if (st == MN_OK) {
      printf("%s: ok\n", files[i]);
      continue;
    }
    printf("%s: invalid: %s\n", files[i], reason_of(files[i], mn_error_message()));
    if (st == MN_ERR_NOINPUT)
      missing++;
    else
      invalid++;
  }
  if (invalid) return MN_EXIT_DATAERR;
  return missing ? MN_EXIT_NOINPUT : MN_EXIT_OK;
}

/* ---- --export and --export-llmc ------------------------------------------------------------ */

/* The shape of cfg's model as text: an MLP's widths ("784,1024,10"), a gpt's
 * "vocab 50257, context 1024, layers 12, heads 12, width 768". */
static void model_text(const mn_config_t *cfg, char *buf, size_t len) {
  if (cfg->model.type == MN_MODEL_GPT) {
    snprintf(buf, len, "vocab %d, context %d, layers %d, heads %d, width %d", cfg->model.vocab,
             cfg->model.context, cfg->model.layers[0], cfg->model.heads, cfg->model.width);
    return;
  }
  buf[0] = '\0';
  for (int l = 0; l < cfg->model.nlayers; l++) {
    size_t used = strlen(buf);
    snprintf(buf + used, len - used, "%s%d", l ? "," : "", cfg->model.layers[l]);
  }
}

/* The safetensors metadata of cfg's model (docs/export.md): an MLP's mn_layers, a gpt's
 * mn_vocab, mn_context, mn_layers (blocks), mn_heads, mn_width. out: md[0, 2 * *n) (key,
 * value pairs; values in vals). */
static void model_metadata(const mn_config_t *cfg, char vals[][512], const char **md, int *n) {
  int k = 0;
  if (cfg->model.type == MN_MODEL_GPT) {
    const char *keys[] = {"mn_vocab", "mn_context", "mn_layers", "mn_heads", "mn_width"};
    const int v[] = {cfg->model.vocab, cfg->model.context, cfg->model.layers[0], cfg->model.heads,
                     cfg->model.width};
    for (; k < 5; k++) {
      snprintf(vals[k], 512, "%d", v[k]);
      md[2 * k] = keys[k];
      md[2 * k + 1] = vals[k];
    }
  } else {
    model_text(cfg, vals[0], 512);
    md[0] = "mn_layers";
    md[1] = vals[0];
    k = 1;
  }
  *n = k;
}

/* The model of a snapshot (or a directory's newest valid one), its parameters loaded.
 * out: path (the file), meta, cfg, m (free with mn_model_free, after meta and cfg). */
static mn_status_t load_snapshot_model(const char *snapshot, char *path, size_t pathlen,
                                       mn_snapshot_meta_t *meta, mn_config_t *cfg, mn_model_t *m) {
  memset(meta, 0, sizeof *meta);
  mn_status_t st = mn_snapshot_find(snapshot, path, pathlen);
  if (st == MN_OK) st = mn_snapshot_read_meta(path, meta);
  char api[16];
  if (st == MN_OK && mn_config_text_value(meta->config, "api", "version", api, sizeof api))
    st = mn_error(MN_ERR_DATA,
                  "%s: written by a trainer of mn's API, whose model is its own: the exports are "
                  "for mntrain's models (its tensors: mninfo %s, or h5dump)",
                  path, path);
  if (st == MN_OK) st = mn_trainstate_load_model(path, meta, NULL, 0, 1, cfg, m);
  return st;
}

/* The model's parameters under their registry names, which are those of the same network
 * in PyTorch (the MLP's: torch.nn.Sequential(Linear, ReLU, ..., Linear), "2.weight" is
 * [out, in]; a gpt's: GPT-2's, as Hugging Face's GPT2Model names them, without its
 * "transformer." prefix, the tied head's lm_head.weight being wte.weight and written once),
 * so that model.load_state_dict(safetensors.torch.load_file(OUT)) loads them
 * (docs/export.md). With llmc: the parameters in llm.c's checkpoint format instead
 * (a gpt only; runtime/state/llmc.c). */
static int export_model(const char *snapshot, const char *out, int llmc) {
  char path[4096], shape[512], step[32], vals[5][512];
  mn_snapshot_meta_t meta = {0};
  mn_config_t *cfg = calloc(1, sizeof *cfg);
  mn_model_t m;
  mn_status_t st = cfg ? MN_OK : mn_error(MN_ERR_NOMEM, "out of memory");
  if (st == MN_OK) st = load_snapshot_model(snapshot, path, sizeof path, &meta, cfg, &m);
  if (st == MN_OK) {
    model_text(cfg, shape, sizeof shape);
    snprintf(step, sizeof step, "%" PRId64, meta.step);
    if (llmc) {
      st = mn_llmc_write(out, &m, m.params);
    } else {
      const char *md[2 * 10] = {"format", "pt",      "mn_model", m.spec.type,  "mn_snapshot",
                                path,     "mn_step", step,       "mn_version", MN_VERSION};
      int nmodel = 0;
      model_metadata(cfg, vals, md + 10, &nmodel);
      mn_snapshot_tensor_t *t = NULL;
      int nt = 0;
      st = mn_trainstate_torch_tensors(&m, m.params, &t, &nt);
      if (st == MN_OK) st = mn_safetensors_write(out, t, nt, md, 5 + nmodel);
      free(t);
    }
    if (st == MN_OK)
      printf("%s: %s (%s), step %s, written from %s\n", out, shape, m.spec.type, step, path);
    mn_model_free(&m);
  }
  free(cfg);
  mn_snapshot_meta_free(&meta);
  if (st != MN_OK) mn_log_error("%s", mn_error_message());
  return mn_status_exit_code(st);
}

int main(int argc, char **argv) {
  enum { MODE_SHOW, MODE_LATEST, MODE_VERIFY, MODE_JSON, MODE_EXPORT, MODE_LLMC } mode = MODE_SHOW;
  const char *export_to = NULL;
  static const struct option options[] = {
      {"latest", no_argument, NULL, 'l'},
      {"verify", no_argument, NULL, 'v'},
      {"json", no_argument, NULL, 'j'},
      {"export", required_argument, NULL, 'e'},
      {"export-llmc", required_argument, NULL, 'x'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0},
  };
  mn_log_init("mninfo", -1, NULL);
  opterr = 0;
  int modes = 0, c;
  while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
    switch (c) {
    case 'l': mode = MODE_LATEST, modes++; break;
    case 'v': mode = MODE_VERIFY, modes++; break;
    case 'j': mode = MODE_JSON, modes++; break;
    case 'e': mode = MODE_EXPORT, modes++, export_to = optarg; break;
    case 'x': mode = MODE_LLMC, modes++, export_to = optarg; break;
    case 'h': fputs(usage_text, stdout); return MN_EXIT_OK;
    case 'V': printf("mninfo %s\n", MN_VERSION); return MN_EXIT_OK;
    default: {
      char msg[256];
      mn_log_error("%s (see --help)",
                   mn_suggest_unknown_option(argv[optind - 1], options, msg, sizeof msg));
      return MN_EXIT_USAGE;
    }
    }
  }
  int nargs = argc - optind;
  if (modes > 1 || nargs < 1 || (mode != MODE_VERIFY && nargs != 1)) {
    mn_log_error("%s", modes > 1 ? "--latest, --verify, --json and the exports exclude each other"
                                 : "wrong number of arguments (see --help)");
    return MN_EXIT_USAGE;
  }
  switch (mode) {
  case MODE_LATEST: return latest(argv[optind]);
  case MODE_VERIFY: return verify(argv + optind, nargs);
  case MODE_JSON: return show_json(argv[optind]);
  case MODE_EXPORT: return export_model(argv[optind], export_to, 0);
  case MODE_LLMC: return export_model(argv[optind], export_to, 1);
  case MODE_SHOW: break;
  }
  return show(argv[optind]);
}
