-- A mixed, API-like profile. Run against the gateway's root URL (paths are
-- absolute; they match the routes of bench/configs/fluxgate.yaml.tmpl and
-- bench/nginx/nginx.conf.tmpl):
--   BENCH_TOKEN_FILE=hs256.token wrk -t2 -c64 -d10s --latency -s bench/wrk/mixed.lua http://127.0.0.1:8080
--
--   60 %  GET  /plain/api/items/<id>?page=<n>   small JSON (the upstream's echo)
--   10 %  GET  /plain/api/export/bytes?n=16384  16 KiB response body
--   10 %  POST /post/api/upload                 4 KiB JSON body
--   12 %  GET  /auth-hs/api/me                  Bearer HS256 token (BENCH_TOKEN or BENCH_TOKEN_FILE)
--    8 %  GET  /rl/api/search?q=<n>             rate-limited, 80 client keys (X-Forwarded-For) per wrk thread
--
-- The 1000 requests of the profile are formatted once per thread and
-- shuffled with a per-thread seed; request() just walks the list.

local function token()
   local t = os.getenv("BENCH_TOKEN")
   if t and t ~= "" then
      return t
   end
   local name = os.getenv("BENCH_TOKEN_FILE")
   if not name or name == "" then
      error("mixed.lua: set BENCH_TOKEN or BENCH_TOKEN_FILE (an HS256 token)")
   end
   local f = assert(io.open(name, "r"))
   t = f:read("*l")
   f:close()
   return t
end

local bearer = "Bearer " .. token()
local body4k = '{"data":"' .. string.rep("x", 4096 - 11) .. '"}'

local threads = 0
function setup(thread)
   thread:set("tid", threads)
   threads = threads + 1
end

local reqs, i = {}, 0

function init(args)
   local t = tid or 0
   local function add(n, make)
      for k = 1, n do
         reqs[#reqs + 1] = make(#reqs + t * 1000)
      end
   end
   add(600, function(n)
      return wrk.format("GET", "/plain/api/items/" .. n .. "?page=" .. (n % 7), {})
   end)
   add(100, function(n)
      return wrk.format("GET", "/plain/api/export/bytes?n=16384", {})
   end)
   add(100, function(n)
      return wrk.format("POST", "/post/api/upload", { ["Content-Type"] = "application/json" }, body4k)
   end)
   add(120, function(n)
      return wrk.format("GET", "/auth-hs/api/me", { ["Authorization"] = bearer })
   end)
   add(80, function(n)
      local ip = string.format("10.9.%d.%d", math.floor(n / 256) % 4, n % 256)
      return wrk.format("GET", "/rl/api/search?q=" .. n, { ["X-Forwarded-For"] = ip })
   end)
   -- Fisher-Yates with a per-thread seed: the same profile, another order.
   math.randomseed(12345 + t)
   for k = #reqs, 2, -1 do
      local j = math.random(k)
      reqs[k], reqs[j] = reqs[j], reqs[k]
   end
end

function request()
   i = i % #reqs + 1
   return reqs[i]
end
