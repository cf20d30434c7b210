/* mneval: score a trained model on a dataset, or predict with it (docs/eval.md).
 *
 *   mneval [--data SPEC] [--predict FILE] [--json] SNAPSHOT.h5|DIR
 *
 * It rebuilds the model a snapshot was trained with from the config the snapshot carries,
 * reads its parameters (every tensor's shape and CRC checked), and runs the forward pass
 * over a dataset on the CPU, in one process, without MPI and without the training set: the
 * loss, the accuracy, the accuracy of each class and the confusion matrix, as text or one
 * JSON object. --predict writes each row's predicted class and class probabilities to HDF5
 * or CSV. Nothing it reads is ever written. It neither trains nor writes snapshots. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "mn_config.h"
#include "mn_json.h"
#include "mn_data.h"
#include "mn_h5.h"
#include "mn_log.h"
#include "mn_model.h"
#include "mn_snapshot.h"
#include "mn_status.h"
#include "mn_suggest.h"
#include "mn_trainstate.h"

#define MAX_SETS 256
#define CONFUSION_PRINT_MAX 32 /* classes up to which the text report shows the matrix */

static const char usage_text[] =
    "usage: mneval [--data SPEC] [--predict FILE] [--batch N] [--json] [--set K=V]...\n"
    "              SNAPSHOT.h5|DIR\n"
    "\n"
    "Score the model of an mn snapshot on a dataset (docs/eval.md), on the CPU, without the\n"
    "training set and without writing snapshots. DIR means its newest valid snapshot.\n"
    "  --data SPEC      the dataset (mn's HDF5 layout; a file, a glob or a comma list of\n"
    "                   shards: docs/data.md); default: the run's data.val\n"
    "  --predict FILE   also write each row's predicted class and class probabilities:\n"
    "                   FILE.h5 (datasets /pred int32 [N], /prob float32 [N, classes],\n"
    "                   /y int32 [N]) or FILE.csv (row,pred,label,p0,...); an existing FILE\n"
    "                   is replaced only once the new one is complete\n"
    "  --batch N        rows per forward pass (default 1024)\n"
    "  --json           print the result as one JSON object instead of text\n"
    "  --set K=V        override a key of the run's config (e.g. model.seed; the shape\n"
    "                   keys must still match the snapshot's tensors)\n"
    "  -V, --version    print \"mneval VERSION\" and exit\n"
    "  -h, --help       this text\n"
    "\n"
    "Exit codes: 0 done, 64 usage, 65 bad data or snapshot (another model shape, a\n"
    "damaged tensor, features or classes that do not fit), 66 missing file or no snapshot,\n"
    "74 the predictions could not be written.\n";

typedef struct opts {
  const char *data, *predict, *snapshot;
  int batch, json;
  const char *sets[MAX_SETS];
  int nsets;
} opts_t;

/* What the pass over the dataset found. */
typedef struct score {
  int64_t n, correct;
  double loss_sum;
  int classes;
  int64_t *confusion; /* [classes, classes]: row = true class, column = predicted */
} score_t;

/* ---- the pass over the dataset ------------------------------------------------------------ */

/* Predictions, written as they are made: CSV rows, or HDF5 hyperslabs. */
typedef struct predict_out {
  const char *path;
  char tmp[4200];
  int csv, classes;
  FILE *f;
  hid_t file, pred, prob, y;
} predict_out_t;

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && !strcmp(s + n - k, suffix);
}

static hid_t create_2d(hid_t file, const char *name, hid_t type, hsize_t n, hsize_t cols) {
  hsize_t dims[2] = {n, cols}, chunk[2] = {n < 4096 ? (n ? n : 1) : 4096, cols};
  hid_t space = H5Screate_simple(cols ? 2 : 1, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, cols ? 2 : 1, chunk);
  hid_t d = H5Dcreate2(file, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  H5Pclose(dcpl);
  H5Sclose(space);
  return d;
}

static mn_status_t predict_open(predict_out_t *p, const char *path, int64_t n, int classes) {
  memset(p, 0, sizeof *p);
  p->path = path;
  p->file = p->pred = p->prob = p->y = H5I_INVALID_HID;
  p->classes = classes;
  p->csv = ends_with(path, ".csv");
  if (!p->csv && !ends_with(path, ".h5") && !ends_with(path, ".hdf5"))
    return mn_error(MN_ERR_USAGE, "--predict %s: expected a name ending in .h5, .hdf5 or .csv",
                    path);
  snprintf(p->tmp, sizeof p->tmp, "%s.tmp%ld", path, (long)getpid());
  if (p->csv) {
    p->f = fopen(p->tmp, "w");
    if (!p->f) return mn_error(MN_ERR_IO, "%s: cannot create: %s", p->tmp, strerror(errno));
    fputs("row,pred,label", p->f);
    for (int c = 0; c < classes; c++) fprintf(p->f, ",p%d", c);
    fputc('\n', p->f);
    return MN_OK;
  }
  char why[256];
  p->file = H5Fcreate(p->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (p->file < 0) return mn_error(MN_ERR_IO, "%s: cannot create: %s", p->tmp, mn_h5_reason(why));
  p->pred = create_2d(p->file, "pred", H5T_NATIVE_INT32, (hsize_t)n, 0);
  p->prob = create_2d(p->file, "prob", H5T_NATIVE_FLOAT, (hsize_t)n, (hsize_t)classes);
  p->y = create_2d(p->file, "y", H5T_NATIVE_INT32, (hsize_t)n, 0);
  if (p->pred < 0 || p->prob < 0 || p->y < 0)
    return mn_error(MN_ERR_IO, "%s: cannot create its datasets: %s", p->tmp, mn_h5_reason(why));
  return MN_OK;
}

static herr_t write_rows(hid_t d, hid_t type, int64_t start, int count, int cols, const void *buf) {
  hsize_t off[2] = {(hsize_t)start, 0}, cnt[2] = {(hsize_t)count, (hsize_t)cols};
  int rank = cols ? 2 : 1;
  hid_t file_space = H5Dget_space(d), mem = H5Screate_simple(rank, cnt, NULL);
  herr_t rc = H5Sselect_hyperslab(file_space, H5S_SELECT_SET, off, NULL, cnt, NULL);
  if (rc >= 0) rc = H5Dwrite(d, type, mem, file_space, H5P_DEFAULT, buf);
  H5Sclose(mem);
  H5Sclose(file_space);
  return rc;
}

static mn_status_t predict_write(predict_out_t *p, int64_t start, int count, const int32_t *pred,
                                 const float *prob, const int32_t *y) {
  if (p->csv) {
    for (int i = 0; i < count; i++) {
      fprintf(p->f, "%" PRId64 ",%d,%d", start + i, pred[i], y[i]);
      for (int c = 0; c < p->classes; c++) fprintf(p->f, ",%.6g", prob[(size_t)i * p->classes + c]);
      fputc('\n', p->f);
    }
    if (ferror(p->f)) return mn_error(MN_ERR_IO, "%s: cannot write: %s", p->tmp, strerror(errno));
    return MN_OK;
  }
  char why[256];
  if (write_rows(p->pred, H5T_NATIVE_INT32, start, count, 0, pred) < 0 ||
      write_rows(p->prob, H5T_NATIVE_FLOAT, start, count, p->classes, prob) < 0 ||
      write_rows(p->y, H5T_NATIVE_INT32, start, count, 0, y) < 0)
    return mn_error(MN_ERR_IO, "%s: cannot write: %s", p->tmp, mn_h5_reason(why));
  return MN_OK;
}

/* Close; on success (st == MN_OK) rename the file to its name, else remove it. */
static mn_status_t predict_close(predict_out_t *p, mn_status_t st) {
  if (p->f) {
    if ((fflush(p->f) != 0 || fsync(fileno(p->f)) != 0) && st == MN_OK)
      st = mn_error(MN_ERR_IO, "%s: cannot write: %s", p->tmp, strerror(errno));
    if (fclose(p->f) != 0 && st == MN_OK)
      st = mn_error(MN_ERR_IO, "%s: cannot write: %s", p->tmp, strerror(errno));
  }
  hid_t ids[] = {p->pred, p->prob, p->y};
  for (int i = 0; i < 3; i++)
    if (ids[i] >= 0) H5Dclose(ids[i]);
  if (p->file >= 0 && H5Fclose(p->file) < 0 && st == MN_OK) {
    char why[256];
    st = mn_error(MN_ERR_IO, "%s: cannot write: %s", p->tmp, mn_h5_reason(why));
  }
  if (!p->tmp[0]) return st;
  if (st == MN_OK && rename(p->tmp, p->path) != 0)
    st = mn_error(MN_ERR_IO, "%s: cannot rename to %s: %s", p->tmp, p->path, strerror(errno));
  if (st != MN_OK) remove(p->tmp);
  return st;
}

/* Softmax of each row of logits in double: out prob (float), pred (argmax; the lowest class
 * on ties), and the cross-entropy of the true class added to s. */
static void score_rows(score_t *s, const float *logits, const int32_t *y, int count, float *prob,
                       int32_t *pred) {
  int C = s->classes;
  for (int i = 0; i < count; i++) {
    const float *z = logits + (size_t)i * C;
    int best = 0;
    for (int c = 1; c < C; c++) best = z[c] > z[best] ? c : best;
    double sum = 0;
    for (int c = 0; c < C; c++) sum += exp((double)z[c] - (double)z[best]);
    for (int c = 0; c < C; c++)
      prob[(size_t)i * C + c] = (float)(exp((double)z[c] - z[best]) / sum);
    s->loss_sum += log(sum) - ((double)z[y[i]] - (double)z[best]);
    pred[i] = best;
    s->correct += best == y[i];
    s->confusion[(size_t)y[i] * C + best]++;
  }
  s->n += count;
}

static mn_status_t evaluate(mn_model_t *m, mn_dataset_t *ds, int batch, predict_out_t *out,
                            score_t *s) {
  int dim = mn_dataset_dim(ds), C = s->classes;
  int64_t n = mn_dataset_size(ds);
  float *x = malloc((size_t)batch * dim * sizeof *x),
        *prob = malloc((size_t)batch * C * sizeof *prob);
  int32_t *y = malloc((size_t)batch * sizeof *y), *pred = malloc((size_t)batch * sizeof *pred);
  mn_status_t st = x && prob && y && pred ? MN_OK : mn_error(MN_ERR_NOMEM, "out of memory");
  for (int64_t i = 0; st == MN_OK && i < n; i += batch) {
    int count = (int)(n - i < batch ? n - i : batch);
    st = mn_dataset_read_range(ds, i, count, x, y);
    if (st != MN_OK) break;
    mn_model_forward(m, x, count);
    score_rows(s, mn_model_logits(m), y, count, prob, pred);
    if (out) st = predict_write(out, i, count, pred, prob, y);
  }
  free(x);
  free(prob);
  free(y);
  free(pred);
  return st;
}

/* ---- the report --------------------------------------------------------------------------- */

static int64_t class_count(const score_t *s, int c) {
  int64_t k = 0;
  for (int j = 0; j < s->classes; j++) k += s->confusion[(size_t)c * s->classes + j];
  return k;
}

static void print_text(const score_t *s, const char *snap, const mn_snapshot_meta_t *meta,
                       const char *data) {
  printf("snapshot  %s (step %" PRId64 ", epoch %" PRId64 "%s)\n", snap, meta->step, meta->epoch,
         meta->finished ? ", finished" : "");
  printf("data      %s (%" PRId64 " rows, %d classes)\n", data, s->n, s->classes);
  printf("loss      %.6f\n", s->n ? s->loss_sum / (double)s->n : NAN);
  printf("accuracy  %.4f (%" PRId64 " of %" PRId64 ")\n",
         s->n ? (double)s->correct / (double)s->n : NAN, s->correct, s->n);
  printf("\n%6s %10s %10s %9s\n", "class", "rows", "correct", "accuracy");
  for (int c = 0; c < s->classes; c++) {
    int64_t k = class_count(s, c), ok = s->confusion[(size_t)c * s->classes + c];
    if (k)
      printf("%6d %10" PRId64 " %10" PRId64 " %9.4f\n", c, k, ok, (double)ok / (double)k);
    else
      printf("%6d %10d %10d %9s\n", c, 0, 0, "-");
  }
  if (s->classes > CONFUSION_PRINT_MAX) {
    printf("\n(confusion matrix of %d classes: see --json)\n", s->classes);
    return;
  }
  printf("\nconfusion matrix (rows: true class, columns: predicted)\n%6s", "");
  for (int c = 0; c < s->classes; c++) printf(" %6d", c);
  for (int r = 0; r < s->classes; r++) {
    printf("\n%6d", r);
    for (int c = 0; c < s->classes; c++)
      printf(" %6" PRId64, s->confusion[(size_t)r * s->classes + c]);
  }
  printf("\n");
}

static void print_json(const score_t *s, const char *snap, const mn_snapshot_meta_t *meta,
                       const char *data) {
  fputs("{\"snapshot\":", stdout);
  mn_json_string(stdout, snap);
  printf(",\"step\":%" PRId64 ",\"epoch\":%" PRId64 ",\"data\":", meta->step, meta->epoch);
  mn_json_string(stdout, data);
  printf(",\"rows\":%" PRId64
         ",\"classes\":%d,\"loss\":%.9g,\"accuracy\":%.9g,\"correct\":%" PRId64,
         s->n, s->classes, s->n ? s->loss_sum / (double)s->n : 0.0,
         s->n ? (double)s->correct / (double)s->n : 0.0, s->correct);
  fputs(",\"per_class\":[", stdout);
  for (int c = 0; c < s->classes; c++) {
    int64_t k = class_count(s, c), ok = s->confusion[(size_t)c * s->classes + c];
    printf("%s{\"class\":%d,\"rows\":%" PRId64 ",\"correct\":%" PRId64 ",\"accuracy\":",
           c ? "," : "", c, k, ok);
    if (k)
      printf("%.9g}", (double)ok / (double)k);
    else
      fputs("null}", stdout);
  }
  fputs("],\"confusion\":[", stdout);
  for (int r = 0; r < s->classes; r++) {
    fputs(r ? ",[" : "[", stdout);
    for (int c = 0; c < s->classes; c++)
      printf("%s%" PRId64, c ? "," : "", s->confusion[(size_t)r * s->classes + c]);
    fputs("]", stdout);
  }
  fputs("]}\n", stdout);
}

/* ---- main --------------------------------------------------------------------------------- */

static mn_status_t parse_args(int argc, char **argv, opts_t *o) {
  static const struct option options[] = {
      {"data", required_argument, NULL, 'd'},  {"predict", required_argument, NULL, 'p'},
      {"batch", required_argument, NULL, 'b'}, {"json", no_argument, NULL, 'j'},
      {"set", required_argument, NULL, 's'},   {"version", no_argument, NULL, 'V'},
      {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
  };
  memset(o, 0, sizeof *o);
  o->batch = 1024;
  opterr = 0;
  for (int c; (c = getopt_long(argc, argv, "hV", options, NULL)) != -1;) {
    switch (c) {
    case 'd': o->data = optarg; break;
    case 'p': o->predict = optarg; break;
    case 'j': o->json = 1; break;
    case 'b': {
      char *end;
      long v = strtol(optarg, &end, 10);
      if (*end || end == optarg || v < 1 || v > 1 << 20)
        return mn_error(MN_ERR_USAGE, "--batch: expected 1 to %d, got '%s'", 1 << 20, optarg);
      o->batch = (int)v;
      break;
    }
    case 's':
      if (o->nsets == MAX_SETS) return mn_error(MN_ERR_USAGE, "more than %d --set", MAX_SETS);
      o->sets[o->nsets++] = optarg;
      break;
    case 'V': printf("mneval %s\n", MN_VERSION); exit(MN_EXIT_OK);
    case 'h': fputs(usage_text, stdout); exit(MN_EXIT_OK);
    default: {
      char msg[256];
      return mn_error(MN_ERR_USAGE, "%s (see --help)",
                      mn_suggest_unknown_option(argv[optind - 1], options, msg, sizeof msg));
    }
    }
  }
  if (argc - optind != 1)
    return mn_error(MN_ERR_USAGE, "expected one snapshot file or directory (see --help)");
  o->snapshot = argv[optind];
  return MN_OK;
}

int main(int argc, char **argv) {
  mn_log_init("mneval", -1, NULL);
  opts_t o;
  mn_snapshot_meta_t meta;
  memset(&meta, 0, sizeof meta);
  mn_config_t *cfg = calloc(1, sizeof *cfg);
  mn_model_t model;
  memset(&model, 0, sizeof model);
  mn_dataset_t *ds = NULL;
  score_t s = {0};
  predict_out_t out;
  memset(&out, 0, sizeof out);
  out.file = out.pred = out.prob = out.y = H5I_INVALID_HID;
  char path[4096];
  const char *data = NULL;
  int have_model = 0;

  mn_status_t st = cfg ? parse_args(argc, argv, &o) : mn_error(MN_ERR_NOMEM, "out of memory");
  if (st == MN_OK) st = mn_snapshot_find(o.snapshot, path, sizeof path);
  if (st == MN_OK) st = mn_snapshot_read_meta(path, &meta);
  if (st == MN_OK)
    st = mn_trainstate_load_model(path, &meta, o.sets, o.nsets, o.batch, cfg, &model);
  have_model = st == MN_OK;
  if (st == MN_OK) {
    data = o.data ? o.data : cfg->data.val;
    if (!data[0])
      st = mn_error(MN_ERR_USAGE, "the run had no data.val: name a dataset with --data");
  }
  if (st == MN_OK) {
    s.classes = cfg->model.layers[cfg->model.nlayers - 1];
    st = mn_dataset_open(data, cfg->model.layers[0], s.classes, &ds);
  }
  if (st == MN_OK) {
    s.confusion = calloc((size_t)s.classes * s.classes, sizeof *s.confusion);
    if (!s.confusion) st = mn_error(MN_ERR_NOMEM, "out of memory");
  }
  if (st == MN_OK && o.predict) st = predict_open(&out, o.predict, mn_dataset_size(ds), s.classes);
  if (st == MN_OK) st = evaluate(&model, ds, o.batch, o.predict ? &out : NULL, &s);
  if (o.predict) st = predict_close(&out, st);
  if (st == MN_OK) {
    if (o.json)
      print_json(&s, path, &meta, data);
    else
      print_text(&s, path, &meta, data);
  } else {
    mn_log_error("%s", mn_error_message());
  }
  free(s.confusion);
  if (ds) mn_dataset_close(ds);
  if (have_model) mn_model_free(&model);
  mn_snapshot_meta_free(&meta);
  free(cfg);
  return mn_status_exit_code(st);
}
