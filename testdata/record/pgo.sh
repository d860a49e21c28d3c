#!/usr/bin/env bash
# pgo.sh: records the CPU profile finack is built with (profile-guided optimization).
#
#   sudo testdata/record/pgo.sh                          # records real100k, generates big2m
#   REAL=real100k.pcap BIG=big2m.pcap testdata/record/pgo.sh   # given captures, no root
#
# `go build` and `go install` of ./cmd/finack read cmd/finack/default.pgo (the Go
# toolchain's -pgo=auto): the compiler inlines the calls the profile shows hot and
# lays out their code for them. This script writes that file again from the
# workloads finack is measured on (docs/performance.md): the real capture of
# record.sh many-reuse (100,000 Linux connections, two thirds of them reusing a
# 4-tuple held in TIME_WAIT; recorded when REAL is not given, which needs root) and
# the generated big2m mix (finack-gen -big 2000000), each read RUNS times (default 3)
# with `-o json` and `-o text` (the default report), the default workers; the profiles
# merged by `go tool pprof -proto`. Run it again when the code the captures exercise
# has changed much: a stale profile still builds, it only guides less.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${RUNS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$REPO" && go build -o "$work/finack" ./cmd/finack && go build -o "$work/finack-gen" ./cmd/finack-gen)
real=${REAL:-}
if [ -z "$real" ]; then
	[ "$(id -u)" -eq 0 ] || { echo "pgo.sh: recording real100k needs root (or give REAL=FILE)" >&2; exit 2; }
	FINACK_PCAPS="$work" "$REPO/testdata/record/record.sh" many-reuse >&2
	real="$work/many-reuse.pcap"
fi
big=${BIG:-}
if [ -z "$big" ]; then
	big="$work/big2m.pcap"
	"$work/finack-gen" -big 2000000 -o "$big" 2>/dev/null
fi

n=0
for _ in $(seq "$RUNS"); do
	for file in "$real" "$big"; do
		for format in json text; do
			n=$((n + 1))
			"$work/finack" -q -r "$file" -o "$format" --cpuprofile "$work/cpu$n.prof" >/dev/null
		done
	done
done
go tool pprof -proto "$work"/cpu*.prof >"$work/default.pgo" 2>/dev/null
mv "$work/default.pgo" "$REPO/cmd/finack/default.pgo"
echo "pgo.sh: cmd/finack/default.pgo from $n profiles" >&2
