#!/usr/bin/env bash
# Spark GPU resource discovery: prints {"name":"gpu","addresses":["0","1",...]}.
# FORJA_FAKE_GPUS="0,1" lists fake addresses instead (tests on machines without GPUs).
set -euo pipefail
if [ -n "${FORJA_FAKE_GPUS:-}" ]; then
  addrs=$FORJA_FAKE_GPUS
else
  addrs=$(nvidia-smi --query-gpu=index --format=csv,noheader | paste -sd, -)
fi
printf '{"name":"gpu","addresses":[%s]}\n' "$(echo "$addrs" | sed -E 's/([^,]+)/"\1"/g')"
