#!/usr/bin/env bash
# Builds the offline CUDA payload for the GPU machine (issue 8) and splits it into chunks that fit one device call.
#
#   tools/cuda/build.sh --weights CKPT.safetensors [--model-fused F.onnx] [--model-scan F.onnx]
#                       [--entry packages/cli/src/bin.ts] [--archs 90|all] [--chunk-mib 60] [--xz-preset 6]
#                       [--no-node]
#
# Run from the repository root. Writes (all ignored by git):
#   .cuda-stage/core/gru-cuda/     the deploy tree: app/ (bundled CLI + bench + onnxruntime-node linux-x64 with the
#                                  (its four native files are moved to .cuda-stage/cuda/gru-cuda/... before packing)
#                                  CUDA provider libraries), data/ (models, checkpoint), BUILD.json
#   .cuda-stage/node/node/bin/node Node's own binary, stripped
#   tools/cuda/out/chunks/         {cuda,app,node}.tar.xz.part-NN, SHA256SUMS, BUILD.json
#   tools/cuda/out/send/N/         the chunks for device call N, with SHA256SUMS and BUILD.json (pack-calls.sh)
# Without --model-fused/--model-scan the models are exported from --weights with the bundled CLI itself.
set -euo pipefail

die() { echo "build.sh: error: $*" >&2; exit 1; }
step() { echo; echo "== $*"; }

GPU_PKG=com.github.asus4.onnxruntime.linux-x64-gpu
GPU_PKG_VERSION=0.4.9
GPU_PKG_SHA256=2b459e0c17f340c92970c10ed86de4f37a3009f93c14053e6ad4334cbb6be412
ORT_VERSION=1.29.0

WEIGHTS= MODEL_FUSED= MODEL_SCAN= ENTRY=packages/cli/src/bin.ts ARCHS=90 CHUNK_MIB=60 XZ_PRESET=6 WITH_NODE=1
while [ $# -gt 0 ]; do
  case "$1" in
    --weights) WEIGHTS=$2; shift 2 ;;
    --model-fused) MODEL_FUSED=$2; shift 2 ;;
    --model-scan) MODEL_SCAN=$2; shift 2 ;;
    --entry) ENTRY=$2; shift 2 ;;
    --archs) ARCHS=$2; shift 2 ;;
    --chunk-mib) CHUNK_MIB=$2; shift 2 ;;
    --xz-preset) XZ_PRESET=$2; shift 2 ;;
    --no-node) WITH_NODE=0; shift ;;
    -h|--help) sed -n 2,15p "$0"; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
done
[ -f package.json ] && [ -d tools/cuda ] || die "run from the repository root"
[ -n "$WEIGHTS" ] || die "--weights CKPT.safetensors is required"
[ -f "$WEIGHTS" ] || die "--weights $WEIGHTS: no such file"
[ -f "$ENTRY" ] || die "--entry $ENTRY: no such file"
for t in npm tar xz split sha256sum strip readelf; do command -v $t >/dev/null || die "$t not found"; done

OUTDIR=tools/cuda/out
CHUNKS=$OUTDIR/chunks
STAGE=.cuda-stage
CORE=$STAGE/core/gru-cuda
NODESTAGE=$STAGE/node/node
TSX="node_modules/.bin/tsx"
[ -x "$TSX" ] || die "$TSX missing (pnpm install)"
T0=$(date +%s)
ROOT=$PWD

step "1. $GPU_PKG@$GPU_PKG_VERSION (ONNX Runtime $ORT_VERSION CUDA 13 provider libraries)"
TGZ=$OUTDIR/$GPU_PKG-$GPU_PKG_VERSION.tgz
mkdir -p "$OUTDIR"
if [ ! -f "$TGZ" ]; then (cd "$OUTDIR" && npm pack --silent "$GPU_PKG@$GPU_PKG_VERSION" >/dev/null); fi
echo "$GPU_PKG_SHA256  $TGZ" | sha256sum -c --quiet || die "$TGZ does not match its pinned SHA-256"
PKGX=$OUTDIR/gpu-pkg
rm -rf "$PKGX"; mkdir -p "$PKGX"; tar -xzf "$TGZ" -C "$PKGX"
LIBDIR=$PKGX/package/Plugins/Linux/x64
for f in libonnxruntime_providers_cuda.so libonnxruntime_providers_shared.so; do [ -f "$LIBDIR/$f" ] || die "$f missing from $TGZ"; done
strings -n 6 "$LIBDIR/libonnxruntime_providers_cuda.so" | grep -x "$ORT_VERSION" >/dev/null || die "libonnxruntime_providers_cuda.so does not carry version $ORT_VERSION"
echo "NEEDED by libonnxruntime_providers_cuda.so: $(readelf -d "$LIBDIR/libonnxruntime_providers_cuda.so" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p' | tr '\n' ' ')"

step "2. stage: bundle $ENTRY, tools/cuda/bench-cuda.ts and tools/placement/gpu-placement.ts, copy onnxruntime-node $ORT_VERSION (linux-x64 only)"
rm -rf "$STAGE/core" "$STAGE/node"
mkdir -p "$CORE/app" "$CORE/data"
"$TSX" tools/cuda/bundle.ts --entry "$ENTRY" --out "$CORE/app/gru-onnx.mjs" \
  --entry2 tools/cuda/bench-cuda.ts --out2 "$CORE/app/bench-cuda.mjs" \
  --entry3 tools/placement/gpu-placement.ts --out3 "$CORE/app/gpu-placement.mjs" --root "$CORE" --ort-node >"$STAGE/bundle.log" \
  || { cat "$STAGE/bundle.log"; die "bundling failed"; }
BINDING=$CORE/app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64
[ -f "$BINDING/libonnxruntime.so.1" ] || die "onnxruntime-node's linux-x64 libonnxruntime.so.1 was not copied"
strings -n 5 "$BINDING/libonnxruntime.so.1" | grep -x "$ORT_VERSION" >/dev/null || die "libonnxruntime.so.1 is not ONNX Runtime $ORT_VERSION"

step "3. CUDA provider libraries next to libonnxruntime.so.1 (ONNX Runtime dlopens them from its own directory)"
cp "$LIBDIR/libonnxruntime_providers_shared.so" "$BINDING/"
if [ "$ARCHS" = all ]; then
  cp "$LIBDIR/libonnxruntime_providers_cuda.so" "$BINDING/"
  echo '{"keepArchs":"all"}' >"$STAGE/prune.json"
else
  "$TSX" tools/cuda/fatbin.ts "$LIBDIR/libonnxruntime_providers_cuda.so" "$BINDING/libonnxruntime_providers_cuda.so" "$ARCHS" >"$STAGE/prune.json"
  echo "pruned the fat binaries to sm_$ARCHS: $(node -e 'const p=require(process.argv[1]);console.log(`${p.fatbins} fat binaries, ${p.entriesBefore} -> ${p.entriesAfter} cubins, ${(p.bytesFreed/2**20).toFixed(1)} MiB zeroed; untouched (no sm_'"$ARCHS"' entry): ${p.untouched}`)' "$PWD/$STAGE/prune.json")"
fi
mkdir -p "$CORE/licenses"
cp "$PKGX/package/LICENSE" "$CORE/licenses/onnxruntime-unity-gpu.LICENSE"
cp "$PKGX/package/README.md" "$CORE/licenses/onnxruntime-unity-gpu.README.md"

step "4. data: checkpoint and models"
cp "$WEIGHTS" "$CORE/data/checkpoint.safetensors"
for form in fused scan; do
  src=$([ $form = fused ] && echo "$MODEL_FUSED" || echo "$MODEL_SCAN")
  if [ -n "$src" ]; then cp "$src" "$CORE/data/model-$form.onnx"
  else node "$CORE/app/gru-onnx.mjs" export --weights "$CORE/data/checkpoint.safetensors" --out "$CORE/data/model-$form.onnx" --form $form \
         || die "export --form $form failed"; fi
done
ls -l "$CORE/data"

step "5. local smoke test of the stage (CPU EP; the CUDA EP must get as far as its CUDA libraries)"
SMOKE=$(cd /tmp && node "$ROOT/$CORE/app/bench-cuda.mjs" --model "fused=$ROOT/$CORE/data/model-fused.onnx" --batches 1 --min-ms 1 --max-iters 5 --cpu-threads 1 2>&1) || true
echo "$SMOKE" | grep -E '^fused/cpu-1t +batch' || { echo "$SMOKE"; die "the staged onnxruntime-node did not run on CPU"; }
echo "$SMOKE" | grep -oE 'Failed to load library [^ ]*libonnxruntime_providers_cuda.so with error: [^:]*: cannot open shared object file' | head -1 \
  || echo "note: CUDA EP did not stop at a missing CUDA library here: $(echo "$SMOKE" | grep -m1 cuda)"
# The placement table's tool: it must export a cell and reach the CUDA EP's probe.
PLACE=$(cd /tmp && node "$ROOT/$CORE/app/gpu-placement.mjs" --backends ort-cuda --cases gru-lbr0 --forms fused 2>&1) || true
echo "$PLACE" | grep -E '^### ort-cuda' >/dev/null || { echo "$PLACE"; die "the staged gpu-placement.mjs did not run"; }
echo "gpu-placement.mjs: $(echo "$PLACE" | grep -m1 -E 'Unavailable|GPU|partial' | cut -c1-200)"

if [ $WITH_NODE = 1 ]; then
  step "6. Node's own binary ($(node -v)), stripped"
  NODEBIN=$(readlink -f "$(command -v node)")
  file -b "$NODEBIN" | grep 'ELF 64-bit LSB .*x86-64' >/dev/null || die "$NODEBIN is not an x86-64 ELF binary (a shim?)"
  BAD=$(ldd "$NODEBIN" | grep -vE 'linux-vdso|ld-linux|lib(c|m|dl|pthread|rt|stdc\+\+|gcc_s)\.so' || true)
  [ -z "$BAD" ] || die "$NODEBIN needs more than glibc/libstdc++: $BAD"
  mkdir -p "$NODESTAGE/bin"
  strip -o "$NODESTAGE/bin/node" "$NODEBIN"
  "$NODESTAGE/bin/node" -e 'process.exit(process.versions.node.split(".")[0] >= 20 ? 0 : 1)' || die "stripped node does not run"
  (cd /tmp && "$ROOT/$NODESTAGE/bin/node" "$ROOT/$CORE/app/bench-cuda.mjs" --model "fused=$ROOT/$CORE/data/model-fused.onnx" \
    --eps cpu --batches 1 --min-ms 1 --max-iters 2 --cpu-threads 1 >/dev/null) || die "onnxruntime-node does not run on the stripped node"
  echo "stripped node $("$NODESTAGE/bin/node" -v) runs onnxruntime-node (CPU EP)"
fi

step "7. BUILD.json"
node - "$STAGE" "$CORE" "$TGZ" "$ARCHS" "$WITH_NODE" >"$CORE/BUILD.json" <<'EOF'
const { createHash } = require('node:crypto');
const { readFileSync, statSync } = require('node:fs');
const { execSync } = require('node:child_process');
const [stage, core, tgz, archs, withNode] = process.argv.slice(2);
const sha = (f) => createHash('sha256').update(readFileSync(f)).digest('hex');
const bind = `${core}/app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64`;
const files = {};
for (const f of ['libonnxruntime.so.1', 'onnxruntime_binding.node', 'libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'])
  files[`app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/${f}`] = { bytes: statSync(`${bind}/${f}`).size, sha256: sha(`${bind}/${f}`) };
for (const f of ['app/gru-onnx.mjs', 'app/bench-cuda.mjs', 'app/gpu-placement.mjs', 'data/checkpoint.safetensors', 'data/model-fused.onnx', 'data/model-scan.onnx'])
  files[f] = { bytes: statSync(`${core}/${f}`).size, sha256: sha(`${core}/${f}`) };
let git = 'unknown';
try { git = execSync('git rev-parse HEAD', { encoding: 'utf8' }).trim() + (execSync('git status --porcelain --untracked-files=no', { encoding: 'utf8' }).trim() ? ' (with uncommitted changes)' : ''); } catch {}
console.log(JSON.stringify({
  builtAt: new Date().toISOString(),
  git,
  onnxruntimeNode: '1.29.0',
  cudaProviders: { package: 'com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 (MIT)', tgzSha256: sha(tgz), cuda: 13, keepArchs: archs, prune: JSON.parse(readFileSync(`${stage}/prune.json`, 'utf8')) },
  node: withNode === '1' ? process.version : 'not shipped',
  files,
}, null, 2));
EOF

step "8. compress (xz -T2 -$XZ_PRESET) into chunks: cuda (the native libraries; reused while they are unchanged), app, node"
TREE=$( (git ls-files -z; git ls-files -z --others --exclude-standard) | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
CALL_MIB=$(( (67108864 - TREE - 1048576) / 1048576 ))
[ "$CALL_MIB" -gt "$CHUNK_MIB" ] && CALL_MIB=$CHUNK_MIB
echo "working tree that travels with every call: $TREE bytes; carry budget per call and chunk size: $CALL_MIB MiB"
# The four native files move from the app tree to a tree of their own: they are 96% of the bytes and change only
# with onnxruntime-node or the provider package, so a rebuild for a new CLI recompresses only the small app tree.
CUDASTAGE=$STAGE/cuda/gru-cuda/app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64
rm -rf "$STAGE/cuda"; mkdir -p "$CUDASTAGE"
mv "$BINDING"/* "$CUDASTAGE/"
mkdir -p "$CHUNKS"
archive() { # name parent top key
  local name=$1 parent=$2 top=$3 key=$4
  if [ -f "$CHUNKS/.key-$name" ] && [ "$(cat "$CHUNKS/.key-$name")" = "$key" ] && grep " $name\.tar\.xz\.part-00\$" "$CHUNKS/SHA256SUMS" >/dev/null 2>&1 \
     && (cd "$CHUNKS" && grep -E " $name\.tar\.xz\.part-[0-9]+\$" SHA256SUMS | sha256sum -c --quiet); then
    echo "$name: inputs unchanged, reusing its $(grep -cE " $name\.tar\.xz\.part-" "$CHUNKS/SHA256SUMS") part(s)"
  else
    rm -f "$CHUNKS/.key-$name"
    tools/cuda/chunk.sh --name "$name" --from "$parent" --top "$top" --chunks "$CHUNKS" --chunk-bytes $((CALL_MIB * 1048576)) --xz-preset "$XZ_PRESET"
    echo "$key" >"$CHUNKS/.key-$name"
  fi
}
drop() { # name: remove an archive no longer built
  rm -f "$CHUNKS/$1.tar.xz.part-"* "$CHUNKS/.key-$1"
  # An if, not `[ … ] && …`: on a first build there is no SHA256SUMS, and a false test as the function's last
  # command would end the whole script under set -e.
  if [ -f "$CHUNKS/SHA256SUMS" ]; then grep -vE " $1\.tar\.xz(\.part-[0-9]+)?\$" "$CHUNKS/SHA256SUMS" >"$CHUNKS/SHA256SUMS.tmp" || true; mv "$CHUNKS/SHA256SUMS.tmp" "$CHUNKS/SHA256SUMS"; fi
}
drop core  # the layout before cuda/app were split
archive cuda "$STAGE/cuda" gru-cuda "$( (cd "$CUDASTAGE" && sha256sum *) | sha256sum | cut -c1-64) xz-$XZ_PRESET chunk-$CALL_MIB"
archive app "$STAGE/core" gru-cuda "$(date +%s%N)"
if [ $WITH_NODE = 1 ]; then archive node "$STAGE/node" node "$(sha256sum "$NODESTAGE/bin/node" | cut -c1-64) xz-$XZ_PRESET chunk-$CALL_MIB"; else drop node; fi
cp "$CORE/BUILD.json" "$CHUNKS/BUILD.json"

step "chunks ($(( $(date +%s) - T0 )) s)"
ls -l "$CHUNKS"
for a in cuda app node; do echo "$a parts: $(grep -cE " $a\.tar\.xz\.part-" "$CHUNKS/SHA256SUMS" || true)"; done
echo
tools/cuda/pack-calls.sh --chunks "$CHUNKS" --send "$OUTDIR/send" --call-bytes $((CALL_MIB * 1048576 + 65536))
