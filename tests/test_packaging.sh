# test_packaging.sh: the container recipes (packaging/Dockerfile, packaging/mn.def) and the
# Spack recipes (packaging/spack/) checked as far as this machine allows: it has no Docker
# daemon, no Apptainer, no Spack and no network but Debian's archive, so no image is built
# and no spec concretized (docs/install.md says so). tests/packaging_recipes.py reads the
# files: the recipes' cmake commands are docs/install.md's, they copy every part of the tree
# the build reads, both install the same packages per stage and the build stage has
# setup.sh's, the images are CUDA's devel then runtime, the Spack recipes parse and depend
# on a package for every library CMakeLists.txt finds. Here, with apt and dpkg: every
# package name exists (apt-cache show), and every library that an install of this build
# needs comes from a package of the run-time stage or one it depends on, the base image's C
# and C++ run-time, or CUDA's libraries.
. "$MN_SRC/tests/lib.sh"

python3 "$MN_SRC/tests/packaging_recipes.py" "$MN_SRC" >"$MN_TMP/recipes.out" 2>&1
rc=$?
grep -E '^(ok|FAIL):' "$MN_TMP/recipes.out"
[ "$rc" -eq 0 ] || fail "tests/packaging_recipes.py: $rc check(s) failed"
build_pkgs=$(sed -n 's/^packages build: //p' "$MN_TMP/recipes.out")
runtime_pkgs=$(sed -n 's/^packages runtime: //p' "$MN_TMP/recipes.out")
[ -n "$build_pkgs" ] && [ -n "$runtime_pkgs" ] || {
  fail "no package lists from tests/packaging_recipes.py"
  sed 's/^/  | /' "$MN_TMP/recipes.out" >&2
}

# every package name is one the archive knows (Debian 12's here: see docs/install.md)
if command -v apt-cache >/dev/null; then
  unknown=""
  for p in $build_pkgs $runtime_pkgs; do
    apt-cache show "$p" >/dev/null 2>&1 || unknown="$unknown $p"
  done
  [ -z "$unknown" ] && pass "apt-cache knows every package of both stages" ||
    fail "apt-cache does not know:$unknown"
else
  echo "note: no apt-cache here: the package names are not checked"
fi

# the run-time stage has every library that the installed programs and libmn need: in its
# packages or those they depend on (apt installs them too)
if [ "${MN_SANITIZE:-OFF}" = ON ]; then
  # (linked with the sanitizers' run-time and, as gcc drops --as-needed with them, with
  # every library HDF5 names: not the build the images make)
  echo "note: a sanitizer build: the run-time stage's libraries are checked in the plain build"
elif command -v dpkg >/dev/null; then
  # shellcheck disable=SC2086
  closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances $runtime_pkgs 2>/dev/null | grep -v '^ ' | sort -u)
  P="$MN_TMP/prefix"
  cmake --install "$MN_BIN/.." --prefix "$P" >"$MN_TMP/install.log" 2>&1 || fail "cmake --install"
  base="libc6 libgcc-s1 libstdc++6" # in every Ubuntu base image
  for elf in "$P"/bin/* "$P"/lib*/libmn.so.*.* "$P"/lib*/libmn_cuda.so; do
    [ -f "$elf" ] || continue
    for so in $(readelf -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      case "$so" in
        libmn.so.*) continue ;;                                       # the install's own
        ld-linux*.so.*) continue ;;                                   # (libc6: the loader)
        libcudart.so.* | libcublas*.so.* | libnccl.so.*) continue ;; # CUDA's runtime image
      esac
      at=$(ldd "$elf" | awk -v s="$so" '$1 == s { print $3; exit }')
      pkg=""
      for f in "$at" "$(realpath -m "$at")"; do
        for g in "$f" "${f#/usr}"; do
          [ -n "$pkg" ] || pkg=$(dpkg -S "$g" 2>/dev/null | head -n 1 | cut -d: -f1)
        done
      done
      case " $runtime_pkgs $base $(echo $closure) " in
        *" $pkg "*) ;;
        *) fail "${elf##*/} needs $so ($at, package '${pkg:-none}'), not in the run-time stage" ;;
      esac
      echo "$so $pkg" >>"$MN_TMP/needed"
    done
  done
  n=$(sort -u "$MN_TMP/needed" 2>/dev/null | wc -l)
  [ "$n" -gt 0 ] && pass "the run-time stage holds the $n libraries the install needs" ||
    fail "no library of the install was resolved"
else
  echo "note: no dpkg here: the run-time stage's libraries are not checked"
fi

finish
