#!/usr/bin/env bash
# Speed targets, each measured against its baseline in the same run:
#   host step overhead over a bare `bash -c`          target < 5 ms
#   planning a 256-cell matrix                         target < 50 ms
#   one-step container job vs a bare container         target < 1.3x
#   secrets scan vs the gitleaks CLI of the same version (time, peak memory)
#   masking throughput, expression evaluation          (reported)
#   host job, 20-job workflow and step costs            (bench/jobs.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${BENCH_COUNT:-5x}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test -run '^$' -bench 'StepOverhead|PlanMatrix256' -benchtime "$count" ./runner/scheduler/ | tee -a "$out"
go test -run '^$' -bench 'Expand256' ./runner/matrix/ | tee -a "$out"
go test -run '^$' -bench . ./internal/mask/ ./internal/expr/ | tee -a "$out"
go test -run '^$' -bench 'ContainerJobOverhead' -benchtime "$count" ./runner/dockerbackend/ | tee -a "$out"
go test -run '^$' -bench 'SecretsVsGitleaksCLI' -benchtime 1x ./actions/scan/internal/scanaction/ | tee -a "$out"
echo
awk '
/ms-over-bash\/step/ { for (i=1;i<=NF;i++) if ($(i+1)=="ms-over-bash/step") printf "host step overhead: %.2f ms over bare bash (target < 5 ms)\n", $i }
/ms\/plan/ { for (i=1;i<=NF;i++) if ($(i+1)=="ms/plan") printf "256-cell matrix plan: %.2f ms (target < 50 ms, ratio %.3f)\n", $i, $i/50 }
/x-bare-container/ { for (i=1;i<=NF;i++) if ($(i+1)=="x-bare-container") printf "container job: %.2fx a bare container (target < 1.3x)\n", $i }
/x-time/ { for (i=1;i<=NF;i++) { if ($(i+1)=="x-time") t=$i; if ($(i+1)=="x-memory") m=$i; if ($(i+1)=="s-all-scanners") as=$i; if ($(i+1)=="MiB-all-scanners") am=$i }; printf "secrets scan of the docker module: %.2fx the time and %.2fx the peak memory of the gitleaks CLI; all scanners: %.1f s, %.0f MiB\n", t, m, as, am }
' "$out"
echo
bash bench/jobs.sh
