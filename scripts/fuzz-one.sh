#!/bin/sh
# fuzz-one.sh PKG TARGET FUZZTIME — fuzz one target; fail on a finding.
#
# Go 1.26's fuzzing coordinator can end a duration-bounded run with a bare
# "context deadline exceeded" when -fuzztime expires while a worker is
# mid-call (golang/go#75804, fixed in Go 1.27). That is not a finding: no
# failing input is written. Such a run is retried once; anything else that
# fails — a failing input, a panic, a test error — fails at once.
set -u
pkg=$1 target=$2 fuzztime=$3
go=${GO:-go}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for attempt in 1 2; do
  if "$go" test "./$pkg" -run='^$' -fuzz="^$target\$" -fuzztime="$fuzztime" -fuzzminimizetime=5s >"$log" 2>&1; then
    cat "$log"
    exit 0
  fi
  cat "$log"
  if grep -q 'context deadline exceeded' "$log" && ! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' "$log"; then
    [ "$attempt" = 1 ] && echo "fuzz $pkg $target: the fuzzing engine's end-of-run deadline race (golang/go#75804), no input found; running it once more"
    continue
  fi
  exit 1
done
exit 1
