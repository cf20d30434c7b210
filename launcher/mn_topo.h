/* mn_topo.h: what one node holds for placement: NUMA nodes and their cores, GPUs, HCAs.
 *
 * Two sources fill the same mn_topo_t: this machine, probed (hwloc for NUMA nodes, cores
 * and PCI locality; NVML, opened at run time, for GPUs; libibverbs for HCAs), or a
 * synthetic spec ("numa=2,cores=32,gpus=8,hcas=4") for tests and for nodes mnrun cannot
 * probe. Absent hardware is not an error: the topology then has no GPUs or HCAs and says
 * why in its notes. Placement (mn_place.h) reads it; nothing here places a rank. */
#ifndef MN_TOPO_H
#define MN_TOPO_H

#include <stdio.h>

#include "mn_hosts.h"
#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MN_TOPO_NOTES_MAX 8
#define MN_TOPO_NOTE_LEN 160
#define MN_TOPO_CPUSET_LEN 256

typedef struct mn_topo_numa {
  int os_index; /* the OS's number of the NUMA node */
  int ncores;   /* cores with at least one usable hardware thread (may be 0) */
  int *cpus;    /* [ncores]: each core's first hardware thread (OS CPU number), ascending */
  char cpuset[MN_TOPO_CPUSET_LEN]; /* cpus as a list: "0-15", "0,2,4-7" */
} mn_topo_numa_t;

typedef struct mn_topo_gpu {
  int index;      /* the GPU's index for CUDA/NVML (CUDA_VISIBLE_DEVICES) */
  char busid[32]; /* PCI "dddd:bb:dd.f", "" when unknown */
  int numa;       /* index into mn_topo_t.numa, -1 when unknown */
  char name[96];  /* "NVIDIA H100 80GB HBM3" */
} mn_topo_gpu_t;

typedef struct mn_topo_hca {
  char name[32];       /* verbs device: "mlx5_0" */
  char busid[32];      /* PCI "dddd:bb:dd.f", "" when unknown */
  int numa;            /* index into mn_topo_t.numa, -1 when unknown */
  char state[16];      /* port 1: "ACTIVE", "DOWN", "INIT", "ARMED", ... */
  char link_layer[16]; /* port 1: "InfiniBand", "Ethernet" */
  double rate_gbps;    /* port 1: width x lane speed, e.g. 200 (4x HDR); 0 unknown */
} mn_topo_hca_t;

typedef struct mn_topo {
  char host[MN_HOST_NAME_MAX];
  int nnuma;
  mn_topo_numa_t *numa; /* [nnuma], in OS order; at least 1 after a successful call */
  int ncores;           /* the sum of numa[].ncores */
  int ngpus;
  mn_topo_gpu_t *gpus; /* [ngpus], by index */
  int nhcas;
  mn_topo_hca_t *hcas; /* [nhcas], in verbs order */
  int nnotes;
  char notes[MN_TOPO_NOTES_MAX][MN_TOPO_NOTE_LEN]; /* what is absent and why */
} mn_topo_t;

/* ---- sources (out: t, written only on success; free with mn_topo_free) ---- */

/* This machine. Fails only when hwloc cannot load a topology (MN_ERR_INTERNAL) or memory
 * runs out; no NVML, no GPU, no verbs device are notes ("no GPU: NVML not found"). */
mn_status_t mn_topo_local(mn_topo_t *t);

/* A node described by spec: comma-separated key=value, keys numa (default 1), cores
 * (required, >= numa), gpus and hcas (default 0), each at most once. Cores are split
 * evenly over the NUMA nodes with contiguous CPU numbers (the first nodes get one more
 * when it does not divide); GPUs and HCAs are spread evenly over the NUMA nodes in order,
 * HCAs named mlx5_<i>, ACTIVE, InfiniBand, 200 Gb/s. A bad spec is MN_ERR_USAGE, with a
 * message naming the spec and the key. */
mn_status_t mn_topo_synthetic(const char *host, const char *spec, mn_topo_t *t);

/* ---- queries and output ---- */

/* Write cpus[0..n) (ascending) as a list with ranges ("0-3,8,10-11") into buf (size
 * bytes). Returns 0, or -1 when it does not fit (buf is then ""). */
int mn_topo_format_cpus(const int *cpus, int n, char *buf, size_t size);

/* A summary line, then one line per NUMA node, GPU, HCA and note (mnrun --topology). */
void mn_topo_print(FILE *f, const mn_topo_t *t);

void mn_topo_free(mn_topo_t *t);

#ifdef __cplusplus
}
#endif
#endif /* MN_TOPO_H */
