"""alarms.py — CloudWatch alarms through boto3 (the machine's botocore 1.43, which speaks Smithy
RPC v2 CBOR to CloudWatch): put_metric_alarm, put_composite_alarm, describe_alarms (both
kinds), describe_alarm_history, delete_alarms, and a validation error in CBOR's shape.
Usage: alarms.py PORT KEY SECRET; prints TAP lines."""
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

PORT, KEY, SECRET = int(sys.argv[1]), sys.argv[2], sys.argv[3]


def check(name, cond, got=None):
    print(("ok - " if cond else "not ok - ") + name)
    if not cond and got is not None:
        print("#   got: %r" % (got,))


cw = boto3.client("cloudwatch", endpoint_url="http://127.0.0.1:%d" % PORT,
                  region_name="us-east-1", aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                  config=Config(retries={"max_attempts": 1}, read_timeout=30))
proto = cw.meta.service_model.protocol
print("# botocore speaks %s to CloudWatch" % proto)
cw.put_metric_alarm(AlarmName="b3", Namespace="Boto", MetricName="Lag",
                    Dimensions=[{"Name": "q", "Value": "orders"}], ExtendedStatistic="p99",
                    Period=60, EvaluationPeriods=3, DatapointsToAlarm=2, Threshold=2.5,
                    ComparisonOperator="GreaterThanOrEqualToThreshold",
                    TreatMissingData="notBreaching", EvaluateLowSampleCountPercentile="ignore")
cw.put_composite_alarm(AlarmName="b3-any", AlarmRule="ALARM(b3) OR ALARM(\"b3\")")
# A new alarm is INSUFFICIENT_DATA until its first evaluation; with no data and
# notBreaching that evaluation (at the next whole second on a slow machine) makes it OK.
r = cw.describe_alarms(AlarmNamePrefix="b3", AlarmTypes=["MetricAlarm", "CompositeAlarm"])
m = r["MetricAlarms"]
check("boto3 put_metric_alarm + describe_alarms: the definition comes back",
      len(m) == 1 and m[0]["ExtendedStatistic"] == "p99" and m[0]["DatapointsToAlarm"] == 2 and
      m[0]["Threshold"] == 2.5 and m[0]["TreatMissingData"] == "notBreaching" and
      m[0]["EvaluateLowSampleCountPercentile"] == "ignore" and
      m[0]["StateValue"] in ("INSUFFICIENT_DATA", "OK"), m)
c = r["CompositeAlarms"]
check("boto3 put_composite_alarm + describe_alarms: the composite and its rule",
      len(c) == 1 and c[0]["AlarmRule"] == "ALARM(b3) OR ALARM(\"b3\")", c)
h = cw.describe_alarm_history(AlarmName="b3", HistoryItemType="ConfigurationUpdate")
check("boto3 describe_alarm_history: the creation",
      [i["HistorySummary"] for i in h["AlarmHistoryItems"]] == ['Alarm "b3" created'], h)
try:
    cw.put_metric_alarm(AlarmName="b3-bad", Namespace="Boto", MetricName="Lag",
                        Statistic="Average", Period=45, EvaluationPeriods=1, Threshold=1,
                        ComparisonOperator="GreaterThanThreshold")
    check("boto3: Period 45 is refused", False)
except ClientError as e:
    check("boto3: Period 45 is refused with InvalidParameterValue, 400",
          e.response["Error"]["Code"] == "InvalidParameterValue" and
          e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, e.response)
cw.delete_alarms(AlarmNames=["b3-any", "b3"])
# not the very request sent above: owld refuses a replayed signed request within its window
r = cw.describe_alarms(AlarmNamePrefix="b3", AlarmTypes=["CompositeAlarm", "MetricAlarm"],
                       MaxRecords=10)
check("boto3 delete_alarms: both gone", not r["MetricAlarms"] and not r["CompositeAlarms"], r)
