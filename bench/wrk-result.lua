-- Shared by the compare scripts' wrk runs (loaded with dofile): prints one
-- line the shell reads, in milliseconds.
function result_line(summary, latency)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout
  io.write(string.format("RESULT rps=%.1f p50=%.3f p95=%.3f p99=%.3f errors=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, errors))
end
