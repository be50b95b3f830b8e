-- Authenticated GET: "Authorization: Bearer <token>".
--
-- The token comes from BENCH_TOKEN, else from the file named by
-- BENCH_TOKEN_FILE (one token a line). With one token every request carries
-- it (a single client: the gateway's verified-token cache answers); with
-- many, each connection walks the list from its own offset, so the gateway
-- sees many distinct clients (set more tokens than its cache holds to
-- measure signature verification itself).
--   BENCH_TOKEN=$(go run ./bench/tools/benchtool token -alg HS256 -key secret) \
--     wrk -t2 -c64 -d10s --latency -s bench/wrk/auth.lua http://127.0.0.1:8080/auth-hs/api/me

local function load_tokens()
   local t = os.getenv("BENCH_TOKEN")
   if t and t ~= "" then
      return { t }
   end
   local name = os.getenv("BENCH_TOKEN_FILE")
   if not name or name == "" then
      error("auth.lua: set BENCH_TOKEN or BENCH_TOKEN_FILE")
   end
   local f = assert(io.open(name, "r"))
   local tokens = {}
   for line in f:lines() do
      if line ~= "" then
         tokens[#tokens + 1] = line
      end
   end
   f:close()
   if #tokens == 0 then
      error("auth.lua: no token in " .. name)
   end
   return tokens
end

local tokens = load_tokens()

if #tokens == 1 then
   wrk.headers["Authorization"] = "Bearer " .. tokens[1]
else
   -- setup runs in the main Lua state once per thread: give each thread
   -- its own starting point in the token list.
   local threads = 0
   function setup(thread)
      thread:set("offset", threads * 7919)
      threads = threads + 1
   end

   -- Formatted once per thread (a 20000-token list is ~15 MB per thread),
   -- so the per-request Lua cost is one table lookup.
   local reqs, i = {}, 0
   function init(args)
      local first = (offset or 0) % #tokens
      for k = 1, #tokens do
         local tok = tokens[(first + k - 1) % #tokens + 1]
         reqs[k] = wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. tok })
      end
   end

   function request()
      i = i % #reqs + 1
      return reqs[i]
   end
end
