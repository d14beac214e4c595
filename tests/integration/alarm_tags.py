"""alarm_tags.py — alarm tags and history pages through boto3 (the machine's botocore 1.43, which
speaks Smithy RPC v2 CBOR to CloudWatch): tag_resource, list_tags_for_resource,
untag_resource, ResourceNotFoundException with its 404, describe_alarm_history's paginator;
and the tag actions in AWS JSON 1.0, hand-signed (cloudwatch.py's send). The alarm's other
tags are left as they were.
Usage: alarm_tags.py PORT KEY SECRET ARN; prints TAP lines."""
import json
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from cloudwatch import send  # reads PORT KEY SECRET from the same argv

PORT, KEY, SECRET, ARN = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ACCOUNT = ARN.split(":")[4]


def check(name, cond, got=None):
    print(("ok - " if cond else "not ok - ") + name)
    if not cond and got is not None:
        print("#   got: %r" % (got,))


def arn(region, name="tagged"):
    # another region each time: owld refuses a signed request it has seen within the second
    return "arn:aws:cloudwatch:%s:%s:alarm:%s" % (region, ACCOUNT, name)


cw = boto3.client("cloudwatch", endpoint_url="http://127.0.0.1:%d" % PORT,
                  region_name="us-east-1", aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                  config=Config(retries={"max_attempts": 1}, read_timeout=30))
print("# botocore speaks %s to CloudWatch" % cw.meta.service_model.protocol)
cw.tag_resource(ResourceARN=ARN, Tags=[{"Key": "via", "Value": "boto3"}, {"Key": "e", "Value": ""}])
tags = cw.list_tags_for_resource(ResourceARN=arn("b3-1"))["Tags"]
check("boto3 tag_resource + list_tags_for_resource: the tags, in key order",
      [t["Key"] for t in tags] == ["cost", "e", "team", "via"] and
      {t["Key"]: t["Value"] for t in tags}["via"] == "boto3" and
      {t["Key"]: t["Value"] for t in tags}["e"] == "", tags)
cw.untag_resource(ResourceARN=ARN, TagKeys=["via", "e"])
tags = cw.list_tags_for_resource(ResourceARN=arn("b3-2"))["Tags"]
check("boto3 untag_resource: gone", [t["Key"] for t in tags] == ["cost", "team"], tags)
try:
    cw.list_tags_for_resource(ResourceARN=arn("b3-3", "nope"))
    check("boto3: an unknown alarm is refused", False)
except ClientError as e:
    check("boto3: an unknown alarm is ResourceNotFoundException, 404",
          e.response["Error"]["Code"] == "ResourceNotFoundException" and
          e.response["ResponseMetadata"]["HTTPStatusCode"] == 404, e.response)
try:
    cw.tag_resource(ResourceARN=ARN, Tags=[{"Key": "aws:x", "Value": "1"}])
    check("boto3: an aws: key is refused", False)
except ClientError as e:
    check("boto3: an aws: key is InvalidParameterValue, 400",
          e.response["Error"]["Code"] == "InvalidParameterValue" and
          e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, e.response)
pages = cw.get_paginator("describe_alarm_history").paginate(
    AlarmName="tagged", ScanBy="TimestampAscending", PaginationConfig={"PageSize": 1})
items = [i for p in pages for i in p["AlarmHistoryItems"]]
whole = cw.describe_alarm_history(AlarmName="tagged", ScanBy="TimestampAscending",
                                  MaxRecords=100)["AlarmHistoryItems"]
check("boto3 describe_alarm_history, pages of one: every item once, oldest first",
      len(items) >= 2 and items == whole, (items, whole))

# AWS JSON 1.0
status, code, _ = send("json", "TagResource",
                       {"ResourceARN": arn("json-1"), "Tags": [{"Key": "via", "Value": "json"}]})
check("JSON 1.0 TagResource: 200", status == 200, (status, code))
status, code, body = send("json", "ListTagsForResource", {"ResourceARN": arn("json-2")})
tags = json.loads(body).get("Tags") if status == 200 else None
check("JSON 1.0 ListTagsForResource: the tag", tags is not None and
      {"Key": "via", "Value": "json"} in tags and len(tags) == 3, (status, body))
status, code, _ = send("json", "UntagResource", {"ResourceARN": arn("json-3"), "TagKeys": ["via"]})
check("JSON 1.0 UntagResource: 200", status == 200, (status, code))
status, code, body = send("json", "ListTagsForResource", {"ResourceARN": arn("json-4", "nope")})
check("JSON 1.0 ListTagsForResource of an unknown alarm: ResourceNotFoundException, 404",
      status == 404 and code == "ResourceNotFoundException" and
      json.loads(body).get("__type", "").endswith("ResourceNotFoundException"), (status, body))
