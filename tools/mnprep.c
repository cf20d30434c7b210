/* mnprep: make mn datasets (docs/data.md).
 *
 *   mnprep teacher --out PREFIX ...        a synthetic set labelled by a fixed random network
 *   mnprep csv --in F.csv[.gz] --out F.h5  rows "label,f1,...,fD" converted
 *   mnprep npy --in F.npz --out F.h5       NumPy arrays x [N, D] and y [N] (or two .npy)
 *   mnprep h5 --in F.h5 --x A --y B ...    an HDF5 file with other dataset names or types
 *   mnprep text --out PREFIX FILES...      text files to byte-level tokens (train and val)
 *   mnprep tokens --out F.h5 F.bin...      llm.c token shards (GPT-2 BPE) imported
 *
 * This file is the command line: usage, options, the choice of reader, and the exit code.
 * The parts are listed in prep.h. Every sample output holds /x float32 [N, D] and /y int32
 * [N], chunked, with the attributes format = "mn-dataset-1" and classes on the root group;
 * every token output /tokens with vocab_size and tokenizer. Each is written atomically, so that a
 * failed run leaves nothing behind and never damages a file already there.
 *
 * Exit codes: 0 done, 64 usage, 65 bad input data, 66 missing input, 74 cannot write. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mn_h5.h"
#include "mn_suggest.h"
#include "prep.h"

const char prep_usage_text[] =
    "usage: mnprep teacher --out PREFIX [options]\n"
    "       mnprep csv --in FILE.csv --out FILE.h5 [options]\n"
    "       mnprep npy --in FILE.npz --out FILE.h5 [options]\n"
    "       mnprep npy --x X.npy --y Y.npy --out FILE.h5 [options]\n"
    "       mnprep h5 --in FILE.h5 --x NAME --y NAME --out FILE.h5 [options]\n"
    "       mnprep text --out PREFIX [--val-fraction F] FILE|GLOB...\n"
    "       mnprep tokens --out FILE.h5 [--vocab N] FILE.bin|GLOB...\n"
    "       mnprep --version | --help\n"
    "\n"
    "Make mn datasets: HDF5 files with /x float32 [N, D] and /y int32 [N], or token streams\n"
    "/tokens (docs/data.md).\n"
    "Outputs are written atomically (temp file, fsync, rename).\n"
    "\n"
    "mnprep teacher: synthetic rows x = z A + noise with a latent z ~ N(0, 1)^L, a fixed\n"
    "random mixing A [L, D] and noise ~ N(0, 0.5^2)^D, labelled by argmax of a fixed random\n"
    "network relu(z W1 + b1) W2 + b2 (b2 balances the classes); with --latent 0, z = x ~\n"
    "N(0, 1)^D (much harder to generalise from). Writes PREFIX-train.h5\n"
    "(or PREFIX-train-00000-of-0000K.h5 ... with --shards K) and PREFIX-val.h5.\n"
    "  --out PREFIX       output prefix (required)\n"
    "  --samples N        training rows (default 60000)\n"
    "  --val N            validation rows, 0 for none (default 10000)\n"
    "  --dim D            features per row (default 784)\n"
    "  --classes C        classes (default 10)\n"
    "  --hidden H         hidden units of the teacher (default 16)\n"
    "  --latent L         latent dimensions, 0 for none (default 10)\n"
    "  --seed S           seed of teacher and rows (default 1)\n"
    "  --shards K         training shard files, rows split contiguously (default 1)\n"
    "  --chunk R          rows per HDF5 chunk, capped to N (default 256)\n"
    "\n"
    "mnprep csv: rows \"label,f1,...,fD\", read once (a pipe works), gzip or plain.\n"
    "  --in FILE.csv      input, FILE.csv.gz, or - for standard input (required)\n"
    "  --label first|last where the label is on each row (default first)\n"
    "  --delimiter D      comma, tab, semicolon or auto: the most frequent of them on the\n"
    "                     first line (default auto); fields may be quoted (RFC 4180)\n"
    "  --header auto|yes|no  is line 1 a header? auto: when none of its fields is a\n"
    "                     number (default auto); a skipped header is noted on stderr\n"
    "  --index auto|skip|keep  a leading row-index column: auto drops it when the header's\n"
    "                     first field is empty, as pandas' to_csv() writes (default auto)\n"
    "\n"
    "mnprep npy: NumPy arrays, x float32/float64 [N, D] and y integers [N], C order.\n"
    "  --in FILE.npz      an archive holding arrays x and y (np.savez), or\n"
    "  --x X.npy --y Y.npy  two .npy files (with --in: the array names, default x and y)\n"
    "\n"
    "mnprep h5: an HDF5 file, x floats [N, D], y integers [N].\n"
    "  --in FILE.h5       input (required)\n"
    "  --x NAME --y NAME  dataset names (default /x and /y)\n"
    "\n"
    "Options of csv, npy and h5:\n"
    "  --out FILE.h5      output (required); with --shards K: FILE-00000-of-0000K.h5 ...\n"
    "  --classes C        labels must be below C (default: max label + 1)\n"
    "  --shards K         output shard files (default 1)\n"
    "  --val-fraction F   exactly round(N * F) rows, drawn from --seed, go to --val-out\n"
    "                     (default 0: none)\n"
    "  --val-out FILE.h5  validation output (required with --val-fraction > 0)\n"
    "  --stratify         draw the validation rows class by class (default off)\n"
    "  --split-out FILE   write \"row,split\" (train or val) for every input row (default none)\n"
    "  --standardize      scale each feature to mean 0, std 1 over the training rows, in\n"
    "                     both outputs; stored as /x attributes mean, std (default off)\n"
    "  --seed S           seed of the validation draw (default 1)\n"
    "  --chunk R          rows per HDF5 chunk, capped to N (default 256)\n"
    "\n"
    "mnprep text: byte-level tokens (vocabulary 256, token = byte) of text files, in the\n"
    "order given (a glob, quoted or not, is expanded and sorted; directories it matches are\n"
    "skipped with a note). The last round(n * F) bytes of each file go to PREFIX-val.h5,\n"
    "the rest to PREFIX-train.h5.\n"
    "  --out PREFIX       output prefix (required)\n"
    "  --val-fraction F   the held-out end of each file, in [0, 1); 0: no PREFIX-val.h5\n"
    "                     (default 0.1)\n"
    "\n"
    "mnprep tokens: llm.c token files (256 x int32 header, magic 20240520, version 1, then\n"
    "uint16 GPT-2 BPE tokens), concatenated in the order given into one FILE.h5 (tokenizer\n"
    "gpt2).\n"
    "  --out FILE.h5      output (required)\n"
    "  --vocab N          vocab_size written; every token must be below it (default 50257)\n"
    "\n"
    "  -h, --help         this text\n"
    "\n"
    "Exit codes: 0 done, 64 usage, 65 bad input data, 66 missing input, 74 cannot write.\n";

enum { CMD_CSV, CMD_NPY, CMD_H5 };

static mn_status_t parse_choice(const char *opt, const char *s, const char *const *names,
                                int *out) {
  for (int i = 0; names[i]; i++)
    if (!strcmp(s, names[i])) {
      *out = i;
      return MN_OK;
    }
  return mn_error(MN_ERR_USAGE, "--%s: '%s' is not one of the choices (see mnprep --help)", opt, s);
}

/* Options of csv, npy and h5; each refuses what does not apply to it. */
static mn_status_t convert_main(int cmd, int argc, char **argv) {
  prep_opts_t o = {.shards = 1, .chunk = 256, .seed = 1};
  static const char *const firstlast[] = {"first", "last", NULL};
  static const char *const autoyesno[] = {"auto", "yes", "no", NULL};
  static const char *const autoskipkeep[] = {"auto", "skip", "keep", NULL};
  static const char *const delims[] = {"auto", "comma", "tab", "semicolon", NULL};
  static const int delim_char[] = {0, ',', '\t', ';'};
  static const struct option opts[] = {{"in", required_argument, NULL, 'i'},
                                       {"out", required_argument, NULL, 'o'},
                                       {"x", required_argument, NULL, 'X'},
                                       {"y", required_argument, NULL, 'Y'},
                                       {"label", required_argument, NULL, 'l'},
                                       {"delimiter", required_argument, NULL, 'D'},
                                       {"header", required_argument, NULL, 'H'},
                                       {"index", required_argument, NULL, 'I'},
                                       {"classes", required_argument, NULL, 'c'},
                                       {"shards", required_argument, NULL, 'k'},
                                       {"val-fraction", required_argument, NULL, 'f'},
                                       {"val-out", required_argument, NULL, 'V'},
                                       {"stratify", no_argument, NULL, 'S'},
                                       {"split-out", required_argument, NULL, 'P'},
                                       {"standardize", no_argument, NULL, 'z'},
                                       {"seed", required_argument, NULL, 's'},
                                       {"chunk", required_argument, NULL, 'r'},
                                       {"help", no_argument, NULL, 'h'},
                                       {"version", no_argument, NULL, 0x100},
                                       {NULL, 0, NULL, 0}};
  static const char *const cmds[] = {"csv", "npy", "h5"};
  mn_status_t st = MN_OK;
  int64_t seed = 1;
  int csv_only = 0, d;
  const char *csv_opt = NULL;
  char *end;
  int c, idx;
  while (st == MN_OK && (c = getopt_long(argc, argv, "h", opts, &idx)) != -1) {
    if (c == 'l' || c == 'D' || c == 'H' || c == 'I') {
      csv_opt = opts[idx].name;
      csv_only = 1;
    }
    switch (c) {
    case 'i': o.in = optarg; break;
    case 'o': o.out = optarg; break;
    case 'X': o.x = optarg; break;
    case 'Y': o.y = optarg; break;
    case 'l': st = parse_choice("label", optarg, firstlast, &o.label_last); break;
    case 'D':
      st = parse_choice("delimiter", optarg, delims, &d);
      if (st == MN_OK) o.delimiter = delim_char[d];
      break;
    case 'H': st = parse_choice("header", optarg, autoyesno, &o.header); break;
    case 'I': st = parse_choice("index", optarg, autoskipkeep, &o.index); break;
    case 'c': st = parse_int("classes", optarg, 2, MN_PREP_MAX_CLASSES, &o.classes); break;
    case 'k': st = parse_int("shards", optarg, 1, 99999, &o.shards); break;
    case 'f':
      o.val_fraction = strtod(optarg, &end);
      if (end == optarg || *end || !(o.val_fraction >= 0 && o.val_fraction < 1))
        st = mn_error(MN_ERR_USAGE, "--val-fraction: '%s' is not a number in [0, 1)", optarg);
      break;
    case 'V': o.val_out = optarg; break;
    case 'S': o.stratify = 1; break;
    case 'P': o.split_out = optarg; break;
    case 'z': o.standardize = 1; break;
    case 's': st = parse_i64("seed", optarg, 0, INT64_MAX, &seed); break;
    case 'r': st = parse_i64("chunk", optarg, 1, INT64_C(1) << 30, &o.chunk); break;
    case 'h': fputs(prep_usage_text, stdout); exit(0);
    case 0x100: printf("mnprep %s\n", MN_VERSION); exit(0);
    default: return prep_bad_option(argv[optind - 1], opts);
    }
  }
  if (st != MN_OK) return st;
  const char *name = cmds[cmd];
  if (optind < argc) return mn_error(MN_ERR_USAGE, "unexpected argument '%s'", argv[optind]);
  if (csv_only && cmd != CMD_CSV)
    return mn_error(MN_ERR_USAGE, "%s: --%s is an option of mnprep csv", name, csv_opt);
  if (!o.out) return mn_error(MN_ERR_USAGE, "%s: --out is required", name);
  if (cmd == CMD_CSV && (o.x || o.y))
    return mn_error(MN_ERR_USAGE, "csv: --x and --y are options of mnprep npy and h5");
  if ((cmd == CMD_CSV || cmd == CMD_H5) && !o.in)
    return mn_error(MN_ERR_USAGE, "%s: --in is required", name);
  if (cmd == CMD_NPY && !o.in && (!o.x || !o.y))
    return mn_error(MN_ERR_USAGE, "npy: --in FILE.npz, or --x X.npy and --y Y.npy, is required");
  if (o.val_fraction > 0 && !o.val_out)
    return mn_error(MN_ERR_USAGE, "%s: --val-fraction needs --val-out", name);
  if (o.val_out && o.val_fraction <= 0)
    return mn_error(MN_ERR_USAGE, "%s: --val-out needs --val-fraction > 0", name);
  if (o.stratify && o.val_fraction <= 0)
    return mn_error(MN_ERR_USAGE, "%s: --stratify needs --val-fraction > 0", name);
  o.seed = (uint64_t)seed;

  spool_t sp = {0};
  char what[PATH_MAX + 8];
  const char *hint = "";
  if (cmd == CMD_CSV) {
    st = csv_read(&o, &sp);
    hint = o.label_last ? "is the label the first column? (--label first)"
                        : "is the label the last column? (--label last); is the first column "
                          "a row index? (--index skip)";
  } else if (cmd == CMD_NPY) {
    st = npy_read(&o, &sp);
  } else {
    st = h5in_read(&o, &sp);
  }
  snprintf(what, sizeof what, "%s", o.in ? (strcmp(o.in, "-") ? o.in : "(stdin)") : o.y);
  if (st == MN_OK) st = prep_write(&o, &sp, what, hint);
  spool_free(&sp);
  return st;
}

/* ---- main ---------------------------------------------------------------------------- */

/* MN_ERR_USAGE for an unknown command (or an option before the command), with the closest
 * command when one is close. */
static mn_status_t unknown_command(const char *cmd) {
  static const char *const cmds[] = {"teacher", "csv", "npy", "h5", "text", "tokens"};
  static const struct option top[] = {
      {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};
  if (cmd[0] == '-') return prep_bad_option(cmd, top);
  const char *near = NULL;
  for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
    if (mn_suggest_close(cmd, cmds[i]) &&
        (!near || mn_suggest_distance(cmd, cmds[i]) < mn_suggest_distance(cmd, near)))
      near = cmds[i];
  if (near) return mn_error(MN_ERR_USAGE, "unknown command '%s' (did you mean %s?)", cmd, near);
  return mn_error(MN_ERR_USAGE,
                  "unknown command '%s' (teacher, csv, npy, h5, text or tokens; see --help)", cmd);
}

int main(int argc, char **argv) {
  mn_h5_quiet();
  if (argc < 2) {
    fputs(prep_usage_text, stderr);
    return MN_EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
    fputs(prep_usage_text, stdout);
    return 0;
  }
  if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
    printf("mnprep %s\n", MN_VERSION);
    return 0;
  }
  mn_status_t st;
  optind = 1;
  opterr = 0; /* unknown options are worded by prep_bad_option */
  if (!strcmp(cmd, "teacher"))
    st = teacher_main(argc - 1, argv + 1);
  else if (!strcmp(cmd, "csv"))
    st = convert_main(CMD_CSV, argc - 1, argv + 1);
  else if (!strcmp(cmd, "npy"))
    st = convert_main(CMD_NPY, argc - 1, argv + 1);
  else if (!strcmp(cmd, "h5"))
    st = convert_main(CMD_H5, argc - 1, argv + 1);
  else if (!strcmp(cmd, "text"))
    st = text_main(argc - 1, argv + 1);
  else if (!strcmp(cmd, "tokens"))
    st = tokens_main(argc - 1, argv + 1);
  else
    st = unknown_command(cmd);
  if (st != MN_OK) {
    fprintf(stderr, "mnprep: error: %s\n", mn_error_message());
    return mn_status_exit_code(st);
  }
  return 0;
}
