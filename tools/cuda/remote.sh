#!/usr/bin/env bash
# Runs ON the GPU machine, from the repository root, over chunks built by tools/cuda/build.sh (issue 8).
#
#   tools/cuda/remote.sh probe     what the machine has: node, xz, python's nvidia CUDA 13 libraries, nvidia-smi
#   tools/cuda/remote.sh recv      move the carried chunks (tools/cuda/out/send/*/) into the staging dir, check each
#                                  against SHA256SUMS
#   tools/cuda/remote.sh go        check, reassemble, extract; set LD_LIBRARY_PATH; run doctor, verify (fused and
#                                  scan, large batch) and the CUDA bench; write everything into $OUT
#   tools/cuda/remote.sh status    what is staged, what is still needed
#   tools/cuda/remote.sh assemble  check, reassemble and extract only (into $GRU_CUDA_STAGE/root)
#   tools/cuda/remote.sh auto      probe + recv, then go when every chunk it needs is there, else say what to send next
#
# Environment: OUT (results; default ./cuda-out), GRU_CUDA_STAGE (default /tmp/gru-cuda, persists while the machine
# stays warm), GRU_CUDA_NODE (auto | system | shipped; default auto: a system node >= 20, else the shipped one),
# GRU_CUDA_SHAPES (verify's --shapes), GRU_CUDA_DEADLINE (seconds for all of `go`, default 420),
# GRU_CUDA_BENCH_ARGS (extra bench arguments), GRU_CUDA_BENCH_TF32=1 (bench with TF32 allowed), GRU_CUDA_SKIP (space-separated steps to skip: doctor verify-fused
# verify-scan bench).
set -uo pipefail

MODE=${1:-}
STAGE=${GRU_CUDA_STAGE:-/tmp/gru-cuda}
OUT=${OUT:-$PWD/cuda-out}
SEND_GLOB=${GRU_CUDA_SEND:-tools/cuda/out/send}
NODE_MODE=${GRU_CUDA_NODE:-auto}
SHAPES=${GRU_CUDA_SHAPES:-1x1,1x10,1x257,7x33,64x10,64x257,1024x10,16384x10}
DEADLINE=${GRU_CUDA_DEADLINE:-420}
SKIP=" ${GRU_CUDA_SKIP:-} "
T_START=$(date +%s)
REPO=$PWD  # the repository root: fixtures travel with the working tree
mkdir -p "$STAGE/chunks" "$OUT"
STAGE=$(cd "$STAGE" && pwd) OUT=$(cd "$OUT" && pwd)  # absolute: `go` runs the steps from the extracted tree

say() { echo "[remote $(date -u +%H:%M:%S)] $*"; }
fail() { echo "[remote] FAIL: $*" >&2; exit 1; }
hr() { echo; echo "=================== $* ==================="; }

# Which soname each CUDA-side library answers to: NEEDED by libonnxruntime_providers_cuda.so, then dlopened by it.
REQUIRED_LIBS="libcublasLt.so.13 libcublas.so.13 libcudart.so.13 libcurand.so.10 libcuda.so.1 libcudnn.so.9"
OPTIONAL_LIBS="libcufft.so.12 libnvrtc.so.13 libnvJitLink.so.13 libcudnn_graph.so.9 libcudnn_engines_precompiled.so.9"

manifest() { # the staged manifest, refreshed from any carried copy
  local m
  for m in "$SEND_GLOB"/*/SHA256SUMS; do [ -f "$m" ] && cp -f "$m" "$STAGE/SHA256SUMS"; done
  for m in "$SEND_GLOB"/*/BUILD.json; do [ -f "$m" ] && cp -f "$m" "$STAGE/BUILD.json"; done
  [ -f "$STAGE/SHA256SUMS" ] || fail "no SHA256SUMS carried yet (carry tools/cuda/out/send/N)"
}

parts_of() { awk -v a="$1" '$2 ~ "^"a"\\.tar\\.xz\\.part-" {print $2}' "$STAGE/SHA256SUMS" | sort; }
archives() { awk '$2 ~ /\.tar\.xz$/ {sub(/\.tar\.xz$/, "", $2); print $2}' "$STAGE/SHA256SUMS"; }
base_archives() { archives | grep -vx node; }  # always needed (cuda: native libraries, app: bundles and data)
sha_of() { awk -v f="$1" '$2 == f {print $1}' "$STAGE/SHA256SUMS"; }

have_part() { [ -f "$STAGE/chunks/$1.ok" ] && [ -f "$STAGE/chunks/$1" ]; }

complete() { # archive name -> 0 when every part is staged and checked
  local p n=0
  for p in $(parts_of "$1"); do have_part "$p" || return 1; n=$((n + 1)); done
  [ $n -gt 0 ]
}

system_node() { # prints the path of a system node >= 20
  local n
  n=$(command -v node 2>/dev/null) || return 1
  "$n" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' 2>/dev/null || return 1
  echo "$n"
}

need_node_archive() {
  case "$NODE_MODE" in
    shipped) return 0 ;;
    system) return 1 ;;
    *) ! system_node >/dev/null ;;
  esac
}

nvidia_lib_dirs() { # every directory holding CUDA libraries: python's nvidia packages first, then the toolkit
  local py roots="" r
  for py in python3 /opt/torch/.venv/bin/python3 python; do
    command -v "$py" >/dev/null 2>&1 || continue
    roots=$("$py" -c 'import nvidia, os; print("\n".join(sorted({os.path.abspath(p) for p in nvidia.__path__})))' 2>/dev/null) && [ -n "$roots" ] && break
  done
  if [ -z "$roots" ]; then
    roots=$(find / -maxdepth 7 -type d -path '*-packages/nvidia' -not -path '/proc/*' 2>/dev/null | head -5)
  fi
  for r in $roots; do
    # nvidia/cu13/lib (CUDA 13 wheels), nvidia/<component>/lib (cuDNN, CUDA 12 wheels)
    find "$r" -maxdepth 4 -name 'lib*.so*' \( -type f -o -type l \) -printf '%h\n' 2>/dev/null
  done | awk '!seen[$0]++' | awk '/cu13/ {print; next} {rest[++n]=$0} END {for (i=1; i<=n; i++) print rest[i]}'
  for r in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/lib/x86_64-linux-gnu; do
    [ -d "$r" ] && echo "$r"
  done
}

locate_libs() { # sets LIBTABLE and CUDA_LD_PATH, returns 1 when a required library is missing
  local dirs lib d found missing=0 path=""
  dirs=$(nvidia_lib_dirs | awk '!seen[$0]++')
  LIBTABLE=""
  for lib in $REQUIRED_LIBS $OPTIONAL_LIBS; do
    found=""
    for d in $dirs; do if [ -e "$d/$lib" ]; then found=$d; break; fi; done
    if [ -z "$found" ]; then
      found=$(ldconfig -p 2>/dev/null | awk -v l="$lib" '$1 == l {print "(ldconfig) " $NF; exit}')
    fi
    case " $REQUIRED_LIBS " in *" $lib "*) req=required ;; *) req=optional ;; esac
    if [ -z "$found" ]; then
      LIBTABLE+="  $lib  MISSING ($req)"$'\n'
      [ $req = required ] && missing=1
    else
      LIBTABLE+="  $lib  $found"$'\n'
    fi
  done
  # Every directory with CUDA libraries goes on the path (cuDNN loads its own sub-libraries, nvrtc, nvJitLink).
  for d in $dirs; do
    case "$d" in /usr/lib/x86_64-linux-gnu) continue ;; esac
    path+="${path:+:}$d"
  done
  CUDA_LD_PATH=$path
  return $missing
}

do_probe() {
  hr "probe"
  say "host: $(uname -srm); $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"); glibc $(ldd --version 2>/dev/null | head -1 | awk '{print $NF}')"
  say "cpus: $(nproc); /tmp free: $(df -h /tmp | awk 'NR==2 {print $4}')"
  if n=$(system_node); then say "system node: $n $("$n" -v) (>= 20: will be used)"; else say "system node: $(command -v node >/dev/null 2>&1 && node -v || echo none) -> the shipped node is needed (node chunks)"; fi
  say "xz: $(command -v xz >/dev/null && xz --version | head -1 || echo 'none (python lzma will be used)')"
  say "python3: $(command -v python3 >/dev/null && python3 -c 'import sys; print(sys.executable, sys.version.split()[0])' || echo none)"
  if command -v nvidia-smi >/dev/null; then
    say "nvidia-smi: $(nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>&1 | head -2)"
  else
    say "nvidia-smi: not found"
  fi
  if locate_libs; then say "CUDA libraries: all required found"; else say "CUDA libraries: SOME REQUIRED MISSING"; fi
  printf '%s' "$LIBTABLE"
  say "probe took $(( $(date +%s) - T_START )) s"
}

do_recv() {
  hr "recv"
  local f base want got n=0
  manifest
  for f in "$SEND_GLOB"/*/*.part-*; do
    [ -f "$f" ] || continue
    base=$(basename "$f")
    want=$(sha_of "$base")
    [ -n "$want" ] || fail "$base is not in SHA256SUMS (chunks from another build?)"
    mv -f "$f" "$STAGE/chunks/$base"
    got=$(sha256sum "$STAGE/chunks/$base" | cut -d' ' -f1)
    if [ "$got" != "$want" ]; then
      rm -f "$STAGE/chunks/$base" "$STAGE/chunks/$base.ok"
      fail "$base: SHA-256 $got, expected $want (transfer damaged it: carry it again)"
    fi
    touch "$STAGE/chunks/$base.ok"
    say "received $base ($(stat -c %s "$STAGE/chunks/$base") bytes, SHA-256 ok)"
    n=$((n + 1))
  done
  [ $n -gt 0 ] || say "no chunk carried in this call"
  status || true
}

status() { # prints what is staged and what is still needed; returns 0 when go can run
  local a p ready=0
  for a in $(archives); do
    for p in $(parts_of "$a"); do
      if have_part "$p"; then say "  staged: $p"; else say "  needed: $p"; fi
    done
  done
  [ -n "$(base_archives)" ] || { say "SHA256SUMS lists no archive"; ready=1; }
  for a in $(base_archives); do complete "$a" || { say "$a chunks incomplete"; ready=1; }; done
  if need_node_archive; then
    if ! grep -E ' node\.tar\.xz$' "$STAGE/SHA256SUMS" >/dev/null; then say "no usable system node and this build ships none"; ready=1
    elif ! complete node; then say "node chunks needed: no system node >= 20 here (GRU_CUDA_NODE=$NODE_MODE)"; ready=1; fi
  fi
  if [ $ready = 0 ]; then say "READY: every chunk needed is staged"; else
    local next=""
    for a in $(base_archives) $(need_node_archive && echo node); do for p in $(parts_of "$a"); do have_part "$p" || next+=" $p"; done; done
    say "NEXT: carry the send/ folder(s) holding:$next"
  fi
  return $ready
}

decompress() { # file.tar.xz -> tar on stdout
  if command -v xz >/dev/null; then xz -T0 -dc "$1"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer, 1 << 20)' "$1"; fi
}

assemble() { # archive name
  local a=$1 want got marker="$STAGE/root/.$1.sha256"
  want=$(sha_of "$a.tar.xz")
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$want" ]; then say "$a: already extracted"; return 0; fi
  complete "$a" || fail "$a: chunks missing"
  local parts=()
  for p in $(parts_of "$a"); do parts+=("$STAGE/chunks/$p"); done
  cat "${parts[@]}" >"$STAGE/$a.tar.xz"
  got=$(sha256sum "$STAGE/$a.tar.xz" | cut -d' ' -f1)
  [ "$got" = "$want" ] || fail "$a.tar.xz reassembled to SHA-256 $got, expected $want"
  mkdir -p "$STAGE/root"
  decompress "$STAGE/$a.tar.xz" | tar -x -C "$STAGE/root" || fail "$a.tar.xz: extraction failed"
  rm -f "$STAGE/$a.tar.xz"
  echo "$want" >"$marker"
  say "$a: reassembled from ${#parts[@]} part(s), SHA-256 ok, extracted into $STAGE/root"
}

left() { echo $(( DEADLINE - ($(date +%s) - T_START) )); }

STEP_RC=()
run_step() { # name max-seconds stdout-file command...
  local name=$1 max=$2 outf=$3; shift 3
  if [[ "$SKIP" == *" $name "* ]]; then say "$name: skipped (GRU_CUDA_SKIP)"; STEP_RC+=("$name=skipped"); return; fi
  local budget; budget=$(left); budget=$(( budget - 20 ))
  [ "$budget" -gt "$max" ] && budget=$max
  if [ "$budget" -lt 15 ]; then say "$name: NOT RUN: deadline ($DEADLINE s) reached"; STEP_RC+=("$name=not-run(deadline)"); return; fi
  hr "$name (limit ${budget} s)"
  echo "+ $*"
  local t=$(date +%s) rc
  if [ -n "$outf" ]; then timeout -k 5 "$budget" "$@" >"$outf"; rc=$?; else timeout -k 5 "$budget" "$@"; rc=$?; fi
  [ $rc = 124 ] && say "$name: TIMED OUT after $budget s"
  say "$name: exit $rc in $(( $(date +%s) - t )) s${outf:+, stdout in $outf}"
  if [ -n "$outf" ] && [ -s "$outf" ]; then head -c 4000 "$outf"; echo; fi
  STEP_RC+=("$name=$rc")
}

do_go() {
  hr "go"
  manifest
  status || fail "not every chunk is staged"
  for a in $(base_archives); do assemble "$a"; done
  if need_node_archive; then assemble node; fi
  local APP="$STAGE/root/gru-cuda"
  [ -f "$APP/BUILD.json" ] || fail "$APP/BUILD.json missing after extraction"
  local NODE
  if [ "$NODE_MODE" != shipped ] && NODE=$(system_node); then say "node: system $NODE $("$NODE" -v)"
  else NODE="$STAGE/root/node/bin/node"; [ -x "$NODE" ] || fail "shipped node missing at $NODE"; say "node: shipped $NODE $("$NODE" -v)"; fi
  export PATH="$(dirname "$NODE"):$PATH"

  hr "CUDA libraries"
  if locate_libs; then say "all required CUDA libraries found"; else say "WARNING: a required CUDA library is missing: ort-cuda will report why"; fi
  printf '%s' "$LIBTABLE"
  export LD_LIBRARY_PATH="$CUDA_LD_PATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  say "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  local BIND="$APP/app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64"
  say "ldd libonnxruntime_providers_cuda.so (unresolved entries, if any):"
  ldd "$BIND/libonnxruntime_providers_cuda.so" | grep -E 'not found|cublas|cudart|curand|libcuda\.' | sed 's/^/    /'

  hr "GPU"
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,compute_cap,clocks.max.sm --format=csv 2>&1
    nvidia-smi 2>&1 | head -20
  else
    say "nvidia-smi not found"
  fi

  local R="$STAGE/results"
  rm -rf "$R"; mkdir -p "$R"
  {
    echo "date: $(date -u +%FT%TZ)"; echo "node: $NODE $("$NODE" -v)"; echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    echo "NVIDIA_TF32_OVERRIDE=${NVIDIA_TF32_OVERRIDE:-(unset)}"; echo "libraries:"; printf '%s' "$LIBTABLE"
    command -v nvidia-smi >/dev/null && nvidia-smi -q 2>&1 | head -60
  } >"$R/environment.txt"
  cp "$APP/BUILD.json" "$R/BUILD.json"


  cd "$APP" || fail "cd $APP"
  local CLI=("$NODE" app/gru-onnx.mjs)
  run_step doctor 90 "$OUT/doctor.json" "${CLI[@]}" doctor --json
  for form in fused scan; do
    run_step "verify-$form" 200 "$OUT/verify-$form.json" "${CLI[@]}" verify --model "data/model-$form.onnx" \
      --weights data/checkpoint.safetensors --backends ort-cpu,ort-cuda --require ort-cuda --shapes "$SHAPES" \
      --timeout 240 --report "$R/verify-$form" --json
  done
  # An imported PyTorch nn.GRU (linear_before_reset = 1, bidirectional, 2 layers): fused GRU nodes of the form the
  # CUDA EP has a kernel for, checked against PyTorch's own float64-verified weights.
  local PT="$REPO/fixtures/pytorch/l2-bi-bf.safetensors"
  if [ -f "$PT" ]; then
    run_step export-pytorch 60 "" "${CLI[@]}" export --weights "$PT" --out "$R/pytorch-l2-bi.onnx"
    run_step verify-pytorch 120 "$OUT/verify-pytorch.json" "${CLI[@]}" verify --model "$R/pytorch-l2-bi.onnx" \
      --weights "$PT" --backends ort-cpu,ort-cuda --require ort-cuda --shapes 1x1,1x10,7x37,1024x10,16384x10 \
      --timeout 120 --report "$R/verify-pytorch" --json
  fi
  # Which cells and forms the CUDA EP runs on the GPU (docs/gpu-placement.md): GRU lbr 0/1, LSTM default and
  # HardSigmoid, RNN tanh/relu, each fused, scan and auto (target cuda), every output checked against the CPU EP.
  # The table goes to remote.log (stdout) and, with the JSON, into results.tar.gz.
  if [ -f app/gpu-placement.mjs ]; then
    run_step placement 150 "" env NVIDIA_TF32_OVERRIDE=0 "$NODE" app/gpu-placement.mjs --backends ort-cuda --require \
      --md "$R/placement-cuda.md" --json "$R/placement-cuda.json"
  fi
  # shellcheck disable=SC2086
  # TF32 off, as in verify's ort-cuda runner (GRU_CUDA_BENCH_TF32=1 keeps the CUDA EP's default, TF32 allowed).
  local TF32_ENV=(env NVIDIA_TF32_OVERRIDE=0)
  [ -n "${GRU_CUDA_BENCH_TF32:-}" ] && TF32_ENV=(env -u NVIDIA_TF32_OVERRIDE)
  run_step bench 200 "" "${TF32_ENV[@]}" "$NODE" app/bench-cuda.mjs --model fused=data/model-fused.onnx --model scan=data/model-scan.onnx \
    --batches 1,64,1024,16384 --eps cuda,cpu --cpu-threads "1,all" --require cuda \
    --json "$OUT/bench.json" --md "$OUT/bench.md" ${GRU_CUDA_BENCH_ARGS:-}

  hr "results"
  cp -f "$OUT"/*.json "$OUT"/*.md "$R"/ 2>/dev/null
  tar -C "$STAGE" -czf "$OUT/results.tar.gz" results 2>/dev/null && say "wrote $OUT/results.tar.gz ($(stat -c %s "$OUT/results.tar.gz") bytes)"
  local bad=0 s
  for s in "${STEP_RC[@]}"; do
    say "  $s"
    case "$s" in *=0) ;; *=skipped) ;; *) bad=1 ;; esac
  done
  ls -l "$OUT"
  say "go took $(( $(date +%s) - T_START )) s"
  [ $bad = 0 ] || fail "a step failed (see above)"
  say "ALL STEPS PASSED"
}

case "$MODE" in
  probe) do_probe ;;
  recv) do_recv ;;
  status) manifest; status ;;
  assemble) manifest; status || fail "not every chunk is staged"; for a in $(base_archives); do assemble "$a"; done; if need_node_archive; then assemble node; fi ;;
  go) { do_go; } 2>&1 | tee -a "$OUT/remote.log"; exit "${PIPESTATUS[0]}" ;;
  auto)
    {
      do_probe
      do_recv || exit 1
      if status >/dev/null; then do_go; else say "WAITING for more chunks: make the next call now (the machine stays warm ~30 s)"; fi
    } 2>&1 | tee -a "$OUT/remote.log"
    exit "${PIPESTATUS[0]}"
    ;;
  *) sed -n 2,19p "$0"; exit 2 ;;
esac
