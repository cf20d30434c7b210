/* hosts.c: resources for mnrun: hostfile, -H list, Slurm allocation and the local machine
 * (mn_hosts.h).
 *
 * Parsing is strict because a typo here would otherwise surface as a hang or a confusing
 * mpirun error after the job started: slots must be whole numbers >= 1, host names must be
 * plain DNS-style names, unknown keys are errors, and a Slurm variable that disagrees with
 * the nodelist is an error naming both. A host named twice is merged and its slots added, as
 * Open MPI does. Hostlist expressions are expanded by hostlist.c. This file knows nothing of
 * ranks or of how they are started. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "mn_hosts.h"
#include "mn_hostlist.h"

#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int mn_hosts_local_cpus(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

static void local_name(char *buf, size_t n) {
  if (gethostname(buf, n) != 0 || !buf[0]) snprintf(buf, n, "localhost");
  buf[n - 1] = '\0';
}

/* Whether name is this machine: localhost, a loopback address, or our host name. When
 * either name is short (no '.'), short names are compared (Slurm's "gpu01" is the machine
 * whose gethostname() is "gpu01.cluster", and the other way round). */
static int is_local_name(const char *name) {
  if (!strcmp(name, "localhost") || !strcmp(name, "127.0.0.1")) return 1;
  char self[MN_HOST_NAME_MAX];
  local_name(self, sizeof self);
  if (!strcmp(name, self)) return 1;
  size_t name_len = strcspn(name, "."), self_len = strcspn(self, ".");
  if (name[name_len] && self[self_len]) return 0; /* both fully qualified, and different */
  return name_len == self_len && !strncmp(name, self, name_len);
}

/* A host name: letters, digits, '.', '-', '_', not starting with '-' or '.'. Returns NULL
 * when valid, else what is wrong. */
static const char *check_name(const char *name) {
  if (!name[0]) return "empty host name";
  if (strlen(name) >= MN_HOST_NAME_MAX) return "host name too long";
  if (name[0] == '-' || name[0] == '.') return "host name must start with a letter or digit";
  for (const char *p = name; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
      return "host name may hold only letters, digits, '.', '-' and '_'";
  return NULL;
}

/* A whole number in [min, max]: digits only. Returns 0 on success. */
static int parse_count(const char *text, int min, int max, int *out) {
  if (!text[0] || !isdigit((unsigned char)text[0])) return -1;
  char *end;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (*end || errno || v < min || v > max) return -1;
  *out = (int)v;
  return 0;
}

/* A slot count: a whole number in [1, MN_SLOTS_MAX]. Returns 0 on success. */
static int parse_slots(const char *text, int *out) {
  return parse_count(text, 1, MN_SLOTS_MAX, out);
}

/* Put prefix in front of the last error message; returns st. */
static mn_status_t prefix_error(mn_status_t st, const char *prefix) {
  char msg[2048];
  snprintf(msg, sizeof msg, "%s", mn_error_message());
  return mn_error(st, "%s: %s", prefix, msg);
}

/* ---- labels: "a,b" ---- */

static int has_label(const char *labels, const char *label, size_t len) {
  for (const char *p = labels; *p;) {
    size_t n = strcspn(p, ",");
    if (n == len && !strncmp(p, label, len)) return 1;
    p += n + (p[n] == ',');
  }
  return 0;
}

/* Add label (len characters) to labels unless it is there. Returns -1 when it does not fit. */
static int add_label(char *labels, const char *label, size_t len) {
  if (has_label(labels, label, len)) return 0;
  size_t used = strlen(labels), need = used + (used > 0) + len + 1;
  if (need > MN_HOST_LABELS_MAX) return -1;
  snprintf(labels + used, MN_HOST_LABELS_MAX - used, "%s%.*s", used ? "," : "", (int)len, label);
  return 0;
}

/* ---- the list ---- */

/* Merge h into e, an earlier entry of the same host: slots (and cores given) added, gpus and
 * labels combined. */
static mn_status_t merge_host(mn_host_t *e, const mn_host_t *h) {
  if (e->slots > MN_SLOTS_MAX - h->slots)
    return mn_error(MN_ERR_USAGE, "%s: too many slots", e->name);
  if (h->gpus >= 0 && e->gpus >= 0 && h->gpus != e->gpus)
    return mn_error(MN_ERR_USAGE, "%s: gpus=%d, but gpus=%d before", e->name, h->gpus, e->gpus);
  for (const char *p = h->labels; *p;) {
    size_t n = strcspn(p, ",");
    if (add_label(e->labels, p, n) != 0)
      return mn_error(MN_ERR_USAGE, "%s: labels longer than %d characters in all", e->name,
                      MN_HOST_LABELS_MAX - 1);
    p += n + (p[n] == ',');
  }
  if (strcmp(e->user, h->user) != 0)
    return mn_error(MN_ERR_USAGE, "%s: user '%s', but '%s' before (a host has one login)", e->name,
                    h->user[0] ? h->user : "(none)", e->user[0] ? e->user : "(none)");
  e->slots += h->slots;
  if (!e->local) e->cores = h->cores ? e->cores + h->cores : e->slots;
  if (h->gpus >= 0) e->gpus = h->gpus;
  return MN_OK;
}

/* A list being built: its capacity and an index of its names, so that finding an earlier
 * entry of the same host costs O(1), not a scan of the list (40,000 Slurm nodes took 5 s
 * with a scan). The index is open addressing: a power of two more than twice the hosts,
 * each cell 1 + the host's position in the list, 0 for empty. */
typedef struct host_builder {
  mn_hostlist_t list;
  int cap;
  int *index;
  size_t nindex;
} host_builder_t;

static size_t name_hash(const char *name) { /* FNV-1a */
  size_t h = (size_t)14695981039346656037ULL;
  for (const unsigned char *p = (const unsigned char *)name; *p; p++)
    h = (h ^ *p) * (size_t)1099511628211ULL;
  return h;
}

/* The index cell of name: the one holding it, or the empty one where it would go. */
static int *index_cell(const host_builder_t *b, const char *name) {
  size_t mask = b->nindex - 1;
  for (size_t i = name_hash(name) & mask;; i = (i + 1) & mask) {
    int *cell = &b->index[i];
    if (!*cell || !strcmp(b->list.hosts[*cell - 1].name, name)) return cell;
  }
}

/* Room for one more host in the list and in the index (grown by doubling). */
static mn_status_t builder_reserve(host_builder_t *b) {
  int n = b->list.nhosts;
  if (n == b->cap) {
    int cap = b->cap ? 2 * b->cap : 16;
    mn_host_t *grown = realloc(b->list.hosts, (size_t)cap * sizeof *grown);
    if (!grown) return mn_error(MN_ERR_NOMEM, "out of memory for the host list");
    b->list.hosts = grown;
    b->cap = cap;
  }
  if (2 * (size_t)(n + 1) < b->nindex) return MN_OK;
  size_t nindex = b->nindex ? 2 * b->nindex : 64;
  int *index = calloc(nindex, sizeof *index);
  if (!index) return mn_error(MN_ERR_NOMEM, "out of memory for the host list");
  free(b->index);
  b->index = index;
  b->nindex = nindex;
  for (int i = 0; i < n; i++) *index_cell(b, b->list.hosts[i].name) = i + 1;
  return MN_OK;
}

/* The list built so far, now the caller's (the index is freed). */
static mn_hostlist_t builder_take(host_builder_t *b) {
  mn_hostlist_t list = b->list;
  free(b->index);
  *b = (host_builder_t){0};
  return list;
}

static void builder_free(host_builder_t *b) {
  mn_hostlist_t list = builder_take(b);
  mn_hosts_free(&list);
}

/* Append h (name, slots, gpus, labels; cores 0: as many as slots), or merge it into an
 * earlier entry of the same name. Whether it is this machine is found here. */
static mn_status_t add_host(host_builder_t *b, const mn_host_t *h) {
  mn_status_t st = builder_reserve(b);
  if (st != MN_OK) return st;
  int *cell = index_cell(b, h->name);
  if (*cell) return merge_host(&b->list.hosts[*cell - 1], h);
  mn_host_t *e = &b->list.hosts[b->list.nhosts++];
  *cell = b->list.nhosts;
  *e = *h;
  e->local = is_local_name(h->name);
  e->cores = e->local ? mn_hosts_local_cpus() : h->cores ? h->cores : h->slots;
  return MN_OK;
}

/* A host of name with slots, unknown GPUs, no labels (the -H list). */
static mn_status_t add_plain_host(host_builder_t *b, const char *name, int slots) {
  mn_host_t h = {.slots = slots, .gpus = -1};
  snprintf(h.name, sizeof h.name, "%s", name);
  return add_host(b, &h);
}

/* ---- hostfile ---- */

/* A label= value: [A-Za-z0-9_.:-]+, added to h's labels. */
static mn_status_t parse_label(const char *where, const char *text, mn_host_t *h) {
  size_t len = strlen(text);
  if (!len ||
      strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-") != len)
    return mn_error(MN_ERR_USAGE,
                    "%s: label must be letters, digits, '_', '.', ':' and '-', got '%s'", where,
                    text);
  if (add_label(h->labels, text, len) != 0)
    return mn_error(MN_ERR_USAGE, "%s: labels longer than %d characters in all", where,
                    MN_HOST_LABELS_MAX - 1);
  return MN_OK;
}

/* Whether the klen characters at key are one of the names (a NULL-ended list). */
static int key_is(const char *key, size_t klen, const char *const *names) {
  for (; *names; names++)
    if (strlen(*names) == klen && !strncmp(key, *names, klen)) return 1;
  return 0;
}

/* Parse one "key=value" token of a hostfile line into h (slots, gpus, labels) or *max_slots.
 * Open MPI's keys: slots, and its synonyms count, cpu and cpus (Open MPI's hostfile lexer
 * takes all three for slots); max_slots or max-slots; mn's: gpus, label. *seen_slots counts
 * the slot counts given on the line (the name's ":N" too): two are an error. */
static mn_status_t parse_key(const char *where, const char *tok, mn_host_t *h, int *max_slots,
                             int *seen_slots) {
  static const char *const slot_keys[] = {"slots", "count", "cpu", "cpus", NULL};
  static const char *const max_keys[] = {"max_slots", "max-slots", NULL};
  const char *eq = strchr(tok, '=');
  if (!eq)
    return mn_error(MN_ERR_USAGE, "%s: expected key=value after the host name, got '%s'", where,
                    tok);
  size_t klen = (size_t)(eq - tok);
  int *dst = NULL, min = 1;
  if (key_is(tok, klen, slot_keys)) {
    if ((*seen_slots)++)
      return mn_error(MN_ERR_USAGE, "%s: the slots are given twice ('%s')", where, tok);
    dst = &h->slots;
  } else if (key_is(tok, klen, max_keys)) {
    dst = max_slots;
  } else if (klen == 4 && !strncmp(tok, "gpus", klen)) {
    dst = &h->gpus, min = 0;
  } else if (klen == 5 && !strncmp(tok, "label", klen)) {
    return parse_label(where, eq + 1, h);
  } else {
    return mn_error(MN_ERR_USAGE,
                    "%s: unknown key '%.*s' (known: slots, count, cpu, cpus, max_slots, "
                    "max-slots, gpus, label)",
                    where, (int)klen, tok);
  }
  if (parse_count(eq + 1, min, MN_SLOTS_MAX, dst) != 0)
    return mn_error(MN_ERR_USAGE, "%s: %.*s must be a whole number from %d to %d, got '%s'", where,
                    (int)klen, tok, min, MN_SLOTS_MAX, eq + 1);
  return MN_OK;
}

/* A login name: [A-Za-z0-9_.-]+, not starting with '-'. Returns NULL when valid. */
static const char *check_user(const char *user) {
  size_t len = strlen(user);
  if (!len) return "empty user name before '@'";
  if (len >= MN_HOST_USER_MAX) return "user name too long";
  if (user[0] == '-' ||
      strspn(user, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") != len)
    return "user name may hold only letters, digits, '_', '.' and '-'";
  return NULL;
}

/* Parse one line (comment already cut off). Blank lines add nothing. The first word is
 * the host: "name", Open MPI's "user@name", or MPICH's "name:N". */
static mn_status_t parse_file_line(const char *where, char *line, host_builder_t *b) {
  const char *sep = " \t\r\n";
  char *save = NULL;
  char *name = strtok_r(line, sep, &save);
  if (!name) return MN_OK;
  mn_host_t h = {.gpus = -1};
  int max_slots = 0, seen_slots = 0;
  char *at = strchr(name, '@');
  if (at) {
    *at = '\0';
    const char *bad = check_user(name);
    if (bad) return mn_error(MN_ERR_USAGE, "%s: %s: '%s'", where, bad, name);
    snprintf(h.user, sizeof h.user, "%s", name);
    name = at + 1;
  }
  char *colon = strchr(name, ':');
  if (colon) {
    *colon = '\0';
    seen_slots = 1;
    if (parse_slots(colon + 1, &h.slots) != 0)
      return mn_error(MN_ERR_USAGE,
                      "%s: slots after '%s:' must be a whole number from 1 to %d, got "
                      "'%s'",
                      where, name, MN_SLOTS_MAX, colon + 1);
  }
  const char *bad = check_name(name);
  if (bad) return mn_error(MN_ERR_USAGE, "%s: %s: '%s'", where, bad, name);
  snprintf(h.name, sizeof h.name, "%s", name);
  for (char *tok; (tok = strtok_r(NULL, sep, &save));) {
    mn_status_t st = parse_key(where, tok, &h, &max_slots, &seen_slots);
    if (st != MN_OK) return st;
  }
  if (!h.slots) h.slots = 1;
  if (max_slots && max_slots < h.slots)
    return mn_error(MN_ERR_USAGE, "%s: max_slots=%d is less than slots=%d", where, max_slots,
                    h.slots);
  mn_status_t st = add_host(b, &h);
  return st == MN_OK ? MN_OK : prefix_error(st, where);
}

mn_status_t mn_hosts_parse_file(const char *path, mn_hostlist_t *list) {
  FILE *f = fopen(path, "r");
  if (!f) return mn_error(MN_ERR_NOINPUT, "%s: cannot open hostfile: %s", path, strerror(errno));
  host_builder_t b = {0};
  mn_status_t st = MN_OK;
  char line[4096];
  for (int lineno = 1; fgets(line, sizeof line, f); lineno++) {
    char where[4200];
    snprintf(where, sizeof where, "%s:%d", path, lineno);
    if (!strchr(line, '\n') && !feof(f)) {
      st = mn_error(MN_ERR_USAGE, "%s: line too long", where);
      goto free_list;
    }
    line[strcspn(line, "#")] = '\0';
    st = parse_file_line(where, line, &b);
    if (st != MN_OK) goto free_list;
  }
  if (ferror(f)) {
    st = mn_error(MN_ERR_NOINPUT, "%s: cannot read hostfile", path);
    goto free_list;
  }
  if (b.list.nhosts == 0) {
    st = mn_error(MN_ERR_USAGE, "%s: no hosts in the hostfile", path);
    goto free_list;
  }
  fclose(f);
  *list = builder_take(&b);
  return MN_OK;
free_list:
  builder_free(&b);
  fclose(f);
  return st;
}

/* ---- -H list ---- */

mn_status_t mn_hosts_parse_list(const char *spec, mn_hostlist_t *list) {
  host_builder_t b = {0};
  mn_status_t st = MN_OK;
  char *copy = strdup(spec);
  if (!copy) return mn_error(MN_ERR_NOMEM, "out of memory for the host list");
  int index = 1;
  for (char *entry = copy;; index++) {
    char *comma = strchr(entry, ',');
    if (comma) *comma = '\0';
    char *colon = strchr(entry, ':');
    int slots = 1;
    if (colon) {
      *colon = '\0';
      if (parse_slots(colon + 1, &slots) != 0) {
        st = mn_error(MN_ERR_USAGE,
                      "-H entry %d ('%s:%s'): slots must be a whole number from 1 to %d", index,
                      entry, colon + 1, MN_SLOTS_MAX);
        goto free_copy;
      }
    }
    const char *bad = check_name(entry);
    if (bad) {
      st = mn_error(MN_ERR_USAGE, "-H entry %d: %s: '%s'", index, bad, entry);
      goto free_copy;
    }
    st = add_plain_host(&b, entry, slots);
    if (st != MN_OK) goto free_copy;
    if (!comma) break;
    entry = comma + 1;
  }
  free(copy);
  *list = builder_take(&b);
  return MN_OK;
free_copy:
  free(copy);
  builder_free(&b);
  return st;
}

/* ---- Slurm allocation ---- */

/* The nodelist, for messages: "SLURM_JOB_NODELIST=gpu[01-04]" and its node count. */
typedef struct slurm_nodes {
  const char *var, *value;
  int n;
} slurm_nodes_t;

/* A whole number in [min, max] from variable var. */
static mn_status_t env_count(const char *var, const char *value, int min, int max, int *out) {
  if (parse_count(value, min, max, out) != 0)
    return mn_error(MN_ERR_USAGE, "%s=%s: expected a whole number from %d to %d", var, value, min,
                    max);
  return MN_OK;
}

/* One "C" or "C(xR)" of a per-node list at *p; moves *p past it. Returns 0 on success. */
static int parse_repeat(const char **p, int *count, int *repeat) {
  char *end;
  if (!isdigit((unsigned char)**p)) return -1;
  errno = 0;
  long c = strtol(*p, &end, 10), r = 1;
  if (errno || c < 1 || c > MN_SLOTS_MAX) return -1;
  if (end[0] == '(') {
    if (end[1] != 'x' || !isdigit((unsigned char)end[2])) return -1;
    r = strtol(end + 2, &end, 10);
    if (errno || r < 1 || r > MN_HOSTLIST_MAX_NAMES || *end != ')') return -1;
    end++;
  }
  *p = end;
  *count = (int)c;
  *repeat = (int)r;
  return 0;
}

/* Slurm's per-node counts, "2(x3),1" = 2,2,2,1, into out[nodes->n]. They must count the
 * nodes of the nodelist, except that a single plain count ("8") applies to every node. */
static mn_status_t parse_per_node(const char *var, const char *value, const slurm_nodes_t *nodes,
                                  int *out) {
  long filled = 0;
  int items = 0, count = 0, repeat = 0;
  for (const char *p = value;; p++) {
    if (parse_repeat(&p, &count, &repeat) != 0)
      return mn_error(MN_ERR_USAGE,
                      "%s=%s: expected counts such as 2(x3),1 (whole numbers from 1 to %d)", var,
                      value, MN_SLOTS_MAX);
    for (int i = 0; i < repeat && filled + i < nodes->n; i++) out[filled + i] = count;
    filled += repeat;
    items++;
    if (!*p) break;
    if (*p != ',')
      return mn_error(MN_ERR_USAGE, "%s=%s: expected counts such as 2(x3),1, got '%s'", var, value,
                      p);
  }
  if (items == 1 && repeat == 1 && !strchr(value, '(')) {
    for (int i = 0; i < nodes->n; i++) out[i] = count;
    return MN_OK;
  }
  if (filled != nodes->n)
    return mn_error(MN_ERR_USAGE, "%s=%s counts %ld nodes, but %s=%s has %d", var, value, filled,
                    nodes->var, nodes->value, nodes->n);
  return MN_OK;
}

/* Slots per node: SLURM_TASKS_PER_NODE; else SLURM_NTASKS spread evenly (the first
 * ntasks % n nodes one more); else SLURM_CPUS_ON_NODE on every node; else 1. */
static mn_status_t slurm_slots(const slurm_nodes_t *nodes, int *slots) {
  const char *v = getenv("SLURM_TASKS_PER_NODE");
  if (v) return parse_per_node("SLURM_TASKS_PER_NODE", v, nodes, slots);
  int each = 1;
  if ((v = getenv("SLURM_NTASKS"))) {
    int ntasks = 0;
    mn_status_t st = env_count("SLURM_NTASKS", v, 1, MN_SLOTS_MAX, &ntasks);
    if (st != MN_OK) return st;
    if (ntasks < nodes->n)
      return mn_error(MN_ERR_USAGE, "SLURM_NTASKS=%s is fewer tasks than the %d nodes of %s=%s", v,
                      nodes->n, nodes->var, nodes->value);
    for (int i = 0; i < nodes->n; i++) slots[i] = ntasks / nodes->n + (i < ntasks % nodes->n);
    return MN_OK;
  }
  if ((v = getenv("SLURM_CPUS_ON_NODE"))) {
    mn_status_t st = env_count("SLURM_CPUS_ON_NODE", v, 1, MN_SLOTS_MAX, &each);
    if (st != MN_OK) return st;
  }
  for (int i = 0; i < nodes->n; i++) slots[i] = each;
  return MN_OK;
}

/* Entries of a comma-separated list ("0,1,3"; "" and Slurm's "NoDevFiles" are none). */
static mn_status_t count_entries(const char *var, const char *value, int *n) {
  if (!value[0] || !strcmp(value, "NoDevFiles")) {
    *n = 0;
    return MN_OK;
  }
  int count = 1;
  for (const char *p = value; *p; p++) count += *p == ',';
  for (const char *p = value; *p; p++)
    if (*p == ',' && (p == value || p[1] == ',' || !p[1]))
      return mn_error(MN_ERR_USAGE, "%s=%s: an empty entry in the list", var, value);
  *n = count;
  return MN_OK;
}

/* GPUs per node: SLURM_GPUS_ON_NODE, else the entries of SLURM_JOB_GPUS, else of
 * CUDA_VISIBLE_DEVICES, else -1. All describe this node; the allocation is taken to be
 * the same on every node. */
static mn_status_t slurm_gpus(int *gpus) {
  const char *v;
  *gpus = -1;
  if ((v = getenv("SLURM_GPUS_ON_NODE")))
    return env_count("SLURM_GPUS_ON_NODE", v, 0, MN_SLOTS_MAX, gpus);
  if ((v = getenv("SLURM_JOB_GPUS"))) return count_entries("SLURM_JOB_GPUS", v, gpus);
  if ((v = getenv("CUDA_VISIBLE_DEVICES"))) return count_entries("CUDA_VISIBLE_DEVICES", v, gpus);
  return MN_OK;
}

/* The hosts of the expanded nodelist names, with slots, cores (0: = slots) and gpus. */
static mn_status_t slurm_hosts(const slurm_nodes_t *nodes, char **names, const int *slots,
                               const int *cores, int gpus, host_builder_t *out) {
  for (int i = 0; i < nodes->n; i++) {
    const char *bad = check_name(names[i]);
    if (bad)
      return mn_error(MN_ERR_USAGE, "%s=%s: %s: '%s'", nodes->var, nodes->value, bad, names[i]);
    mn_host_t h = {.slots = slots[i], .cores = cores[i], .gpus = gpus};
    snprintf(h.name, sizeof h.name, "%s", names[i]);
    mn_status_t st = add_host(out, &h);
    if (st != MN_OK) return prefix_error(st, nodes->var);
  }
  return MN_OK;
}

mn_status_t mn_hosts_from_slurm(mn_hostlist_t *list, int *found) {
  slurm_nodes_t nodes = {.var = "SLURM_JOB_NODELIST"};
  if (!(nodes.value = getenv(nodes.var))) nodes.value = getenv(nodes.var = "SLURM_NODELIST");
  if (!nodes.value) {
    *found = 0;
    return MN_OK;
  }
  char **names = NULL;
  mn_status_t st = mn_hostlist_expand(nodes.value, &names, &nodes.n);
  if (st != MN_OK) return prefix_error(st, nodes.var);
  host_builder_t out = {0};
  int gpus = -1;
  int *slots = calloc((size_t)nodes.n, sizeof *slots);
  int *cores = calloc((size_t)nodes.n, sizeof *cores);
  if (!slots || !cores) {
    st = mn_error(MN_ERR_NOMEM, "out of memory for the host list");
    goto free_all;
  }
  const char *cpus = getenv("SLURM_JOB_CPUS_PER_NODE");
  st = slurm_slots(&nodes, slots);
  if (st == MN_OK && cpus) st = parse_per_node("SLURM_JOB_CPUS_PER_NODE", cpus, &nodes, cores);
  if (st == MN_OK) st = slurm_gpus(&gpus);
  if (st == MN_OK) st = slurm_hosts(&nodes, names, slots, cores, gpus, &out);
  if (st != MN_OK) goto free_all;
  *list = builder_take(&out);
  *found = 1;
free_all:
  builder_free(&out);
  free(cores);
  free(slots);
  mn_hostlist_free_names(names, nodes.n);
  return st;
}

/* ---- local machine ---- */

mn_status_t mn_hosts_local(mn_hostlist_t *list) {
  mn_hostlist_t out = {0};
  char name[MN_HOST_NAME_MAX];
  local_name(name, sizeof name);
  out.hosts = calloc(1, sizeof *out.hosts);
  if (!out.hosts) return mn_error(MN_ERR_NOMEM, "out of memory for the host list");
  out.nhosts = 1;
  out.implicit = 1;
  snprintf(out.hosts[0].name, sizeof out.hosts[0].name, "%s", name);
  out.hosts[0].cores = out.hosts[0].slots = mn_hosts_local_cpus();
  out.hosts[0].local = 1;
  out.hosts[0].gpus = -1;
  *list = out;
  return MN_OK;
}

int mn_hosts_total_slots(const mn_hostlist_t *list) {
  long total = 0;
  for (int i = 0; i < list->nhosts; i++) total += list->hosts[i].slots;
  return total > 2000000000L ? 2000000000 : (int)total;
}

void mn_hosts_free(mn_hostlist_t *list) {
  free(list->hosts);
  list->hosts = NULL;
  list->nhosts = 0;
}
