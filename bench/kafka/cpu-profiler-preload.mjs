/**
 * Preload for profiling a broker started by test/helpers/broker-process.ts, which runs
 * `node bin/wharf.js` and takes no node flags (and Node refuses `--cpu-prof` in NODE_OPTIONS):
 * `NODE_OPTIONS=--import=<this file>` with `WHARF_BENCH_CPU_PROFILE=<path>` runs V8's sampling
 * profiler through node:inspector (1 ms interval, as `--cpu-prof` does).
 *
 * The profiler runs only inside measured windows: the first SIGUSR2 starts it, the next stops
 * it and writes `<path>-<n>.cpuprofile` (n = 1, 2, ...), and so on; a window still open at
 * exit is written then. So start-up and module loading stay out of the profile. Garbage
 * collections in the window are counted by kind (perf_hooks 'gc' entries) into
 * `<path>-<n>.gc.json`. Plain JavaScript: it runs before tsx is loaded.
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { constants, PerformanceObserver } from "node:perf_hooks";

const kinds = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: "minor (scavenge)",
  [constants.NODE_PERFORMANCE_GC_MAJOR]: "major (mark-compact)",
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: "incremental marking",
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: "weak callbacks",
};

const target = process.env.WHARF_BENCH_CPU_PROFILE;
if (target) {
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.setSamplingInterval", { interval: 1000 });
  let running = false;
  let windows = 0;
  let gc = {};
  const count = (entries) => {
    if (!running) return;
    for (const entry of entries) {
      const kind = kinds[entry.detail?.kind] ?? String(entry.detail?.kind);
      const slot = (gc[kind] ??= { count: 0, ms: 0 });
      slot.count += 1;
      slot.ms += entry.duration;
    }
  };
  const observer = new PerformanceObserver((list) => count(list.getEntries()));
  observer.observe({ entryTypes: ["gc"] });
  const stop = () => {
    count(observer.takeRecords());
    running = false;
    windows += 1;
    const file = `${target}-${windows}`;
    for (const slot of Object.values(gc)) slot.ms = Math.round(slot.ms * 10) / 10;
    writeFileSync(`${file}.gc.json`, JSON.stringify(gc));
    // A session on the main thread answers synchronously, so this also completes in 'exit'.
    session.post("Profiler.stop", (error, result) => {
      if (!error) writeFileSync(`${file}.cpuprofile`, JSON.stringify(result.profile));
    });
  };
  process.on("SIGUSR2", () => {
    if (running) stop();
    else {
      gc = {};
      running = true;
      session.post("Profiler.start");
    }
  });
  process.on("exit", () => {
    if (running) stop();
  });
}
