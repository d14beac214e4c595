// client_go — the OpenTelemetry Go SDK's side of bench/client.sh (Debian's
// golang-opentelemetry-otel-dev, built offline in GOPATH mode): the cost of a span's start and
// end to the program, as bench/client_spans.c measures libowl's.
//
//	client_go unsampled N RUNS        NeverSample: N start+end a run
//	client_go sampled N CHUNK RUNS    AlwaysSample: N a run in chunks of CHUNK, the queue
//	                                  drained into the exporter between chunks (untimed)
//
// The provider has a BatchSpanProcessor with its defaults (queue 2,048, batch 512) over an
// exporter that discards: the package ships no OTLP exporter (only stdout and Jaeger). Spans
// are named "bench", kind internal, no attributes. Prints "version=", "run_ns=" and "proc_ns=" (the process's
// CPU a span, every thread, drains included) per run and,
// sampled, "dropped=": spans the processor dropped, its queue full.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// discard is an exporter that drops what it is given, counting it.
type discard struct{ n int64 }

func (d *discard) ExportSpans(_ context.Context, s []sdktrace.ReadOnlySpan) error {
	atomic.AddInt64(&d.n, int64(len(s)))
	return nil
}

// drain flushes until the exporter has had want spans (or 10 s passed): ForceFlush in 1.1.0
// exports the batch in hand but not the queue behind it, so it is called until the processor's
// goroutine has moved the queue into batches.
func drain(tp *sdktrace.TracerProvider, exp *discard, want int64) {
	deadline := time.Now().Add(10 * time.Second)
	for atomic.LoadInt64(&exp.n) < want && time.Now().Before(deadline) {
		_ = tp.ForceFlush(context.Background())
		time.Sleep(100 * time.Microsecond)
	}
}
func (d *discard) Shutdown(context.Context) error { return nil }

// procCPU is the process's CPU time so far (user + system, every thread), in ns.
func procCPU() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// spans starts and ends n spans, draining (untimed) after each chunk when sampled; the time
// they took. *ended counts the sampled spans ended so far.
func spans(tp *sdktrace.TracerProvider, exp *discard, tr trace.Tracer, n, chunk int,
	sampled bool, ended *int64) time.Duration {
	ctx := context.Background()
	var spent time.Duration
	for done := 0; done < n; {
		k := chunk
		if n-done < k {
			k = n - done
		}
		t0 := time.Now()
		for i := 0; i < k; i++ {
			_, s := tr.Start(ctx, "bench")
			s.End()
		}
		spent += time.Since(t0)
		done += k
		if sampled {
			*ended += int64(k)
			drain(tp, exp, *ended)
		}
	}
	return spent
}

func main() {
	args := os.Args[1:]
	var sampler sdktrace.Sampler
	var n, chunk, runs int
	switch {
	case len(args) == 3 && args[0] == "unsampled":
		sampler = sdktrace.NeverSample()
		n, _ = strconv.Atoi(args[1])
		chunk = n
		runs, _ = strconv.Atoi(args[2])
	case len(args) == 4 && args[0] == "sampled":
		sampler = sdktrace.AlwaysSample()
		n, _ = strconv.Atoi(args[1])
		chunk, _ = strconv.Atoi(args[2])
		runs, _ = strconv.Atoi(args[3])
	default:
		fmt.Fprintln(os.Stderr, "usage: client_go unsampled N RUNS | sampled N CHUNK RUNS")
		os.Exit(2)
	}
	if n < 1 || chunk < 1 || runs < 1 {
		fmt.Fprintln(os.Stderr, "client_go: N, CHUNK and RUNS must be positive")
		os.Exit(2)
	}
	exp := &discard{}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler),
		sdktrace.WithBatcher(exp))
	tr := tp.Tracer("bench")
	fmt.Printf("version=%s\n", otel.Version())
	warm := chunk
	if n/10 < warm {
		warm = n / 10
	}
	sampled := args[0] == "sampled"
	var ended int64
	spans(tp, exp, tr, warm, chunk, sampled, &ended)
	for r := 0; r < runs; r++ {
		p0 := procCPU()
		d := spans(tp, exp, tr, n, chunk, sampled, &ended)
		fmt.Printf("run_ns=%.1f\nproc_ns=%.1f\n", float64(d.Nanoseconds())/float64(n),
			float64(procCPU()-p0)/float64(n))
	}
	_ = tp.Shutdown(context.Background())
	if sampled {
		fmt.Printf("dropped=%d\n", ended-atomic.LoadInt64(&exp.n))
	}
}
