/* bench_report.c: what mnbench shows of its figures: the terminal table, the JSON file
 * with every figure, and the plot (gnuplot, SVG) of efficiency and bus bandwidth against
 * the rank count. Bandwidths follow nccl-tests: GB/s = 1e9 bytes/s, busbw = algbw x
 * 2(n-1)/n. Nothing here measures or launches anything. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mn_bench.h"
#include "mn_json.h"

double mn_bench_ratio(const mn_bench_ar_row_t *row) {
  return row->mn_s > 0 && row->raw_s > 0 ? row->raw_s / row->mn_s : NAN;
}

static const char *size_text(int64_t bytes, char *buf, size_t n) {
  if (bytes >= (1LL << 30) && bytes % (1LL << 30) == 0)
    snprintf(buf, n, "%" PRId64 " GB", bytes >> 30);
  else if (bytes >= (1LL << 20) && bytes % (1LL << 20) == 0)
    snprintf(buf, n, "%" PRId64 " MB", bytes >> 20);
  else if (bytes >= 1024 && bytes % 1024 == 0)
    snprintf(buf, n, "%" PRId64 " KB", bytes >> 10);
  else
    snprintf(buf, n, "%" PRId64 " B", bytes);
  return buf;
}

/* The row of a sweep at 64 MB, else its largest (NULL when it has none). */
static const mn_bench_ar_row_t *row_64mb(const mn_bench_sweep_t *s) {
  for (int i = 0; i < s->nrows; i++)
    if (s->rows[i].bytes == (64LL << 20)) return &s->rows[i];
  return s->nrows ? &s->rows[s->nrows - 1] : NULL;
}

/* ---- the table ---------------------------------------------------------------------- */

/* The allreduce table is nccl-tests' own (src/common.cu), so that what parses nccl-tests
 * output parses ours: comment lines start with '#', and a row is size (bytes), count
 * (elements), type, redop, root, then time (us), algbw, busbw (GB/s) and #wrong twice. Where
 * nccl-tests puts out-of-place and in-place, mnbench puts mn's gradient path and the raw
 * backend; a last column adds mn/raw. Each rank count is a block of its own that ends, as
 * nccl-tests' output does, with "# Avg bus bandwidth". */
static void print_sweep(FILE *f, const mn_bench_sweep_t *s) {
  if (!s->ok) {
    fprintf(f, "# ranks %d: failed (see above)\n", s->ranks);
    return;
  }
  int lo = s->nrows ? s->rows[0].iters : 0, hi = lo;
  for (int i = 0; i < s->nrows; i++) {
    lo = s->rows[i].iters < lo ? s->rows[i].iters : lo;
    hi = s->rows[i].iters > hi ? s->rows[i].iters : hi;
  }
  fprintf(f, "#\n# ranks %d, iters %d", s->ranks, hi);
  if (lo != hi) fprintf(f, " (down to %d for the largest sizes)", lo);
  fprintf(f, "\n#%57s%-38s%s\n", "", "mn's gradient path", "raw backend");
  fprintf(f, "#%11s %13s %9s %7s %7s %8s %7s %7s %6s %8s %7s %7s %6s %7s\n", "size", "count",
          "type", "redop", "root", "time", "algbw", "busbw", "#wrong", "time", "algbw", "busbw",
          "#wrong", "mn/raw");
  fprintf(f, "#%11s %13s %9s %7s %7s %8s %7s %7s %6s %8s %7s %7s %6s %7s\n", "(B)", "(elements)",
          "", "", "", "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)", "", "");
  double sum_mn = 0, sum_raw = 0;
  for (int i = 0; i < s->nrows; i++) {
    const mn_bench_ar_row_t *r = &s->rows[i];
    double b = (double)r->bytes, n = s->ranks;
    double bus_mn = mn_scaling_busbw(b, r->mn_s, (int)n) / 1e9;
    double bus_raw = mn_scaling_busbw(b, r->raw_s, (int)n) / 1e9;
    sum_mn += bus_mn;
    sum_raw += bus_raw;
    fprintf(f,
            "%12" PRId64 " %13" PRId64 " %9s %7s %7d %8.2f %7.2f %7.2f %6" PRId64
            " %8.2f %7.2f %7.2f %6" PRId64 " %7.3f\n",
            r->bytes, r->bytes / 4, "float", "sum", -1, r->mn_s * 1e6,
            mn_scaling_algbw(b, r->mn_s) / 1e9, bus_mn, r->mn_wrong, r->raw_s * 1e6,
            mn_scaling_algbw(b, r->raw_s) / 1e9, bus_raw, r->raw_wrong, mn_bench_ratio(r));
  }
  int64_t wrong = 0;
  for (int i = 0; i < s->nrows; i++) wrong += s->rows[i].mn_wrong + s->rows[i].raw_wrong;
  fprintf(f, "# Out of bounds values : %" PRId64 " %s\n", wrong, wrong ? "FAILED" : "OK");
  fprintf(f, "# Avg bus bandwidth    : %g\n", s->nrows ? sum_mn / s->nrows : 0.0);
  fprintf(f, "# Avg bus bandwidth of the raw backend : %g\n", s->nrows ? sum_raw / s->nrows : 0.0);
}

static void print_allreduce(FILE *f, const mn_bench_result_t *res) {
  if (res->nsweeps == 0) return;
  const mn_bench_sweep_t *s0 = &res->sweeps[0];
  fprintf(f,
          "\n# allreduce at 2 ranks and more, float sum in place (nccl-tests conventions; "
          "time = slowest rank's mean; GB/s = 1e9 B/s)\n"
          "#   mn  = mn's gradient path on the %s path: buckets of %g MB, summed (the loss "
          "gradient carries 1/world, so no averaging pass)\n"
          "#   raw = the backend in one call (MPI_Allreduce, or ncclAllReduce on the nccl path)\n"
          "#   mn/raw = raw time / mn time = mn busbw / raw busbw\n",
          s0->path[0] ? s0->path : "?", s0->bucket_mb);
  for (int i = 0; i < res->nsweeps; i++) print_sweep(f, &res->sweeps[i]);
  fputs("\n", f);
  for (int i = 0; i < res->nsweeps; i++) {
    const mn_bench_sweep_t *s = &res->sweeps[i];
    const mn_bench_ar_row_t *r = row_64mb(s);
    if (!s->ok || !r || s->ranks < 2) continue;
    char size[32];
    fprintf(f, "at %d ranks, %s: mn busbw %.2f GB/s, raw %.2f GB/s: mn reaches %.1f%% of raw\n",
            s->ranks, size_text(r->bytes, size, sizeof size),
            mn_scaling_busbw((double)r->bytes, r->mn_s, s->ranks) / 1e9,
            mn_scaling_busbw((double)r->bytes, r->raw_s, s->ranks) / 1e9, 100 * mn_bench_ratio(r));
  }
}

/* The model's efficiency at a measured rank count, for the first link (this machine). */
static double model_at_measured(const mn_bench_result_t *res, int i) {
  return res->have_model && res->nlinks > 0 ? res->links[0].eff_measured_np[i] : NAN;
}

static void print_training(FILE *f, const mn_bench_result_t *res) {
  if (res->ntrain == 0) return;
  const mn_bench_opts_t *o = res->opts;
  if (o->global_batch > 0)
    fprintf(f,
            "\ntraining, strong scaling: global batch %d, %d steps, %d BLAS thread(s) per rank\n",
            o->global_batch, o->steps, res->threads);
  else
    fprintf(f,
            "\ntraining, weak scaling: batch %d per rank, %d steps, %d BLAS thread(s) per rank\n",
            res->batch, o->steps, res->threads);
  fprintf(f,
          "  step = global batch / samples/s; compute, comm, io_wait: rank 0's per step; other = "
          "the rest\n  efficiency = samples/s / (ranks x samples/s at %d rank%s)\n%s",
          res->train[0].ranks, res->train[0].ranks == 1 ? "" : "s", res->seq > 1 ? "" : "\n");
  int lm = res->seq > 1; /* a sequence model: its tokens/s (and MFU where mn knows a peak) */
  if (lm)
    fprintf(f, "  tokens/s = samples/s x %d (the context); MFU from mn's summary, - without a "
               "peak (compute.peak_tflops)\n\n",
            res->seq);
  fprintf(f, "%6s %6s %10s %9s %10s %8s %10s %8s %10s %8s", "ranks", "batch", "samples/s",
          "step_ms", "compute_ms", "comm_ms", "io_wait_ms", "other_ms", "efficiency", "model");
  if (lm) fprintf(f, " %10s %6s", "tokens/s", "MFU");
  fputc('\n', f);
  for (int i = 0; i < res->ntrain; i++) {
    const mn_bench_train_t *t = &res->train[i];
    if (!t->ok) {
      fprintf(f, "%6d  (failed: see above)\n", t->ranks);
      continue;
    }
    double steps = t->steps > 0 ? (double)t->steps : NAN;
    double step = t->ranks * t->batch / t->samples_per_s;
    double comp = t->compute_s / steps, comm = t->comm_s / steps, io = t->io_wait_s / steps;
    fprintf(f, "%6d %6d %10.0f %9.2f %10.2f %8.2f %10.2f %8.2f %10.3f %8.3f", t->ranks, t->batch,
            t->samples_per_s, step * 1e3, comp * 1e3, comm * 1e3, io * 1e3,
            (step - comp - comm - io) * 1e3, t->efficiency, model_at_measured(res, i));
    if (lm && isfinite(t->mfu))
      fprintf(f, " %10.0f %5.1f%%", t->tokens_per_s, 100 * t->mfu);
    else if (lm)
      fprintf(f, " %10.0f %6s", t->tokens_per_s, "-");
    fputc('\n', f);
  }
}

static void print_model(FILE *f, const mn_bench_result_t *res) {
  if (!res->have_model) {
    fprintf(f, "\nscaling model: not fitted (it needs the training at the smallest count)\n");
    return;
  }
  const mn_bench_opts_t *o = res->opts;
  char per_token[64] = ""; /* a sample of a sequence model is a sequence */
  if (res->seq > 1)
    snprintf(per_token, sizeof per_token, " (a sequence of %d tokens: %.3f us/token)", res->seq,
             res->compute_per_sample_s * 1e6 / res->seq);
  fprintf(f,
          "\nscaling model (docs/benchmarks.md): T(n) = c*b + max(0, t_comm(n) - f*c*b),\n"
          "  t_comm(n) = k*2(n-1)*alpha + 2(n-1)/n * S/B; E(n) = T(1)/T(n)%s\n"
          "  c = %.2f us/sample%s (measured), S = %.2f MB (%" PRId64 " floats: the gradient's "
          "flat buffer), k = %d bucket(s), alpha = %.2f us%s, f = %.2f\n",
          o->global_batch > 0 ? " x b(1)/(n b(n)) (strong)" : " (weak)",
          res->compute_per_sample_s * 1e6, per_token, res->flat * 4.0 / 1e6, res->flat,
          res->links[0].model.nbuckets, res->links[0].model.alpha_s * 1e6,
          o->alpha_us >= 0 ? " (given)" : (res->calib_ranks ? " (measured)" : " (default)"),
          o->overlap);
  if (res->calib_ranks) {
    char lo[32], hi[32];
    fprintf(f,
            "  this machine: B = %.2f GB/s and alpha fitted to mn's path at %d ranks, %s and %s\n",
            res->machine_Bps / 1e9, res->calib_ranks, size_text(res->calib_small, lo, sizeof lo),
            size_text(res->calib_large, hi, sizeof hi));
  }
  fprintf(f,
          "  networks: B = NVLink %.0f GB/s per GPU inside a node of %d, then the IB figure "
          "per GPU\n\n",
          o->nvlink_GBps, o->node_size);
  fprintf(f, "%6s", "ranks");
  for (int l = 0; l < res->nlinks; l++) fprintf(f, " %16s", res->links[l].name);
  fprintf(f, " %10s\n", "measured");
  for (int i = 0; i < res->ntrain; i++) {
    fprintf(f, "%6d", res->train[i].ranks);
    for (int l = 0; l < res->nlinks; l++) fprintf(f, " %16.3f", res->links[l].eff_measured_np[i]);
    fprintf(f, " %10.3f\n", res->train[i].ok ? res->train[i].efficiency : NAN);
  }
  for (int i = 0; i < o->nmodel_np; i++) {
    fprintf(f, "%6d", o->model_np[i]);
    for (int l = 0; l < res->nlinks; l++) fprintf(f, " %16.3f", res->links[l].eff[i]);
    fprintf(f, " %10s\n", "-");
  }
}

void mn_bench_print(FILE *f, const mn_bench_result_t *res) {
  fprintf(f,
          "mnbench %s on %s (%d cores), %s: model %s (%" PRId64 " parameters; gradient %" PRId64
          " bytes)\n",
          res->date, res->host, res->cores, res->opts->conf, res->layers, res->params,
          res->flat * 4);
  print_allreduce(f, res);
  print_training(f, res);
  print_model(f, res);
  fflush(f);
}

/* ---- JSON --------------------------------------------------------------------------- */

static void num(FILE *f, const char *key, double v, int comma) {
  fprintf(f, "\"%s\":", key);
  if (isfinite(v))
    fprintf(f, "%.9g", v);
  else
    fputs("null", f);
  if (comma) fputc(',', f);
}

static void write_sweep(FILE *f, const mn_bench_sweep_t *s) {
  fprintf(f, "{\"ranks\":%d,\"ok\":%s,\"path\":", s->ranks, s->ok ? "true" : "false");
  mn_json_string(f, s->path);
  fputs(",\"device\":", f);
  mn_json_string(f, s->device);
  fputc(',', f);
  num(f, "bucket_mb", s->bucket_mb, 1);
  fprintf(f, "\"max_bytes\":%" PRId64 ",\"sizes\":[", s->max_bytes);
  for (int i = 0; i < s->nrows; i++) {
    const mn_bench_ar_row_t *r = &s->rows[i];
    double b = (double)r->bytes;
    fprintf(f, "%s\n    {\"bytes\":%" PRId64 ",\"count\":%" PRId64 ",\"iters\":%d,\"mn\":{",
            i ? "," : "", r->bytes, r->bytes / 4, r->iters);
    num(f, "time_us", r->mn_s * 1e6, 1);
    num(f, "algbw_GBps", mn_scaling_algbw(b, r->mn_s) / 1e9, 1);
    num(f, "busbw_GBps", mn_scaling_busbw(b, r->mn_s, s->ranks) / 1e9, 1);
    fprintf(f, "\"wrong\":%" PRId64 "},\"raw\":{", r->mn_wrong);
    num(f, "time_us", r->raw_s * 1e6, 1);
    num(f, "algbw_GBps", mn_scaling_algbw(b, r->raw_s) / 1e9, 1);
    num(f, "busbw_GBps", mn_scaling_busbw(b, r->raw_s, s->ranks) / 1e9, 1);
    fprintf(f, "\"wrong\":%" PRId64 "},", r->raw_wrong);
    num(f, "ratio", mn_bench_ratio(r), 0);
    fputc('}', f);
  }
  const mn_bench_ar_row_t *r = row_64mb(s);
  fputs("],", f);
  fprintf(f, "\"ratio_bytes\":%" PRId64 ",", r ? r->bytes : 0);
  num(f, "ratio", r ? mn_bench_ratio(r) : NAN, 0);
  fputc('}', f);
}

static void write_train(FILE *f, const mn_bench_train_t *t) {
  double steps = t->steps > 0 ? (double)t->steps : NAN;
  double step = t->ranks * t->batch / t->samples_per_s;
  fprintf(
      f, "{\"ranks\":%d,\"ok\":%s,\"batch_per_rank\":%d,\"global_batch\":%d,\"steps\":%" PRId64 ",",
      t->ranks, t->ok ? "true" : "false", t->batch, t->batch * t->ranks, t->steps);
  num(f, "samples_per_s", t->samples_per_s, 1);
  num(f, "tokens_per_s", t->tokens_per_s, 1);
  num(f, "mfu", t->mfu, 1);
  num(f, "elapsed_s", t->elapsed_s, 1);
  num(f, "compute_s", t->compute_s, 1);
  num(f, "comm_s", t->comm_s, 1);
  num(f, "io_wait_s", t->io_wait_s, 1);
  num(f, "step_ms", step * 1e3, 1);
  num(f, "compute_ms", t->compute_s / steps * 1e3, 1);
  num(f, "comm_ms", t->comm_s / steps * 1e3, 1);
  num(f, "io_wait_ms", t->io_wait_s / steps * 1e3, 1);
  num(f, "other_ms", (step - (t->compute_s + t->comm_s + t->io_wait_s) / steps) * 1e3, 1);
  num(f, "efficiency", t->efficiency, 0);
  fputc('}', f);
}

static void write_link(FILE *f, const mn_bench_result_t *res, const mn_bench_link_t *l) {
  fputs("{\"name\":", f);
  mn_json_string(f, l->name);
  fputc(',', f);
  num(f, "intra_GBps", l->model.intra_Bps / 1e9, 1);
  num(f, "inter_GBps", l->model.inter_Bps / 1e9, 1);
  fprintf(f, "\"node_size\":%d,", l->model.node_size);
  num(f, "alpha_us", l->model.alpha_s * 1e6, 1);
  fputs("\"measured_ranks\":[", f);
  for (int i = 0; i < res->ntrain; i++) {
    fprintf(f, "%s{\"ranks\":%d,", i ? "," : "", res->train[i].ranks);
    num(f, "efficiency", l->eff_measured_np[i], 0);
    fputc('}', f);
  }
  fputs("],\"predicted\":[", f);
  for (int i = 0; i < res->opts->nmodel_np; i++) {
    fprintf(f, "%s{\"ranks\":%d,", i ? "," : "", res->opts->model_np[i]);
    num(f, "efficiency", l->eff[i], 0);
    fputc('}', f);
  }
  fputs("]}", f);
}

static void write_model(FILE *f, const mn_bench_result_t *res) {
  const mn_bench_opts_t *o = res->opts;
  fputs("{\"formula\":\"T(n) = c*b + max(0, t_comm(n) - f*c*b); t_comm(n) = k*2(n-1)*alpha + "
        "2(n-1)/n*S/B(n); E(n) = T(1)/T(n) (weak), T(1,G)/(n*T(n,G/n)) (strong)\",",
        f);
  fprintf(f, "\"fitted\":%s,", res->have_model ? "true" : "false");
  num(f, "compute_per_sample_us", res->compute_per_sample_s * 1e6, 1);
  num(f, "grad_bytes", res->flat * 4.0, 1);
  fprintf(f, "\"nbuckets\":%d,", res->nlinks ? res->links[0].model.nbuckets : 0);
  num(f, "alpha_us", res->alpha_s * 1e6, 1);
  num(f, "machine_busbw_GBps", res->machine_Bps / 1e9, 1);
  fprintf(f, "\"calibrated_at_ranks\":%d,\"calibrated_bytes\":[%" PRId64 ",%" PRId64 "],",
          res->calib_ranks, res->calib_small, res->calib_large);
  num(f, "overlap", o->overlap, 1);
  num(f, "nvlink_GBps", o->nvlink_GBps, 1);
  fprintf(f, "\"node_size\":%d,\"links\":[", o->node_size);
  for (int l = 0; l < res->nlinks; l++) {
    fputs(l ? ",\n    " : "\n    ", f);
    write_link(f, res, &res->links[l]);
  }
  fputs("]}", f);
}

mn_status_t mn_bench_write_json(const char *path, const mn_bench_result_t *res) {
  FILE *f = fopen(path, "w");
  if (!f) return mn_error(MN_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
  const mn_bench_opts_t *o = res->opts;
  fputs("{\"mnbench\":1,\"date\":", f);
  mn_json_string(f, res->date);
  fputs(",\"host\":", f);
  mn_json_string(f, res->host);
  fprintf(f, ",\"cores\":%d,\"conf\":", res->cores);
  mn_json_string(f, o->conf);
  fputs(",\"model_type\":", f);
  mn_json_string(f, res->model_type);
  fputs(",\"layers\":", f);
  mn_json_string(f, res->layers);
  fprintf(f, ",\"tokens_per_sample\":%d,\"flat\":%" PRId64 ",\"grad_bytes\":%" PRId64,
          res->seq, res->flat, res->flat * 4);
  fprintf(f,
          ",\"params\":%" PRId64 ",\"mode\":\"%s\",\"batch_per_rank\":%d,\"global_batch\":%d,"
          "\"steps\":%d,\"threads\":%d,\"iters\":%d,\"warmup\":%d,",
          res->params, o->global_batch > 0 ? "strong" : "weak", res->batch, o->global_batch,
          o->steps, res->threads, o->iters, o->warmup);
  fputs("\"plot\":", f);
  if (res->plot_note[0])
    fputs("null", f);
  else
    mn_json_string(f, o->plot);
  fputs(",\"plot_note\":", f);
  mn_json_string(f, res->plot_note);
  fputs(",\n\"allreduce\":[", f);
  for (int i = 0; i < res->nsweeps; i++) {
    fputs(i ? ",\n  " : "\n  ", f);
    write_sweep(f, &res->sweeps[i]);
  }
  fputs("],\n\"training\":[", f);
  for (int i = 0; i < res->ntrain; i++) {
    fputs(i ? ",\n  " : "\n  ", f);
    write_train(f, &res->train[i]);
  }
  fputs("],\n\"model\":", f);
  write_model(f, res);
  fputs("}\n", f);
  int bad = ferror(f);
  if (fclose(f) != 0 || bad) return mn_error(MN_ERR_IO, "%s: cannot write", path);
  return MN_OK;
}

/* ---- the plot ----------------------------------------------------------------------- */

/* gnuplot: MN_GNUPLOT, else on PATH. out: path; 0 when not found. */
static int find_gnuplot(char *path, size_t n) {
  const char *given = getenv("MN_GNUPLOT");
  if (given && given[0]) {
    snprintf(path, n, "%s", given);
    return access(path, X_OK) == 0;
  }
  const char *env = getenv("PATH");
  char *dirs = strdup(env && env[0] ? env : "/usr/local/bin:/usr/bin:/bin");
  int found = 0;
  char *save = NULL;
  for (char *d = dirs ? strtok_r(dirs, ":", &save) : NULL; d && !found;
       d = strtok_r(NULL, ":", &save)) {
    snprintf(path, n, "%s/gnuplot", d);
    found = access(path, X_OK) == 0;
  }
  free(dirs);
  return found;
}

/* The script, data inline (PNG when out ends in .png, else SVG), one panel for each kind of
 * figure the run has: scaling efficiency (measured and per link) against the rank count;
 * bus bandwidth at the 64 MB (else largest) size against the rank count; and bus bandwidth
 * against the message size at each rank count (the plot nccl-tests users read). Log2 x axes.
 * Returns the number of panels (0: nothing to plot). */
static int write_script(FILE *g, const char *out, const mn_bench_result_t *res) {
  int ntrain_ok = 0, nsweeps_ok = 0;
  for (int i = 0; i < res->ntrain; i++) ntrain_ok += res->train[i].ok;
  for (int i = 0; i < res->nsweeps; i++)
    nsweeps_ok += res->sweeps[i].ok && res->sweeps[i].nrows > 0 && res->sweeps[i].ranks > 1;
  int eff_panel = ntrain_ok > 0 || (res->have_model && res->nlinks > 0);
  int npanels = eff_panel + 2 * (nsweeps_ok > 0);
  if (npanels == 0) return 0;
  const char *dot = strrchr(out, '.');
  if (dot && strcmp(dot, ".png") == 0)
    fprintf(g, "set terminal pngcairo size 900,%d\n", 450 * npanels);
  else
    fprintf(g, "set terminal svg size 900,%d dynamic background rgb 'white'\n", 450 * npanels);
  fprintf(g, "set output '%s'\n", out);
  fprintf(g, "set multiplot layout %d,1 title 'mnbench %s, %s (%d cores): %s'\n", npanels,
          res->date, res->host, res->cores, res->layers);
  fputs("set logscale x 2\nset grid\nset key outside right\n", g);
  if (eff_panel) {
    fputs("$measured << EOD\n", g);
    for (int i = 0; i < res->ntrain; i++)
      if (res->train[i].ok) fprintf(g, "%d %.6g\n", res->train[i].ranks, res->train[i].efficiency);
    fputs("EOD\n", g);
    for (int l = 0; l < res->nlinks; l++) {
      fprintf(g, "$link%d << EOD\n", l);
      for (int i = 0; i < res->ntrain; i++)
        fprintf(g, "%d %.6g\n", res->train[i].ranks, res->links[l].eff_measured_np[i]);
      for (int i = 0; i < res->opts->nmodel_np; i++)
        if (res->ntrain == 0 || res->opts->model_np[i] > res->train[res->ntrain - 1].ranks)
          fprintf(g, "%d %.6g\n", res->opts->model_np[i], res->links[l].eff[i]);
      fputs("EOD\n", g);
    }
    fputs("set xlabel 'ranks'\nset ylabel 'scaling efficiency'\nset yrange [0:1.2]\nplot ", g);
    const char *sep = "";
    if (ntrain_ok) {
      fputs("$measured using 1:2 with points pt 7 ps 1.5 title 'measured'", g);
      sep = ", ";
    }
    for (int l = 0; res->have_model && l < res->nlinks; l++, sep = ", ")
      fprintf(g, "%s$link%d using 1:2 with linespoints title 'model: %s'", sep, l,
              res->links[l].name);
    fputs("\n", g);
  }
  if (nsweeps_ok == 0) return npanels;
  int most = 1;
  fputs("$busbw << EOD\n", g);
  for (int i = 0; i < res->nsweeps; i++) {
    const mn_bench_sweep_t *s = &res->sweeps[i];
    const mn_bench_ar_row_t *r = row_64mb(s);
    if (!s->ok || !r || s->ranks < 2) continue;
    most = s->ranks > most ? s->ranks : most;
    fprintf(g, "%d %.6g %.6g\n", s->ranks,
            mn_scaling_busbw((double)r->bytes, r->mn_s, s->ranks) / 1e9,
            mn_scaling_busbw((double)r->bytes, r->raw_s, s->ranks) / 1e9);
  }
  fputs("EOD\n", g);
  for (int i = 0; i < res->nsweeps; i++) {
    const mn_bench_sweep_t *s = &res->sweeps[i];
    fprintf(g, "$size%d << EOD\n", i);
    for (int j = 0; s->ok && s->ranks > 1 && j < s->nrows; j++) {
      const mn_bench_ar_row_t *r = &s->rows[j];
      fprintf(g, "%" PRId64 " %.6g %.6g\n", r->bytes,
              mn_scaling_busbw((double)r->bytes, r->mn_s, s->ranks) / 1e9,
              mn_scaling_busbw((double)r->bytes, r->raw_s, s->ranks) / 1e9);
    }
    fputs("EOD\n", g);
  }
  fprintf(g,
          "set xlabel 'ranks'\nset ylabel 'bus bandwidth (GB/s), 64 MB or the largest size'\n"
          "set yrange [0:*]\nset xrange [1:%d]\n",
          2 * most);
  fputs("plot $busbw using 1:2 with linespoints pt 7 title \"mn's gradient path\", "
        "$busbw using 1:3 with linespoints pt 5 title 'raw backend'\n",
        g);
  fputs("set xlabel 'message size (bytes)'\nset ylabel 'bus bandwidth (GB/s)'\n"
        "set xrange [*:*]\nset format x '%.0b%BB'\nplot ",
        g);
  const char *sep = "";
  for (int i = 0; i < res->nsweeps; i++) {
    const mn_bench_sweep_t *s = &res->sweeps[i];
    if (!s->ok || s->nrows == 0 || s->ranks < 2) continue;
    fprintf(g,
            "%s$size%d using 1:2 with linespoints pt 7 title \"mn, %d ranks\", "
            "$size%d using 1:3 with linespoints dt 2 pt 5 title 'raw, %d ranks'",
            sep, i, s->ranks, i, s->ranks);
    sep = ", ";
  }
  fputs("\nunset multiplot\n", g);
  return npanels;
}

mn_status_t mn_bench_plot(const char *path, mn_bench_result_t *res) {
  char gnuplot[4096];
  if (!find_gnuplot(gnuplot, sizeof gnuplot)) {
    snprintf(res->plot_note, sizeof res->plot_note,
             "no plot made: gnuplot not found (apt-get install gnuplot-nox, or set MN_GNUPLOT)");
    return MN_OK;
  }
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "'%s'", gnuplot);
  FILE *g = popen(cmd, "w");
  if (!g) return mn_error(MN_ERR_INTERNAL, "%s: cannot start: %s", gnuplot, strerror(errno));
  int npanels = write_script(g, path, res);
  int rc = pclose(g);
  if (npanels == 0) {
    snprintf(res->plot_note, sizeof res->plot_note, "no plot made: no figure to plot");
    return MN_OK;
  }
  if (rc != 0) {
    remove(path); /* never a half-drawn plot */
    snprintf(res->plot_note, sizeof res->plot_note, "no plot made: gnuplot failed (exit %d)",
             WIFEXITED(rc) ? WEXITSTATUS(rc) : -1);
    return mn_error(MN_ERR_IO, "%s: gnuplot failed writing the plot", path);
  }
  res->plot_note[0] = 0;
  return MN_OK;
}
