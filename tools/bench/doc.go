// Package bench generates WAMP load against a router and measures it: the
// scenarios of cmd/switchboard-bench (fanout, pubsub, rpc, conns, churn,
// register, longpoll, soak), their report, and the summary that compare.sh
// prints. See docs/performance.md for how the numbers are taken and what
// they mean.
//
// Measurement. Every publication and call carries [seq, stamp] in its Args,
// stamp being this process's monotonic clock, so latency is taken in one
// process and never across clocks. Each receiving goroutine records into a
// histogram of its own (Histogram, log-linear, 0.8% precision); they are
// merged after the run. Publishers keep at most Window publications in
// flight until every subscriber has them (loss-free throughput), or publish
// open loop at Rate. The router's CPU, memory and system calls come from
// /proc/PID; the generator's own CPU from getrusage, and whatever else the
// machine did from /proc/stat, so that a disturbed run shows as one.
//
// Concurrency: Run may be called from several goroutines, each with its own
// Config; a run starts one reader goroutine per session plus a publisher,
// pacer or churn loop per sender, and waits for all of them before it
// returns, so nothing of a run outlives it.
package bench
