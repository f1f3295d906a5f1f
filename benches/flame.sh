#!/bin/sh
# Flame graphs of the lean bench's CPU profiles (benches/lean.rs, LEAN_PERF=DIR), with inferno
# (`cargo install inferno`: inferno-collapse-perf, inferno-flamegraph).
#
#   LEAN_PERF=target/lean-perf cargo bench --bench lean -- 64 256
#   benches/flame.sh target/lean-perf benches/flames before
#
# writes OUT_DIR/PREFIX-<variant>.svg for every DIR/lean-<variant>.perf.data, keeps the folded
# stacks next to the data (DIR/<variant>.folded) and prints the top functions by self and by
# inclusive time.
set -eu
perf_dir=$1
out_dir=$2
prefix=${3:-before}
mkdir -p "$out_dir"
for data in "$perf_dir"/lean-*.perf.data; do
    variant=$(basename "$data" .perf.data)
    variant=${variant#lean-}
    folded="$perf_dir/$variant.folded"
    perf script -i "$data" --no-inline 2>/dev/null | inferno-collapse-perf >"$folded"
    inferno-flamegraph --title "sitegate run, lean $variant ($prefix)" \
        --subtitle "perf record -e cpu-clock -F 999, the daemon's process during the window" \
        <"$folded" >"$out_dir/$prefix-$variant.svg"
    echo "== $variant: $out_dir/$prefix-$variant.svg"
    python3 - "$folded" <<'PY'
import collections, sys
self_t, incl = collections.Counter(), collections.Counter()
total = 0
for line in open(sys.argv[1]):
    stack, _, n = line.rstrip().rpartition(" ")
    n = int(n)
    frames = stack.split(";")
    total += n
    self_t[frames[-1]] += n
    for f in set(frames[1:]):
        incl[f] += n
print(f"CPU sampled: {total / 1e9:.2f} s (weights are cpu-clock periods, ns)")
for name, c in (("self", self_t), ("inclusive", incl)):
    print(f"-- top by {name} time")
    for f, n in c.most_common(25):
        print(f"{100 * n / total:6.2f} %  {f[:150]}")
PY
done
