#!/usr/bin/env bash
# Benchmark of event-driven and sharded indexing, side by side in one run:
# 1. N new Landsat-style STAC items (default 1,000) PUT into a moto S3 bucket, each announced by its S3
#    event notification on an SNS topic with two SQS queues subscribed (the SNS envelope, as sqs-to-dc
#    requires), so both queues hold the same messages. odc-apps-dc-tools 1.9.9 `sqs-to-dc --stac --record-path` drains
#    one, `etlake index --sqs … --drain` the other, each into a fresh index (same Postgres cluster):
#    wall time, messages/s, peak RSS, and the ratio (goal ≥ 20×); and the floor any consumer pays moto
#    (a third queue drained by a bare boto3 loop: receive, GET each object, delete), which bounds that
#    ratio here.
# 2. One `etlake index DIR` run vs four concurrent `--shard i/4` runs over M local STAC items
#    (default 5,000; ETLAKE_BENCH_SHARD_OBJECTS=20000 for the issue's figure), each into a fresh index.
# Usage: scripts/bench-sqs.sh [N]   (ETLAKE_BENCH_PROFILE=debug: the debug build, see bench-env.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-1000}"
m="${ETLAKE_BENCH_SHARD_OBJECTS:-5000}"
. scripts/bench-env.sh
cargo build $profile_flag -p sample-lake --example landsat_items -q
items="$PWD/target/$profile/examples/landsat_items"
"$items" "$work/lake" "$n" >/dev/null

# An SNS topic with two queues subscribed; the N PUTs (self links pointing at s3://); for each object
# the S3 event notification published on the topic (so both queues get it in SNS's envelope); then a
# wait until both queues hold N messages. The notification is published by the script rather than by
# moto's bucket notifications: moto 5.2.5 encodes keys with Python's quote_plus, `/` as `%2F`, which
# S3 does not do, and sqs-to-dc does not decode keys, so with moto's messages every GET of sqs-to-dc
# fails (NoSuchKey). Format: S3 event message structure
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html); these
# keys hold only characters the notification leaves as they are.
queues=$(.venv-moto/bin/python - "$endpoint" "$work/lake" "$n" <<'PY'
import sys, os, json, time, boto3, concurrent.futures as cf
endpoint, root, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
kw = dict(endpoint_url=endpoint, region_name="us-east-1")
s3, sqs, sns = (boto3.client(x, **kw) for x in ("s3", "sqs", "sns"))
s3.create_bucket(Bucket="usgs-landsat")
topic = sns.create_topic(Name="deliveries")["TopicArn"]
urls = []
for name in ("bench-dc", "bench-etlake", "bench-floor"):
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    urls.append(url)
paths = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs]
def put(p):
    key = os.path.relpath(p, root)
    doc = json.load(open(p)); doc["links"][0]["href"] = f"s3://usgs-landsat/{key}"
    body = json.dumps(doc).encode()
    etag = s3.put_object(Bucket="usgs-landsat", Key=key, Body=body)["ETag"].strip('"')
    event = {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()), "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:BENCH"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "0", "x-amz-id-2": "0"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "bench",
               "bucket": {"name": "usgs-landsat", "ownerIdentity": {"principalId": "BENCH"}, "arn": "arn:aws:s3:::usgs-landsat"},
               "object": {"key": key, "size": len(body), "eTag": etag, "sequencer": "0"}}}]}
    sns.publish(TopicArn=topic, Message=json.dumps(event))
with cf.ThreadPoolExecutor(16) as ex:
    list(ex.map(put, paths))
for _ in range(600):
    counts = [int(sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["ApproximateNumberOfMessages"])
                  ["Attributes"]["ApproximateNumberOfMessages"]) for u in urls]
    if all(c >= n for c in counts):
        break
    time.sleep(0.1)
else:
    sys.exit(f"the queues hold {counts} messages, expected {n}")
print(" ".join(urls))
PY
)
read -r q_dc q_et q_floor <<<"$queues"

"$etlake" db start >/dev/null
url=$("$etlake" db status | sed -n "s/.*Python:  ODC_DEFAULT_DB_URL='\(.*\)'/\1/p")
admin=$(echo "$url" | sed 's/+psycopg2//; s/datacube?/postgres?/')
fresh() {  # an empty index with the benchmark product in database $1
  PGOPTIONS="--client-min-messages=warning" psql "$admin" -qc "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null
  local u=${url/\/datacube?//$1?}
  "$etlake" --db "$u" db init >/dev/null
  "$etlake" --db "$u" product add tests/fixtures/bench-ls8_c2l2_sr.odc-product.yaml >/dev/null
  echo "$u"
}
active() {  # active datasets in database $1
  psql "$(echo "${url/\/datacube?//$1?}" | sed 's/+psycopg2//')" -tAc "SELECT count(*) FROM agdc.dataset WHERE archived IS NULL"
}
measure() {  # command… → "secs kb" (the command's output in $work/out)
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/out" 2>&1 || { cat "$work/out"; exit 1; }
  cat "$work/time"
}
report() {  # label secs kb count unit
  python3 -c "import sys; l,s,kb,n,u=sys.argv[1],float(sys.argv[2]),int(sys.argv[3]),int(sys.argv[4]),sys.argv[5]; print(f'  {l:<40} {s:7.2f} s  {n/s:8.1f} {u}/s  peak RSS {kb/1024:6.1f} MiB')" "$@"
}

echo "$n new STAC items announced through SQS (S3 → SNS → SQS, moto on loopback), $(nproc) cores, etlake $profile build:"
u=$(fresh bench_sqs_dc)
read -r dc_s dc_kb <<<"$(ODC_DEFAULT_DB_URL=$u AWS_ENDPOINT_URL=$endpoint measure .venv/bin/sqs-to-dc --stac --record-path '*_SR_stac.json' bench-dc ls8_c2l2_sr)"
[ "$(active bench_sqs_dc)" = "$n" ] || { echo "sqs-to-dc indexed $(active bench_sqs_dc) of $n:"; tail -20 "$work/out"; exit 1; }
report "sqs-to-dc --stac (1.9.9)" "$dc_s" "$dc_kb" "$n" messages
u=$(fresh bench_sqs_et)
read -r et_s et_kb <<<"$(measure "$etlake" --db "$u" index --sqs "$q_et" --drain --wait-time 1 --endpoint-url "$endpoint")"
grep -q "$n indexed" "$work/out" || { cat "$work/out"; exit 1; }
[ "$(active bench_sqs_et)" = "$n" ] || { echo "etlake indexed $(active bench_sqs_et) of $n"; exit 1; }
report "etlake index --sqs --drain" "$et_s" "$et_kb" "$n" messages
# The floor: the same N messages received 10 at a time, each message's object read (8 GETs at once)
# and the 10 deleted in one batch, by a plain boto3 loop doing nothing else — what any consumer that
# indexes the objects pays moto. moto's ReceiveMessage cost grows with the number of messages queued
# (it walks the queue), so this floor, not the consumers' own work, bounds the ratio any consumer can
# reach against sqs-to-dc here.
read -r fl_s fl_kb <<<"$(measure .venv-moto/bin/python - "$endpoint" "$q_floor" "$n" <<'PY'
import json, sys, boto3, concurrent.futures as cf
endpoint, url, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
def get(m):
    rec = json.loads(json.loads(m["Body"])["Message"])["Records"][0]["s3"]
    return len(s3.get_object(Bucket=rec["bucket"]["name"], Key=rec["object"]["key"])["Body"].read())
got = 0
with cf.ThreadPoolExecutor(8) as ex:
    while got < n:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        got += len(msgs)
        if msgs:
            assert all(ex.map(get, msgs))
            sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                            for i, m in enumerate(msgs)])
PY
)"
report "moto floor: receive, GET, delete" "$fl_s" "$fl_kb" "$n" messages
python3 -c "
import sys
dc, et, fl = map(float, sys.argv[1:4])
print(f'  ratio: etlake is {dc / et:.1f}x faster than sqs-to-dc (goal: 20x); the floor bounds any consumer to '
      f'{dc / fl:.1f}x: etlake reaches {fl / et:.0%} of that bound')" "$dc_s" "$et_s" "$fl_s"

echo "One run vs four concurrent shards (--shard i/4), $m local STAC items:"
"$items" "$work/shards" "$m" >/dev/null
u=$(fresh bench_one)
read -r one_s one_kb <<<"$(measure "$etlake" --db "$u" index "$work/shards")"
grep -q "$m indexed" "$work/out" || { cat "$work/out"; exit 1; }
report "etlake index DIR (one run)" "$one_s" "$one_kb" "$m" datasets
u=$(fresh bench_four)
start=$(date +%s.%N)
pids=()
for i in 0 1 2 3; do
  /usr/bin/time -f "%e %M" -o "$work/time$i" "$etlake" --db "$u" index "$work/shards" --shard "$i/4" >"$work/out$i" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || { cat "$work"/out?; exit 1; }; done
four_s=$(python3 -c "import sys,time; print(f'{time.time()-float(sys.argv[1]):.2f}')" "$start")
four_kb=$(cat "$work"/time? | awk '{ if ($2 > m) m = $2 } END { print m }')
[ "$(active bench_four)" = "$m" ] || { echo "four shards indexed $(active bench_four) of $m"; exit 1; }
report "etlake index DIR --shard i/4 (four runs)" "$four_s" "$four_kb" "$m" datasets
python3 -c "import sys; print(f'  ratio: four shards take {float(sys.argv[2])/float(sys.argv[1]):.2f}x the time of one run (peak RSS is per run)')" "$one_s" "$four_s"
