#!/usr/bin/env bash
# Arrow IPC write + read round trip of an in-memory 3M-row table (no peer: the target is ≥ 1 GB/s). One JSON line.
source "$(dirname "$0")/common.sh"
$STRATA_BENCH peer arrow-roundtrip
