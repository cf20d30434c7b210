# test_site_build.sh: mn built as a site builds it from its own modules, without setup.sh
# (docs/install.md, "On a cluster"). A fresh build directory is configured by plain cmake in
# a bare environment (PATH and HOME only), CPU only, every dependency given by the standard
# variable a site's module sets: MPI_HOME for MPI, HDF5_ROOT for HDF5, CMAKE_PREFIX_PATH for
# the others (found there through pkg-config, or by find_path/find_library). The "modules"
# are prefixes of links, made here, to what this tree's own build found (its CMakeCache.txt),
# and pkg-config's default search path is emptied (PKG_CONFIG_LIBDIR), so that a dependency
# found at all was found through those variables, which the test checks in the new cache.
# Then libmn and mntrain are built, mntrain runs (--version, and trains one rank) and the
# CPU-only libmn.so needs no CUDA library. About a minute on 2 cores.
. "$MN_SRC/tests/lib.sh"

cache="$MN_BIN/../CMakeCache.txt"
cache_get() { sed -n "s|^$1:[A-Z]*=||p" "$2"; }
site="$MN_TMP/site"
mkdir -p "$site" "$MN_TMP/empty"

# link_module NAME SUBDIR FILE...: FILEs linked into $site/NAME/SUBDIR
link_module() {
  local name=$1 sub=$2
  shift 2
  mkdir -p "$site/$name/$sub"
  for f in "$@"; do ln -sf "$f" "$site/$name/$sub/"; done
}

# MPI: its compiler wrapper and launcher, as in a module's bin/
mpicc=$(cache_get MPI_C_COMPILER "$cache")
mpiexec=$(cache_get MPIEXEC_EXECUTABLE "$cache")
[ -x "$mpicc" ] || {
  echo "SKIP: this build found MPI without a compiler wrapper (MPI_C_COMPILER='$mpicc')"
  exit 77
}
mkdir -p "$site/mpi/bin"
ln -sf "$mpicc" "$site/mpi/bin/mpicc"
[ -n "$mpiexec" ] && ln -sf "$mpiexec" "$site/mpi/bin/mpiexec"
# HDF5: its headers and library, as include/ and lib/ of a prefix
# (the directory of hdf5.h: among the include directories libmn's sources were compiled with)
hdf5_inc=""
for d in $(sed -n 's/^C_INCLUDES = //p' "$MN_BIN/../CMakeFiles/mn_runtime.dir/flags.make" |
  tr ' ' '\n' | sed -n 's/^-I//p; /^\//p'); do
  [ -f "$d/hdf5.h" ] && hdf5_inc=$d && break
done
hdf5_lib=$(cache_get HDF5_C_LIBRARY_hdf5 "$cache")
[ -n "$hdf5_inc" ] && [ -f "$hdf5_lib" ] || fail "this build's HDF5 (hdf5.h in '$hdf5_inc', '$hdf5_lib')"
link_module hdf5 include "$hdf5_inc"/*.h
link_module hdf5 lib "$(dirname "$hdf5_lib")"/libhdf5*.so*
# libcsv: found by find_path and find_library
link_module libcsv include "$(cache_get LIBCSV_INCLUDE_DIR "$cache")/csv.h"
link_module libcsv lib "$(cache_get LIBCSV_LIBRARY "$cache")"
prefixes="$site/libcsv"
# the pkg-config modules of CMakeLists.txt, each a prefix with its .pc file (and those of the
# modules it requires)
modules=$(grep -o 'pkg_check_modules([A-Z_]* REQUIRED IMPORTED_TARGET [a-z0-9_.-]*' \
  "$MN_SRC/CMakeLists.txt" | awk '{ print $4 }')
[ -n "$modules" ] || fail "no pkg_check_modules in CMakeLists.txt"
for m in $modules; do
  todo=("$m")
  while ((${#todo[@]})); do
    dep=${todo[0]}
    todo=("${todo[@]:1}")
    [ -e "$site/$m/lib/pkgconfig/$dep.pc" ] && continue
    link_module "$m" lib/pkgconfig "$(pkg-config --variable=pcfiledir "$dep")/$dep.pc"
    todo+=($(pkg-config --print-requires --print-requires-private "$dep" | awk '{ print $1 }'))
  done
  prefixes="$prefixes;$site/$m"
done

# the configure, in a bare environment: PATH (the directories of cmake, the compiler and
# pkg-config, which include the system's own mpicc and h5cc: the variables must win) and HOME
path=""
for tool in cmake cc make pkg-config; do
  d=$(dirname "$(command -v "$tool")")
  case ":$path:" in *":$d:"*) ;; *) path="${path:+$path:}$d" ;; esac
done
build="$MN_TMP/build"
bare=(env -i PATH="$path" HOME="$MN_TMP" PKG_CONFIG_LIBDIR="$MN_TMP/empty")
if "${bare[@]}" cmake -S "$MN_SRC" -B "$build" -DCMAKE_BUILD_TYPE=Release -DMN_CUDA=OFF \
  -DMPI_HOME="$site/mpi" -DHDF5_ROOT="$site/hdf5" -DCMAKE_PREFIX_PATH="$prefixes" \
  >"$MN_TMP/configure.log" 2>&1; then
  pass "configured with MPI_HOME, HDF5_ROOT and CMAKE_PREFIX_PATH only"
else
  fail "configure"
  tail -n 30 "$MN_TMP/configure.log" | sed 's/^/  | /' >&2
  finish
fi
new="$build/CMakeCache.txt"
[ "$(cache_get MPI_C_COMPILER "$new")" = "$site/mpi/bin/mpicc" ] &&
  pass "MPI from MPI_HOME" || fail "MPI_C_COMPILER is $(cache_get MPI_C_COMPILER "$new")"
# (FindHDF5 caches the library it found as HDF5_C_LIBRARY_hdf5 through h5cc, else as
# HDF5_hdf5_LIBRARY_RELEASE)
found=$(cache_get HDF5_C_LIBRARY_hdf5 "$new")
found=${found:-$(cache_get HDF5_hdf5_LIBRARY_RELEASE "$new")}
case "$found" in
  "$site/hdf5/"*) pass "HDF5 from HDF5_ROOT" ;;
  *) fail "HDF5's library is '$found', not under HDF5_ROOT" ;;
esac
[ "$(cache_get LIBCSV_INCLUDE_DIR "$new")" = "$site/libcsv/include" ] &&
  pass "libcsv from CMAKE_PREFIX_PATH" || fail "csv.h found in $(cache_get LIBCSV_INCLUDE_DIR "$new")"
grep -q '^-- mn: CUDA OFF' "$MN_TMP/configure.log" && pass "a CPU-only build" ||
  fail "configure did not say 'mn: CUDA OFF'"
# (with pkg-config's own path empty, each module came from CMAKE_PREFIX_PATH)

if "${bare[@]}" cmake --build "$build" --target mntrain -j 2 >"$MN_TMP/build.log" 2>&1; then
  pass "libmn and mntrain built"
else
  fail "build"
  grep -E 'error|Error' "$MN_TMP/build.log" | head -n 20 | sed 's/^/  | /' >&2
  finish
fi
expect_exit 0 "mntrain --version" "$build/bin/mntrain" --version
grep -q "mntrain $(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$new")" "$MN_TMP/out" &&
  pass "it says its version" || fail "mntrain --version said: $(cat "$MN_TMP/out")"
small_run 100 0 1
expect_exit 0 "mntrain trains one rank" "$build/bin/mntrain" "$MN_TMP/t.conf"
cuda=$(ldd "$build/lib/libmn.so" | grep -E 'libcuda|libcublas|libnccl')
[ -z "$cuda" ] && pass "libmn.so needs no CUDA library" || fail "libmn.so loads $cuda"

finish
