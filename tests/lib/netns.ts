// Network-namespace lab for live tests: builds small topologies with
// iproute2 (`ip netns`, veth), tc clsact + mirred (a SPAN port), sysctl and
// ethtool inside `ip netns exec`, runs background processes with PID
// tracking and captures with tcpdump. Machine facts it follows are in
// shared/design/LAB.md: veth/clsact/mirred exist, dummy does not (so the
// SPAN port is a veth whose peer sits unconfigured in a sink namespace);
// TX checksum offload must be off or captured UDP checksums are wrong;
// IPv6 is disabled to keep ND/MLD noise out of captures.
// Network rule: only private test addresses inside namespaces made here,
// no default route out of them; teardown kills only the PIDs it started.
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

/** True when we are root and `ip netns` works (the lab tests skip otherwise). */
export function netnsAvailable(): boolean {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return false;
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return r.status === 0;
}

/** Names of all namespaces currently present (for leak checks). */
export function listNamespaces(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  return r.stdout.split('\n').map((l) => l.split(' ')[0]).filter((n) => n.length > 0);
}

export interface LinkOptions {
  mac1?: string;
  mac2?: string;
}

export interface Capture {
  readonly pid: number;
  readonly file: string;
  /** Stops tcpdump (after a short drain delay) and waits for it to exit. */
  stop(): Promise<void>;
}

const liveLabs = new Set<NetnsLab>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const lab of liveLabs) lab.teardown();
  });
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export class NetnsLab {
  /** Every namespace of this lab is named `${prefix}${short}`; prefix is `tw-<pid>-[tag-]`. */
  readonly prefix: string;
  private readonly namespaces: string[] = [];
  private readonly children = new Map<number, ChildProcess>();
  private torn = false;
  private static counter = 0;

  constructor(tag = '') {
    NetnsLab.counter++;
    const t = tag || String(NetnsLab.counter);
    this.prefix = `tw-${process.pid}-${t}-`;
    liveLabs.add(this);
    installExitHook();
  }

  /** Full namespace name for a short name. */
  nsName(short: string): string {
    return this.prefix + short;
  }

  /** Runs a command inside a namespace; throws with stderr on failure. */
  exec(short: string, argv: string[], input?: string): SpawnSyncReturns<string> {
    const r = this.tryExec(short, argv, input);
    if (r.status !== 0) {
      throw new Error(`[${this.nsName(short)}] ${argv.join(' ')} failed (${r.status}): ${r.stderr || r.error?.message}`);
    }
    return r;
  }

  /** Like exec but returns the result whatever the exit status. */
  tryExec(short: string, argv: string[], input?: string): SpawnSyncReturns<string> {
    return spawnSync('ip', ['netns', 'exec', this.nsName(short), ...argv], {
      encoding: 'utf8',
      input,
      timeout: 30_000,
    });
  }

  /** Creates a namespace with loopback up and IPv6 disabled; returns its full name. */
  ns(short: string): string {
    const name = this.nsName(short);
    run(['ip', 'netns', 'add', name]);
    this.namespaces.push(name);
    run(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
    this.exec(short, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    return name;
  }

  /** veth pair ns1/if1 <-> ns2/if2, TX checksum offload off, both up. */
  link(ns1: string, if1: string, ns2: string, if2: string, opts: LinkOptions = {}): void {
    run(['ip', 'link', 'add', if1, 'netns', this.nsName(ns1), 'type', 'veth', 'peer', 'name', if2, 'netns', this.nsName(ns2)]);
    if (opts.mac1) run(['ip', '-n', this.nsName(ns1), 'link', 'set', if1, 'address', opts.mac1]);
    if (opts.mac2) run(['ip', '-n', this.nsName(ns2), 'link', 'set', if2, 'address', opts.mac2]);
    this.exec(ns1, ['ethtool', '-K', if1, 'tx', 'off']);
    this.exec(ns2, ['ethtool', '-K', if2, 'tx', 'off']);
    run(['ip', '-n', this.nsName(ns1), 'link', 'set', if1, 'up']);
    run(['ip', '-n', this.nsName(ns2), 'link', 'set', if2, 'up']);
  }

  addr(ns: string, dev: string, cidr: string): void {
    run(['ip', '-n', this.nsName(ns), 'addr', 'add', cidr, 'dev', dev]);
  }

  /** `ip route add ...args` in the namespace, e.g. route('a', '10.10.2.0/24', 'via', '10.10.1.1'). */
  route(ns: string, ...args: string[]): void {
    run(['ip', '-n', this.nsName(ns), 'route', 'add', ...args]);
  }

  forward(ns: string): void {
    this.exec(ns, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  }

  /** `tc ...args` in the namespace. */
  tc(ns: string, ...args: string[]): void {
    this.exec(ns, ['tc', ...args]);
  }

  /** Loads an nftables ruleset (nft -f -) in the namespace. */
  nft(ns: string, ruleset: string): void {
    this.exec(ns, ['nft', '-f', '-'], ruleset);
  }

  /**
   * SPAN port: veth `dev` in the router namespace, peer `peer` unconfigured in
   * the sink namespace (capture there). Every port in `ingress` (and
   * `egress`) gets a clsact qdisc and a catch-all u32 filter
   * `mirred egress mirror dev <dev> continue`; 'continue' lets later filters
   * on the same hook run (mirred's default 'pipe' would stop there).
   */
  span(router: string, sink: string, ingress: string[], egress: string[] = [], dev = 'span0', peer = 'span1'): void {
    this.link(router, dev, sink, peer);
    for (const p of new Set([...ingress, ...egress])) this.tc(router, 'qdisc', 'replace', 'dev', p, 'clsact');
    for (const [dir, ports] of [['ingress', ingress], ['egress', egress]] as const) {
      for (const p of ports) {
        this.tc(router, 'filter', 'add', 'dev', p, dir, 'protocol', 'all', 'prio', '1', 'u32', 'match', 'u32', '0', '0',
          'action', 'mirred', 'egress', 'mirror', 'dev', dev, 'continue');
      }
    }
  }

  /** Starts a background process inside a namespace and tracks its PID. */
  bg(ns: string, argv: string[], logFile?: string): ChildProcess {
    const fd = logFile ? openSync(logFile, 'a') : 'ignore';
    // `ip netns exec` execs the command, so the child's PID is the command's own.
    const child = spawn('ip', ['netns', 'exec', this.nsName(ns), ...argv], { stdio: ['ignore', fd, fd] });
    if (typeof fd === 'number') closeSync(fd);
    if (child.pid === undefined) throw new Error(`could not start ${argv[0]} in ${this.nsName(ns)}`);
    const pid = child.pid;
    this.children.set(pid, child);
    child.on('exit', () => this.children.delete(pid));
    return child;
  }

  /** Waits for a background process to exit; resolves with its exit code (null when killed). */
  waitExit(child: ChildProcess, timeoutMs = 30_000): Promise<number | null> {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`pid ${child.pid} (${child.spawnargs.slice(3).join(" ")}) still running after ${timeoutMs} ms`)), timeoutMs);
      child.once('exit', (code) => {
        clearTimeout(t);
        resolve(code);
      });
    });
  }

  /** Sends a signal to one PID this lab started (never to anything else). */
  kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): void {
    if (child.pid !== undefined && this.children.has(child.pid)) child.kill(signal);
  }

  /**
   * tcpdump -U --immediate-mode -s 0 -w file on ns/dev. Resolves once tcpdump
   * printed "listening on", i.e. the socket is open and nothing is missed.
   */
  capture(ns: string, dev: string, file: string, filter?: string): Promise<Capture> {
    const argv = ['tcpdump', '-n', '-Z', 'root', '-i', dev, '-s', '0', '-U', '--immediate-mode', '-w', file];
    if (filter) argv.push(filter);
    const child = spawn('ip', ['netns', 'exec', this.nsName(ns), ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
    if (child.pid === undefined) return Promise.reject(new Error('tcpdump did not start'));
    const pid = child.pid;
    this.children.set(pid, child);
    child.on('exit', () => this.children.delete(pid));
    return new Promise((resolve, reject) => {
      let err = '';
      let listening = false;
      const onEarlyExit = (code: number | null): void => {
        clearTimeout(timer);
        reject(new Error(`tcpdump exited (${code}): ${err}`));
      };
      const timer = setTimeout(() => {
        child.off('exit', onEarlyExit);
        reject(new Error(`tcpdump not listening after 5 s: ${err}`));
      }, 5000);
      child.once('exit', onEarlyExit);
      child.stderr!.on('data', (d: Buffer) => {
        if (listening) return; // later output (the final counts) is not needed
        err += d.toString();
        if (!err.includes('listening on')) return;
        listening = true;
        clearTimeout(timer);
        child.off('exit', onEarlyExit);
        resolve({
          pid,
          file,
          stop: async () => {
            // tcpdump exits on TERM (as on INT) without reading what is
            // still in the kernel ring; a short pause lets it drain first.
            // TERM, not INT: a parent that ignores SIGINT (test runners
            // may) makes the child inherit that.
            await new Promise((r) => setTimeout(r, 500));
            const done = this.waitExit(child, 5000);
            this.kill(child, 'SIGTERM');
            await done;
          },
        });
      });
    });
  }

  /**
   * Kills the PIDs this lab started (TERM, then KILL) and deletes its
   * namespaces. Synchronous so it can run from an exit handler; safe to call twice.
   */
  teardown(): void {
    if (this.torn) return;
    this.torn = true;
    liveLabs.delete(this);
    const kids = [...this.children.values()];
    for (const c of kids) c.kill('SIGTERM');
    if (kids.length > 0) sleepSync(200);
    for (const c of kids) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const n of this.namespaces.reverse()) spawnSync('ip', ['netns', 'del', n]);
    this.namespaces.length = 0;
  }
}

function run(argv: string[]): void {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr || r.error?.message}`);
}

/**
 * The scenario topology: a (10.10.1.2) - r - b (10.10.2.2), plus the tap
 * host c (10.10.3.2) and relay d (10.10.4.2) when `extraHosts`, each behind
 * router port r<x> (10.10.N.1), with deterministic MACs 02:00:00:00:N:2 (host)
 * and 02:00:00:00:N:1 (router). Namespace s is the SPAN sink; the SPAN
 * port mirrors ingress of every router port (and egress of `spanEgress`).
 */
export function buildStandardLab(lab: NetnsLab, opts: { extraHosts?: boolean; spanEgress?: string[] } = {}): void {
  const hosts = opts.extraHosts ? ['a', 'b', 'c', 'd'] : ['a', 'b'];
  for (const n of [...hosts, 'r', 's']) lab.ns(n);
  hosts.forEach((h, i) => {
    const net = i + 1;
    const mac = (x: number): string => `02:00:00:00:${net.toString(16).padStart(2, '0')}:0${x}`;
    lab.link(h, 'eth0', 'r', `r${h}`, { mac1: mac(2), mac2: mac(1) });
    lab.addr('r', `r${h}`, `10.10.${net}.1/24`);
    lab.addr(h, 'eth0', `10.10.${net}.2/24`);
    lab.route(h, 'default', 'via', `10.10.${net}.1`);
  });
  lab.forward('r');
  lab.span('r', 's', hosts.map((h) => `r${h}`), opts.spanEgress ?? []);
}
