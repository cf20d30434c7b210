/* test_hosts.c: mnrun's resources and placement (launcher/hosts.c, launcher/place.c): -H
 * lists and hostfiles, good and bad, and byslot placement of a gang; plus the rank report
 * round trip (runtime/report.c) that mnrun reads after a job. */
#include "mn_hosts.h"
#include "mn_place.h"

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

static void test_file_bad(void) {
  check_bad_file("zero.hosts", "a slots=2\n# c\nb slots=0\n", 3, "slots must be");
  check_bad_file("neg.hosts", "a slots=-1\n", 1, "slots must be");
  check_bad_file("nan.hosts", "\na slots=two\n", 2, "'two'");
  check_bad_file("trail.hosts", "a slots=2x\n", 1, "slots must be");
  check_bad_file("empty-value.hosts", "a slots=\n", 1, "slots must be");
  check_bad_file("key.hosts", "a slots=2\nb slots=1 cpus=4\n", 2, "unknown key 'cpus'");
  check_bad_file("noeq.hosts", "a slots 2\n", 1, "expected key=value");
  check_bad_file("name.hosts", "a/b slots=1\n", 1, "host name");
  check_bad_file("leading-key.hosts", "slots=2\n", 1, "host name");
  check_bad_file("max.hosts", "a slots=4 max_slots=2\n", 1, "max_slots=2");
  check_bad_file("nothing.hosts", "# only a comment\n\n", 0, "no hosts");

  mn_hostlist_t l;
  char missing[400];
  snprintf(missing, sizeof missing, "%s/missing.hosts", g_dir);
  CHECK(mn_hosts_parse_file(missing, &l) == MN_ERR_NOINPUT);
  CHECK(strstr(mn_error_message(), missing) != NULL);
}

/* ---- local machine ---- */

static void test_local(void) {
  mn_hostlist_t l;
  CHECK(mn_hosts_local(&l) == MN_OK);
  CHECK(l.nhosts == 1 && l.implicit && l.hosts[0].local);
  CHECK(l.hosts[0].slots == mn_hosts_local_cpus() && l.hosts[0].cores == l.hosts[0].slots);
  CHECK(l.hosts[0].slots >= 1 && l.hosts[0].name[0]);

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
  test_local();
  test_place();
  test_report();
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", g_dir);
  return mn_test_result("test_hosts");
}
