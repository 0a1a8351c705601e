-- wrk script: every request POSTs a 1 KiB body (1024 bytes of 'x').
--   wrk -t1 -c64 -d10s -s bench/wrk/post-1k.lua http://127.0.0.1:PORT/events
-- With CREDENTIAL_HEADER and CREDENTIAL_VALUE in the environment (bench/security) each request carries that header.
-- No response() hook on purpose: it makes wrk call Lua per answer and lowers the ceiling it can measure.
-- Non-2xx answers still show in wrk's own "Non-2xx or 3xx responses" line.
wrk.method = "POST"
wrk.body = string.rep("x", 1024)
wrk.headers["Content-Type"] = "text/plain"
local name = os.getenv("CREDENTIAL_HEADER")
if name ~= nil and name ~= "" then
   wrk.headers[name] = os.getenv("CREDENTIAL_VALUE") or ""
end

function done(summary, latency, requests)
   io.write(string.format("LATENCY p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
      latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
   io.write(string.format("ERRORS connect=%d read=%d write=%d status=%d timeout=%d\n",
      summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout))
end
