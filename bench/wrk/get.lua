-- wrk script: plain GETs, with the latency percentiles written in a line the reports read.
--   wrk -t1 -c64 -d10s --latency -s bench/wrk/get.lua http://127.0.0.1:PORT/proxied/hello.txt
-- No response() hook on purpose (see post-1k.lua).
function done(summary, latency, requests)
   io.write(string.format("LATENCY p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
      latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
   io.write(string.format("ERRORS connect=%d read=%d write=%d status=%d timeout=%d\n",
      summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout))
end
