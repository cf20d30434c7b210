#!/usr/bin/env python3
"""tests/packaging_recipes.py SRC: the checks of tests/test_packaging.sh that only read files.

Reads packaging/Dockerfile, packaging/mn.def, the Spack recipes under packaging/spack/,
docs/install.md, setup.sh, CMakeLists.txt and cmake/install.cmake, and prints one line per
check, "ok: ..." or "FAIL: ...", then the package lists of the two stages for the checks that
need this machine's apt and dpkg:

    packages build: cmake make ...
    packages runtime: openmpi-bin ...

Exit status: the number of failed checks (0: all passed)."""
import ast
import os
import re
import sys

SRC = sys.argv[1]
fails = 0


def check(cond, what, why=""):
    global fails
    if cond:
        print(f"ok: {what}")
    else:
        fails += 1
        print(f"FAIL: {what}{': ' + why if why else ''}")


def read(rel):
    with open(os.path.join(SRC, rel)) as f:
        return f.read()


def joined_lines(text):
    """The lines of a shell-like file, continuations (backslash-newline) joined, comments
    dropped."""
    text = re.sub(r"\\\n", " ", text)
    return [l for l in text.splitlines() if not l.strip().startswith("#")]


def cmake_commands(text):
    """The cmake commands of a recipe, in order: each line split at &&, RUN dropped."""
    out = []
    for line in joined_lines(text):
        for part in line.split("&&"):
            part = " ".join(part.split())
            part = re.sub(r"^RUN ", "", part)
            if re.match(r"cmake (-S|--build|--install) ", part):
                out.append(part)
    return out


PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")


def stage_packages(text, stage):
    """The packages that apt-get installs after the "# packages: STAGE" comment."""
    m = re.search(r"# packages: " + stage + r"\n(.*?)rm -rf /var/lib/apt/lists", text, re.S)
    if not m:
        return None
    block = re.sub(r"\\\n", " ", m.group(1))
    m = re.search(r"apt-get install ([^\n&]*)", block)
    if not m:
        return None
    return [w for w in m.group(1).split() if not w.startswith("-") and PACKAGE.match(w)]


docker = read("packaging/Dockerfile")
apptainer = read("packaging/mn.def")
install_md = read("docs/install.md")

# 1. the cmake commands: docs/install.md's container section, in both recipes
section = re.search(r"## Containers.*?(?=\n## )", install_md, re.S)
doc_cmds = [l.strip() for l in section.group(0).splitlines() if l.startswith("    cmake ")] \
    if section else []
check(len(doc_cmds) == 3, "docs/install.md's container section gives 3 cmake commands",
      f"found {doc_cmds}")
for name, text in (("Dockerfile", docker), ("mn.def", apptainer)):
    cmds = cmake_commands(text)
    check(cmds == doc_cmds, f"{name} runs docs/install.md's cmake commands",
          f"{cmds} != {doc_cmds}")

# 2. the source each recipe copies: every top-level part of the tree that the build reads
cmake_text = read("CMakeLists.txt") + read("cmake/install.cmake")
read_parts = {"CMakeLists.txt"}
for entry in sorted(os.listdir(SRC)):
    if entry.startswith(".") or entry.startswith("build"):
        continue
    path = os.path.join(SRC, entry)
    if os.path.isdir(path):
        pat = r"(?<![\w${}/.-])" + re.escape(entry) + r"/|add_subdirectory\(" + re.escape(entry)
    else:
        pat = r"(?<![\w${}/.-])" + re.escape(entry) + r"(?![\w.])"
    if re.search(pat, cmake_text):
        read_parts.add(entry)
check({"runtime", "kernels", "include", "tests", "cmake"} <= read_parts,
      "the parts the build reads are found in CMakeLists.txt: " + " ".join(sorted(read_parts)),
      f"{sorted(read_parts)}")
docker_copied = set()
for line in joined_lines(docker):
    m = re.match(r"\s*COPY\s+(?!--from)(.*)", line)
    if m:
        docker_copied.update(w.rstrip("/") for w in m.group(1).split()[:-1])
files = re.search(r"%files\n(.*?)\n\n", apptainer, re.S)
def_copied = {l.split()[0].rstrip("/") for l in files.group(1).splitlines() if l.strip()} \
    if files else set()
for name, copied in (("Dockerfile", docker_copied), ("mn.def", def_copied)):
    check(read_parts <= copied, f"{name} copies every part the build reads",
          f"missing {sorted(read_parts - copied)}")
    check(all(os.path.exists(os.path.join(SRC, p)) for p in copied),
          f"{name} copies only paths that exist",
          f"{sorted(p for p in copied if not os.path.exists(os.path.join(SRC, p)))}")

# 3. the packages of each stage: the same in both recipes; the build stage has setup.sh's
stages = {}
for stage in ("build", "runtime"):
    d, a = stage_packages(docker, stage), stage_packages(apptainer, stage)
    check(bool(d) and bool(a), f"both recipes list the {stage} stage's packages")
    check(d is not None and a is not None and sorted(d) == sorted(a),
          f"the {stage} stage installs the same packages in both recipes", f"{d} != {a}")
    stages[stage] = d or []
setup = read("setup.sh")
m = re.search(r"pkgs=\((.*?)\n\)", setup, re.S)
setup_pkgs = []
for line in (m.group(1).splitlines() if m else []):
    setup_pkgs += [w for w in line.split("#")[0].split() if PACKAGE.match(w)]
# setup.sh's packages that the tests alone (and mnbench's optional plot) use
test_only = {"slurm-wlm", "munge", "iproute2", "gnuplot-nox", "python3", "hdf5-tools"}
missing = [p for p in setup_pkgs if p not in test_only and p not in stages["build"]]
check(bool(setup_pkgs) and not missing,
      "the build stage has every package setup.sh installs for the build", f"missing {missing}")

# 4. the images: CUDA's devel then runtime, of one CUDA version
args = dict(re.findall(r"^ARG (\w+)=(\S+)", docker, re.M))
froms = re.findall(r"^FROM (\S+)", docker, re.M)
want = [f"nvidia/cuda:{args.get('CUDA_VERSION')}-{kind}-ubuntu{args.get('UBUNTU_VERSION')}"
        for kind in ("devel", "runtime")]
expanded = [re.sub(r"\$\{(\w+)\}", lambda v: args.get(v.group(1), "?"), f) for f in froms]
check(expanded == want, "the Dockerfile builds on CUDA's devel image, ends on its runtime image",
      f"{expanded}")
def_froms = re.findall(r"^From: (\S+)", apptainer, re.M)
check(def_froms == want, "mn.def uses the Dockerfile's images", f"{def_froms} != {want}")
check(re.search(r"^COPY --from=build /opt/mn /opt/mn$", docker, re.M) is not None and
      re.search(r"%files from build\n\s+/opt/mn /opt/mn\n", apptainer) is not None,
      "both recipes take /opt/mn from the build stage")

# 5. the Spack recipes
spack = os.path.join(SRC, "packaging/spack/spack_repo/mn")
trees = {}
for pkg in ("mn", "libcsv"):
    path = os.path.join(spack, "packages", pkg, "package.py")
    try:
        with open(path) as f:
            trees[pkg] = ast.parse(f.read(), path)
        check(True, f"spack: packages/{pkg}/package.py parses")
    except (OSError, SyntaxError) as e:
        check(False, f"spack: packages/{pkg}/package.py parses", str(e))
check(os.path.exists(os.path.join(spack, "repo.yaml")), "spack: the repository has repo.yaml")
mn_tree = trees.get("mn")
cls = next((n for n in ast.walk(mn_tree) if isinstance(n, ast.ClassDef) and n.name == "Mn"),
           None) if mn_tree else None
bases = {b.id for b in cls.bases if isinstance(b, ast.Name)} if cls else set()
check({"CMakePackage", "CudaPackage"} <= bases, "spack: Mn is a CMakePackage and CudaPackage",
      f"bases {sorted(bases)}")
deps = set()
for node in ast.walk(cls) if cls else []:
    if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "depends_on":
        arg = node.args[0]
        text = arg.value if isinstance(arg, ast.Constant) else \
            "".join(v.value for v in getattr(arg, "values", []) if isinstance(v, ast.Constant))
        deps.add(re.split(r"[@~+^ ]", text.strip(), maxsplit=1)[0])
if "CudaPackage" in bases:
    deps.add("cuda")  # CudaPackage's own depends_on("cuda", when="+cuda")
# what CMakeLists.txt finds -> the Spack package that provides it (None: the compiler or
# the C library). A dependency missing here fails: add it to package.py and to this table.
spack_name = {
    "find_package MPI": "mpi", "find_package HDF5": "hdf5", "find_package Threads": None,
    "find_package OpenMP": None, "find_package ZLIB": "zlib-api",
    "find_package PkgConfig": "pkgconfig", "find_package CUDAToolkit": "cuda",
    "pkg-config openblas": "openblas", "pkg-config inih": "libinih",
    "pkg-config libcjson": "cjson", "pkg-config hwloc": "hwloc",
    "pkg-config libibverbs": "rdma-core", "pkg-config libzip": "libzip",
    "find_library csv": "libcsv", "find_library nccl": "nccl",
}
cmakelists = read("CMakeLists.txt")
found = {f"find_package {n}" for n in re.findall(r"find_package\((\w+)", cmakelists)}
found |= {f"pkg-config {m.split()[-1]}" for m in
          re.findall(r"pkg_check_modules\(([^)]*)\)", cmakelists)}
found |= {f"find_library {n}" for n in re.findall(r"find_library\(\w+ (\w+)", cmakelists)}
for dep in sorted(found):
    if dep not in spack_name:
        check(False, f"spack: CMakeLists.txt's {dep} has a Spack package",
              "add it to package.py and to tests/packaging_recipes.py's table")
    elif spack_name[dep]:
        check(spack_name[dep] in deps, f"spack: {dep} -> depends_on({spack_name[dep]!r})",
              f"package.py depends on {sorted(deps)}")
check("libcsv" in trees, "spack: libcsv, which mn depends on, is in the repository")
fn = next((n for n in ast.walk(cls) if isinstance(n, ast.FunctionDef) and
           n.name == "cmake_args"), None) if cls else None
strings = {n.value for n in ast.walk(fn) if isinstance(n, ast.Constant) and
           isinstance(n.value, str)} if fn else set()
site = re.search(r"## On a cluster.*?(?=\n## )", install_md, re.S)
site = site.group(0) if site else ""
for var in ("MN_CUDA", "MPI_HOME", "HDF5_ROOT", "CUDAToolkit_ROOT", "NCCL_ROOT",
            "CMAKE_CUDA_ARCHITECTURES"):
    check(var in strings, f"spack: cmake_args defines {var}")
    check(var in site or var in install_md, f"docs/install.md names {var}")
for var in ("MN_CUDA", "NCCL_ROOT"):  # (the others are CMake's own modules' variables)
    check(var in cmakelists, f"CMakeLists.txt reads {var}")

for stage in ("build", "runtime"):
    print(f"packages {stage}: {' '.join(stages[stage])}")
sys.exit(min(fails, 100))
