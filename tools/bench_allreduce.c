/* bench_allreduce.c: mnbench's allreduce sweep, run inside the ranks (the worker), and the
 * reading of its figures by the driver.
 *
 * nccl-tests conventions: sizes double from --min-bytes to --max-bytes (bounded by the
 * memory of the node), float sum, in place; per size warm-up operations, then timed ones
 * between a barrier and MPI_Wtime, the time being the slowest rank's mean. Two paths side
 * by side on the same device buffer: mn's gradient path (mn_comm_allreduce_grads: fused
 * buckets of comm.bucket_mb, averaged) and the raw backend (mn_comm_raw_allreduce: one
 * MPI_Allreduce, or ncclAllReduce on the nccl path, sum). Before timing, each path is
 * checked once: rank r fills element i with (i mod 7) + r, and every element of the result
 * must be the sum (raw) or the mean (mn) of those; the count of wrong elements over all
 * ranks is nccl-tests' #wrong. Timing runs on zeros, which keeps the sums finite. This file
 * does not launch ranks and does not print the table. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "mn_bench.h"
#include "mn_comm.h"
#include "mn_config.h"
#include "mn_device.h"
#include "mn_log.h"

#define MB64 ((int64_t)64 << 20)

int mn_bench_iters(int64_t bytes, int iters) {
  if (bytes <= MB64) return iters;
  int64_t scaled = (int64_t)iters * MB64 / bytes;
  int floor_iters = iters < 5 ? iters : 5;
  return scaled > floor_iters ? (int)scaled : floor_iters;
}

int mn_bench_warmups(int64_t bytes, int warmup) {
  if (bytes <= MB64) return warmup;
  int64_t scaled = (int64_t)warmup * MB64 / bytes;
  int floor_w = warmup < 1 ? warmup : 1;
  return scaled > floor_w ? (int)scaled : floor_w;
}

/* What the worker holds. */
typedef struct worker {
  mn_comm_t comm;
  mn_device_t dev;
  float *buf;  /* device memory, max_count floats */
  float *host; /* host memory of the same size, for the check */
  int64_t max_count;
} worker_t;

/* MemAvailable of this node, bytes (0 when unknown). */
static int64_t mem_available(void) {
  FILE *f = fopen("/proc/meminfo", "r");
  if (!f) return 0;
  char line[256];
  long long kb = 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1) break;
  fclose(f);
  return (int64_t)kb * 1024;
}

/* The largest size every rank can hold: a device and a host buffer per rank, the node's
 * ranks sharing 80% of its available memory; the same on every rank. */
static int64_t bounded_max_bytes(const mn_bench_opts_t *o, const mn_comm_t *c) {
  int64_t bytes = o->max_bytes, avail = mem_available();
  int64_t per_rank = avail > 0 ? avail / 10 * 8 / (2 * (int64_t)c->local_size) : bytes;
  while (bytes > o->min_bytes && bytes > per_rank) bytes /= 2;
  long long mine = (long long)bytes, all = mine;
  MPI_Allreduce(&mine, &all, 1, MPI_LONG_LONG, MPI_MIN, c->comm);
  return (int64_t)all;
}

/* The buffers, halving the size until every rank has them. */
static mn_status_t alloc_buffers(worker_t *w, int64_t *max_bytes, int64_t min_bytes) {
  for (;;) {
    int64_t count = *max_bytes / (int64_t)sizeof(float);
    w->buf = w->dev.k->alloc((size_t)count * sizeof(float));
    w->host = malloc((size_t)count * sizeof(float));
    int mine = w->buf && w->host, all = mine;
    MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, w->comm.comm);
    if (all) {
      w->max_count = count;
      return MN_OK;
    }
    if (w->buf) w->dev.k->release(w->buf);
    free(w->host);
    w->buf = NULL;
    w->host = NULL;
    if (*max_bytes / 2 < min_bytes)
      return mn_error(MN_ERR_NOMEM, "allreduce: cannot allocate %" PRId64 " bytes per rank",
                      *max_bytes);
    *max_bytes /= 2;
  }
}

/* One operation of a path on buf[count]. */
static mn_status_t run_op(worker_t *w, int mn_path, int64_t count) {
  return mn_path ? mn_comm_allreduce_grads(&w->comm, w->dev.k, w->buf, count)
                 : mn_comm_raw_allreduce(&w->comm, w->buf, count);
}

/* Fill, run once, compare: the wrong elements over all ranks. out: *wrong. */
static mn_status_t check_path(worker_t *w, int mn_path, int64_t count, int64_t *wrong) {
  int n = w->comm.world, r = w->comm.rank;
  for (int64_t i = 0; i < count; i++) w->host[i] = (float)(i % 7 + r);
  w->dev.k->upload(&w->dev.ctx, w->buf, w->host, (size_t)count * sizeof(float));
  mn_status_t st = run_op(w, mn_path, count);
  if (st != MN_OK) return st;
  w->dev.k->sync(&w->dev.ctx);
  w->dev.k->download(&w->dev.ctx, w->host, w->buf, (size_t)count * sizeof(float));
  long long bad = 0;
  double ranks_sum = 0.5 * n * (n - 1);
  for (int64_t i = 0; i < count; i++) {
    double want = (double)n * (double)(i % 7) + ranks_sum; /* both paths sum */
    if (!(fabs(w->host[i] - want) <= 1e-5 * (fabs(want) > 1 ? fabs(want) : 1))) bad++;
  }
  long long all = bad;
  MPI_Allreduce(&bad, &all, 1, MPI_LONG_LONG, MPI_SUM, w->comm.comm);
  *wrong = (int64_t)all;
  return MN_OK;
}

/* Warm up, then time iters operations; the slowest rank's mean. out: *t_s. */
static mn_status_t time_path(worker_t *w, int mn_path, int64_t count, int warmup, int iters,
                             double *t_s) {
  memset(w->host, 0, (size_t)count * sizeof(float));
  w->dev.k->upload(&w->dev.ctx, w->buf, w->host, (size_t)count * sizeof(float));
  mn_status_t st = MN_OK;
  for (int i = 0; st == MN_OK && i < warmup; i++) st = run_op(w, mn_path, count);
  w->dev.k->sync(&w->dev.ctx);
  MPI_Barrier(w->comm.comm);
  double t0 = MPI_Wtime();
  for (int i = 0; st == MN_OK && i < iters; i++) st = run_op(w, mn_path, count);
  w->dev.k->sync(&w->dev.ctx);
  double mine = (MPI_Wtime() - t0) / iters, all = mine;
  if (st != MN_OK) return st;
  MPI_Allreduce(&mine, &all, 1, MPI_DOUBLE, MPI_MAX, w->comm.comm);
  *t_s = all;
  return MN_OK;
}

static mn_status_t measure_size(worker_t *w, const mn_bench_opts_t *o, int64_t bytes,
                                mn_bench_ar_row_t *row) {
  int64_t count = bytes / (int64_t)sizeof(float);
  *row = (mn_bench_ar_row_t){.bytes = bytes, .iters = mn_bench_iters(bytes, o->iters)};
  int warm = mn_bench_warmups(bytes, o->warmup);
  mn_status_t st = check_path(w, 1, count, &row->mn_wrong);
  if (st == MN_OK) st = check_path(w, 0, count, &row->raw_wrong);
  if (st == MN_OK) st = time_path(w, 1, count, warm, row->iters, &row->mn_s);
  if (st == MN_OK) st = time_path(w, 0, count, warm, row->iters, &row->raw_s);
  return st;
}

static mn_status_t write_header(FILE *f, const worker_t *w, const mn_config_t *cfg,
                                int64_t max_bytes) {
  fprintf(f, "path %s\n", mn_comm_path_name(w->comm.path));
  fprintf(f, "device %s\n", w->dev.name);
  fprintf(f, "bucket_mb %.17g\n", cfg->comm.bucket_mb);
  fprintf(f, "max_bytes %" PRId64 "\n", max_bytes);
  return ferror(f) ? mn_error(MN_ERR_IO, "%s: cannot write", "allreduce results") : MN_OK;
}

/* The sweep itself, with the world set up; rank 0 writes to out (NULL elsewhere). */
static mn_status_t sweep(worker_t *w, const mn_bench_opts_t *o, const mn_config_t *cfg,
                         FILE *out) {
  int64_t max_bytes = bounded_max_bytes(o, &w->comm);
  mn_status_t st = alloc_buffers(w, &max_bytes, o->min_bytes);
  if (st == MN_OK && out) st = write_header(out, w, cfg, max_bytes);
  for (int64_t bytes = o->min_bytes; st == MN_OK && bytes <= max_bytes; bytes *= 2) {
    mn_bench_ar_row_t row;
    st = measure_size(w, o, bytes, &row);
    if (st == MN_OK && out) {
      fprintf(out, "row %" PRId64 " %d %.9e %.9e %" PRId64 " %" PRId64 "\n", row.bytes, row.iters,
              row.mn_s, row.raw_s, row.mn_wrong, row.raw_wrong);
      fflush(out);
    }
  }
  if (st == MN_OK && out) fprintf(out, "end\n");
  return st;
}

static mn_status_t load_config(const mn_bench_opts_t *o, mn_config_t *cfg) {
  char err[1024] = "";
  mn_status_t st = mn_config_load(o->conf, o->sets, o->nsets, cfg, err, sizeof err);
  return st == MN_OK ? MN_OK : mn_error(st, "%s", err);
}

mn_status_t mn_bench_allreduce_run(const mn_bench_opts_t *o) {
  worker_t w = {.comm.comm = MPI_COMM_NULL};
  mn_config_t *cfg = calloc(1, sizeof *cfg);
  FILE *out = NULL;
  int failed_rank;
  mn_comm_t world;
  mn_status_t st = mn_comm_init(&world, MPI_COMM_WORLD, 1.0);
  if (st != MN_OK) goto free_cfg;
  mn_log_init("mnbench", world.rank, world.host);
  st = cfg ? load_config(o, cfg) : mn_error(MN_ERR_NOMEM, "out of memory");
  if (st == MN_OK && world.rank == 0 && !(out = fopen(o->worker_out, "w")))
    st = mn_error(MN_ERR_IO, "%s: cannot create", o->worker_out);
  st = mn_comm_settle(&world, st, &failed_rank);
  if (st != MN_OK) goto free_world;
  st = mn_comm_init(&w.comm, MPI_COMM_WORLD, cfg->comm.bucket_mb);
  if (st == MN_OK)
    st = mn_device_open(cfg->compute.device, w.comm.local_rank, cfg->compute.tf32,
                        cfg->compute.deterministic, &w.dev);
  st = mn_comm_settle(&world, st, &failed_rank);
  if (st == MN_OK)
    st = mn_comm_use_device(&w.comm, &w.dev, cfg->comm.backend, cfg->comm.timeout_s);
  if (st == MN_OK) st = sweep(&w, o, cfg, out);
  st = mn_comm_settle(&world, st, &failed_rank);
  mn_comm_release_device(&w.comm); /* NCCL closed (or aborted) before cudaFree waits on it */
  if (w.buf) w.dev.k->release(w.buf);
  free(w.host);
  mn_comm_free(&w.comm);   /* before the device: it may hold the device's pinned memory */
  mn_device_close(&w.dev); /* a no-op on a device never opened */
free_world:
  mn_comm_free(&world);
  if (out && fclose(out) != 0 && st == MN_OK)
    st = mn_error(MN_ERR_IO, "%s: cannot write", o->worker_out);
free_cfg:
  free(cfg);
  return st;
}

mn_status_t mn_bench_allreduce_read(const char *path, mn_bench_sweep_t *s) {
  FILE *f = fopen(path, "r");
  if (!f) return mn_error(MN_ERR_NOINPUT, "%s: no allreduce results", path);
  char line[512];
  int ended = 0;
  s->nrows = 0;
  while (!ended && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    mn_bench_ar_row_t r;
    long long bytes, mnw, raww;
    if (strncmp(line, "path ", 5) == 0) {
      snprintf(s->path, sizeof s->path, "%.15s", line + 5);
    } else if (strncmp(line, "device ", 7) == 0) {
      snprintf(s->device, sizeof s->device, "%.127s", line + 7);
    } else if (sscanf(line, "bucket_mb %lf", &s->bucket_mb) == 1) {
    } else if (sscanf(line, "max_bytes %lld", &bytes) == 1) {
      s->max_bytes = bytes;
    } else if (sscanf(line, "row %lld %d %lf %lf %lld %lld", &bytes, &r.iters, &r.mn_s, &r.raw_s,
                      &mnw, &raww) == 6 &&
               s->nrows < MN_BENCH_MAX_SIZES) {
      r.bytes = bytes;
      r.mn_wrong = mnw;
      r.raw_wrong = raww;
      s->rows[s->nrows++] = r;
    } else if (strcmp(line, "end") == 0) {
      ended = 1;
    }
  }
  fclose(f);
  if (!ended) return mn_error(MN_ERR_DATA, "%s: allreduce results end early", path);
  s->ok = 1;
  return MN_OK;
}
