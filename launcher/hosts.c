/* hosts.c: resources for mnrun: hostfile, -H list and the local machine (mn_hosts.h).
 *
 * Parsing is strict because a typo here would otherwise surface as a hang or a confusing
 * mpirun error after the job started: slots must be whole numbers >= 1, host names must be
 * plain DNS-style names, unknown keys are errors. A host named twice is merged and its slots
 * added, as Open MPI does. This file knows nothing of ranks or of how they are started. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "mn_hosts.h"

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

/* Whether name is this machine: localhost, a loopback address, or our host name (short or
 * long). */
static int is_local_name(const char *name) {
  if (!strcmp(name, "localhost") || !strcmp(name, "127.0.0.1")) return 1;
  char self[MN_HOST_NAME_MAX];
  local_name(self, sizeof self);
  if (!strcmp(name, self)) return 1;
  size_t short_len = strcspn(self, ".");
  return strlen(name) == short_len && !strncmp(name, self, short_len);
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

/* A slot count: a whole number in [1, MN_SLOTS_MAX]. Returns 0 on success. */
static int parse_slots(const char *text, int *out) {
  if (!text[0] || !isdigit((unsigned char)text[0])) return -1;
  char *end;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (*end || errno || v < 1 || v > MN_SLOTS_MAX) return -1;
  *out = (int)v;
  return 0;
}

/* Append name with slots, or add the slots to an earlier entry of the same name. */
static mn_status_t add_host(mn_hostlist_t *list, const char *name, int slots) {
  for (int i = 0; i < list->nhosts; i++) {
    mn_host_t *h = &list->hosts[i];
    if (strcmp(h->name, name) != 0) continue;
    if (h->slots > MN_SLOTS_MAX - slots) return mn_error(MN_ERR_USAGE, "%s: too many slots", name);
    h->slots += slots;
    if (!h->local) h->cores = h->slots;
    return MN_OK;
  }
  mn_host_t *grown = realloc(list->hosts, (size_t)(list->nhosts + 1) * sizeof *grown);
  if (!grown) return mn_error(MN_ERR_NOMEM, "out of memory for the host list");
  list->hosts = grown;
  mn_host_t *h = &list->hosts[list->nhosts++];
  memset(h, 0, sizeof *h);
  snprintf(h->name, sizeof h->name, "%s", name);
  h->slots = slots;
  h->local = is_local_name(name);
  h->cores = h->local ? mn_hosts_local_cpus() : slots;
  return MN_OK;
}

/* ---- hostfile ---- */

/* Parse one "key=value" token of a hostfile line into *slots / *max_slots. */
static mn_status_t parse_key(const char *where, const char *tok, int *slots, int *max_slots) {
  const char *eq = strchr(tok, '=');
  if (!eq)
    return mn_error(MN_ERR_USAGE, "%s: expected key=value after the host name, got '%s'", where,
                    tok);
  size_t klen = (size_t)(eq - tok);
  int *dst = NULL;
  if (klen == 5 && !strncmp(tok, "slots", klen))
    dst = slots;
  else if (klen == 9 && !strncmp(tok, "max_slots", klen))
    dst = max_slots;
  else
    return mn_error(MN_ERR_USAGE, "%s: unknown key '%.*s' (known: slots, max_slots)", where,
                    (int)klen, tok);
  if (parse_slots(eq + 1, dst) != 0)
    return mn_error(MN_ERR_USAGE, "%s: %.*s must be a whole number from 1 to %d, got '%s'", where,
                    (int)klen, tok, MN_SLOTS_MAX, eq + 1);
  return MN_OK;
}

/* Parse one line (comment already cut off). Blank lines add nothing. */
static mn_status_t parse_file_line(const char *where, char *line, mn_hostlist_t *list) {
  const char *sep = " \t\r\n";
  char *save = NULL;
  char *name = strtok_r(line, sep, &save);
  if (!name) return MN_OK;
  const char *bad = check_name(name);
  if (bad) return mn_error(MN_ERR_USAGE, "%s: %s: '%s'", where, bad, name);
  int slots = 0, max_slots = 0;
  for (char *tok; (tok = strtok_r(NULL, sep, &save));) {
    mn_status_t st = parse_key(where, tok, &slots, &max_slots);
    if (st != MN_OK) return st;
  }
  if (!slots) slots = 1;
  if (max_slots && max_slots < slots)
    return mn_error(MN_ERR_USAGE, "%s: max_slots=%d is less than slots=%d", where, max_slots,
                    slots);
  return add_host(list, name, slots);
}

mn_status_t mn_hosts_parse_file(const char *path, mn_hostlist_t *list) {
  FILE *f = fopen(path, "r");
  if (!f) return mn_error(MN_ERR_NOINPUT, "%s: cannot open hostfile: %s", path, strerror(errno));
  mn_hostlist_t out = {0};
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
    st = parse_file_line(where, line, &out);
    if (st != MN_OK) goto free_list;
  }
  if (ferror(f)) {
    st = mn_error(MN_ERR_NOINPUT, "%s: cannot read hostfile", path);
    goto free_list;
  }
  if (out.nhosts == 0) {
    st = mn_error(MN_ERR_USAGE, "%s: no hosts in the hostfile", path);
    goto free_list;
  }
  fclose(f);
  *list = out;
  return MN_OK;
free_list:
  mn_hosts_free(&out);
  fclose(f);
  return st;
}

/* ---- -H list ---- */

mn_status_t mn_hosts_parse_list(const char *spec, mn_hostlist_t *list) {
  mn_hostlist_t out = {0};
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
    st = add_host(&out, entry, slots);
    if (st != MN_OK) goto free_copy;
    if (!comma) break;
    entry = comma + 1;
  }
  free(copy);
  *list = out;
  return MN_OK;
free_copy:
  free(copy);
  mn_hosts_free(&out);
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
