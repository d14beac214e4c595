#!/bin/bash
# t_cloudwatch.sh — CloudWatch metrics against a real owld: the Debian AWS CLI v2 (query
# protocol) puts a single value, values+counts, a statistic set, dimensions and storage
# resolution 1, reads the five statistics and p99 back (compared with what this test computes
# from the same data), lists metrics and runs get-metric-data with an expression; then
# cloudwatch.py does the same with boto3 (RPC v2 CBOR) and breaks each PutMetricData rule
# in each of the three protocols. Also owl's native POST /api/v1/metrics and
# GET /api/v1/metrics/query in JSON and CSV.
. "$(dirname "$0")/lib.sh"

AWS=/usr/bin/aws
start_owld || bail "owld starts"


if [ -x "$AWS" ]; then
    TS=$(date -u -d '-2 min' +%Y-%m-%dT%H:%M:%SZ)
    START=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)
    END=$(date -u -d '+5 min' +%Y-%m-%dT%H:%M:%SZ)
    # 25 single values 1..25 at resolution 1, Values 100,200 with Counts 3,1, and a
    # statistic set of 2 samples summing to 9 (min 4, max 5)
    for v in $(seq 1 25); do
        awsc cloudwatch put-metric-data --namespace CliApp --metric-name Latency \
            --dimensions host=a,az=b --unit Milliseconds --value "$v" --timestamp "$TS" \
            --storage-resolution 1
        [ "$AWS_RC" = 0 ] || break
    done
    check_eq "CLI put-metric-data --value (x25, resolution 1) exits 0" 0 "$AWS_RC"
    [ "$AWS_RC" = 0 ] || echo "# $AWS_ERR"
    awsc cloudwatch put-metric-data --namespace CliApp --metric-data \
        "[{\"MetricName\":\"Latency\",\"Dimensions\":[{\"Name\":\"host\",\"Value\":\"a\"},{\"Name\":\"az\",\"Value\":\"b\"}],\"Timestamp\":\"$TS\",\"Unit\":\"Milliseconds\",\"Values\":[100,200],\"Counts\":[3,1]}]"
    check_eq "CLI put-metric-data Values+Counts exits 0" 0 "$AWS_RC"
    awsc cloudwatch put-metric-data --namespace CliApp --metric-name Latency \
        --dimensions host=a,az=b --unit Milliseconds --timestamp "$TS" \
        --statistic-values SampleCount=2,Sum=9,Minimum=4,Maximum=5
    check_eq "CLI put-metric-data --statistic-values exits 0" 0 "$AWS_RC"
    grep -q "application/x-www-form-urlencoded" "$T/aws.err" 2>/dev/null ||
        echo "# (the CLI's debug output is off: the query protocol is checked by the XML answers)"

    awsc cloudwatch get-metric-statistics --namespace CliApp --metric-name Latency \
        --dimensions Name=az,Value=b Name=host,Value=a --start-time "$START" --end-time "$END" \
        --period 3900 --statistics SampleCount Average Sum Minimum Maximum
    check_eq "CLI get-metric-statistics exits 0" 0 "$AWS_RC"
    # expected: n = 25 + 4 + 2 = 31; sum = 325 + 500 + 9 = 834; min 1; max 200
    got=$(printf '%s' "$AWS_OUT" | "$PYTHON" -c '
import json, sys
dp = json.load(sys.stdin)["Datapoints"]
n = sum(d["SampleCount"] for d in dp); s = sum(d["Sum"] for d in dp)
print("%g %g %g %g %s" % (n, s, min(d["Minimum"] for d in dp), max(d["Maximum"] for d in dp),
      "%.6f" % dp[0]["Average"] if len(dp) == 1 else "split"))' 2>&1)
    case "$got" in
    *split) check_eq "CLI SampleCount Sum Minimum Maximum" "31 834 1 200 split" "$got" ;;
    *) check_eq "CLI SampleCount Sum Minimum Maximum Average" "31 834 1 200 26.903226" "$got" ;;
    esac
    awsc cloudwatch get-metric-statistics --namespace CliApp --metric-name Latency \
        --dimensions Name=az,Value=b Name=host,Value=a --start-time "$START" --end-time "$END" \
        --period 3900 --extended-statistics p99 p50
    check_eq "CLI get-metric-statistics --extended-statistics exits 0" 0 "$AWS_RC"
    # the values with a distribution: 1..25, 100 x3, 200 (the statistic set has none)
    got=$(printf '%s' "$AWS_OUT" | "$PYTHON" -c '
import json, math, sys
dp = json.load(sys.stdin)["Datapoints"]
vals = sorted(list(range(1, 26)) + [100] * 3 + [200])
def rank(q): return vals[max(1, math.ceil(q * len(vals))) - 1]
ext = dp[0]["ExtendedStatistics"] if len(dp) == 1 else {}
ok = all(abs(ext.get(k, -1) - rank(q)) <= 0.01 * rank(q) for k, q in (("p99", .99), ("p50", .5)))
print("within 1%" if ok else "off: %s vs p99 %s p50 %s" % (ext, rank(.99), rank(.5)))' 2>&1)
    check_eq "CLI p99 and p50 within the sketch's 1% of the exact values" "within 1%" "$got"
    awsc cloudwatch list-metrics --namespace CliApp
    check_eq "CLI list-metrics exits 0" 0 "$AWS_RC"
    check_eq "CLI list-metrics names Latency with both dimensions" "Latency az=b host=a" \
        "$(printf '%s' "$AWS_OUT" | "$PYTHON" -c '
import json, sys
m = json.load(sys.stdin)["Metrics"]
print(" ".join([m[0]["MetricName"]] + sorted("%s=%s" % (d["Name"], d["Value"]) for d in m[0]["Dimensions"])) if len(m) == 1 else m)')"
    cat >"$T/gmd.json" <<JSON
[{"Id":"s","ReturnData":false,"MetricStat":{"Metric":{"Namespace":"CliApp","MetricName":"Latency","Dimensions":[{"Name":"host","Value":"a"},{"Name":"az","Value":"b"}]},"Period":3900,"Stat":"Sum"}},
 {"Id":"n","ReturnData":false,"MetricStat":{"Metric":{"Namespace":"CliApp","MetricName":"Latency","Dimensions":[{"Name":"host","Value":"a"},{"Name":"az","Value":"b"}]},"Period":3900,"Stat":"SampleCount"}},
 {"Id":"mean","Expression":"SUM(METRICS()) * 0 + s / n","Label":"mean"}]
JSON
    awsc cloudwatch get-metric-data --metric-data-queries "file://$T/gmd.json" \
        --start-time "$START" --end-time "$END"
    check_eq "CLI get-metric-data with an expression exits 0" 0 "$AWS_RC"
    [ "$AWS_RC" = 0 ] || echo "# $AWS_ERR"
    got=$(printf '%s' "$AWS_OUT" | "$PYTHON" -c '
import json, sys
r = json.load(sys.stdin)["MetricDataResults"]
print(len(r), r[0]["Id"], r[0]["Label"], "%.6f" % sum(r[0]["Values"]) if len(r[0]["Values"]) == 1 else r)' 2>&1)
    case "$got" in
    "1 mean mean 26.903226") ok "CLI get-metric-data: s / n is the average ($got)" ;;
    *) # the window may have split the points across two periods; the ratio then differs
        check_contains "CLI get-metric-data answers the expression" "$got" "1 mean mean" ;;
    esac
    awsc cloudwatch put-metric-data --namespace AWS/EC2 --metric-name x --value 1
    check "CLI: namespace AWS/EC2 is refused" test "$AWS_RC" -ne 0
    check_contains "... with InvalidParameterValue" "$AWS_ERR" "InvalidParameterValue"
else
    echo "# SKIP the CLI part: $AWS is not installed"
fi

# ---- owl's native API ----
NOWMS=$(now_ms)
admin POST /api/v1/metrics -H 'Content-Type: application/json' --data-binary "{\"metrics\":[{\"namespace\":\"Native\",\"name\":\"Temp\",\"dimensions\":{\"room\":\"r1\"},\"unit\":\"None\",\"timestamps\":[$((NOWMS - 3000)),$((NOWMS - 2000)),$((NOWMS - 1000))],\"values\":[20,21,25]},{\"namespace\":\"Native\",\"name\":\"Temp\",\"dimensions\":{\"room\":\"r1\"},\"timestamp\":$((NOWMS - 500)),\"stats\":{\"count\":2,\"sum\":40,\"min\":19,\"max\":21}}]}"
check_eq "native POST /api/v1/metrics answers 200" 200 "$STATUS"
check_eq "... accepted 4" 4 "$(jget accepted "$BODY")"
admin POST /api/v1/metrics -H 'Content-Type: application/json' \
    --data-binary '{"metrics":[{"namespace":"Native","name":"Temp","value":"NaN"}]}'
check_eq "native: a bad value is a 400" 400 "$STATUS"
check_contains "... InvalidParameter" "$BODY" InvalidParameter
Q="/api/v1/metrics/query?namespace=Native&name=Temp&dim.room=r1&period=3600&stat=SampleCount&stat=Sum&stat=Maximum&start=$((NOWMS - 3600000))&end=$((NOWMS + 60000))"
admin GET "$Q"
check_eq "native GET /api/v1/metrics/query answers 200" 200 "$STATUS"
got=$(printf '%s' "$BODY" | "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)["datapoints"]
print("%g %g %g" % (sum(p["SampleCount"] for p in d), sum(p["Sum"] for p in d), max(p["Maximum"] for p in d)))' 2>&1)
check_eq "native query: SampleCount Sum Maximum" "5 106 25" "$got"
csv=$(curl -s -H "Authorization: Bearer $ADMIN" -H "Accept: text/csv" "$BASE$Q")
check_contains "native query as CSV has the header" "$csv" "timestamp,SampleCount,Sum,Maximum"
check_eq "native CSV: one line per period after the header" \
    "$(printf '%s\n' "$csv" | "$PYTHON" -c '
import sys
rows = [l.split(",") for l in sys.stdin.read().split("\n")[1:] if l]
print("%g" % sum(float(r[1]) for r in rows))')" "5"

# ---- boto3 (RPC v2 CBOR), and every rule in every protocol ----
if "$PYTHON" -c 'import boto3' 2>/dev/null; then
    run_py "cloudwatch.py" "$IT_DIR/cloudwatch.py" "$PORT" "$ADMIN_ID" "${ADMIN#*:}"
else
    echo "# SKIP the boto3 part: python3 has no boto3"
fi

check_logs_clean
finish
