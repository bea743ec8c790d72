#!/usr/bin/env bash
# Self-check bundles on ONNX Runtime's arm64 (aarch64) kernels, on an x86_64 Linux machine, under emulation.
#
#   benchmarks/arm64_selfcheck.sh [--probes N] BUNDLE [BUNDLE ...]
#
# For each bundle it runs the repo's torch-free runtime, `python -m runtime_py BUNDLE --self-check [--probes N]`,
# in an arm64 Python 3.11 under qemu-user, with the aarch64 wheels of the onnxruntime, numpy and tokenizers that
# constraints.txt pins, and prints one line per bundle: PASS or FAIL, the min cosine to golden.json's fp32
# reference (and the min bundle.json requires), and the max abs diff to the exporter's own x86 outputs.
# --probes N replays only golden.json's first N probes ("" and "Hi" for N=2). A subset's padded batch is not the
# exporter's batch of all 12, so its diff to the x86 outputs is not 0 even on x86 (MiniLM-L6, --probes 2: 2.2e-2
# on x86 itself); only a full replay isolates what ARM's kernels change. A one-output model (a cross-encoder) is
# held to its scores' concordance across all its probes, so the runtime refuses --probes for it: replay it whole.
#
# How long: the first run sets up from the package registries (about 145 MB: qemu-user 10 from Debian trixie, as
# bookworm's qemu 7.2 segfaults in ORT's cpuinfo; Python 3.11 and its libraries from Debian bookworm arm64,
# unpacked with dpkg-deb, nothing installed; the wheels with pip --platform): 20 s on a fast mirror, minutes on a
# slow link. Cached in ${BERT_EDGE_CACHE:-$HOME/.cache/bert-edge}/arm64/ (about 210 MB) and reused; each part
# counts only once its .complete marker is written, so an interrupted setup is redone, never used. apt runs with
# its own temporary sources list, lists, status and cache: the machine's apt configuration is left alone, and
# `dpkg --add-architecture` is not needed. Then, on 2 x86 cores: --probes 2 on a MiniLM-L6 bundle about 5 s; the
# full 12-probe replay of a MiniLM-L6 bundle 55-56 s on an AMD EPYC (docs/measurements.md; minutes on slower
# hosts); a tiny test bundle, seconds.
# Needs: bash, apt-get, dpkg-deb, flock, python3 with pip (only to download wheels), Debian's archive keyring.
#
# Emulated timings mean nothing: only the outputs count. The wall time shown is for planning runs, not speed.
# qemu emulates its "max" CPU (every extension qemu implements: dotprod, i8mm, SVE2, SME...), so ORT takes its newest
# kernels; QEMU_CPU=cortex-a53 (or cortex-a76, cortex-a710, neoverse-n1...) emulates an older core and passes
# through to qemu. On the tiny test bundle only "max" moved the outputs off x86's (9e-5; the others: 2e-7).
#
# Exit codes: 0 every bundle passed; 1 a self-check failed (or the runtime could not run a bundle); 2 bad usage;
# 3 the setup failed (its last line says where; the whole log is setup.log in the cache folder).
# Environment: BERT_EDGE_CACHE, BERT_EDGE_DEBIAN_MIRROR (default http://deb.debian.org/debian), PYTHON (the host
# Python that runs pip; default python3), QEMU_CPU.

set -euo pipefail

USAGE="usage: benchmarks/arm64_selfcheck.sh [--probes N] BUNDLE [BUNDLE ...]"
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${BERT_EDGE_CACHE:-$HOME/.cache/bert-edge}/arm64
MIRROR=${BERT_EDGE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
HOST_PYTHON=${PYTHON:-python3}
# The arm64 root: Python 3.11 and what its extension modules, ORT, numpy and tokenizers load (bookworm, arm64).
ROOT_PACKAGES=(
    python3.11-minimal libpython3.11-minimal libpython3.11-stdlib python3.11 libc6 libexpat1 zlib1g libffi8 libssl3
    libstdc++6 libgcc-s1 libbz2-1.0 liblzma5 libsqlite3-0 libncursesw6 libtinfo6 libreadline8 libuuid1 libcrypt1
    libnsl2 libtirpc3 libdb5.3 libgssapi-krb5-2 libkrb5-3 libk5crypto3 libcom-err2 libkrb5support0 libkeyutils1
    media-types
)

usage_error() {
    echo "error: $1 ($USAGE)" >&2
    exit 2
}

setup_error() {
    echo "error: arm64 setup failed: $1" >&2
    exit 3
}

# --- arguments -------------------------------------------------------------------------------------------------

probes=""
bundles=()
while (($#)); do
    case $1 in
        --probes) (($# >= 2)) || usage_error "--probes needs a number"; probes=$2; shift 2 ;;
        --probes=*) probes=${1#--probes=}; shift ;;
        -h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
        --) shift; bundles+=("$@"); break ;;
        -*) usage_error "unknown option $1" ;;
        *) bundles+=("$1"); shift ;;
    esac
done
[[ -z $probes || $probes =~ ^[1-9][0-9]*$ ]] ||
    usage_error "--probes must be a whole number of at least 1, not '$probes'"
((${#bundles[@]})) || usage_error "give at least one bundle folder"
for i in "${!bundles[@]}"; do
    [[ -f ${bundles[i]}/bundle.json ]] || usage_error "not a bundle folder (no bundle.json): ${bundles[i]}"
    bundles[i]=$(cd "${bundles[i]}" && pwd)
done
[[ $(uname -s) == Linux && $(uname -m) == x86_64 ]] ||
    usage_error "runs on x86_64 Linux only; on arm64 run python -m runtime_py BUNDLE --self-check natively"

pin() {  # pin NAME: its version in constraints.txt
    local version
    version=$(sed -n "s/^$1==\([^[:space:];#]*\).*/\1/Ip" "$REPO/constraints.txt" 2>/dev/null | head -n 1)
    [[ -n $version ]] || setup_error "no '$1==VERSION' line in $REPO/constraints.txt (the aarch64 wheels take its pins)"
    echo "$version"
}
ORT_VERSION=$(pin onnxruntime)
NUMPY_VERSION=$(pin numpy)
TOKENIZERS_VERSION=$(pin tokenizers)

# --- setup: three parts, each built in a .partial folder, marked complete, then renamed into place --------------

QEMU_DIR=$CACHE/qemu
ROOT_DIR=$CACHE/root
SITE_DIR=$CACHE/site-onnxruntime$ORT_VERSION-numpy$NUMPY_VERSION-tokenizers$TOKENIZERS_VERSION
QEMU=$QEMU_DIR/qemu-aarch64
LOG=$CACHE/setup.log

complete() { [[ -f $1/.complete ]]; }

logged() {  # logged WHAT COMMAND...: its output goes to the log; on failure, the log's tail and exit 3
    local what=$1
    shift
    echo "+ $*" >>"$LOG"
    if ! "$@" >>"$LOG" 2>&1; then
        tail -n 15 "$LOG" >&2
        setup_error "$what (log: $LOG)"
    fi
}

apt_tmp() {  # apt_tmp DIR ARCH SUITE: a throwaway apt state in DIR for one Debian suite and architecture
    local dir=$1 arch=$2 suite=$3
    mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/sources.list.d" "$dir/preferences.d" "$dir/debs"
    : >"$dir/status"
    echo "deb [arch=$arch signed-by=$KEYRING] $MIRROR $suite main" >"$dir/sources.list"
    APT=(apt-get -q -o "Dir::Etc::sourcelist=$dir/sources.list" -o "Dir::Etc::sourceparts=$dir/sources.list.d"
        -o "Dir::Etc::preferencesparts=$dir/preferences.d" -o "Dir::Etc::preferences=$dir/preferences"
        -o "Dir::State::Lists=$dir/lists" -o "Dir::State::status=$dir/status" -o "Dir::Cache=$dir/cache"
        -o "APT::Architecture=$arch" -o "APT::Architectures::=$arch" -o "APT::Sandbox::User=root")
    logged "reading Debian $suite's $arch package lists from $MIRROR" "${APT[@]}" update
}

download() {  # download DIR PACKAGE...: the .debs into DIR/debs (after apt_tmp DIR)
    local dir=$1
    shift
    (cd "$dir/debs" && logged "downloading $*" "${APT[@]}" download "$@")
}

build_qemu() {
    local dir=$1
    apt_tmp "$dir/apt" amd64 trixie
    download "$dir/apt" qemu-user
    logged "unpacking qemu-user" dpkg-deb -x "$dir"/apt/debs/qemu-user_*.deb "$dir/unpacked"
    install -m 755 "$dir/unpacked/usr/bin/qemu-aarch64" "$dir/qemu-aarch64"
    dpkg-deb -f "$dir"/apt/debs/qemu-user_*.deb Version >"$dir/version"
    rm -rf "$dir/apt" "$dir/unpacked"
    logged "running qemu-aarch64 --version" "$dir/qemu-aarch64" --version
}

build_root() {
    local dir=$1 deb
    apt_tmp "$dir/.apt" arm64 bookworm
    download "$dir/.apt" "${ROOT_PACKAGES[@]}"
    for deb in "$dir"/.apt/debs/*.deb; do
        logged "unpacking $(basename "$deb")" dpkg-deb -x "$deb" "$dir"
        dpkg-deb -f "$deb" Package Version | paste -sd ' ' >>"$dir/.packages"
    done
    rm -rf "$dir/.apt"
    logged "starting the arm64 Python under qemu" "$QEMU" -L "$dir" "$dir/usr/bin/python3.11" -c "import ssl, sqlite3"
}

build_site() {
    local dir=$1 glibc platforms=()
    # every manylinux tag up to the root's glibc 2.36, one by one (pip 23 let manylinux_2_36 not cover 2_28)
    for glibc in {17..36}; do
        platforms+=(--platform "manylinux_2_${glibc}_aarch64")
    done
    logged "downloading the aarch64 wheels" \
        "$HOST_PYTHON" -m pip install --disable-pip-version-check --no-input --no-compile --no-deps --target "$dir" \
        --platform manylinux2014_aarch64 "${platforms[@]}" --only-binary=:all: \
        --python-version 3.11 --implementation cp \
        "onnxruntime==$ORT_VERSION" "numpy==$NUMPY_VERSION" "tokenizers==$TOKENIZERS_VERSION"
    # Import them under emulation (this also fills the shared bytecode cache) and check the versions.
    logged "importing the wheels under qemu" run_arm64 "$dir" -c "
import numpy, onnxruntime, tokenizers
got = (onnxruntime.__version__, numpy.__version__, tokenizers.__version__)
assert got == ('$ORT_VERSION', '$NUMPY_VERSION', '$TOKENIZERS_VERSION'), got
print('arm64 wheels', got, onnxruntime.get_available_providers())"
}

build() {  # build NAME_DIR FUNCTION WHAT
    local final=$1 function=$2 what=$3 partial=$1.partial
    echo "arm64 setup: $what ..." >&2
    rm -rf "$partial"
    mkdir -p "$partial"
    "$function" "$partial"
    date -u +%FT%TZ >"$partial/.complete"
    rm -rf "$final"
    mv "$partial" "$final"
}

run_arm64() {  # run_arm64 SITE ARGS...: the arm64 Python 3.11 with the wheels in SITE and this repo importable
    # bytecode goes to the cache (compiling under emulation is slow), never into the repo or the site folder
    env -u PYTHONHOME -u PYTHONSTARTUP -u PYTHONDONTWRITEBYTECODE -u LD_PRELOAD -u LD_LIBRARY_PATH \
        PYTHONPATH="$1:$REPO" PYTHONNOUSERSITE=1 PYTHONPYCACHEPREFIX="$CACHE/pycache" \
        "$QEMU" -L "$ROOT_DIR" "$ROOT_DIR/usr/bin/python3.11" "${@:2}"
}

ready() { complete "$QEMU_DIR" && complete "$ROOT_DIR" && complete "$SITE_DIR"; }

setup_exit() {  # any other failure in the setup (set -e) ends as one too: a one-line error and exit 3
    local code=$?
    ((code == 0 || code == 3)) || setup_error "exit $code (log: $LOG)"
}

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock -s 9 # runs share the cache; a setup takes it alone
if ! ready; then
    flock -u 9
    flock -x 9
    if ! ready; then
        for tool in apt-get dpkg-deb; do
            command -v "$tool" >/dev/null || setup_error "needs $tool (a Debian or Ubuntu machine)"
        done
        [[ -f $KEYRING ]] ||
            setup_error "needs Debian's archive keyring $KEYRING (apt-get install debian-archive-keyring)"
        "$HOST_PYTHON" -m pip --version >/dev/null 2>&1 ||
            setup_error "needs pip to download wheels: '$HOST_PYTHON -m pip' does not run (set PYTHON)"
        started=$SECONDS
        trap setup_exit EXIT
        : >"$LOG"
        rm -rf "$CACHE/pycache" "$CACHE"/*.partial
        complete "$QEMU_DIR" || build "$QEMU_DIR" build_qemu "qemu-user from Debian trixie"
        complete "$ROOT_DIR" || build "$ROOT_DIR" build_root "Python 3.11 arm64 root from Debian bookworm"
        if ! complete "$SITE_DIR"; then
            build "$SITE_DIR" build_site \
                "aarch64 wheels onnxruntime $ORT_VERSION, numpy $NUMPY_VERSION, tokenizers $TOKENIZERS_VERSION"
            for old in "$CACHE"/site-*; do
                [[ $old == "$SITE_DIR" ]] || rm -rf "$old"
            done
        fi
        trap - EXIT
        echo "arm64 setup: done in $((SECONDS - started)) s, in $CACHE" >&2
    fi
    flock -s 9
fi

# --- the self-checks -------------------------------------------------------------------------------------------

echo "arm64 under qemu $(cat "$QEMU_DIR/version") (cpu ${QEMU_CPU:-max}), onnxruntime $ORT_VERSION," \
    "numpy $NUMPY_VERSION, tokenizers $TOKENIZERS_VERSION; emulated times are no measure of speed" >&2
failed=0
for bundle in "${bundles[@]}"; do
    started=$SECONDS
    code=0
    output=$(run_arm64 "$SITE_DIR" -m runtime_py "$bundle" --self-check ${probes:+--probes "$probes"} 2>&1) || code=$?
    took="$((SECONDS - started)) s emulated"
    summary=$(grep -m 1 '^self-check on ' <<<"$output" || true)
    verdict=$(grep -m 1 -E '^(PASS|FAIL)' <<<"$output" || true)
    if ((code == 0)) && [[ $verdict == PASS ]]; then
        echo "PASS $bundle: arm64 $summary ($took)"
    elif ((code == 1)) && [[ $verdict == FAIL* ]]; then
        echo "FAIL $bundle: arm64 $summary; ${verdict#FAIL: } ($took)"
        failed=1
    else
        echo "$output" >&2
        echo "FAIL $bundle: the arm64 runtime exited $code: $(tail -n 1 <<<"$output") ($took)"
        failed=1
    fi
done
exit "$failed"
