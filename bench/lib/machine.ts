/** Where a benchmark ran: CPU model, cores, memory, Node version, load. */
import { cpus, loadavg, totalmem, platform, release } from 'node:os';

export interface MachineInfo {
  /** os.cpus()[0].model, e.g. 'AMD EPYC …'. */
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  os: string;
  /** 1, 5 and 15 minute load averages when asked. */
  loadavg: number[];
}

/** The machine as Node sees it right now. */
export function machineInfo(): MachineInfo {
  const c = cpus();
  return {
    cpu: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${platform()} ${release()}`,
    loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

/** One line for logs: "AMD EPYC …, 2 cores, 23.4 GiB, node v20…, load 1.2/1.5/2.0". */
export function describeMachine(m: MachineInfo = machineInfo()): string {
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, node ${m.node}, load ${m.loadavg.join('/')}`;
}
