#!/usr/bin/env bash
# Packs one folder into NAME.tar.xz (reproducible tar, xz -T2), splits it into parts of at most --chunk-bytes
# (NAME.tar.xz.part-00, -01, ...) and appends the SHA-256 of every part and of the whole archive to SHA256SUMS.
# tools/cuda/remote.sh reverses it: checks each part, concatenates, checks the archive, extracts.
#
#   tools/cuda/chunk.sh --name core --from PARENT --top FOLDER --chunks DIR --chunk-bytes N [--xz-preset 6]
set -euo pipefail
NAME= FROM= TOP= CHUNKS= BYTES= PRESET=6
while [ $# -gt 0 ]; do
  case "$1" in
    --name) NAME=$2; shift 2 ;;
    --from) FROM=$2; shift 2 ;;
    --top) TOP=$2; shift 2 ;;
    --chunks) CHUNKS=$2; shift 2 ;;
    --chunk-bytes) BYTES=$2; shift 2 ;;
    --xz-preset) PRESET=$2; shift 2 ;;
    *) echo "chunk.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
for v in NAME FROM TOP CHUNKS BYTES; do [ -n "${!v}" ] || { echo "chunk.sh: --${v,,} is required" >&2; exit 2; }; done
[[ "$NAME" =~ ^[a-z0-9_]+$ ]] || { echo "chunk.sh: --name must be [a-z0-9_]+" >&2; exit 2; }
[ -d "$FROM/$TOP" ] || { echo "chunk.sh: $FROM/$TOP is not a folder" >&2; exit 1; }
mkdir -p "$CHUNKS"
rm -f "$CHUNKS/$NAME.tar.xz" "$CHUNKS/$NAME.tar.xz.part-"*
t=$(date +%s)
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$FROM" -cf - "$TOP" | xz -T2 -"$PRESET" -c >"$CHUNKS/$NAME.tar.xz"
echo "$NAME.tar.xz: $(stat -c %s "$CHUNKS/$NAME.tar.xz") bytes from $(du -sb "$FROM/$TOP" | cut -f1) in $(( $(date +%s) - t )) s (xz -$PRESET)"
(
  cd "$CHUNKS"
  split -b "$BYTES" -d -a 2 "$NAME.tar.xz" "$NAME.tar.xz.part-"
  touch SHA256SUMS
  grep -v -E " $NAME\.tar\.xz(\.part-[0-9]+)?$" SHA256SUMS >SHA256SUMS.tmp || true
  sha256sum "$NAME.tar.xz" "$NAME.tar.xz.part-"* >>SHA256SUMS.tmp
  mv SHA256SUMS.tmp SHA256SUMS
  rm -f "$NAME.tar.xz"
  echo "$NAME: $(ls "$NAME.tar.xz.part-"* | wc -l) part(s) of at most $BYTES bytes"
)
