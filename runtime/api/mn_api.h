/* mn_api.h: what the public API's objects (include/mn/) are inside: the runtime's own
 * parts, held together. Internal: the files of runtime/api implement the public calls over these,
 * converting every misuse into MN_ERR_USAGE with a message at the boundary; nothing below
 * runtime/api knows of them. */
#ifndef MN_API_H
#define MN_API_H

#include <stdint.h>

#include <mn/mn.h>

#include "mn_comm.h"
#include "mn_device.h"
#include "mn_model.h"
#include "mn_optim.h"
#include "mn_snapshot.h"
#include "mn_snapwriter.h"
#include "mn_status.h"
#include "mn_tensors.h"

struct mn_world {
  mn_comm_t comm; /* MPI_COMM_WORLD, duplicated; the collectives of world.h */
  mn_device_t dev;
  const mn_kernels_t *k; /* dev.k */
  double bucket_mb, timeout_s;
  mn_comm_backend_t backend; /* the gradients' path (mn_init_opts_t.collectives) */
  int tf32;                  /* mn_init_opts_t.tf32: the peak mn_world_peak_flops gives */
  int mpi_started;   /* mn_init called MPI_Init (mn_finish then finalises it) */
  int failed_rank;   /* the lowest rank that failed, once agreed (-1: none) */
  char report_dir[4096]; /* MN_REPORT_DIR under mnrun ("": none) */
};

struct mn_params {
  mn_world_t *w;
  mn_comm_t comm; /* the exchange of the gradients: its buffer holds them (grads) */
  mn_tensors_t tensors;
  int committed;
  float *params, *grads; /* [tensors.size] each, of the device's memory */
  /* the step's exchange (exchange.c) */
  int open;               /* between mn_grads_begin and mn_grads_end */
  mn_reduce_t op;         /* MN_AVERAGE or MN_SUM (mn_grads_set_op) */
  unsigned char *ready;   /* [tensors.n]: final this step */
  int64_t front;          /* grads[0, front) handed to the exchange */
  mn_status_t send_status; /* the first failure to hand a bucket over */
  mn_net_t *nets;          /* the nets whose tensors it holds (net.c), built at the commit */
};

struct mn_optimizer {
  mn_params_t *p;
  mn_optim_t optim;
  int64_t steps;    /* taken: the next update is step `steps` (from 0) */
  double clip_norm; /* 0: none */
};

/* A net (net.c): a model of the runtime's over a registry's buffers. */
struct mn_net {
  mn_params_t *p;
  mn_model_spec_t *spec; /* as declared into p (tensor indices filled in) */
  mn_model_t model;      /* built at the commit */
  int built;
  int max_batch, input_batch;
  uint64_t seed;
  unsigned char *mine; /* [p's tensors]: the net's own */
  unsigned char *sent; /* [p's tensors]: handed over by this backward */
  int last_batch;      /* the last forward's (0: none) */
  mn_status_t send_status;
  mn_net_t *next; /* p's next net */
};

/* The control slots of the exchange's first bucket (exchange.c). */
enum { MN_API_SLOT_FAILED = 0, MN_API_SLOT_STOP = 1, MN_API_SLOT_LOSS = 2, MN_API_SLOTS = 3 };

/* The dataset's identity into m's data fields (data_n, data_dim, data_classes, the CRCs,
 * data_files: heap, mn_snapshot_meta_free's), as mntrain's snapshots record it; reads the
 * fixed rows of the features at the first call. */
mn_status_t mn_api_data_identity(const mn_data_t *d, mn_snapshot_meta_t *m);
/* 1 for a token dataset. */
int mn_api_data_tokens(const mn_data_t *d);

/* Build net over its registry's buffers (mn_params_commit, once they are allocated). */
mn_status_t mn_api_net_build(mn_net_t *net);

/* Usage errors, worded at the boundary: "mn_params_add: ..." */
#define MN_API_USAGE(fn, ...) mn_error(MN_ERR_USAGE, fn ": " __VA_ARGS__)

#endif /* MN_API_H */
