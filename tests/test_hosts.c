/* test_hosts.c: mnrun's resources and placement (launcher/hosts.c, launcher/place.c): -H
 * lists, hostfiles (with gpus= and label=) and Slurm environments, good and bad, and byslot
 * placement of a gang; plus the rank report round trip (runtime/process/report.c) that mnrun reads
 * after a job. */
#include "mn_hosts.h"
#include "mn_place.h"

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mn_report.h"
#include "mn_test.h"

static char g_dir[256];

/* Write text to a file in the scratch directory; returns its path (static buffer). */
static const char *write_file(const char *name, const char *text) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", g_dir, name);
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (f) {
    fputs(text, f);
    fclose(f);
  }
  return path;
}

/* ---- -H ---- */

static void test_list_good(void) {
  mn_hostlist_t l;
  CHECK(mn_hosts_parse_list("a:2,b:3,c", &l) == MN_OK);
  CHECK(l.nhosts == 3 && !l.implicit);
  if (l.nhosts == 3) {
    CHECK(!strcmp(l.hosts[0].name, "a") && l.hosts[0].slots == 2 && l.hosts[0].cores == 2);
    CHECK(!strcmp(l.hosts[1].name, "b") && l.hosts[1].slots == 3);
    CHECK(!strcmp(l.hosts[2].name, "c") && l.hosts[2].slots == 1);
  }
  CHECK(mn_hosts_total_slots(&l) == 6);
  for (int i = 0; i < l.nhosts; i++) CHECK(l.hosts[i].gpus == -1 && !l.hosts[i].labels[0]);
  mn_hosts_free(&l);

  /* Duplicates are merged, slots added, in the order first named. */
  CHECK(mn_hosts_parse_list("a:2,b:1,a:3", &l) == MN_OK);
  CHECK(l.nhosts == 2);
  if (l.nhosts == 2) {
    CHECK(!strcmp(l.hosts[0].name, "a") && l.hosts[0].slots == 5 && l.hosts[0].cores == 5);
    CHECK(!strcmp(l.hosts[1].name, "b") && l.hosts[1].slots == 1);
  }
  mn_hosts_free(&l);

  /* localhost is this machine: its cores are counted, not assumed. */
  CHECK(mn_hosts_parse_list("localhost:7", &l) == MN_OK);
  CHECK(l.nhosts == 1 && l.hosts[0].local && l.hosts[0].slots == 7);
  CHECK(l.hosts[0].cores == mn_hosts_local_cpus());
  mn_hosts_free(&l);
}

static void test_list_bad(void) {
  static const char *bad[] = {"a:0", "a:-1", "a:x",   "a:2x",          "a:",     "", "a,,b", ":2",
                              "a,",  "-a:2", "a b:2", "a:99999999999", "a:1,b:0"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    mn_hostlist_t l = {0};
    mn_error_clear();
    mn_status_t st = mn_hosts_parse_list(bad[i], &l);
    CHECK_MSG(st == MN_ERR_USAGE, "-H '%s' gave %d", bad[i], (int)st);
    CHECK_MSG(strstr(mn_error_message(), "-H entry") != NULL, "-H '%s': %s", bad[i],
              mn_error_message());
    CHECK(l.hosts == NULL); /* untouched on error */
  }
  mn_hostlist_t l;
  CHECK(mn_hosts_parse_list("a:1,b:0", &l) == MN_ERR_USAGE);
  CHECK(strstr(mn_error_message(), "entry 2") != NULL);
  CHECK(mn_hosts_parse_list("a,,b", &l) == MN_ERR_USAGE);
  CHECK(strstr(mn_error_message(), "empty host name") != NULL);
}

/* ---- hostfile ---- */

static void test_file_good(void) {
  const char *path = write_file("good.hosts", "# cluster\n"
                                              "\n"
                                              "node1 slots=2   # two\n"
                                              "   \t\n"
                                              "node2 slots=3 max_slots=4\n"
                                              "node3\n"
                                              "node1 slots=1\n"
                                              "# end");
  mn_hostlist_t l;
  CHECK_MSG(mn_hosts_parse_file(path, &l) == MN_OK, "%s", mn_error_message());
  CHECK(l.nhosts == 3);
  if (l.nhosts == 3) {
    CHECK(!strcmp(l.hosts[0].name, "node1") && l.hosts[0].slots == 3);
    CHECK(!strcmp(l.hosts[1].name, "node2") && l.hosts[1].slots == 3);
    CHECK(!strcmp(l.hosts[2].name, "node3") && l.hosts[2].slots == 1);
  }
  mn_hosts_free(&l);
}

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "test_hosts: merging 400,000 hostfile lines took over 60 s: the "
                            "merge is not linear\n";
  ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)w;
  _exit(1);
}

/* 200,000 hosts, each named twice, half of them far apart: merged in linear time (a scan of
 * the list per line took minutes; linear, well under a second), slots added, first order
 * kept. The alarm is a guard against a quadratic merge, not a benchmark. */
static void test_file_many(void) {
  enum { NHOSTS = 200000 };
  char path[512];
  snprintf(path, sizeof path, "%s/many.hosts", g_dir);
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (!f) return;
  for (int i = 0; i < NHOSTS; i++) fprintf(f, "node%06d slots=1\n", i);
  for (int i = NHOSTS - 1; i >= 0; i--) fprintf(f, "node%06d slots=%d\n", i, 1 + i % 3);
  fclose(f);
  signal(SIGALRM, on_alarm);
  alarm(60);
  mn_hostlist_t l;
  CHECK_MSG(mn_hosts_parse_file(path, &l) == MN_OK, "%s", mn_error_message());
  alarm(0);
  CHECK(l.nhosts == NHOSTS);
  int bad = 0;
  long want_slots = 0;
  for (int i = 0; i < NHOSTS; i++) want_slots += 2 + i % 3;
  for (int i = 0; i < l.nhosts && i < NHOSTS; i++) {
    char want[32];
    snprintf(want, sizeof want, "node%06d", i);
    bad += strcmp(l.hosts[i].name, want) != 0 || l.hosts[i].slots != 2 + i % 3;
  }
  CHECK_MSG(bad == 0, "%d hosts merged wrong", bad);
  CHECK(mn_hosts_total_slots(&l) == want_slots);
  mn_hosts_free(&l);
}

/* A bad hostfile: the error is MN_ERR_USAGE and names file:line and want. */
static void check_bad_file(const char *name, const char *text, int line, const char *want) {
  const char *path = write_file(name, text);
  char where[600];
  snprintf(where, sizeof where, "%s:%d:", path, line);
  mn_hostlist_t l = {0};
  mn_status_t st = mn_hosts_parse_file(path, &l);
  CHECK_MSG(st == MN_ERR_USAGE, "%s gave %d", name, (int)st);
  CHECK_MSG(line == 0 || strstr(mn_error_message(), where), "%s: want '%s' in '%s'", name, where,
            mn_error_message());
  CHECK_MSG(strstr(mn_error_message(), want), "%s: want '%s' in '%s'", name, want,
            mn_error_message());
  CHECK(l.hosts == NULL);
}

/* The formats users have: Open MPI's keys and synonyms, user@host, MPICH's host:n. */
static void test_file_formats(void) {
  mn_hostlist_t l;
  const char *path = write_file("ompi.hosts", "# Open MPI\n"
                                              "\n"
                                              "a slots=2 max_slots=4\n"
                                              "b slots=2 max-slots=2   # dash form\n"
                                              "c count=3\n"
                                              "d cpu=4\n"
                                              "e cpus=5\n"
                                              "alice@f slots=6\n"
                                              "g:7\n"
                                              "h:2 gpus=2 label=x\n"
                                              "bob@i:3\n");
  CHECK_MSG(mn_hosts_parse_file(path, &l) == MN_OK, "%s", mn_error_message());
  const char *names[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};
  const int slots[] = {2, 2, 3, 4, 5, 6, 7, 2, 3};
  const char *users[] = {"", "", "", "", "", "alice", "", "", "bob"};
  CHECK(l.nhosts == 9);
  for (int i = 0; i < l.nhosts && i < 9; i++) {
    CHECK_MSG(!strcmp(l.hosts[i].name, names[i]), "host %d: '%s'", i, l.hosts[i].name);
    CHECK_MSG(l.hosts[i].slots == slots[i], "%s: slots %d", names[i], l.hosts[i].slots);
    CHECK_MSG(!strcmp(l.hosts[i].user, users[i]), "%s: user '%s'", names[i], l.hosts[i].user);
  }
  if (l.nhosts == 9) CHECK(l.hosts[7].gpus == 2 && !strcmp(l.hosts[7].labels, "x"));
  mn_hosts_free(&l);

  /* MPICH's host:n file, one host per line, merged like the rest */
  path = write_file("mpich.hosts", "n1:4\nn2:4\nn1:2\n");
  CHECK_MSG(mn_hosts_parse_file(path, &l) == MN_OK, "%s", mn_error_message());
  CHECK(l.nhosts == 2 && mn_hosts_total_slots(&l) == 10);
  if (l.nhosts == 2) CHECK(l.hosts[0].slots == 6 && l.hosts[1].slots == 4);
  mn_hosts_free(&l);

  /* errors name file:line */
  check_bad_file("colon-zero.hosts", "a:2\nb:0\n", 2, "slots after 'b:' must be");
  check_bad_file("colon-nan.hosts", "a:x\n", 1, "got 'x'");
  check_bad_file("colon-empty.hosts", "a:\n", 1, "slots after 'a:'");
  check_bad_file("twice.hosts", "a slots=2 count=3\n", 1, "slots are given twice");
  check_bad_file("twice-colon.hosts", "\na:2 slots=3\n", 2, "slots are given twice");
  check_bad_file("cpus-bad.hosts", "a cpus=0\n", 1, "cpus must be a whole number from 1");
  check_bad_file("max-dash.hosts", "a slots=4 max-slots=2\n", 1, "max_slots=2");
  check_bad_file("user-empty.hosts", "@a\n", 1, "empty user name");
  check_bad_file("user-bad.hosts", "a b@c\n", 1, "expected key=value");
  check_bad_file("user-chars.hosts", "x/y@a\n", 1, "user name may hold only");
  check_bad_file("user-differ.hosts", "u@a\nv@a\n", 2, "a: user 'v', but 'u' before");
  check_bad_file("host-after-user.hosts", "u@\n", 1, "empty host name");
  check_bad_file("user-none.hosts", "u@a\na\n", 2, "a: user '(none)', but 'u' before");
}

static void test_file_bad(void) {
  check_bad_file("zero.hosts", "a slots=2\n# c\nb slots=0\n", 3, "slots must be");
  check_bad_file("neg.hosts", "a slots=-1\n", 1, "slots must be");
  check_bad_file("nan.hosts", "\na slots=two\n", 2, "'two'");
  check_bad_file("trail.hosts", "a slots=2x\n", 1, "slots must be");
  check_bad_file("empty-value.hosts", "a slots=\n", 1, "slots must be");
  check_bad_file("key.hosts", "a slots=2\nb slots=1 port=22\n", 2, "unknown key 'port'");
  check_bad_file("noeq.hosts", "a slots 2\n", 1, "expected key=value");
  check_bad_file("name.hosts", "a/b slots=1\n", 1, "host name");
  check_bad_file("leading-key.hosts", "slots=2\n", 1, "host name");
  check_bad_file("max.hosts", "a slots=4 max_slots=2\n", 1, "max_slots=2");
  check_bad_file("nothing.hosts", "# only a comment\n\n", 0, "no hosts");
  check_bad_file("gpus-neg.hosts", "a gpus=-1\n", 1, "gpus must be a whole number from 0");
  check_bad_file("gpus-nan.hosts", "a slots=2 gpus=x\n", 1, "got 'x'");
  check_bad_file("gpus-empty.hosts", "a gpus=\n", 1, "gpus must be");
  check_bad_file("gpu.hosts", "a gpu=2\n", 1, "unknown key 'gpu'");
  check_bad_file("labels.hosts", "a labels=x\n", 1, "unknown key 'labels'");
  check_bad_file("label-empty.hosts", "a label=\n", 1, "label must be");
  check_bad_file("label-comma.hosts", "a label=x,y\n", 1, "got 'x,y'");
  check_bad_file("label-slash.hosts", "b\na label=ok label=x/y\n", 2, "label must be");
  check_bad_file("gpus-differ.hosts", "a gpus=2\nb\na gpus=4\n", 3, "a: gpus=4, but gpus=2");
  char text[400];
  snprintf(text, sizeof text, "a label=%0100d label=%040d\n", 1, 2); /* 100 + 1 + 40 > 127 */
  check_bad_file("labels-long.hosts", text, 1, "labels longer than 127");

  mn_hostlist_t l;
  char missing[400];
  snprintf(missing, sizeof missing, "%s/missing.hosts", g_dir);
  CHECK(mn_hosts_parse_file(missing, &l) == MN_ERR_NOINPUT);
  CHECK(strstr(mn_error_message(), missing) != NULL);
}

static void test_file_gpus_labels(void) {
  const char *path = write_file("gpus.hosts", "node1 slots=4 gpus=4 label=a100 label=rack1\n"
                                              "node2 slots=2 gpus=0  # no GPUs\n"
                                              "node3 label=x:y-z_1.2\n"
                                              "node1 slots=4 label=rack1 label=ib\n"
                                              "node4 gpus=2 max_slots=3\n"
                                              "node4 gpus=2\n"
                                              "node3 gpus=1\n");
  mn_hostlist_t l;
  CHECK_MSG(mn_hosts_parse_file(path, &l) == MN_OK, "%s", mn_error_message());
  CHECK(l.nhosts == 4);
  if (l.nhosts != 4) return;
  mn_host_t *h = l.hosts;
  CHECK(!strcmp(h[0].name, "node1") && h[0].slots == 8 && h[0].cores == 8 && h[0].gpus == 4);
  CHECK_MSG(!strcmp(h[0].labels, "a100,rack1,ib"), "labels '%s'", h[0].labels);
  CHECK(h[1].slots == 2 && h[1].gpus == 0 && !h[1].labels[0]);
  CHECK(h[2].slots == 2 && h[2].gpus == 1 && !strcmp(h[2].labels, "x:y-z_1.2"));
  CHECK(h[3].slots == 2 && h[3].gpus == 2);
  mn_hosts_free(&l);
}

/* ---- Slurm ---- */

static const char *const slurm_vars[] = {
    "SLURM_JOB_NODELIST", "SLURM_NODELIST",     "SLURM_TASKS_PER_NODE",
    "SLURM_NTASKS",       "SLURM_CPUS_ON_NODE", "SLURM_JOB_CPUS_PER_NODE",
    "SLURM_GPUS_ON_NODE", "SLURM_JOB_GPUS",     "CUDA_VISIBLE_DEVICES"};

/* A Slurm environment: pairs of name, value, then NULL; every other variable unset. */
static void slurm_env(const char *name, ...) {
  for (size_t i = 0; i < sizeof slurm_vars / sizeof slurm_vars[0]; i++) unsetenv(slurm_vars[i]);
  va_list ap;
  va_start(ap, name);
  for (; name; name = va_arg(ap, const char *)) setenv(name, va_arg(ap, const char *), 1);
  va_end(ap);
}

/* mn_hosts_from_slurm succeeds; the hosts' names, slots, cores and gpus as listed. */
static void check_slurm(const char *label, const char *names, const int *slots, const int *cores,
                        int gpus) {
  mn_hostlist_t l = {0};
  int found = -1;
  mn_status_t st = mn_hosts_from_slurm(&l, &found);
  CHECK_MSG(st == MN_OK && found == 1, "%s: %d %d: %s", label, (int)st, found, mn_error_message());
  if (st != MN_OK) return;
  char got[1024] = "";
  size_t used = 0;
  for (int i = 0; i < l.nhosts && used < sizeof got; i++) {
    const mn_host_t *h = &l.hosts[i];
    used += (size_t)snprintf(got + used, sizeof got - used, "%s%s", i ? " " : "", h->name);
    CHECK_MSG(h->slots == slots[i] && h->cores == cores[i] && h->gpus == gpus && !h->local,
              "%s: host %s: slots %d cores %d gpus %d local %d", label, h->name, h->slots, h->cores,
              h->gpus, h->local);
  }
  CHECK_MSG(!strcmp(got, names), "%s: hosts '%s', want '%s'", label, got, names);
  CHECK(!l.implicit);
  mn_hosts_free(&l);
}

/* mn_hosts_from_slurm fails with MN_ERR_USAGE naming want (and want2); list untouched. */
static void check_slurm_bad(const char *label, const char *want, const char *want2) {
  mn_hostlist_t l = {0};
  int found = -1;
  mn_error_clear();
  mn_status_t st = mn_hosts_from_slurm(&l, &found);
  const char *msg = mn_error_message();
  CHECK_MSG(st == MN_ERR_USAGE, "%s: gave %d", label, (int)st);
  CHECK_MSG(strstr(msg, want) && (!want2 || strstr(msg, want2)), "%s: want '%s' and '%s' in '%s'",
            label, want, want2 ? want2 : "", msg);
  CHECK(l.hosts == NULL && found == -1);
}

static void test_slurm(void) {
  /* Not in an allocation. */
  slurm_env(NULL);
  setenv("CUDA_VISIBLE_DEVICES", "0,1", 1); /* alone, not an allocation */
  mn_hostlist_t l = {0};
  int found = -1;
  CHECK(mn_hosts_from_slurm(&l, &found) == MN_OK && found == 0 && l.hosts == NULL);

  /* sbatch -N 4 --ntasks-per-node 8 --gpus-per-node 8 */
  static const int s8[] = {8, 8, 8, 8}, c32[] = {32, 32, 32, 32};
  slurm_env("SLURM_JOB_NODELIST", "gpu[01-04]", "SLURM_TASKS_PER_NODE", "8(x4)",
            "SLURM_GPUS_ON_NODE", "8", "SLURM_NTASKS", "32", "SLURM_CPUS_ON_NODE", "64", NULL);
  check_slurm("8(x4)", "gpu01 gpu02 gpu03 gpu04", s8, s8, 8);
  slurm_env("SLURM_JOB_NODELIST", "gpu[01-04]", "SLURM_TASKS_PER_NODE", "8(x4)",
            "SLURM_JOB_CPUS_PER_NODE", "32(x4)", "SLURM_GPUS_ON_NODE", "0", NULL);
  check_slurm("cpus per node", "gpu01 gpu02 gpu03 gpu04", s8, c32, 0);
  mn_hostlist_t p = {0};
  CHECK(mn_hosts_from_slurm(&p, &found) == MN_OK);
  mn_plan_t plan;
  CHECK(mn_place_byslot(&p, 32, &plan) == MN_OK);
  CHECK(plan.ranks[31].host == 3 && plan.ranks[31].local_rank == 7 && plan.ranks[0].threads == 4);
  mn_place_free(&plan);
  CHECK(mn_place_byslot(&p, 33, &plan) == MN_ERR_PEER);
  mn_hosts_free(&p);

  /* sbatch -n 7 -N 4: uneven tasks; the old name of the nodelist; JOB_GPUS counted. */
  static const int s2221[] = {2, 2, 2, 1}, c_mixed[] = {4, 4, 6, 2};
  slurm_env("SLURM_NODELIST", "n[1-2],m[09-10]", "SLURM_TASKS_PER_NODE", "2(x3),1",
            "SLURM_JOB_CPUS_PER_NODE", "4(x2),6,2", "SLURM_JOB_GPUS", "0,1,3", NULL);
  check_slurm("2(x3),1", "n1 n2 m09 m10", s2221, c_mixed, 3);

  /* A single plain count applies to every node; CUDA_VISIBLE_DEVICES counted. */
  static const int s4[] = {4, 4};
  slurm_env("SLURM_JOB_NODELIST", "a,b", "SLURM_TASKS_PER_NODE", "4", "CUDA_VISIBLE_DEVICES",
            "GPU-1f2e,GPU-3a4b", NULL);
  check_slurm("plain 4", "a b", s4, s4, 2);
  slurm_env("SLURM_JOB_NODELIST", "a,b", "SLURM_TASKS_PER_NODE", "4", "CUDA_VISIBLE_DEVICES", "",
            NULL);
  check_slurm("no devices", "a b", s4, s4, 0);

  /* No tasks per node: SLURM_NTASKS spread (first nodes one more), else CPUS_ON_NODE, else 1. */
  static const int s332[] = {3, 3, 2}, s6[] = {6, 6, 6}, s1[] = {1, 1, 1};
  slurm_env("SLURM_JOB_NODELIST", "n[1-3]", "SLURM_NTASKS", "8", "SLURM_CPUS_ON_NODE", "6", NULL);
  check_slurm("ntasks", "n1 n2 n3", s332, s332, -1);
  slurm_env("SLURM_JOB_NODELIST", "n[1-3]", "SLURM_CPUS_ON_NODE", "6", NULL);
  check_slurm("cpus on node", "n1 n2 n3", s6, s6, -1);
  slurm_env("SLURM_JOB_NODELIST", "n[1-3]", NULL);
  check_slurm("nothing", "n1 n2 n3", s1, s1, -1);

  /* This machine is found by its short name; its cores are counted. */
  char self[256] = "";
  gethostname(self, sizeof self);
  self[strcspn(self, ".")] = '\0';
  char nodes[400];
  snprintf(nodes, sizeof nodes, "%s,zz-other[1-2]", self);
  slurm_env("SLURM_JOB_NODELIST", nodes, "SLURM_TASKS_PER_NODE", "2,1(x2)", NULL);
  CHECK(mn_hosts_from_slurm(&l, &found) == MN_OK && l.nhosts == 3);
  if (l.nhosts == 3) {
    CHECK(l.hosts[0].local && l.hosts[0].slots == 2 && l.hosts[0].cores == mn_hosts_local_cpus());
    CHECK(!l.hosts[1].local && !l.hosts[2].local && l.hosts[2].cores == 1);
  }
  mn_hosts_free(&l);

  /* A qualified name is this machine when our host name is short, and the other way round;
   * two different qualified names are not. */
  gethostname(nodes, sizeof nodes);
  int self_short = !strchr(nodes, '.');
  snprintf(nodes, sizeof nodes, "%s.mn-test.invalid:2", self);
  CHECK(mn_hosts_parse_list(nodes, &l) == MN_OK);
  CHECK_MSG(l.hosts[0].local == self_short, "%s local %d", nodes, l.hosts[0].local);
  mn_hosts_free(&l);

  /* Errors name the variable and its value. */
  slurm_env("SLURM_JOB_NODELIST", "n[1-3]", "SLURM_TASKS_PER_NODE", "2(x4)", NULL);
  check_slurm_bad("mismatch", "SLURM_TASKS_PER_NODE=2(x4) counts 4 nodes",
                  "SLURM_JOB_NODELIST=n[1-3] has 3");
  slurm_env("SLURM_JOB_NODELIST", "n[1-3]", "SLURM_TASKS_PER_NODE", "2,2", NULL);
  check_slurm_bad("too few", "counts 2 nodes", "has 3");
  slurm_env("SLURM_JOB_NODELIST", "n[1-3]", "SLURM_TASKS_PER_NODE", "1(x3)",
            "SLURM_JOB_CPUS_PER_NODE", "8(x2)", NULL);
  check_slurm_bad("cpus mismatch", "SLURM_JOB_CPUS_PER_NODE=8(x2) counts 2 nodes", NULL);
  static const char *bad_tpn[] = {"2(x", "2(3)", "0", "x", "2,", ",2", "2(x0)", "2(x1)x", "-1", ""};
  for (size_t i = 0; i < sizeof bad_tpn / sizeof bad_tpn[0]; i++) {
    slurm_env("SLURM_JOB_NODELIST", "n[1-3]", "SLURM_TASKS_PER_NODE", bad_tpn[i], NULL);
    char want[100];
    snprintf(want, sizeof want, "SLURM_TASKS_PER_NODE=%s:", bad_tpn[i]);
    check_slurm_bad(bad_tpn[i], want, "2(x3),1");
  }
  slurm_env("SLURM_JOB_NODELIST", "gpu[01-04", "SLURM_TASKS_PER_NODE", "1(x4)", NULL);
  check_slurm_bad("bad nodelist", "SLURM_JOB_NODELIST: hostlist 'gpu[01-04'", "unbalanced '['");
  slurm_env("SLURM_JOB_NODELIST", "", NULL);
  check_slurm_bad("empty nodelist", "SLURM_JOB_NODELIST: hostlist '': empty", NULL);
  slurm_env("SLURM_JOB_NODELIST", "n/[1-2]", NULL);
  check_slurm_bad("bad name", "SLURM_JOB_NODELIST=n/[1-2]: host name", "'n/1'");
  slurm_env("SLURM_JOB_NODELIST", "n[1-3]", "SLURM_NTASKS", "2", NULL);
  check_slurm_bad("few tasks", "SLURM_NTASKS=2 is fewer tasks than the 3 nodes", NULL);
  slurm_env("SLURM_JOB_NODELIST", "n[1-3]", "SLURM_NTASKS", "many", NULL);
  check_slurm_bad("ntasks nan", "SLURM_NTASKS=many: expected a whole number", NULL);
  slurm_env("SLURM_JOB_NODELIST", "n1", "SLURM_CPUS_ON_NODE", "0", NULL);
  check_slurm_bad("cpus 0", "SLURM_CPUS_ON_NODE=0: expected a whole number from 1", NULL);
  slurm_env("SLURM_JOB_NODELIST", "n1", "SLURM_GPUS_ON_NODE", "eight", NULL);
  check_slurm_bad("gpus nan", "SLURM_GPUS_ON_NODE=eight:", NULL);
  slurm_env("SLURM_JOB_NODELIST", "n1", "SLURM_JOB_GPUS", "0,,1", NULL);
  check_slurm_bad("job gpus", "SLURM_JOB_GPUS=0,,1: an empty entry", NULL);
  slurm_env("SLURM_JOB_NODELIST", "n1", "CUDA_VISIBLE_DEVICES", "0,", NULL);
  check_slurm_bad("cuda devices", "CUDA_VISIBLE_DEVICES=0,: an empty entry", NULL);
  slurm_env(NULL);
}

/* ---- local machine ---- */

static void test_local(void) {
  mn_hostlist_t l;
  CHECK(mn_hosts_local(&l) == MN_OK);
  CHECK(l.nhosts == 1 && l.implicit && l.hosts[0].local);
  CHECK(l.hosts[0].slots == mn_hosts_local_cpus() && l.hosts[0].cores == l.hosts[0].slots);
  CHECK(l.hosts[0].slots >= 1 && l.hosts[0].name[0]);
  CHECK(l.hosts[0].gpus == -1 && !l.hosts[0].labels[0]);

  /* More ranks than cores: allowed on the implicit local machine, oversubscribed. */
  int n = 2 * l.hosts[0].slots + 1;
  mn_plan_t p;
  CHECK(mn_place_byslot(&l, n, &p) == MN_OK);
  CHECK(p.nranks == n && p.oversubscribed && p.overcommitted && p.host_ranks[0] == n);
  for (int r = 0; r < n; r++) CHECK(p.ranks[r].local_rank == r && p.ranks[r].threads == 1);
  mn_place_free(&p);

  CHECK(mn_place_byslot(&l, 1, &p) == MN_OK);
  CHECK(!p.oversubscribed && p.ranks[0].threads == l.hosts[0].cores);
  mn_place_free(&p);
  mn_hosts_free(&l);
}

/* ---- placement ---- */

static void test_place(void) {
  mn_hostlist_t l;
  CHECK(mn_hosts_parse_list("a:2,b:3,c:1", &l) == MN_OK);
  mn_plan_t p;
  CHECK(mn_place_byslot(&l, 6, &p) == MN_OK);
  static const int host[6] = {0, 0, 1, 1, 1, 2}, local[6] = {0, 1, 0, 1, 2, 0};
  for (int r = 0; r < 6; r++) {
    CHECK_MSG(p.ranks[r].rank == r && p.ranks[r].host == host[r] &&
                  p.ranks[r].local_rank == local[r],
              "rank %d on host %d local %d", r, p.ranks[r].host, p.ranks[r].local_rank);
    CHECK(p.ranks[r].threads == 1); /* remote: cores = slots, all used */
  }
  CHECK(p.host_ranks[0] == 2 && p.host_ranks[1] == 3 && p.host_ranks[2] == 1);
  CHECK(!p.oversubscribed && !p.overcommitted);
  mn_place_free(&p);

  /* Fewer ranks: fill in host order; c unused; b's 3 cores shared by 2 ranks -> 1 each. */
  CHECK(mn_place_byslot(&l, 4, &p) == MN_OK);
  CHECK(p.ranks[1].host == 0 && p.ranks[2].host == 1 && p.ranks[3].host == 1);
  CHECK(p.host_ranks[2] == 0);
  CHECK(p.ranks[2].threads == 1 && mn_place_min_threads(&p) == 1);
  mn_place_free(&p);

  /* One rank on a: both of a's cores. */
  CHECK(mn_place_byslot(&l, 1, &p) == MN_OK);
  CHECK(p.ranks[0].host == 0 && p.ranks[0].threads == 2);
  mn_place_free(&p);

  /* Gang: all or nothing. */
  p.ranks = NULL;
  CHECK(mn_place_byslot(&l, 7, &p) == MN_ERR_PEER);
  CHECK_MSG(strstr(mn_error_message(), "need 7 slots; the hosts have 6"), "%s", mn_error_message());
  CHECK(p.ranks == NULL);
  CHECK(mn_place_byslot(&l, 0, &p) == MN_ERR_USAGE);
  mn_hosts_free(&l);
}

/* ---- reports ---- */

static void test_report(void) {
  mn_report_t r;
  CHECK(mn_report_write(NULL, 0, "h", 1, "x") == MN_OK); /* no dir: nothing */
  CHECK(mn_report_write("", 0, "h", 1, "x") == MN_OK);
  CHECK(mn_report_read(g_dir, 2, &r) == MN_ERR_NOINPUT);

  CHECK(mn_report_write(g_dir, 2, "node 7", 65, "x.h5: bad\nsecond line") == MN_OK);
  CHECK(mn_report_read(g_dir, 2, &r) == MN_OK);
  CHECK(r.rank == 2 && r.exit_code == 65);
  CHECK_MSG(!strcmp(r.host, "node_7"), "host '%s'", r.host);
  CHECK_MSG(!strcmp(r.message, "x.h5: bad second line"), "message '%s'", r.message);

  CHECK(mn_report_write(g_dir, 3, NULL, 0, NULL) == MN_OK);
  CHECK(mn_report_read(g_dir, 3, &r) == MN_OK);
  CHECK(r.exit_code == 0 && !strcmp(r.host, "?") && r.message[0] == '\0');

  write_file("rank-4", "garbage\n");
  CHECK(mn_report_read(g_dir, 4, &r) == MN_ERR_DATA);
  CHECK(!strcmp(mn_report_exit_name(65), "bad data") && mn_report_exit_name(1) == NULL);

  /* No temporary file is left behind. */
  char tmp[512];
  snprintf(tmp, sizeof tmp, "%s/.rank-2.%ld.tmp", g_dir, (long)getpid());
  CHECK(access(tmp, F_OK) != 0);
}

int main(void) {
  snprintf(g_dir, sizeof g_dir, "/tmp/test_hosts.XXXXXX");
  if (!mkdtemp(g_dir)) {
    perror("mkdtemp");
    return 1;
  }
  test_list_good();
  test_list_bad();
  test_file_good();
  test_file_bad();
  test_file_formats();
  test_file_gpus_labels();
  test_file_many();
  test_slurm();
  test_local();
  test_place();
  test_report();
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", g_dir);
  return mn_test_result("test_hosts");
}
