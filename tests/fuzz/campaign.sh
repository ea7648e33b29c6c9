#!/usr/bin/env bash
# A fuzzing campaign (docs/security.md has the last one's figures): every
# harness that tests/fuzz/run.sh built runs until 10 million executions or
# an hour, whichever comes first (CAMPAIGN_RUNS, CAMPAIGN_SECONDS), two at a
# time (CAMPAIGN_JOBS) at nice 15, growing its corpus in build-fuzz/. One
# line per harness goes to build-fuzz/campaign.txt: executions, seconds,
# executions per second, coverage, crashes (0, or the crashing input's name).
# Usage: tests/fuzz/run.sh first (builds), then tests/fuzz/campaign.sh [HARNESS...]
set -uo pipefail
cd "$(dirname "$0")/../.."
out=build-fuzz
runs=${CAMPAIGN_RUNS:-10000000}
seconds=${CAMPAIGN_SECONDS:-3600}
jobs=${CAMPAIGN_JOBS:-2}
harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
  for f in "$out"/fuzz_*; do
    [ -x "$f" ] && [ -f "$f" ] && harnesses+=("$(basename "$f")")
  done
fi

one() { # harness
  local h=$1 corpus="$out/$1-corpus" log="$out/$1.campaign.log"
  mkdir -p "$corpus"
  local t0=$SECONDS
  (cd "$out" && nice -n 15 "./$h" -runs="$runs" -max_total_time="$seconds" -max_len=65536 \
     -print_final_stats=1 -artifact_prefix="$h-" "$h-corpus" >"$h.campaign.log" 2>&1)
  local rc=$? took=$((SECONDS - t0))
  local execs cov crash=0
  execs=$(grep -oE "stat::number_of_executed_units: *[0-9]+" "$log" | grep -oE "[0-9]+$" | tail -1)
  cov=$(grep -oE "cov: [0-9]+" "$log" | tail -1 | grep -oE "[0-9]+")
  if [ $rc -ne 0 ]; then
    crash=$(grep -oE "Test unit written to [^ ]+" "$log" | tail -1 | sed 's/.* //')
    crash=${crash:-"exit $rc"}
  fi
  printf "%-20s %12s execs %6ss %8s/s cov %6s crashes %s\n" "$h" "${execs:-?}" "$took" \
    "$(( ${execs:-0} / (took > 0 ? took : 1) ))" "${cov:-?}" "$crash" | tee -a "$out/campaign.txt"
}

echo "# campaign $(date -u +%FT%TZ): $runs runs or ${seconds}s each, $jobs at a time" \
  >>"$out/campaign.txt"
running=0
for h in "${harnesses[@]}"; do
  one "$h" &
  running=$((running + 1))
  if [ $running -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait
