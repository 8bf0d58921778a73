//go:build benchprofile

package main

// Profiling of the bot as BenchmarkDialogProcess runs it, as a process of
// its own: the benchmark's -cpuprofile sees only the fake and the buyers.
// Compiled in only with -tags benchprofile, which the benchmark adds when
// BENCH_BOT_PROFILE names a directory; a deployed binary has none of it.
// SIGUSR1 starts a CPU profile, SIGUSR2 stops it and writes a heap profile
// next to it, so that the profile covers the measured updates and not the
// start or the warm-up; the file "done" then says both are complete.

import (
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"syscall"
)

func init() {
	dir := os.Getenv("REFUNDBOT_BENCH_PROFILE")
	if dir == "" {
		return
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		var cpu *os.File
		for sig := range sigs {
			switch {
			case sig == syscall.SIGUSR1 && cpu == nil:
				f, err := os.Create(filepath.Join(dir, "cpu.pprof"))
				if err == nil && pprof.StartCPUProfile(f) == nil {
					cpu = f
				}
			case sig == syscall.SIGUSR2 && cpu != nil:
				pprof.StopCPUProfile()
				cpu.Close()
				cpu = nil
				if f, err := os.Create(filepath.Join(dir, "heap.pprof")); err == nil {
					_ = pprof.Lookup("allocs").WriteTo(f, 0)
					f.Close()
				}
				_ = os.WriteFile(filepath.Join(dir, "done"), nil, 0o644)
			}
		}
	}()
}
