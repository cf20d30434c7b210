# test_install.sh: mn as a user of an installed copy gets it (docs/install.md). This build is
# installed (`cmake --install`) into a scratch prefix; the installed programs run from there
# with no LD_LIBRARY_PATH (their RUNPATH), mnrun trains 2 ranks with them (and runs a program
# on 2, `mnrun -- PROGRAM`, through the installed mnrank); and a program of one's own
# (tests/install_consumer) is built against the prefix alone, with find_package(mn) and with
# pkg-config, each against libmn.so and libmn.a, and run: it checks that the library's
# version is its headers'. Every installed public header compiles on its own with
# only mn.pc's flags.
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
