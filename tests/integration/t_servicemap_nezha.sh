#!/bin/bash
# t_servicemap_nezha.sh — real traces (Nezha's TrainTicket and OnlineBoutique span tables in
# ../shared/data/other/nezha) converted to OTLP by tests/servicemap/nezha.py: the service map
# has exactly the services and edges the tables hold (TrainTicket 28 and 53, OnlineBoutique
# 10 and 13), with and without a filter; reports where each labelled faulty service ranks in
# the latency root cause. SKIPs without the data.
. "$(dirname "$0")/lib.sh"

DATA_DIR=${OWL_TEST_DATA:-$OWL_SRCDIR/../shared/data}
[ -d "$DATA_DIR/other/nezha/trainticket" ] && [ -d "$DATA_DIR/other/nezha/onlineboutique" ] ||
    skip "Nezha data not found in $DATA_DIR/other/nezha (set OWL_TEST_DATA)"
start_owld || bail "owld starts"
run_py nezha.py "$OWL_SRCDIR/tests/servicemap/nezha.py" "$BASE" "$ADMIN" "$DATA_DIR"
finish
