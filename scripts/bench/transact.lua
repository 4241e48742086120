-- wrk script for the shared bench kit: TransactWriteItems of BENCH_TXN_ITEMS (10) actions on
-- distinct random preloaded keys (`pk` p000000.., `sk` s00000..): all but the last are Update
-- `ADD cnt :one`, the last is a ConditionCheck `attribute_exists(pk)` (docs/performance.md,
-- "TransactWriteItems in the bench kit").
--
-- The kit runs `$HERE/$op.lua`, so this file is copied next to the kit's common.lua by
-- scripts/bench/transact.sh. It loads common.lua as the `update` op (so the headers, the
-- SigV4-shaped Authorization, the thread setup and the random seed are the kit's own), then
-- replaces the target, the body, the response check and the RESULT line.
--
-- RESULT line: the kit's keys with op=transact; `non200` counts every non-200 answer, `misses`
-- counts the TransactionCanceledException answers among them (a 400 too, so also in non200),
-- `cancels` repeats that count by name.
OP = "update"
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

local TABLE      = os.getenv("BENCH_TABLE") or "bench"
local PARTITIONS = tonumber(os.getenv("BENCH_PARTITIONS") or "1000")
local PER_PART   = tonumber(os.getenv("BENCH_PER_PART") or "100")
local ITEMS      = tonumber(os.getenv("BENCH_TXN_ITEMS") or "10")
assert(ITEMS >= 2 and ITEMS <= 100, "BENCH_TXN_ITEMS must be 2..100")
assert(PARTITIONS * PER_PART >= 4 * ITEMS, "table too small for distinct keys")

-- common.lua's setup keeps its own (local) thread list; keep ours for done().
local threads = {}
local kit_setup = setup
function setup(thread)
  kit_setup(thread)
  table.insert(threads, thread)
end

local kit_init = init
function init(args)
  kit_init(args) -- seeds math.random, sets counter/non200/misses/errsample and the headers
  cancels = 0
  wrk.headers["X-Amz-Target"] = "DynamoDB_20120810.TransactWriteItems"
end

local function key_json(p, s)
  return string.format('{"pk":{"S":"p%06d"},"sk":{"S":"s%05d"}}', p, s)
end

local function body()
  local seen, actions = {}, {}
  while #actions < ITEMS do
    local p, s = math.random(0, PARTITIONS - 1), math.random(0, PER_PART - 1)
    local id = p * PER_PART + s
    if not seen[id] then
      seen[id] = true
      if #actions < ITEMS - 1 then
        actions[#actions + 1] = string.format(
          '{"Update":{"TableName":"%s","Key":%s,"UpdateExpression":"ADD cnt :one",' ..
          '"ExpressionAttributeValues":{":one":{"N":"1"}}}}', TABLE, key_json(p, s))
      else
        actions[#actions + 1] = string.format(
          '{"ConditionCheck":{"TableName":"%s","Key":%s,' ..
          '"ConditionExpression":"attribute_exists(pk)"}}', TABLE, key_json(p, s))
      end
    end
  end
  return '{"TransactItems":[' .. table.concat(actions, ",") .. ']}'
end

function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, body())
end

local function check_response(status, headers, resp)
  if status ~= 200 then
    non200 = non200 + 1
    if string.find(resp or "", "TransactionCanceledException", 1, true) then
      cancels = cancels + 1
      misses = misses + 1
    end
    if errsample == "" then
      errsample = tostring(status) .. " " .. string.sub(resp or "", 1, 300)
    end
  end
end

if os.getenv("BENCH_CHECK") ~= "0" then response = check_response else response = nil end

function done(summary, latency, requests)
  local n2, ms, cc, sample = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    n2 = n2 + (t:get("non200") or 0)
    ms = ms + (t:get("misses") or 0)
    cc = cc + (t:get("cancels") or 0)
    local e = t:get("errsample")
    if sample == "" and e and e ~= "" then sample = e end
  end
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "RESULT op=transact threads=%d requests=%d secs=%.2f rps=%.1f p50_ms=%.3f p90_ms=%.3f " ..
    "p99_ms=%.3f max_ms=%.3f non200=%d status_ge400=%d connect_err=%d read_err=%d " ..
    "write_err=%d timeouts=%d misses=%d cancels=%d items=%d\n",
    #threads, summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    n2, e.status, e.connect, e.read, e.write, e.timeout, ms, cc, ITEMS))
  if sample ~= "" then
    io.write("ERRSAMPLE " .. (string.gsub(sample, "[\r\n]", " ")) .. "\n")
  end
end
