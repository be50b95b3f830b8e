-- GET on a rate-limited route from many clients: every request carries an
-- X-Forwarded-For address out of BENCH_KEYS (default 10000) distinct ones,
-- so a gateway that trusts 127.0.0.1 as a proxy keys its limiter on that
-- address: BENCH_KEYS buckets, each hit a few times a second.
--   BENCH_KEYS=10000 wrk -t2 -c64 -d10s --latency -s bench/wrk/ratelimit_keys.lua \
--     http://127.0.0.1:8080/rl/api/items
-- Requests are formatted once per thread in init, so the per-request Lua
-- cost is one table lookup.

local keys = tonumber(os.getenv("BENCH_KEYS") or "") or 10000

local threads = 0
function setup(thread)
   thread:set("tid", threads)
   threads = threads + 1
end

local reqs, i = {}, 0

function init(args)
   local t = tid or 0
   for k = 0, keys - 1 do
      -- 10.a.b.c from the key number; each thread starts elsewhere.
      local n = (k + t * 4099) % keys
      local ip = string.format("10.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
      reqs[k + 1] = wrk.format(nil, nil, { ["X-Forwarded-For"] = ip })
   end
end

function request()
   i = i % #reqs + 1
   return reqs[i]
end
