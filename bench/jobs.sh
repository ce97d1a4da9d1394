#!/usr/bin/env bash
# Host job and workflow costs, each against bare `bash -c` runs measured in
# the same run (run on a quiet machine: mounts and process starts slow down
# a lot when other work holds the machine):
#   fixed cost of a one-step host job, 2,000-file repository   target < 10 ms
#     (a whole run of it; the job alone; copy-on-write workspace, the default; a full copy for comparison)
#   a 20-job needs chain, one step each                           target < 0.5 s (act: 0.53 s)
#   a host step over a bare bash -c                               target < 0.3 ms
#   50 host steps in one job vs 50 bare bash -c                   (reported)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${BENCH_COUNT:-20x}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test -run '^$' -bench 'HostJobFixedCost|Needs20|50Steps|StepOverhead' -benchtime "$count" ./runner/scheduler/ | tee -a "$out"
go test -run '^$' -bench 'JobFixedCost' -benchtime "$count" ./runner/engine/ | tee -a "$out"
echo
awk '
/^BenchmarkJobFixedCost/ { for (i=1;i<=NF;i++) { if ($(i+1)=="ms-fixed/job") f=$i; if ($(i+1)=="x-bash") x=$i }; printf "a host job'"'"'s critical path (engine.RunJob; the run'"'"'s set-up and the background removal of its folder excluded), 2,000 files: %.1f ms over bare bash (%.1fx bash; target < 10 ms, ratio %.2f)\n", f, x, f/10 }
/HostJobFixedCost\/overlay/ { for (i=1;i<=NF;i++) { if ($(i+1)=="ms-fixed/job") f=$i; if ($(i+1)=="x-bash") x=$i }; printf "host job fixed cost, 2,000 files, copy-on-write workspace: %.1f ms over bare bash (%.1fx bash; target < 10 ms, ratio %.2f)\n", f, x, f/10 }
/HostJobFixedCost\/copy/ { for (i=1;i<=NF;i++) { if ($(i+1)=="ms-fixed/job") f=$i; if ($(i+1)=="x-bash") x=$i }; printf "host job fixed cost, 2,000 files, full copy (for comparison): %.1f ms (%.1fx bash)\n", f, x }
/Needs20/ { for (i=1;i<=NF;i++) { if ($(i+1)=="s/run") s=$i; if ($(i+1)=="x-bash") x=$i }; printf "20-job needs chain: %.3f s (%.1fx 20 bare bash; target < 0.5 s, ratio %.2f)\n", s, x, s/0.5 }
/StepOverhead/ { for (i=1;i<=NF;i++) { if ($(i+1)=="ms-over-bash/step") s=$i; if ($(i+1)=="x-bash") x=$i }; printf "host step: %.2f ms over bare bash (%.2fx; target < 0.3 ms, ratio %.2f)\n", s, x, s/0.3 }
/50Steps/ { for (i=1;i<=NF;i++) { if ($(i+1)=="ms/50-steps") s=$i; if ($(i+1)=="ms/50-bash") b=$i; if ($(i+1)=="x-bash") x=$i }; printf "50 host steps: %.1f ms against %.1f ms of 50 bare bash (%.2fx)\n", s, b, x }
' "$out"
