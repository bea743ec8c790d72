#!/usr/bin/env bash
# ONNX Runtime's Java API on a desktop JVM, for testing the demo's core off-device (tests/test_android_core.py).
#
#   android_demo/tools/build_ort_java.sh OUT_DIR [LIBONNXRUNTIME_SO]
#
# Maven Central is out of reach from our machines, so the Java API is built from source: Debian's ORT 1.21
# source tarball (its java/ sources and JNI C files) compiled with javac/gcc and linked against a given
# libonnxruntime.so — by default the one inside the installed `onnxruntime` wheel, so the JVM runs the very
# runtime the Python side runs. The Java API has been stable since 1.14 (OrtApi version 14 is all it asks for).
# Writes OUT_DIR/classes (the ai.onnxruntime classes) and OUT_DIR/native (the JNI library next to a link to
# libonnxruntime), used as: java -Donnxruntime.native.path=OUT_DIR/native -cp OUT_DIR/classes:...
# About 10 s; does nothing when OUT_DIR is already built for the same library.
set -euo pipefail

OUT=${1:?usage: build_ort_java.sh OUT_DIR [LIBONNXRUNTIME_SO]}
LIB=${2:-$(python -c "import glob, onnxruntime, os; print(glob.glob(os.path.dirname(onnxruntime.__file__) + '/capi/libonnxruntime.so.*')[0])")}
TARBALL_URL=http://deb.debian.org/debian/pool/main/o/onnxruntime/onnxruntime_1.21.0%2bdfsg.orig.tar.xz
TARBALL_SHA256=32df1f82bd6b07b18372c0f387133214905cbde7a586b3ad83f0ed0075f80273
CACHE=${ORT_JAVA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bert-edge}

LIB=$(readlink -f "$LIB")
[ -f "$LIB" ] || { echo "error: $LIB not found" >&2; exit 2; }
if [ -f "$OUT/native/libonnxruntime4j_jni.so" ] && [ "$(cat "$OUT/built-for" 2>/dev/null)" = "$LIB" ]; then
    exit 0
fi
for tool in javac gcc curl; do
    command -v $tool >/dev/null || { echo "error: $tool not found (.ci/run installs a JDK and gcc)" >&2; exit 2; }
done

tarball=$CACHE/onnxruntime_1.21.0+dfsg.orig.tar.xz
mkdir -p "$CACHE"
if ! echo "$TARBALL_SHA256  $tarball" | sha256sum --check --status 2>/dev/null; then
    curl --fail --silent --show-error --location --retry 3 -o "$tarball.part" "$TARBALL_URL"
    mv "$tarball.part" "$tarball"
    echo "$TARBALL_SHA256  $tarball" | sha256sum --check --status || { echo "error: $tarball: sha256 differs" >&2; exit 2; }
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src=$work/onnxruntime-1.21.0
tar -xJf "$tarball" -C "$work" onnxruntime-1.21.0/java/src/main onnxruntime-1.21.0/include \
    onnxruntime-1.21.0/orttraining/orttraining/training_api/include/onnxruntime_training_c_api.h
mkdir -p "$work/classes" "$work/headers" "$work/native"
javac -nowarn -encoding UTF-8 --release 8 -d "$work/classes" -h "$work/headers" \
    $(find "$src/java/src/main/java" "$src/java/src/main/jvm" -name '*.java') 2>/dev/null
# CMake generates this header in ORT's own build; the JNI code reads only these two macros from it.
printf '#pragma once\n#define HAS_REALLOCARRAY\n#define ORT_VERSION "1.21.0"\n' > "$work/headers/onnxruntime_config.h"
java_home=$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")
gcc -O2 -shared -fPIC -w -I"$java_home/include" -I"$java_home/include/linux" -I"$work/headers" -I"$src/include" \
    -I"$src/include/onnxruntime/core/session" -I"$src/orttraining/orttraining/training_api/include" \
    "$src"/java/src/main/native/*.c "$LIB" -Wl,-rpath,'$ORIGIN' -o "$work/native/libonnxruntime4j_jni.so"
# The Java loader loads libonnxruntime.so from the native path; the JNI library asks for its soname.
soname=$(objdump -p "$LIB" | awk '/SONAME/ {print $2}')
ln -s "$LIB" "$work/native/libonnxruntime.so"
[ -n "$soname" ] && [ "$soname" != libonnxruntime.so ] && ln -s "$LIB" "$work/native/$soname"
echo "$LIB" > "$work/built-for"
rm -rf "$OUT" && mkdir -p "$(dirname "$OUT")" && mv "$work" "$OUT" && trap - EXIT
rm -rf "$OUT/onnxruntime-1.21.0" "$OUT/headers"
