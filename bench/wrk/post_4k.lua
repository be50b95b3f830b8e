-- POST a 4 KiB body (a typical JSON API write). Use with a URL whose last
-- path segment is "upload" on bin/upstream, which reads the whole body and
-- answers its length:
--   wrk -t2 -c64 -d10s --latency -s bench/wrk/post_4k.lua http://127.0.0.1:8080/post/upload
-- Static request: no Lua runs per request, so wrk's own cost stays minimal.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"data":"' .. string.rep("x", 4096 - 11) .. '"}'
