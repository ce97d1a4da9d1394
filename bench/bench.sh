#!/usr/bin/env bash
# Speed targets, each measured against its baseline in the same run:
#   host step overhead over a bare `bash -c`          target < 5 ms
#   planning a 256-cell matrix                         target < 50 ms
#   one-step container job vs a bare container         target < 1.3x
#   secrets scan vs the gitleaks CLI of the same version (time, peak memory)
#   scan step with the released image vs a Dockerfile build
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
go test -run '^$' -bench 'ScanStepStart' -benchtime 1x ./actions/internal/e2e/ | tee -a "$out"
echo
awk '
/ms-over-bash\/step/ { for (i=1;i<=NF;i++) if ($(i+1)=="ms-over-bash/step") printf "host step overhead: %.2f ms over bare bash (target < 5 ms)\n", $i }
/ms\/plan/ { for (i=1;i<=NF;i++) if ($(i+1)=="ms/plan") printf "256-cell matrix plan: %.2f ms (target < 50 ms, ratio %.3f)\n", $i, $i/50 }
/x-bare-container/ { for (i=1;i<=NF;i++) if ($(i+1)=="x-bare-container") printf "container job: %.2fx a bare container (target < 1.3x)\n", $i }
/x-time-small/ { for (i=1;i<=NF;i++) { v[$(i+1)]=$i }; printf "secrets scan vs the gitleaks CLI (same version), median of interleaved runs:\n  small tree (gitleaks testdata): %.2fx the time (%.3f s vs %.3f s), %.2fx the peak memory (%.0f vs %.0f MiB)\n  large tree (110 MB of modules): %.2fx the time (%.2f s vs %.2f s), %.2fx the peak memory (%.0f vs %.0f MiB)\n  all scanners on the docker module: %.1f s, %.0f MiB\n", v["x-time-small"], v["s-gantry-small"], v["s-gitleaks-small"], v["x-memory-small"], v["MiB-gantry-small"], v["MiB-gitleaks-small"], v["x-time-large"], v["s-gantry-large"], v["s-gitleaks-large"], v["x-memory-large"], v["MiB-gantry-large"], v["MiB-gitleaks-large"], v["s-all-scanners"], v["MiB-all-scanners"] }
/x-build-over-pinned/ { for (i=1;i<=NF;i++) { w[$(i+1)]=$i }; printf "scan step: a job with the released image present takes %.1f s; building the root Dockerfile (what every job did before) %.1f s (%.1fx)\n", w["s-job-pinned-image"], w["s-dockerfile-build"], w["x-build-over-pinned"] }
' "$out"
echo
bash bench/jobs.sh
