#!/bin/bash
# t_servicemap_diag.sh — diagnosis quality (issue 15): tests/servicemap/diagnose.py posts 200
# scenarios of tests/servicemap/faultgen.py (seed 15: random topologies of 5-30 services with
# one injected fault each, an error rate, a latency shift or a slow dependency) to owld and
# scores GET /api/v1/rootcause and /api/v1/bottlenecks against the injected fault: root cause
# first >= 90%, in the top 3 >= 98%, bottleneck first >= 90% (docs/service-map.md "Diagnosis quality").
# Bounded: the run stops and fails after --budget seconds.
. "$(dirname "$0")/lib.sh"

SM_DIR=$OWL_SRCDIR/tests/servicemap
start_owld || bail "owld starts"
run_py diagnose.py "$SM_DIR/diagnose.py" "$BASE" "$ADMIN" --seed 15 --scenarios 200 --budget 420
finish
