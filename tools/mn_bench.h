/* mn_bench.h: the parts of mnbench (tools/mnbench.c, bench_allreduce.c, bench_report.c).
 *
 * mnbench is a driver and a worker in one program. The driver parses the command line,
 * starts the allreduce workers at each rank count through mn's launch engines (mpirun,
 * srun, or one process directly) and the training runs through mnrun, reads what they
 * measured, fits the scaling model (mn_scaling.h) and prints the table, the JSON file and
 * the plot. The worker (mnbench ... --worker FILE, one per rank) runs the allreduce sweep
 * inside MPI and rank 0 writes its figures to FILE. docs/benchmarks.md, "mnbench", has
 * the method. */
#ifndef MN_BENCH_H
#define MN_BENCH_H

#include <stdint.h>
#include <stdio.h>

#include "mn_scaling.h"
#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MN_BENCH_MAX_SETS 128
#define MN_BENCH_MAX_COUNTS 64
#define MN_BENCH_MAX_LINKS 8
#define MN_BENCH_MAX_SIZES 40

/* The command line (mnbench --help states every default). */
typedef struct mn_bench_opts {
  const char *conf;
  const char *sets[MN_BENCH_MAX_SETS];
  int nsets;
  int np[MN_BENCH_MAX_COUNTS]; /* rank counts to measure */
  int nnp;
  const char *json;          /* JSON file */
  const char *plot;          /* SVG file; NULL: from json */
  int no_plot;
  int64_t min_bytes, max_bytes; /* allreduce sizes, doubling */
  int iters, warmup;            /* per size (fewer above 64 MB: mn_bench_iters) */
  int steps;                    /* training steps per rank count */
  int global_batch;             /* > 0: strong scaling with this global batch */
  int threads;                  /* BLAS threads per training rank (0: even share) */
  int no_allreduce, no_train;
  /* the model */
  double ib_gbit[MN_BENCH_MAX_LINKS]; /* network bandwidths per rank, Gb/s */
  int nib;
  double nvlink_GBps; /* per rank inside a node */
  int node_size;
  double overlap;
  double alpha_us; /* < 0: calibrated */
  int model_np[MN_BENCH_MAX_COUNTS];
  int nmodel_np;
  double timeout_s; /* per launched run */
  int keep;         /* keep the scratch directory */
  /* the worker */
  const char *worker_out;
} mn_bench_opts_t;

/* ---- the allreduce sweep ------------------------------------------------------------ */

/* One message size at one rank count: seconds per operation (the slowest rank), and the
 * elements found wrong by the check that follows nccl-tests' #wrong. */
typedef struct mn_bench_ar_row {
  int64_t bytes;
  int iters;
  double mn_s, raw_s;
  int64_t mn_wrong, raw_wrong;
} mn_bench_ar_row_t;

typedef struct mn_bench_sweep {
  int ranks;
  int ok;
  char path[16];    /* the gradient path: host, nccl, mpi-cuda, staged */
  char device[128]; /* rank 0's device */
  double bucket_mb;
  int64_t max_bytes; /* the largest size, after the memory bound */
  mn_bench_ar_row_t rows[MN_BENCH_MAX_SIZES];
  int nrows;
} mn_bench_sweep_t;

/* Timed iterations for a size: iters up to 64 MB, then fewer so that each size moves about
 * as many bytes as 64 MB does (at least min(iters, 5)). Warm-ups likewise, at least 1. */
int mn_bench_iters(int64_t bytes, int iters);
int mn_bench_warmups(int64_t bytes, int warmup);

/* The worker: run the sweep on MPI_COMM_WORLD (MPI initialised by the caller), rank 0
 * writing the figures to o->worker_out. Collective. */
mn_status_t mn_bench_allreduce_run(const mn_bench_opts_t *o);
/* Read a worker's figures. out: s (ranks set by the caller). */
mn_status_t mn_bench_allreduce_read(const char *path, mn_bench_sweep_t *s);

/* ---- the training sweep ------------------------------------------------------------- */

typedef struct mn_bench_train {
  int ranks;
  int ok;
  int batch;       /* per rank */
  int64_t steps;   /* done */
  double samples_per_s, elapsed_s;
  double tokens_per_s;                 /* a sequence model's: samples_per_s x its context */
  double mfu;                          /* the summary's, NaN when it has none */
  double compute_s, comm_s, io_wait_s; /* rank 0's totals */
  double efficiency;                   /* samples_per_s / (ranks * that of the first) */
} mn_bench_train_t;

/* ---- everything, for the report ----------------------------------------------------- */

typedef struct mn_bench_link {
  char name[48];
  mn_scaling_t model;
  double eff[MN_BENCH_MAX_COUNTS]; /* at model_np[i] */
  double eff_measured_np[MN_BENCH_MAX_COUNTS]; /* at each measured count (ranks[]) */
} mn_bench_link_t;

typedef struct mn_bench_result {
  const mn_bench_opts_t *opts;
  char date[32], host[64];
  int cores;
  char model_type[16]; /* "mlp", "gpt": the spec's type */
  char layers[256];    /* the model in words: the MLP's widths, or the GPT's shape */
  int seq;             /* tokens per sample of a sequence model (its context); 1 otherwise */
  int64_t params;      /* the parameters (mn_model_size's count) */
  int64_t flat;        /* the flat buffer's elements, padding included (mn_model_size's
                          size): what the exchange sums, so the gradient is 4 x flat bytes */
  int batch; /* per rank at one rank (weak) */
  int threads;
  mn_bench_sweep_t sweeps[MN_BENCH_MAX_COUNTS];
  int nsweeps;
  mn_bench_train_t train[MN_BENCH_MAX_COUNTS];
  int ntrain;
  /* the model */
  int have_model;
  double compute_per_sample_s;
  double alpha_s, machine_Bps; /* calibrated here (0: not measured) */
  int calib_ranks;                  /* the count they were fitted at (0: none) */
  int64_t calib_small, calib_large; /* the two sizes of the fit */
  mn_bench_link_t links[MN_BENCH_MAX_LINKS + 1]; /* this machine first, when calibrated */
  int nlinks;
  char plot_note[256]; /* why no plot was made, "" when one was */
} mn_bench_result_t;

/* The mn/raw figure of a row: raw time / mn time (= busbw ratio), NaN without both. */
double mn_bench_ratio(const mn_bench_ar_row_t *row);

/* Terminal table, JSON file, plot (bench_report.c). The plot needs gnuplot (MN_GNUPLOT or
 * on PATH); without it, res->plot_note says why and the call returns MN_OK. */
void mn_bench_print(FILE *f, const mn_bench_result_t *res);
mn_status_t mn_bench_write_json(const char *path, const mn_bench_result_t *res);
mn_status_t mn_bench_plot(const char *path, mn_bench_result_t *res);

#ifdef __cplusplus
}
#endif
#endif /* MN_BENCH_H */
