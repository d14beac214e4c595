#!/bin/bash
# t_strict.sh — issue 9, point 8: the lenient inputs a hostile client used (two JSON documents
# in one body, \u0000 in strings, repeated keys and parameters, %00 in paths and query
# parameters, HTTP framing the non-strict http-parser let through, duplicate Host and
# Authorization headers) are each answered 400 in the protocol's shape, and none of them
# creates or deletes anything (strict.py, raw sockets).
. "$(dirname "$0")/lib.sh"

start_owld || bail "owld starts"
run_py "strict.py" "$IT_DIR/strict.py" "$PORT" "$ADMIN"

# curl's own framing is strict-clean: the everyday clients are not refused
create_key "$ADMIN" '["iam:GetKey"]'
check_eq "curl creates a key" 200 "$STATUS"
admin DELETE "/api/v1/keys/$NEW_ID%00.json"
check_eq "curl: DELETE ID%00.json is 400" 400 "$STATUS"
check_eq "curl: its code is InvalidParameter" InvalidParameter "$(jget error.code)"
admin GET "/api/v1/keys/$NEW_ID"
check_eq "curl: the key is still there" 200 "$STATUS"
admin DELETE "/api/v1/keys/$NEW_ID"
check_eq "curl: DELETE ID works" 200 "$STATUS"

finish
