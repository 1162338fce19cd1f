import fs from "node:fs";
import path from "node:path";

/**
 * Where the CPU goes during a cell, from /proc: milliseconds of CPU (user +
 * system) per request, split into the service's Node process, PostgreSQL (the
 * postmaster and every backend and helper under it) and everything else on
 * the machine (the load generator or pgbench, mostly). Throughput on a shared
 * 2-core VM moves by a third from run to run; CPU per request moves far less,
 * so it is the figure to compare when changing the service.
 *
 * Linux only; elsewhere every figure is undefined.
 */
export type CpuPerRequest = {
  /** The service processes (all instances), ms per request (undefined for raw-SQL cells). */
  serviceMs?: number;
  /** HAProxy in front of the instances (--instances=N), ms per request. */
  proxyMs?: number;
  /** All PostgreSQL processes, ms per request or transaction. */
  postgresMs: number;
  /** Everything else the machine ran (load generator, pgbench, the bench itself). */
  otherMs: number;
  /** Share of the machine's cores that were busy over the cell, 0..1. */
  busy: number;
};

type Snapshot = { at: number; ticks: Map<number, number>; parent: Map<number, number>; machineBusy: number; machineTotal: number };

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function readSnapshot(): Snapshot | undefined {
  if (!fs.existsSync("/proc/stat")) return undefined;
  const ticks = new Map<number, number>();
  const parent = new Map<number, number>();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    // Fields after "(comm)": state ppid ... utime stime cutime cstime. The
    // children's times count the processes this one has reaped: PostgreSQL
    // backends of connections closed inside the window (pgbench's, at its end).
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks.set(Number(entry), Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]));
    parent.set(Number(entry), Number(f[1]));
  }
  const cpu = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  const idle = cpu[3] + (cpu[4] ?? 0); // idle + iowait
  return { at: performance.now(), ticks, parent, machineBusy: total - idle, machineTotal: total };
}

function postmasterPid(pgDataDir: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(path.join(pgDataDir, "postmaster.pid"), "utf8").split("\n")[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts measuring; the returned function ends the measurement and divides by
 * the number of requests served meanwhile. A process that started and exited
 * inside the window is counted through its parent's reaped-children times
 * (a backend under the postmaster; pgbench under the bench).
 */
export function measureCpu(opts: {
  servicePids?: (number | undefined)[];
  proxyPid?: number;
  pgDataDir: string;
}): (requests: number) => CpuPerRequest | undefined {
  const before = readSnapshot();
  return (requests) => {
    const after = readSnapshot();
    const pm = postmasterPid(opts.pgDataDir);
    if (!before || !after || requests <= 0) return undefined;
    const used = (pid: number) => (after.ticks.get(pid) ?? 0) - (before.ticks.get(pid) ?? 0);
    let service = 0;
    let proxy = 0;
    let postgres = 0;
    let all = 0;
    for (const pid of after.ticks.keys()) {
      const d = used(pid);
      if (d <= 0) continue;
      all += d;
      if (opts.servicePids?.includes(pid)) service += d;
      else if (pid === opts.proxyPid) proxy += d;
      else if (pid === pm || (pm !== undefined && after.parent.get(pid) === pm)) postgres += d;
    }
    // Kernel work outside any process (softirq of loopback traffic, mostly) is
    // in the machine's busy time but in no process: count it under "other".
    const machineBusy = after.machineBusy - before.machineBusy;
    const other = Math.max(all - service - proxy - postgres, machineBusy - service - proxy - postgres);
    const ms = (t: number) => Math.round(((t / TICKS_PER_SECOND) * 1000 * 1000) / requests) / 1000;
    return {
      ...(opts.servicePids !== undefined ? { serviceMs: ms(service) } : {}),
      ...(opts.proxyPid !== undefined ? { proxyMs: ms(proxy) } : {}),
      postgresMs: ms(postgres),
      otherMs: ms(other),
      busy: Math.round((machineBusy / Math.max(1, after.machineTotal - before.machineTotal)) * 100) / 100,
    };
  };
}

export function describeCpu(c: CpuPerRequest | undefined): string {
  if (!c) return "n/a";
  const parts = [
    ...(c.serviceMs !== undefined ? [`node ${c.serviceMs.toFixed(2)}`] : []),
    ...(c.proxyMs !== undefined ? [`haproxy ${c.proxyMs.toFixed(2)}`] : []),
    `postgres ${c.postgresMs.toFixed(2)}`,
    `other ${c.otherMs.toFixed(2)}`,
  ];
  return `${parts.join(" + ")} (machine ${Math.round(c.busy * 100)}% busy)`;
}
