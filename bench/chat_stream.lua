-- wrk script: POST a chat completion with "stream": true (SSE reply).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = chat_body(true)

done = bench_done
