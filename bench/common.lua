-- Shared by chat.lua and chat_stream.lua (loaded with dofile).
--
-- The request body is bench/chat.json: a realistic OpenAI Chat Completions request of about
-- 580 bytes (a system message, a user message, temperature, max_tokens). max_tokens is well
-- above the simulator's default reply (16 words), so every reply has the same length.
-- run.sh sends the same file with curl to check every target before measuring.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"

function chat_body(stream)
  local f = assert(io.open(dir .. "chat.json", "rb"))
  local body = f:read("*a"):gsub("%s+$", "")
  f:close()
  if stream then
    -- same request with "stream": true (run.sh derives its check body the same way)
    body = body:gsub('^{"model":"bench%-model",', '{"model":"bench-model","stream":true,', 1)
    assert(body:find('"stream":true', 1, true), "chat.json must start with the model key")
  end
  return body
end

-- One parseable line for run.sh. Latencies in microseconds. wrk counts a response with a
-- status >= 400 in errors.status (its "Non-2xx or 3xx responses" line).
function bench_done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKRESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d "
    .. "status_errors=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d bytes=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout, summary.bytes))
end
