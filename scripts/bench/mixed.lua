-- wrk script for the soak (docs/performance.md, issue 12): mixed operations on the shared kit's
-- preloaded table (`pk` p000000.., `sk` s00000..): 50 % GetItem, 20 % PutItem replacing a
-- preloaded item with one of the same size (so the data stops growing after the preload),
-- 20 % UpdateItem ADD, 10 % Query Limit 20, all on random keys. Counts every non-200 answer.
local PARTITIONS = tonumber(os.getenv("BENCH_PARTITIONS") or "1000")
local PER_PART = tonumber(os.getenv("BENCH_PER_PART") or "100")
local AUTH = "AWS4-HMAC-SHA256 Credential=AKIDBENCHEXAMPLE0000/20261124/us-east-1/dynamodb/" ..
  "aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=00"
local PAD = string.rep("abcdefghijklmnopqrstuvwxyz0123456789", 5)
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() + 7919 * (tid + 1))
  counter, non200 = 0, 0
end

local function key()
  return string.format('{"pk":{"S":"p%06d"},"sk":{"S":"s%05d"}}',
    math.random(0, PARTITIONS - 1), math.random(0, PER_PART - 1))
end

function request()
  counter = counter + 1
  local roll, target, body = math.random(100)
  if roll <= 50 then
    target, body = "GetItem", '{"TableName":"bench","Key":' .. key() .. '}'
  elseif roll <= 70 then
    target = "PutItem"
    body = string.format('{"TableName":"bench","Item":{"pk":{"S":"p%06d"},"sk":{"S":"s%05d"},' ..
      '"data":{"S":"%s"},"n":{"N":"%d"}}}', math.random(0, PARTITIONS - 1),
      math.random(0, PER_PART - 1), string.sub(PAD, 1, 170), counter)
  elseif roll <= 90 then
    target = "UpdateItem"
    body = '{"TableName":"bench","Key":' .. key() .. ',"UpdateExpression":"ADD cnt :one",' ..
      '"ExpressionAttributeValues":{":one":{"N":"1"}}}'
  else
    target = "Query"
    body = string.format('{"TableName":"bench","KeyConditionExpression":"pk = :p",' ..
      '"ExpressionAttributeValues":{":p":{"S":"p%06d"}},"Limit":20}',
      math.random(0, PARTITIONS - 1))
  end
  return wrk.format("POST", "/", {
    ["Content-Type"] = "application/x-amz-json-1.0",
    ["X-Amz-Target"] = "DynamoDB_20120810." .. target,
    ["X-Amz-Date"] = "20261124T120000Z",
    ["Authorization"] = AUTH,
  }, body)
end

function response(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end

function done(summary, latency, requests)
  local failed = 0
  for _, t in ipairs(threads) do failed = failed + (t:get("non200") or 0) end
  io.write(string.format("RESULT requests=%d secs=%.1f rps=%.1f p50_ms=%.3f p99_ms=%.3f " ..
    "max_ms=%.3f non200=%d socket_errors=%d\n", summary.requests, summary.duration / 1e6,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, failed,
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout))
end
