/* topo.c: the topology of one node (mn_topo.h): probed on this machine, or synthetic.
 *
 * This machine: hwloc gives the NUMA nodes, their cores and where each PCI device sits;
 * NVML, opened with dlopen so that mnrun runs where no NVIDIA driver is installed, gives
 * the GPUs (else hwloc's CUDA/NVML/RSMI OS devices, when its plugins found any);
 * libibverbs gives the HCAs and the state, link layer and rate of their first port. What
 * is missing becomes a note, never an error. This file does not place ranks and does not
 * probe other machines (their topology is a synthetic spec, or theirs to report). */
#include "mn_topo.h"

#include <dlfcn.h>
#include <hwloc.h>
#include <hwloc/openfabrics-verbs.h>
#include <infiniband/verbs.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((format(printf, 2, 3))) static void add_note(mn_topo_t *t, const char *fmt, ...) {
  if (t->nnotes == MN_TOPO_NOTES_MAX) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t->notes[t->nnotes++], MN_TOPO_NOTE_LEN, fmt, ap);
  va_end(ap);
}

int mn_topo_format_cpus(const int *cpus, int n, char *buf, size_t size) {
  size_t used = 0;
  if (size > 0) buf[0] = '\0';
  for (int i = 0; i < n;) {
    int j = i;
    while (j + 1 < n && cpus[j + 1] == cpus[j] + 1) j++;
    const char *sep = i > 0 ? "," : "";
    int len = j > i ? snprintf(buf + used, size - used, "%s%d-%d", sep, cpus[i], cpus[j])
                    : snprintf(buf + used, size - used, "%s%d", sep, cpus[i]);
    if (len < 0 || (size_t)len >= size - used) {
      if (size > 0) buf[0] = '\0';
      return -1;
    }
    used += (size_t)len;
    i = j + 1;
  }
  return 0;
}

/* "0000:17:00.0" from any "d:b:d.f" spelling (NVML writes an 8-digit domain). */
static void normalize_busid(const char *in, char *out, size_t size) {
  unsigned domain, bus, dev, func;
  if (sscanf(in, "%x:%x:%x.%x", &domain, &bus, &dev, &func) == 4)
    snprintf(out, size, "%04x:%02x:%02x.%x", domain, bus, dev, func);
  else
    snprintf(out, size, "%s", in);
}

static mn_status_t alloc_arrays(mn_topo_t *t, int nnuma, int ngpus, int nhcas) {
  t->numa = calloc((size_t)nnuma, sizeof *t->numa);
  t->gpus = ngpus > 0 ? calloc((size_t)ngpus, sizeof *t->gpus) : NULL;
  t->hcas = nhcas > 0 ? calloc((size_t)nhcas, sizeof *t->hcas) : NULL;
  if (!t->numa || (ngpus > 0 && !t->gpus) || (nhcas > 0 && !t->hcas))
    return mn_error(MN_ERR_NOMEM, "out of memory describing host %s", t->host);
  return MN_OK;
}

/* ---- synthetic ---- */

typedef struct topo_spec {
  int numa, cores, gpus, hcas;
} topo_spec_t;

static mn_status_t parse_spec(const char *spec, topo_spec_t *out) {
  const char *keys[] = {"numa", "cores", "gpus", "hcas"};
  int values[] = {1, -1, 0, 0}, seen[4] = {0};
  char *copy = strdup(spec);
  if (!copy) return mn_error(MN_ERR_NOMEM, "out of memory");
  mn_status_t st = MN_OK;
  char *save = NULL;
  for (char *item = strtok_r(copy, ",", &save); item && st == MN_OK;
       item = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(item, '=');
    if (!eq) {
      st = mn_error(MN_ERR_USAGE, "topology '%s': '%s' is not key=value", spec, item);
      break;
    }
    *eq = '\0';
    int k = 0;
    while (k < 4 && strcmp(item, keys[k]) != 0) k++;
    char *end;
    long v = strtol(eq + 1, &end, 10);
    if (k == 4)
      st = mn_error(MN_ERR_USAGE, "topology '%s': unknown key '%s' (numa, cores, gpus, hcas)", spec,
                    item);
    else if (seen[k]++)
      st = mn_error(MN_ERR_USAGE, "topology '%s': '%s' given twice", spec, item);
    else if (!eq[1] || *end || v < (k < 2 ? 1 : 0) || v > 100000)
      st = mn_error(MN_ERR_USAGE, "topology '%s': %s expects a whole number from %d to 100000",
                    spec, item, k < 2 ? 1 : 0);
    else
      values[k] = (int)v;
  }
  free(copy);
  if (st != MN_OK) return st;
  if (values[1] < 0) return mn_error(MN_ERR_USAGE, "topology '%s': cores= is missing", spec);
  if (values[1] < values[0])
    return mn_error(MN_ERR_USAGE, "topology '%s': %d cores cannot fill %d NUMA nodes", spec,
                    values[1], values[0]);
  *out = (topo_spec_t){values[0], values[1], values[2], values[3]};
  return MN_OK;
}

static mn_status_t fill_synthetic(const topo_spec_t *s, mn_topo_t *t) {
  mn_status_t st = alloc_arrays(t, s->numa, s->gpus, s->hcas);
  if (st != MN_OK) return st;
  t->nnuma = s->numa;
  t->ncores = s->cores;
  for (int n = 0, first = 0; n < s->numa; n++) {
    mn_topo_numa_t *node = &t->numa[n];
    node->os_index = n;
    node->ncores = s->cores / s->numa + (n < s->cores % s->numa);
    if (!(node->cpus = calloc((size_t)node->ncores, sizeof *node->cpus)))
      return mn_error(MN_ERR_NOMEM, "out of memory describing host %s", t->host);
    for (int c = 0; c < node->ncores; c++) node->cpus[c] = first + c;
    first += node->ncores;
    mn_topo_format_cpus(node->cpus, node->ncores, node->cpuset, sizeof node->cpuset);
  }
  t->ngpus = s->gpus;
  for (int g = 0; g < s->gpus; g++)
    t->gpus[g] = (mn_topo_gpu_t){.index = g, .numa = (int)((long)g * s->numa / s->gpus)};
  for (int g = 0; g < s->gpus; g++) {
    snprintf(t->gpus[g].busid, sizeof t->gpus[g].busid, "0000:%02x:00.0", (g + 1) & 0xff);
    snprintf(t->gpus[g].name, sizeof t->gpus[g].name, "synthetic GPU");
  }
  t->nhcas = s->hcas;
  for (int h = 0; h < s->hcas; h++) {
    mn_topo_hca_t *hca = &t->hcas[h];
    *hca = (mn_topo_hca_t){.numa = (int)((long)h * s->numa / s->hcas), .rate_gbps = 200};
    snprintf(hca->name, sizeof hca->name, "mlx5_%d", h);
    snprintf(hca->busid, sizeof hca->busid, "0000:%02x:00.0", (0x80 + h) & 0xff);
    snprintf(hca->state, sizeof hca->state, "ACTIVE");
    snprintf(hca->link_layer, sizeof hca->link_layer, "InfiniBand");
  }
  if (s->gpus == 0) add_note(t, "no GPU: none in the synthetic spec");
  if (s->hcas == 0) add_note(t, "no InfiniBand device: none in the synthetic spec");
  return MN_OK;
}

mn_status_t mn_topo_synthetic(const char *host, const char *spec, mn_topo_t *t) {
  topo_spec_t s = {0};
  mn_status_t st = parse_spec(spec ? spec : "", &s);
  if (st != MN_OK) return st;
  mn_topo_t out = {0};
  snprintf(out.host, sizeof out.host, "%s", host ? host : "");
  st = fill_synthetic(&s, &out);
  if (st != MN_OK) {
    mn_topo_free(&out);
    return st;
  }
  *t = out;
  return MN_OK;
}

/* ---- this machine: NUMA nodes and cores (hwloc) ---- */

static mn_status_t read_numa(hwloc_topology_t topo, mn_topo_t *t) {
  int nnuma = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
  if (nnuma < 1) nnuma = 1; /* hwloc always has one; be safe */
  t->numa = calloc((size_t)nnuma, sizeof *t->numa);
  int ncores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
  if (!t->numa) return mn_error(MN_ERR_NOMEM, "out of memory describing this machine");
  for (int n = 0; n < nnuma; n++) {
    hwloc_obj_t obj = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, (unsigned)n);
    hwloc_const_cpuset_t set = obj ? obj->cpuset : hwloc_topology_get_topology_cpuset(topo);
    mn_topo_numa_t *node = &t->numa[t->nnuma++];
    node->os_index = obj ? (int)obj->os_index : 0;
    if (!(node->cpus = calloc((size_t)(ncores > 0 ? ncores : 1), sizeof *node->cpus)))
      return mn_error(MN_ERR_NOMEM, "out of memory describing this machine");
    hwloc_obj_t core = NULL;
    while ((core = hwloc_get_next_obj_inside_cpuset_by_type(topo, set, HWLOC_OBJ_CORE, core)))
      if (node->ncores < ncores) node->cpus[node->ncores++] = hwloc_bitmap_first(core->cpuset);
    if (ncores < 1) { /* no Core objects (some VMs): count hardware threads instead */
      int pu = hwloc_bitmap_first(set);
      node->cpus[0] = pu < 0 ? 0 : pu;
      node->ncores = 1;
    }
    mn_topo_format_cpus(node->cpus, node->ncores, node->cpuset, sizeof node->cpuset);
    t->ncores += node->ncores;
  }
  return MN_OK;
}

/* The index into t->numa of the one NUMA node with cores near a PCI device, or -1. */
static int pci_numa(hwloc_topology_t topo, const mn_topo_t *t, hwloc_obj_t pcidev) {
  hwloc_obj_t anc = pcidev ? hwloc_get_non_io_ancestor_obj(topo, pcidev) : NULL;
  if (!anc || !anc->nodeset) return -1;
  int found = -1;
  for (int n = 0; n < t->nnuma; n++)
    if (t->numa[n].ncores > 0 && hwloc_bitmap_isset(anc->nodeset, (unsigned)t->numa[n].os_index)) {
      if (found >= 0) return -1; /* the device hangs off several NUMA nodes */
      found = n;
    }
  return found;
}

static int busid_numa(hwloc_topology_t topo, const mn_topo_t *t, const char *busid) {
  if (!busid[0]) return -1;
  return pci_numa(topo, t, hwloc_get_pcidev_by_busidstring(topo, busid));
}

static void pci_busid(hwloc_obj_t pcidev, char *out, size_t size) {
  out[0] = '\0';
  if (pcidev && pcidev->type == HWLOC_OBJ_PCI_DEVICE)
    snprintf(out, size, "%04x:%02x:%02x.%x", pcidev->attr->pcidev.domain, pcidev->attr->pcidev.bus,
             pcidev->attr->pcidev.dev, pcidev->attr->pcidev.func);
}

/* ---- GPUs: NVML, opened at run time ---- */

typedef struct nvml_device *nvml_device_t;
typedef struct nvml_pci_info { /* nvmlPciInfo_t (v3) */
  char bus_id_legacy[16];
  unsigned domain, bus, device, pci_device_id, pci_subsystem_id;
  char bus_id[32];
} nvml_pci_info_t;

typedef struct nvml_api {
  void *lib;
  int (*init)(void);
  int (*shutdown)(void);
  int (*count)(unsigned *);
  int (*handle)(unsigned, nvml_device_t *);
  int (*pci)(nvml_device_t, nvml_pci_info_t *);
  int (*name)(nvml_device_t, char *, unsigned);
} nvml_api_t;

/* dlsym into a function pointer without an object-to-function cast (POSIX allows this). */
static int nvml_sym(void *lib, const char *name, void *fn_ptr) {
  void *sym = dlsym(lib, name);
  if (sym) memcpy(fn_ptr, &sym, sizeof sym);
  return sym != NULL;
}

static int nvml_open(nvml_api_t *api) {
  *api = (nvml_api_t){.lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL)};
  if (!api->lib) return 0;
  if (nvml_sym(api->lib, "nvmlInit_v2", &api->init) &&
      nvml_sym(api->lib, "nvmlShutdown", &api->shutdown) &&
      nvml_sym(api->lib, "nvmlDeviceGetCount_v2", &api->count) &&
      nvml_sym(api->lib, "nvmlDeviceGetHandleByIndex_v2", &api->handle) &&
      nvml_sym(api->lib, "nvmlDeviceGetPciInfo_v3", &api->pci) &&
      nvml_sym(api->lib, "nvmlDeviceGetName", &api->name))
    return 1;
  dlclose(api->lib);
  api->lib = NULL;
  return -1;
}

/* 1: NVML answered (t->ngpus may be 0); 0: no usable NVML. why: the reason for no GPU. */
static int read_gpus_nvml(hwloc_topology_t topo, mn_topo_t *t, char *why, size_t size) {
  nvml_api_t api;
  int opened = nvml_open(&api);
  if (opened <= 0) {
    snprintf(why, size, "%s",
             opened == 0 ? "NVML not found (libnvidia-ml.so.1)"
                         : "libnvidia-ml.so.1 lacks the NVML v2 entry points");
    return 0;
  }
  unsigned count = 0;
  int rc = api.init();
  if (rc != 0) {
    snprintf(why, size, "nvmlInit failed (NVML error %d)", rc);
    goto close_lib;
  }
  snprintf(why, size, "NVML sees none");
  if (api.count(&count) != 0) count = 0;
  t->gpus = count > 0 ? calloc(count, sizeof *t->gpus) : NULL;
  for (unsigned i = 0; t->gpus && i < count; i++) {
    mn_topo_gpu_t *gpu = &t->gpus[t->ngpus];
    nvml_device_t dev;
    nvml_pci_info_t pci;
    memset(&pci, 0, sizeof pci);
    if (api.handle(i, &dev) != 0) continue;
    *gpu = (mn_topo_gpu_t){.index = (int)i, .numa = -1};
    if (api.pci(dev, &pci) == 0) normalize_busid(pci.bus_id, gpu->busid, sizeof gpu->busid);
    if (api.name(dev, gpu->name, sizeof gpu->name) != 0)
      snprintf(gpu->name, sizeof gpu->name, "unknown");
    gpu->numa = busid_numa(topo, t, gpu->busid);
    t->ngpus++;
  }
  api.shutdown();
close_lib:
  dlclose(api.lib);
  return rc == 0;
}

/* GPUs that hwloc's own plugins found (cuda<i>, else nvml<i>, else rsmi<i>). Returns the
 * kind used, or NULL for none. */
static const char *read_gpus_hwloc(hwloc_topology_t topo, mn_topo_t *t) {
  static const char *prefixes[] = {"cuda", "nvml", "rsmi"};
  int n = 0;
  for (hwloc_obj_t os = NULL; (os = hwloc_get_next_osdev(topo, os));) n++;
  if (n == 0 || !(t->gpus = calloc((size_t)n, sizeof *t->gpus))) return NULL;
  for (int p = 0; p < 3; p++) {
    size_t len = strlen(prefixes[p]);
    for (hwloc_obj_t os = NULL; (os = hwloc_get_next_osdev(topo, os));) {
      if (!os->name || strncmp(os->name, prefixes[p], len) != 0) continue;
      mn_topo_gpu_t *gpu = &t->gpus[t->ngpus++];
      const char *model = hwloc_obj_get_info_by_name(os, "GPUModel");
      *gpu = (mn_topo_gpu_t){.index = atoi(os->name + len)};
      snprintf(gpu->name, sizeof gpu->name, "%s", model ? model : os->name);
      pci_busid(os->parent, gpu->busid, sizeof gpu->busid);
      gpu->numa = pci_numa(topo, t, os->parent);
    }
    if (t->ngpus > 0) return prefixes[p];
  }
  return NULL;
}

static void read_gpus(hwloc_topology_t topo, mn_topo_t *t) {
  char why[MN_TOPO_NOTE_LEN - 16] = "";
  if (read_gpus_nvml(topo, t, why, sizeof why)) {
    if (t->ngpus == 0) add_note(t, "no GPU: %s", why);
    return;
  }
  free(t->gpus);
  t->gpus = NULL;
  t->ngpus = 0;
  const char *kind = read_gpus_hwloc(topo, t);
  if (kind)
    add_note(t, "GPUs from hwloc's %s devices: %s", kind, why);
  else
    add_note(t, "no GPU: %s", why);
}

/* ---- HCAs: libibverbs ---- */

/* Gb/s per lane (IBV_SPEED_*) times lanes (IBV_WIDTH_*); 0 when either is unknown. */
static double port_rate_gbps(unsigned width, unsigned speed) {
  static const struct {
    unsigned code;
    double value;
  } lanes[] = {{1, 1}, {2, 4}, {4, 8}, {8, 12}, {16, 2}},
    speeds[] = {{1, 2.5}, {2, 5}, {4, 10}, {8, 10}, {16, 14}, {32, 25}, {64, 50}, {128, 100}};
  double w = 0, s = 0;
  for (size_t i = 0; i < sizeof lanes / sizeof lanes[0]; i++)
    if (lanes[i].code == width) w = lanes[i].value;
  for (size_t i = 0; i < sizeof speeds / sizeof speeds[0]; i++)
    if (speeds[i].code == speed) s = speeds[i].value;
  return w * s;
}

static void read_port(struct ibv_device *dev, mn_topo_hca_t *hca) {
  snprintf(hca->state, sizeof hca->state, "unknown");
  snprintf(hca->link_layer, sizeof hca->link_layer, "unknown");
  struct ibv_context *ctx = ibv_open_device(dev);
  if (!ctx) return;
  struct ibv_port_attr attr;
  memset(&attr, 0, sizeof attr);
  if (ibv_query_port(ctx, 1, &attr) == 0) {
    const char *state = ibv_port_state_str(attr.state);
    if (strncmp(state, "PORT_", 5) == 0) state += 5;
    snprintf(hca->state, sizeof hca->state, "%s", state);
    snprintf(hca->link_layer, sizeof hca->link_layer, "%s",
             attr.link_layer == IBV_LINK_LAYER_ETHERNET ? "Ethernet" : "InfiniBand");
    hca->rate_gbps = port_rate_gbps(attr.active_width, attr.active_speed);
  }
  ibv_close_device(ctx);
}

static mn_status_t read_hcas(hwloc_topology_t topo, mn_topo_t *t) {
  int n = 0;
  struct ibv_device **list = ibv_get_device_list(&n);
  if (!list || n <= 0) {
    add_note(t, "no InfiniBand device%s", list ? "" : ": libibverbs found no RDMA support");
    if (list) ibv_free_device_list(list);
    return MN_OK;
  }
  t->hcas = calloc((size_t)n, sizeof *t->hcas);
  if (!t->hcas) {
    ibv_free_device_list(list);
    return mn_error(MN_ERR_NOMEM, "out of memory describing this machine");
  }
  for (int i = 0; i < n; i++) {
    mn_topo_hca_t *hca = &t->hcas[t->nhcas++];
    snprintf(hca->name, sizeof hca->name, "%s", ibv_get_device_name(list[i]));
    read_port(list[i], hca);
    hwloc_obj_t os = hwloc_ibv_get_device_osdev(topo, list[i]);
    pci_busid(os ? os->parent : NULL, hca->busid, sizeof hca->busid);
    hca->numa = pci_numa(topo, t, os ? os->parent : NULL);
  }
  ibv_free_device_list(list);
  return MN_OK;
}

/* ---- this machine ---- */

static mn_status_t probe_local(hwloc_topology_t topo, mn_topo_t *t) {
  if (gethostname(t->host, sizeof t->host - 1) != 0) snprintf(t->host, sizeof t->host, "localhost");
  mn_status_t st = read_numa(topo, t);
  if (st != MN_OK) return st;
  read_gpus(topo, t);
  return read_hcas(topo, t);
}

mn_status_t mn_topo_local(mn_topo_t *t) {
  hwloc_topology_t topo;
  if (hwloc_topology_init(&topo) != 0)
    return mn_error(MN_ERR_INTERNAL, "hwloc: cannot initialise a topology");
  mn_status_t st = MN_OK;
  hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
  if (hwloc_topology_load(topo) != 0) {
    st = mn_error(MN_ERR_INTERNAL, "hwloc: cannot load this machine's topology");
    goto destroy_topology;
  }
  mn_topo_t out = {0};
  st = probe_local(topo, &out);
  if (st != MN_OK) {
    mn_topo_free(&out);
    goto destroy_topology;
  }
  *t = out;
destroy_topology:
  hwloc_topology_destroy(topo);
  return st;
}

/* ---- output ---- */

static const char *plural(int n) { return n == 1 ? "" : "s"; }

/* The OS number of NUMA node numa (an index into t->numa), or "unknown". */
static const char *numa_label(const mn_topo_t *t, int numa, char *buf, size_t size) {
  if (numa < 0) return "unknown";
  snprintf(buf, size, "%d", t->numa[numa].os_index);
  return buf;
}

void mn_topo_print(FILE *f, const mn_topo_t *t) {
  char numa[16];
  fprintf(f, "host %s: %d NUMA node%s, %d core%s, %d GPU%s, %d HCA%s\n", t->host, t->nnuma,
          plural(t->nnuma), t->ncores, plural(t->ncores), t->ngpus, plural(t->ngpus), t->nhcas,
          plural(t->nhcas));
  for (int n = 0; n < t->nnuma; n++)
    fprintf(f, "  numa %d: %d core%s, cpus %s\n", t->numa[n].os_index, t->numa[n].ncores,
            plural(t->numa[n].ncores), t->numa[n].ncores ? t->numa[n].cpuset : "none");
  for (int g = 0; g < t->ngpus; g++) {
    const mn_topo_gpu_t *gpu = &t->gpus[g];
    fprintf(f, "  gpu %d: %s, pci %s, numa %s\n", gpu->index, gpu->name,
            gpu->busid[0] ? gpu->busid : "unknown", numa_label(t, gpu->numa, numa, sizeof numa));
  }
  for (int h = 0; h < t->nhcas; h++) {
    const mn_topo_hca_t *hca = &t->hcas[h];
    fprintf(f, "  hca %s: %s, %s, %g Gb/s, pci %s, numa %s\n", hca->name, hca->state,
            hca->link_layer, hca->rate_gbps, hca->busid[0] ? hca->busid : "unknown",
            numa_label(t, hca->numa, numa, sizeof numa));
  }
  for (int i = 0; i < t->nnotes; i++) fprintf(f, "  note: %s\n", t->notes[i]);
}

void mn_topo_free(mn_topo_t *t) {
  for (int n = 0; t->numa && n < t->nnuma; n++) free(t->numa[n].cpus);
  free(t->numa);
  free(t->gpus);
  free(t->hcas);
  t->numa = NULL;
  t->gpus = NULL;
  t->hcas = NULL;
  t->nnuma = t->ngpus = t->nhcas = t->ncores = t->nnotes = 0;
}
