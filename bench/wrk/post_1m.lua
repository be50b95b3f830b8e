-- POST a 1 MiB body (an upload). Use with a URL ending in /upload:
--   wrk -t2 -c64 -d10s --latency -s bench/wrk/post_1m.lua http://127.0.0.1:8080/post/upload
-- Measures body streaming: the proxy must move 1 MiB from client to upstream
-- per request without holding more than a buffer of it.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/octet-stream"
wrk.body = string.rep("0123456789abcdef", 65536)
