import fs from 'node:fs';

/** Resident memory of a process from /proc/<pid>/status, in MiB: now (VmRSS) and the peak (VmHWM). */
export function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

/**
 * Resets the process's peak RSS (VmHWM) to its current RSS, so a later VmHWM is the peak of what happened in
 * between. Linux allows it for our own children ("5" to clear_refs); false when it is refused.
 */
export function resetPeak(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * Samples VmRSS every `everyMs` until stopped. The result: RSS before, the highest sample, and VmHWM when the
 * peak could be reset first (it catches a spike between two samples).
 */
export function sampleMemory(pid: number, everyMs = 20) {
  const before = memoryOf(pid).rss;
  const peakResettable = resetPeak(pid);
  let max = before;
  const timer = setInterval(() => {
    try {
      max = Math.max(max, memoryOf(pid).rss);
    } catch {
      // the process ended
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      let hwm: number | undefined;
      try {
        const m = memoryOf(pid);
        max = Math.max(max, m.rss);
        if (peakResettable) hwm = m.hwm;
      } catch {
        // the process ended
      }
      const peak = Math.max(max, hwm ?? 0);
      return { before, peak, sampledMax: max, hwm, added: peak - before };
    },
  };
}
