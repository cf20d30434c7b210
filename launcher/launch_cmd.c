/* launch_cmd.c: building and printing the commands of the launch engines (mn_launch.h).
 *
 * A command is a growing, NULL-terminated argv and a list of "NAME=value" variables for the
 * child. Printing quotes each word for a POSIX shell, so that --dry-run's line can be pasted.
 * Nothing here runs the command. */
#include "mn_launch.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Append s (taken over) to a NULL-terminated vector of n entries. */
static mn_status_t vec_push(char ***vec, int *n, char *s) {
  if (!s) return mn_error(MN_ERR_NOMEM, "out of memory building the command");
  char **grown = realloc(*vec, (size_t)(*n + 2) * sizeof *grown);
  if (!grown) {
    free(s);
    return mn_error(MN_ERR_NOMEM, "out of memory building the command");
  }
  grown[(*n)++] = s;
  grown[*n] = NULL;
  *vec = grown;
  return MN_OK;
}

static char *vformat(const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int len = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  char *s = len >= 0 ? malloc((size_t)len + 1) : NULL;
  if (s) vsnprintf(s, (size_t)len + 1, fmt, ap);
  return s;
}

mn_status_t mn_cmd_add_arg(mn_cmd_t *cmd, const char *arg) {
  return vec_push(&cmd->argv, &cmd->argc, strdup(arg));
}

mn_status_t mn_cmd_add_argf(mn_cmd_t *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = vformat(fmt, ap);
  va_end(ap);
  return vec_push(&cmd->argv, &cmd->argc, s);
}

mn_status_t mn_cmd_add_envf(mn_cmd_t *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = vformat(fmt, ap);
  va_end(ap);
  return vec_push(&cmd->env, &cmd->nenv, s);
}

/* The next word of text at *p into out (cap >= strlen(text) + 1), moving *p past it.
 * Returns 1 for a word, 0 at the end, -1 on a quoting error (*why says which). */
static int next_word(const char **p, char *out, const char **why) {
  const char *s = *p;
  while (*s == ' ' || *s == '\t' || *s == '\n') s++;
  if (!*s) return 0;
  size_t n = 0;
  while (*s && *s != ' ' && *s != '\t' && *s != '\n') {
    if (*s == '\'') {
      const char *end = strchr(s + 1, '\'');
      if (!end) {
        *why = "an unbalanced ' quote";
        return -1;
      }
      memcpy(out + n, s + 1, (size_t)(end - s - 1));
      n += (size_t)(end - s - 1);
      s = end + 1;
    } else if (*s == '"') {
      for (s++; *s != '"'; s++) {
        if (!*s) {
          *why = "an unbalanced \" quote";
          return -1;
        }
        if (*s == '\\' && (s[1] == '"' || s[1] == '\\')) s++;
        out[n++] = *s;
      }
      s++;
    } else if (*s == '\\') {
      if (!s[1]) {
        *why = "a backslash at the end";
        return -1;
      }
      out[n++] = s[1];
      s += 2;
    } else {
      out[n++] = *s++;
    }
  }
  out[n] = '\0';
  *p = s;
  return 1;
}

mn_status_t mn_cmd_add_words(mn_cmd_t *cmd, const char *text) {
  char *word = malloc(strlen(text) + 1);
  if (!word) return mn_error(MN_ERR_NOMEM, "out of memory building the command");
  const char *why = NULL, *p = text;
  int r;
  while ((r = next_word(&p, word, &why)) == 1) {
  } /* check all before adding any */
  mn_status_t st = MN_OK;
  if (r < 0) st = mn_error(MN_ERR_USAGE, "'%s': %s", text, why);
  for (p = text; st == MN_OK && next_word(&p, word, &why) == 1;) st = mn_cmd_add_arg(cmd, word);
  free(word);
  return st;
}

mn_status_t mn_cmd_add_worker(mn_cmd_t *cmd, const mn_job_t *job, const char *engine) {
  mn_status_t st = mn_cmd_add_arg(cmd, job->train);
  if (job->program) {
    cmd->program = 1;
    if (st == MN_OK) st = mn_cmd_add_argf(cmd, "--engine=%s", engine);
    if (st == MN_OK) st = mn_cmd_add_arg(cmd, "--");
    for (int i = 0; st == MN_OK && i < job->nprogram; i++)
      st = mn_cmd_add_arg(cmd, job->program[i]);
    return st;
  }
  for (int i = 0; st == MN_OK && i < job->nsets; i++) {
    st = mn_cmd_add_arg(cmd, "--set");
    if (st == MN_OK) st = mn_cmd_add_arg(cmd, job->sets[i]);
  }
  if (st == MN_OK && job->metrics) {
    st = mn_cmd_add_arg(cmd, "--metrics");
    if (st == MN_OK) st = mn_cmd_add_arg(cmd, job->metrics);
  }
  if (st == MN_OK) st = mn_cmd_add_arg(cmd, job->conf);
  return st;
}

mn_status_t mn_launch_rank_vars(const mn_job_t *job, const mn_plan_t *plan, mn_cmd_t *vars) {
  mn_status_t st = mn_cmd_add_envf(vars, "OPENBLAS_NUM_THREADS=%d", mn_place_min_threads(plan));
  if (st == MN_OK) st = mn_cmd_add_envf(vars, "OMP_WAIT_POLICY=%s", mn_launch_omp_wait_policy());
  if (st == MN_OK) st = mn_cmd_add_envf(vars, "MN_TTY=%d", job->tty ? 1 : 0);
  if (st == MN_OK) st = mn_cmd_add_envf(vars, "MN_REPORT_DIR=%s", job->report_dir);
  if (st == MN_OK && job->program && job->master_addr) {
    st = mn_cmd_add_envf(vars, "MASTER_ADDR=%s", job->master_addr);
    if (st == MN_OK) st = mn_cmd_add_envf(vars, "MASTER_PORT=%d", job->master_port);
  }
  return st;
}

mn_status_t mn_cmd_add_rank_env(mn_cmd_t *cmd, const mn_job_t *job, const mn_plan_t *plan) {
  mn_cmd_t vars = {0};
  mn_status_t st = mn_launch_rank_vars(job, plan, &vars);
  for (int i = 0; st == MN_OK && i < vars.nenv; i++) st = mn_cmd_add_envf(cmd, "%s", vars.env[i]);
  mn_cmd_free(&vars);
  for (int i = 0; st == MN_OK && i < job->nset_env; i++)
    st = mn_cmd_add_envf(cmd, "%s", job->set_env[i]);
  for (int i = 0; st == MN_OK && i < job->nmca; i++)
    st = mn_cmd_add_envf(cmd, "OMPI_MCA_%s=%s", job->mca[2 * i], job->mca[2 * i + 1]);
  return st;
}

const char *mn_launch_omp_wait_policy(void) {
  const char *v = getenv("OMP_WAIT_POLICY");
  return v && *v ? v : "PASSIVE";
}

mn_status_t mn_cmd_add_root_env(mn_cmd_t *cmd) {
  if (geteuid() != 0) return MN_OK;
  mn_status_t st = mn_cmd_add_envf(cmd, "OMPI_ALLOW_RUN_AS_ROOT=1");
  if (st == MN_OK) st = mn_cmd_add_envf(cmd, "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1");
  return st;
}

/* Print s for a POSIX shell: as is when it holds only safe characters, else in single
 * quotes (a ' inside becomes '\''). */
static void print_word(FILE *f, const char *s) {
  if (s[0] && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                        "_@%+=:,./-") == strlen(s)) {
    fputs(s, f);
    return;
  }
  fputc('\'', f);
  for (const char *p = s; *p; p++) {
    if (*p == '\'')
      fputs("'\\''", f);
    else
      fputc(*p, f);
  }
  fputc('\'', f);
}

void mn_cmd_print(FILE *f, const mn_cmd_t *cmd) {
  const char *sep = "";
  for (int i = 0; i < cmd->nenv; i++) {
    const char *eq = strchr(cmd->env[i], '=');
    fprintf(f, "%s%.*s=", sep, (int)(eq - cmd->env[i]), cmd->env[i]);
    print_word(f, eq + 1);
    sep = " ";
  }
  for (int i = 0; i < cmd->argc; i++) {
    fputs(sep, f);
    print_word(f, cmd->argv[i]);
    sep = " ";
  }
  fputc('\n', f);
}

void mn_cmd_free(mn_cmd_t *cmd) {
  for (int i = 0; i < cmd->argc; i++) free(cmd->argv[i]);
  for (int i = 0; i < cmd->nenv; i++) free(cmd->env[i]);
  free(cmd->argv);
  free(cmd->env);
  *cmd = (mn_cmd_t){0};
}
