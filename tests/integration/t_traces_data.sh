#!/bin/bash
# t_traces_data.sh — real trace data written by others (../shared/data: the Zipkin project's
# test traces, Jaeger's trace fixtures converted to OTLP JSON, the OTLP example files) through
# owld's ingest routes, every trace read back whole by id (traces_data.py). owld keeps spans
# forever here (--trace-retention-days 0): the files are years old. SKIPs without the data.
. "$(dirname "$0")/lib.sh"

DATA_DIR=${OWL_TEST_DATA:-$OWL_SRCDIR/../shared/data}
[ -d "$DATA_DIR/traces-zipkin" ] || skip "trace data not found in $DATA_DIR (set OWL_TEST_DATA)"
start_owld --trace-retention-days 0 || bail "owld starts"
run_py traces_data.py "$IT_DIR/traces_data.py" "$BASE" "$ADMIN" "$DATA_DIR"
finish
