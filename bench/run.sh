#!/usr/bin/env bash
# Benchmarks this module's upscaler against UpscalerJS 1.0.0 on the TF.js
# WebAssembly backend, on the same synthetic inputs, and prints a Markdown
# table of median times, peak memory and ratios.
#
#   bench/run.sh            the full grid (16 minutes on two Zen 3 cores)
#   bench/run.sh --quick    esrgan-slim x4 on 128x128 only (under a minute)
#
# Options: --repeats N sets the timed runs per process after one warm-up
# (default 3; the slowest cases use fewer, see below), --out DIR the results
# folder (default bench/out).
#
# It needs Go, Node.js 18 or later with npm (for the UpscalerJS packages),
# libopenblas-dev for the OpenBLAS build, and the model packages in
# testdata/npm (scripts/fetch-testdata downloads them). Raw results go to
# OUT/results.jsonl, one JSON line per timed run, and the table to
# OUT/table.md.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
repeats=3
out=bench/out
while (($#)); do
	case $1 in
	--quick) quick=1 ;;
	--repeats)
		repeats=${2:?--repeats needs a number}
		shift
		;;
	--out)
		out=${2:?--out needs a folder}
		shift
		;;
	*)
		echo "run.sh: unknown argument $1 (use --quick, --repeats N or --out DIR)" >&2
		exit 2
		;;
	esac
	shift
done
if ! [[ $repeats =~ ^[1-9][0-9]*$ ]]; then
	echo "run.sh: --repeats $repeats: need a whole number above 0" >&2
	exit 2
fi

step() { printf '== %s\n' "$*" >&2; }

# Step 1: inputs and builds. The three Go variants differ only in the GEMM
# kernel: the default build picks the generated AVX-512 or AVX2 kernel, the
# purego tag leaves only the portable Go kernel, and the openblas tag adds
# cblas_sgemm, selected with UPSCALER_GEMM=openblas.
for name in esrgan-slim esrgan-medium esrgan-thick; do
	if [[ ! -f testdata/npm/upscalerjs-$name-1.0.0.tgz ]]; then
		step "fetching model packages into testdata/npm"
		scripts/fetch-testdata
		break
	fi
done
mkdir -p "$out"
step "building bench/gobench: default, purego and openblas"
go build -o "$out/gobench-default" ./bench/gobench
go build -tags purego -o "$out/gobench-purego" ./bench/gobench
if ! go build -tags openblas -o "$out/gobench-openblas" ./bench/gobench; then
	echo "run.sh: the openblas build needs cgo and OpenBLAS (Debian: apt-get install -y libopenblas-dev)" >&2
	exit 1
fi
step "installing the UpscalerJS packages into bench/js/node_modules"
# npm ci starts from an empty node_modules, so skip it when the installed
# tree is newer than the lock file.
if [[ ! bench/js/node_modules/.package-lock.json -nt bench/js/package-lock.json ]]; then
	(cd bench/js && npm ci --no-audit --no-fund --loglevel=error >&2)
fi

# Step 2: the cases. Every Go variant runs on one thread, as the wasm
# backend does in Node. "default-all" is the default build with one
# goroutine per core, and it runs only on the two headline cases. The
# portable Go kernel took 8 to 20 times as long as the assembly kernel, so
# it runs only on the whole esrgan-slim cases at 128x128. The slowest cases
# get fewer timed runs, to keep the whole grid near 20 minutes on two cores.
# Fields: model scale size patch padding repeats implementations.
cases=()
add() { cases+=("$*"); }
# fewer returns the repeat count for slower cases: $1 when --repeats is
# larger, else --repeats.
fewer() { echo $((repeats > $1 ? $1 : repeats)); }
if ((quick)); then
	add esrgan-slim 4 128 0 0 "$repeats" js default openblas purego
else
	for patch in 0 64; do
		pad=$((patch ? 4 : 0))
		if ((patch)); then
			purego= all= thickRuns=1
		else
			purego=purego all=default-all thickRuns=$(fewer 2)
		fi
		add esrgan-slim 2 128 $patch $pad "$repeats" js default openblas $purego
		add esrgan-slim 2 256 $patch $pad "$repeats" js default openblas
		add esrgan-slim 4 128 $patch $pad "$repeats" js default openblas $purego
		add esrgan-slim 4 256 $patch $pad "$repeats" js default openblas $all
		add esrgan-medium 4 128 $patch $pad "$repeats" js default openblas
		add esrgan-medium 4 256 $patch $pad "$(fewer 2)" js default openblas
		add esrgan-thick 4 128 $patch $pad "$thickRuns" js default openblas $all
	done
	# esrgan-thick on 256x256 took about a minute per UpscalerJS run on a
	# loaded two-core machine, so it runs once, whole. With patches one
	# UpscalerJS run took about two and a half minutes.
	add esrgan-thick 4 256 0 0 1 js default openblas
	# Memory with patches: the same patch size on a 16 times larger image.
	add esrgan-slim 4 1024 64 4 1 js default
fi

# runOne runs one implementation on one case in a fresh process, so its
# peak RSS belongs to that case alone, and appends its JSON lines.
runOne() {
	local impl=$1 model=$2 scale=$3 size=$4 patch=$5 pad=$6 reps=$7
	local args=(-model "$model" -scale "$scale" -size "$size" -patch "$patch" -padding "$pad" -repeats "$reps")
	case $impl in
	js) (cd bench/js && node run.mjs --model "$model" --scale "$scale" --size "$size" --patch "$patch" --padding "$pad" --repeats "$reps" --impl js) ;;
	default) "$out/gobench-default" "${args[@]}" -threads 1 -impl default ;;
	default-all) "$out/gobench-default" "${args[@]}" -threads 0 -impl default-all ;;
	openblas) UPSCALER_GEMM=openblas "$out/gobench-openblas" "${args[@]}" -threads 1 -impl openblas ;;
	purego) "$out/gobench-purego" "${args[@]}" -threads 1 -impl purego ;;
	esac
}

# Step 3: run. Each case rotates the order of the implementations, so no
# implementation always runs first or last while other load comes and goes.
results=$out/results.jsonl
: >"$results"
{
	printf '{"machine":true,"date":"%s","cpu":"%s","cores":%d,"memBytes":%d,"go":"%s","node":"%s"}\n' \
		"$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
		"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" \
		"$(nproc)" \
		"$(awk '/MemTotal/ {printf "%.0f", $2 * 1024}' /proc/meminfo)" \
		"$(go env GOVERSION)" "$(node --version)"
} >>"$results"
start=$SECONDS
n=0
for c in "${cases[@]}"; do
	read -r model scale size patch pad reps impls <<<"$c"
	read -ra list <<<"$impls"
	load=$(cut -d' ' -f1 /proc/loadavg)
	step "$model x$scale ${size}x$size patch $patch/$pad, $reps runs, load $load ($((SECONDS - start)) s elapsed)"
	for ((i = 0; i < ${#list[@]}; i++)); do
		impl=${list[(i + n) % ${#list[@]}]}
		# A failed process leaves its case without that column rather than
		# ending a run that has taken many minutes so far.
		if ! runOne "$impl" "$model" "$scale" "$size" "$patch" "$pad" "$reps" |
			sed "s/}\$/,\"load1\":$load}/" >>"$results"; then
			echo "run.sh: $impl failed on $model x$scale ${size}x$size patch $patch/$pad" >&2
		fi
	done
	n=$((n + 1))
done
step "finished in $((SECONDS - start)) s; load $(cut -d' ' -f1 /proc/loadavg)"

node bench/table.mjs "$results" | tee "$out/table.md"
