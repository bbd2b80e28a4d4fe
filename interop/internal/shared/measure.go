package shared

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// MeasureCalls runs call in closed loops from INTEROP_CONCURRENCY goroutines for
// INTEROP_WARMUP_MS, not counted, then INTEROP_DURATION_MS, and prints one line:
// {calls, errors, seconds, rps, p50_us, p99_us, firstError}. The benchmarks read it.
func MeasureCalls(call func() error) {
	concurrency := EnvInt("INTEROP_CONCURRENCY", 1)
	warmup := time.Duration(EnvInt("INTEROP_WARMUP_MS", 0)) * time.Millisecond
	duration := time.Duration(EnvInt("INTEROP_DURATION_MS", 2000)) * time.Millisecond
	var failures int64
	var measuring atomic.Bool
	var firstErr atomic.Value
	stop := time.Now().Add(warmup + duration)
	latencies := make([][]time.Duration, concurrency)
	var wg sync.WaitGroup
	for i := 0; i < concurrency; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for time.Now().Before(stop) {
				started := time.Now()
				err := call()
				if !measuring.Load() {
					continue
				}
				if err != nil {
					atomic.AddInt64(&failures, 1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				latencies[i] = append(latencies[i], time.Since(started))
			}
		}(i)
	}
	time.Sleep(warmup)
	measuring.Store(true)
	measured := time.Now()
	wg.Wait()
	seconds := time.Since(measured).Seconds()
	var all []time.Duration
	for _, l := range latencies {
		all = append(all, l...)
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	out := map[string]interface{}{"calls": len(all), "errors": failures, "seconds": seconds, "rps": int(float64(len(all)) / seconds)}
	if len(all) > 0 {
		out["p50_us"] = all[len(all)/2].Microseconds()
		out["p99_us"] = all[len(all)*99/100].Microseconds()
	}
	if e := firstErr.Load(); e != nil {
		out["firstError"] = e
	}
	Emit(out)
}
