#!/usr/bin/env bash
# Build sv_otel's OpenTelemetry Collector from collector_config/builder.yaml, once, and print the
# binary's path as the last line of standard output (progress goes to standard error).
#
# The Collector's own builder (OCB) is installed with `go install` at the release the manifest pins,
# and the binary lands in a git-ignored cache directory keyed by that release and a hash of the
# manifest, so a later run finds it and returns at once; editing the manifest builds a new one.
#
#   collector_config/build-collector.sh          # -> .cache/otelcol/0.161.0-<hash>/otelcol-sv
#
# Environment:
#   SV_OTEL_OTELCOL_CACHE  cache root (default: <repo>/.cache/otelcol); point several clones of the
#                          repository at one directory to build only once per machine.
#   GO                     the go command to use (default: go on PATH).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
manifest="$here/builder.yaml"
go_cmd="${GO:-go}"

die() {
    echo "build-collector: $*" >&2
    exit 1
}

# The release: `dist.version` in the manifest, the same as every component's version.
version="$(sed -n 's/^  version: *\([0-9][0-9.]*\) *$/\1/p' "$manifest")"
[ -n "$version" ] || die "no 'dist.version' (like '  version: 0.161.0') in $manifest"
name="$(sed -n 's/^  name: *\([A-Za-z0-9_-]*\) *$/\1/p' "$manifest" | head -n 1)"
[ -n "$name" ] || die "no 'dist.name' in $manifest"
digest="$(sha256sum "$manifest" | cut -c1-12)"

cache_root="${SV_OTEL_OTELCOL_CACHE:-$repo/.cache/otelcol}"
dist="$cache_root/$version-$digest"
binary="$dist/$name"

if [ -x "$binary" ]; then
    echo "$binary"
    exit 0
fi

command -v "$go_cmd" >/dev/null 2>&1 ||
    die "Go is not installed ('$go_cmd' is not on PATH); it is needed to build the OpenTelemetry Collector (https://go.dev/doc/install)"

mkdir -p "$cache_root"
# One build at a time per cache root: a second caller waits, then finds the binary.
exec 9>"$cache_root/.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
fi
if [ -x "$binary" ]; then
    echo "$binary"
    exit 0
fi

started=$SECONDS
# The generated module lives inside this repository's work tree; stamping this repository's git
# state into the Collector would be meaningless (and fails where git is absent or distrusts it).
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-buildvcs=false"
builder_dir="$cache_root/builder-v$version"
builder="$builder_dir/builder"
if [ ! -x "$builder" ]; then
    echo "build-collector: installing the Collector builder v$version with go install" >&2
    GOBIN="$builder_dir" "$go_cmd" install "go.opentelemetry.io/collector/cmd/builder@v$version" >&2
fi

# Build into a scratch directory and move it into place whole, so that an interrupted build never
# leaves a directory that looks finished.
work="$(mktemp -d "$cache_root/.build-XXXXXX")"
trap 'rm -rf "$work"' EXIT
go_path="$(command -v "$go_cmd")"
sed "s|^dist:$|dist:\n  output_path: $work/dist\n  go: $go_path|" "$manifest" >"$work/builder.yaml"
echo "build-collector: building $name $version into $dist (the first build takes minutes)" >&2
(cd "$work" && "$builder" --config="$work/builder.yaml" >&2) ||
    die "the Collector builder failed (its output is above)"
[ -x "$work/dist/$name" ] || die "the builder finished but wrote no $work/dist/$name"
rm -rf "$dist"
mv "$work/dist" "$dist"
echo "build-collector: built $binary in $((SECONDS - started)) s ($(du -h "$binary" | cut -f1))" >&2
echo "$binary"
