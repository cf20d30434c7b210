# test_install.sh: mn as a user of an installed copy gets it (docs/install.md). This build is
# installed (`cmake --install`) into a scratch prefix; the installed programs run from there
# with no LD_LIBRARY_PATH (their RUNPATH), mnrun trains 2 ranks with them (and runs a program
# on 2, `mnrun -- PROGRAM`, through the installed mnrank); and a program of one's own
# (tests/install_consumer) is built against the prefix alone, with find_package(mn) and with
# pkg-config, each against libmn.so and libmn.a, and run: it checks that the library's
# version is its headers'. None of the four links or loads a CUDA library, even where the
# build has the CUDA back end (libmn_cuda, which the installed programs open when asked for
# a GPU). Every installed public header compiles on its own with only mn.pc's flags.
. "$MN_SRC/tests/lib.sh"

build=$(cd "$MN_BIN/.." && pwd) # the build tree this ctest runs in (MN_BIN is its bin/)
P="$MN_TMP/prefix"
unset LD_LIBRARY_PATH CMAKE_PREFIX_PATH PKG_CONFIG_PATH

# the install
if cmake --install "$build" --prefix "$P" >"$MN_TMP/install.log" 2>&1; then
  pass "cmake --install into $P"
else
  fail "cmake --install"
  sed 's/^/  | /' "$MN_TMP/install.log" >&2
  finish
fi
pc=$(find "$P" -path '*/pkgconfig/mn.pc' | head -n 1)
libdir=$(dirname "$(dirname "$pc")") # P/lib, or P/lib64 where GNUInstallDirs says so
for f in "$pc" "$libdir/cmake/mn/mnConfig.cmake" "$libdir/cmake/mn/mnConfigVersion.cmake" \
  "$libdir/libmn.a" "$P/share/doc/mn/install.md"; do
  [ -f "$f" ] && pass "installed: ${f#"$P"/}" || fail "not installed: ${f#"$P"/}"
done
soname=$(readelf -d "$libdir/libmn.so" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
major=$(sed -n 's/^#define MN_VERSION_MAJOR \([0-9]*\)/\1/p' "$MN_SRC/include/mn/version.h")
[ "$soname" = "libmn.so.$major" ] && pass "libmn.so's SONAME is $soname" ||
  fail "libmn.so's SONAME is '$soname', not libmn.so.$major"
for h in "$MN_SRC"/include/mn/*.h; do
  [ -f "$P/include/mn/${h##*/}" ] || fail "public header mn/${h##*/} not installed"
done

# the programs, from the prefix: libmn from the prefix, never from the build tree
for prog in mnrun mnrank mntrain mnprep mninfo mneval mngen mnbench; do
  exe="$P/bin/$prog"
  [ -x "$exe" ] || {
    fail "$prog not installed"
    continue
  }
  at=$(ldd "$exe" | awk '$1 ~ /^libmn\.so/ { print $3 }')
  [ "$(realpath "$at")" = "$(realpath "$libdir/libmn.so.$major")" ] ||
    fail "$prog loads libmn from '$at', not $libdir"
  ldd "$exe" | grep -q 'not found' && fail "$prog: $(ldd "$exe" | grep 'not found')"
  readelf -d "$exe" | grep -q "R.*PATH.*$build" && fail "$prog: RUNPATH names the build tree"
  expect_exit 0 "installed $prog --version" "$exe" --version
done
readelf -d "$libdir/libmn.so" | grep -q "R.*PATH.*$build" && fail "libmn.so: RUNPATH names the build tree"
if [ "${MN_HAVE_CUDA:-OFF}" = ON ]; then
  [ -f "$libdir/libmn_cuda.so" ] && pass "installed: the CUDA back end, libmn_cuda.so" ||
    fail "libmn_cuda.so not installed"
fi

# the installed mnrun trains 2 ranks (its mntrain next to it)
small_run 200 0 1
expect_exit 0 "installed mnrun -np 2 trains" "$P/bin/mnrun" -np 2 "$MN_TMP/t.conf" \
  --metrics "$MN_TMP/m.jsonl"
[ "$(json_field "$MN_TMP/m.jsonl" summary world)" = 2 ] && pass "its summary says world 2" ||
  fail "no summary of a world-2 run in $MN_TMP/m.jsonl"
# and runs a program of one's own on 2 ranks (its mnrank next to it)
expect_exit 0 "installed mnrun -np 2 -- PROGRAM" "$P/bin/mnrun" -np 2 -- sh -c 'echo "rank $RANK"'
[ "$(sort "$MN_TMP/out" | tr '\n' ' ')" = "rank 0 rank 1 " ] && pass "both ranks ran the program" ||
  fail "installed mnrun -- PROGRAM printed: $(cat "$MN_TMP/out")"
if [ "${MN_HAVE_CUDA:-OFF}" = ON ]; then
  # asked for a GPU, the installed mntrain opens the installed back end (and finds no GPU)
  expect_exit 69 "installed mntrain --set compute.device=gpu (no GPU here)" "$P/bin/mntrain" \
    --set compute.device=gpu --set log.level=debug "$MN_TMP/t.conf"
  at=$(sed -n 's/.*debug: CUDA back end: //p' "$MN_TMP/err")
  [ -n "$at" ] && [ "$(realpath "$at")" = "$(realpath "$libdir/libmn_cuda.so")" ] &&
    pass "it opened the installed libmn_cuda.so" || fail "it opened '$at', not $libdir/libmn_cuda.so"
fi

# a program of one's own: find_package(mn), against the prefix alone
consumer="$MN_SRC/tests/install_consumer"
if cmake -S "$consumer" -B "$MN_TMP/consumer" -DCMAKE_PREFIX_PATH="$P" \
  -DCMAKE_BUILD_TYPE=Release >"$MN_TMP/consumer.log" 2>&1 &&
  cmake --build "$MN_TMP/consumer" >>"$MN_TMP/consumer.log" 2>&1; then
  pass "find_package(mn): consumer configured and built"
  expect_exit 0 "find_package(mn): consumer runs (libmn.so)" "$MN_TMP/consumer/consumer"
  expect_exit 0 "find_package(mn): consumer runs (libmn.a)" "$MN_TMP/consumer/consumer_static"
  grep -q "NEEDED.*libmn\.so" < <(readelf -d "$MN_TMP/consumer/consumer_static") &&
    fail "consumer_static needs libmn.so"
else
  fail "find_package(mn): consumer"
  sed 's/^/  | /' "$MN_TMP/consumer.log" >&2
fi

# the same with pkg-config and the plain C compiler
export PKG_CONFIG_PATH="$libdir/pkgconfig"
version=$(sed -n 's/^#define MN_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)/\2/p' \
  "$MN_SRC/include/mn/version.h" | paste -sd.)
[ "$(pkg-config --modversion mn)" = "$version" ] && pass "pkg-config: mn $version" ||
  fail "pkg-config --modversion mn: '$(pkg-config --modversion mn)', want $version"
cc=${CC:-cc}
# shellcheck disable=SC2046 # (word splitting of pkg-config's flags wanted)
expect_exit 0 "pkg-config: consumer built against libmn.so" "$cc" -o "$MN_TMP/pc_consumer" \
  "$consumer/main.c" $(pkg-config --cflags --libs mn) -Wl,-rpath,"$(pkg-config --variable=libdir mn)"
expect_exit 0 "pkg-config: consumer runs" "$MN_TMP/pc_consumer"
# every object of libmn.a, with --static's libraries: every symbol they need must resolve
libs=$(pkg-config --static --libs mn)
[[ " $libs " == *" -lmn "* ]] || fail "pkg-config --static --libs mn lacks -lmn: $libs"
libs=${libs/-lmn /-Wl,--whole-archive -l:libmn.a -Wl,--no-whole-archive }
# shellcheck disable=SC2046,SC2086
expect_exit 0 "pkg-config --static: consumer built against all of libmn.a" "$cc" \
  -o "$MN_TMP/pc_consumer_static" "$consumer/main.c" $(pkg-config --cflags mn) $libs
expect_exit 0 "pkg-config --static: consumer runs" "$MN_TMP/pc_consumer_static"

# a program linked with libmn.a, asking for the CUDA kernels (mn_kernels.h's entry, internal),
# opens the back end in ../lib from where the program is (started through PATH, so that its
# argv[0] names no directory)
if [ "${MN_HAVE_CUDA:-OFF}" = ON ]; then
  printf '%s\n' '#include <stdio.h>' 'const void *mn_kernels_cuda(void);' \
    'int main(void) { puts(mn_kernels_cuda() ? "a GPU" : "no GPU"); return 0; }' \
    >"$MN_TMP/gpu_static.c"
  # shellcheck disable=SC2086
  "$cc" -o "$P/bin/gpu_static" "$MN_TMP/gpu_static.c" "$libdir/libmn.a" \
    $(pkg-config --static --libs mn | sed 's/-lmn //') || fail "gpu_static: link"
  expect_exit 0 "a program linked with libmn.a asks for a GPU" \
    env LD_DEBUG=files PATH="$P/bin:$PATH" gpu_static
  expect_err "file=$P/bin/\.\./lib/libmn_cuda\.so" "it opened $P/lib/libmn_cuda.so"
  rm -f "$P/bin/gpu_static"
fi

# the CPU-only link: no consumer links or loads a CUDA library
for exe in consumer/consumer consumer/consumer_static pc_consumer pc_consumer_static; do
  [ -x "$MN_TMP/$exe" ] || continue
  cuda=$(ldd "$MN_TMP/$exe" | grep -oE '(libcuda|libcudart|libcublas|libnccl)[^ ]*' | tr '\n' ' ')
  [ -z "$cuda" ] && pass "$exe: no CUDA library (ldd)" || fail "$exe loads $cuda"
done
cuda=$(grep -ohE '[^ ]*(cudart|cublas|nccl)[^ ]*' "$MN_TMP/consumer/CMakeFiles/"*/link.txt \
  <(pkg-config --static --libs mn) | tr '\n' ' ')
[ -z "$cuda" ] && pass "no CUDA library on the consumers' link lines" || fail "link lines name $cuda"

# each public header on its own, with mn.pc's flags only, as C and (extern "C") as C++
for h in "$P"/include/mn/*.h; do
  name="mn/${h##*/}"
  # shellcheck disable=SC2046
  expect_exit 0 "$name compiles alone (C)" "$cc" -fsyntax-only -Wall -Wextra -Werror \
    -std=c11 $(pkg-config --cflags mn) -x c - <<<"#include <$name>"
  if command -v c++ >/dev/null; then
    # shellcheck disable=SC2046
    expect_exit 0 "$name compiles alone (C++)" c++ -fsyntax-only -Wall -Werror \
      $(pkg-config --cflags mn) -x c++ - <<<"#include <$name>"
  fi
done

finish
