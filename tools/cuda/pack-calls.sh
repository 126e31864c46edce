#!/usr/bin/env bash
# Groups the chunks of tools/cuda/out/chunks into one folder per device call, tools/cuda/out/send/N/, each with
# SHA256SUMS and BUILD.json, and prints the exact `run` calls. The parts of every archive but node go first (with a
# system node >= 20 on the GPU machine they are all that is needed), then node's; a call holds up to --call-mib.
#
#   tools/cuda/pack-calls.sh [--chunks DIR] [--send DIR] [--call-mib 60 | --call-bytes N]
set -euo pipefail
CHUNKS=tools/cuda/out/chunks SEND=tools/cuda/out/send CALL_MIB=60 CALL_BYTES=
while [ $# -gt 0 ]; do
  case "$1" in
    --chunks) CHUNKS=$2; shift 2 ;;
    --send) SEND=$2; shift 2 ;;
    --call-mib) CALL_MIB=$2; shift 2 ;;
    --call-bytes) CALL_BYTES=$2; shift 2 ;;
    *) echo "pack-calls.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -f "$CHUNKS/SHA256SUMS" ] || { echo "pack-calls.sh: $CHUNKS/SHA256SUMS missing (run build.sh)" >&2; exit 1; }
rm -rf "$SEND"; mkdir -p "$SEND"
LIMIT=${CALL_BYTES:-$((CALL_MIB * 1024 * 1024))}
call=1 used=0
mkdir -p "$SEND/$call"
for p in $(awk '$2 ~ /\.tar\.xz\.part-/ && $2 !~ /^node\./ {print $2}' "$CHUNKS/SHA256SUMS" | sort -r -t. -k1,1 -s) \
         $(awk '$2 ~ /^node\.tar\.xz\.part-/ {print $2}' "$CHUNKS/SHA256SUMS" | sort); do
  size=$(stat -c %s "$CHUNKS/$p")
  [ "$size" -le "$LIMIT" ] || { echo "pack-calls.sh: $p is $size bytes, over the per-call limit of $LIMIT bytes" >&2; exit 1; }
  if [ $((used + size)) -gt "$LIMIT" ]; then call=$((call + 1)); used=0; mkdir -p "$SEND/$call"; fi
  ln -f "$CHUNKS/$p" "$SEND/$call/$p" 2>/dev/null || cp "$CHUNKS/$p" "$SEND/$call/$p"
  used=$((used + size))
done
for d in "$SEND"/*/; do
  cp "$CHUNKS/SHA256SUMS" "$d"
  [ -f "$CHUNKS/BUILD.json" ] && cp "$CHUNKS/BUILD.json" "$d"
done
echo "device calls: $call"
for d in $(ls "$SEND" | sort -n); do
  echo "  call $d: $(ls "$SEND/$d" | grep '\.part-' | tr '\n' ' ')($(du -cb "$SEND/$d"/* | tail -1 | cut -f1) bytes)"
done
echo
echo "Exact calls (the machine keeps /tmp/gru-cuda only while warm: make each next call at once, < 30 s):"
for d in $(ls "$SEND" | sort -n); do
  echo "  run(command=\"bash tools/cuda/remote.sh auto\", carry=[\"$SEND/$d\"], timeout_s=540)"
done
