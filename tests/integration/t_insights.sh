#!/bin/bash
# t_insights.sh — CloudWatch Logs Insights against a real owld: the 16 Loghub samples (one
# group each) and JSON lines, queried through the Debian AWS CLI v2 (start-query,
# get-query-results) with every answer compared to Python's over the same lines; GetLogRecord,
# DescribeQueries, StopQuery, saved queries, errors and the native POST /api/v1/logs/insights
# (insights.py queries); then the limits: memory and concurrency on an owld with one query
# thread (insights.py limits), the time limit on one with a 1 ms limit (insights.py timeout).
. "$(dirname "$0")/lib.sh"

AWS=/usr/bin/aws
LOGHUB=$OWL_SRCDIR/../shared/data/loghub
[ -x "$AWS" ] || skip "$AWS is not installed (apt-get install awscli)"
[ -f "$LOGHUB/HDFS/HDFS_2k.log" ] || skip "the Loghub samples are not in $LOGHUB"
"$PYTHON" -c 'import boto3' 2>/dev/null || skip "python3 has no boto3"

start_owld || bail "owld starts"
run_py "insights.py queries" "$IT_DIR/insights.py" queries "$PORT" "$DATA" "$LOGHUB" "$AWS"
stop_owld

DATA=$T/limits
start_owld --insights-workers 1 --insights-concurrency 2 --insights-max-mib 1 ||
    bail "owld starts with one query thread"
run_py "insights.py limits" "$IT_DIR/insights.py" limits "$PORT" "$DATA"
stop_owld
start_owld --insights-timeout-ms 1 || bail "owld starts with a 1 ms query time limit"
run_py "insights.py timeout" "$IT_DIR/insights.py" timeout "$PORT" "$DATA"
check_logs_clean
finish
