/**
 * deploy/k8s: every manifest parses, the sensor is a hostNetwork DaemonSet
 * with NET_RAW/NET_ADMIN and tolerations, the collector a Deployment behind a
 * Service whose probes hit routes the collector really serves (asked with
 * fastify's inject on the real app), and every container has resources.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT, checkArgs, subcommandFlags } from './cli-help.js';

const DIR = path.join(REPO_ROOT, 'deploy/k8s');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;
const docs: Doc[] = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .flatMap((f) =>
    parseAllDocuments(readFileSync(path.join(DIR, f), 'utf8')).map((d) => {
      if (d.errors.length) throw new Error(`${f}: ${d.errors[0]!.message}`);
      return { ...d.toJS(), __file: f };
    }),
  )
  .filter((d) => d && d.kind);

const find = (kind: string, name: string): Doc => {
  const d = docs.find((x) => x.kind === kind && x.metadata?.name === name);
  if (!d) throw new Error(`no ${kind}/${name}`);
  return d;
};

/** Expands $(VAR) from the container's env list (Kubernetes dependent variables). */
function expandArgs(args: string[], container: Doc): string[] {
  const known = new Set<string>((container.env ?? []).map((e: Doc) => e.name));
  return args.map((a) => a.replace(/\$\(([A-Z_]+)\)/g, (_m, v: string) => {
    if (!known.has(v)) throw new Error(`$(${v}) is not in the container's env`);
    return `value-of-${v}`;
  }));
}

describe('deploy/k8s', () => {
  it('puts everything in the tapwatch namespace, which exists and allows the sensor', () => {
    const ns = find('Namespace', 'tapwatch');
    expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('privileged');
    for (const d of docs.filter((x) => x.kind !== 'Namespace')) expect(d.metadata.namespace, `${d.kind}/${d.metadata.name}`).toBe('tapwatch');
    // Applied in file-name order: the namespace comes first.
    expect(docs[0].kind).toBe('Namespace');
  });

  it('runs the sensor as a hostNetwork DaemonSet, non-root, with NET_RAW and NET_ADMIN only', () => {
    const ds = find('DaemonSet', 'tapwatch-sensor');
    const pod = ds.spec.template.spec;
    expect(pod.hostNetwork).toBe(true);
    expect(pod.dnsPolicy).toBe('ClusterFirstWithHostNet');
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(pod.tolerations.length).toBeGreaterThan(0);
    expect(pod.tolerations.some((t: Doc) => t.key === 'node-role.kubernetes.io/control-plane')).toBe(true);
    expect(ds.spec.selector.matchLabels).toEqual(Object.fromEntries(Object.entries(ds.spec.template.metadata.labels).filter(([k]) => k in ds.spec.selector.matchLabels)));
    const c = pod.containers[0];
    expect([...c.securityContext.capabilities.add].sort()).toEqual(['NET_ADMIN', 'NET_RAW']);
    expect(c.securityContext.capabilities.drop).toEqual(['ALL']);
    expect(c.securityContext.privileged ?? false).toBe(false);
    // no_new_privs would make the kernel ignore the image's file capabilities.
    expect(c.securityContext.allowPrivilegeEscalation).not.toBe(false);
  });

  it('gives the sensor flags that `tapwatch sensor` knows, and mounts the files they name', () => {
    const c = find('DaemonSet', 'tapwatch-sensor').spec.template.spec.containers[0];
    const args = expandArgs(c.args, c);
    expect(args[0]).toBe('sensor');
    expect(checkArgs(args.slice(1), subcommandFlags('sensor'))).toEqual([]);
    const mounts: string[] = c.volumeMounts.map((m: Doc) => m.mountPath);
    for (const flag of ['--policy', '--kafka-config', '--spool-dir']) {
      const p = args[args.indexOf(flag) + 1]!;
      expect(mounts.some((m) => p === m || p.startsWith(m + '/')), `${flag} ${p}`).toBe(true);
    }
  });

  it('runs the collector as a Deployment behind a Service, with probes and flags the CLI knows', () => {
    const dep = find('Deployment', 'tapwatch-collector');
    const svc = find('Service', 'tapwatch-collector');
    const labels = dep.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(svc.spec.selector)) expect(labels[k]).toBe(v);
    const c = dep.spec.template.spec.containers[0];
    const portNames = c.ports.map((p: Doc) => p.name);
    expect(portNames).toContain(svc.spec.ports[0].targetPort);
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    for (const probe of [c.livenessProbe, c.readinessProbe]) expect(portNames).toContain(probe.httpGet.port);
    const args = expandArgs(c.args, c);
    expect(args[0]).toBe('collector');
    expect(checkArgs(args.slice(1), subcommandFlags('collector'))).toEqual([]);
    expect(args[args.indexOf('--port') + 1]).toBe(String(c.ports[0].containerPort));
    expect(args[args.indexOf('--host') + 1]).toBe('0.0.0.0');
    const envNames = c.env.map((e: Doc) => e.name);
    for (const k of ['KAFKA_BROKERS', 'DATABASE_URL', 'TAPWATCH_API_TOKEN']) expect(envNames).toContain(k);
    // Secrets come from the Secret, not from the ConfigMap.
    for (const k of ['DATABASE_URL', 'TAPWATCH_API_TOKEN']) expect(c.env.find((e: Doc) => e.name === k).valueFrom.secretKeyRef).toBeDefined();
    expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
    expect(c.securityContext.capabilities.drop).toEqual(['ALL']);
  });

  it('sets resource requests and a memory limit on every container', () => {
    for (const kind of ['DaemonSet', 'Deployment']) {
      for (const d of docs.filter((x) => x.kind === kind)) {
        for (const c of d.spec.template.spec.containers) {
          expect(c.resources.requests.cpu, `${d.metadata.name}/${c.name}`).toBeDefined();
          expect(c.resources.requests.memory).toBeDefined();
          expect(c.resources.limits.memory).toBeDefined();
        }
      }
    }
  });

  it('refers only to ConfigMap and Secret keys that exist', () => {
    const cm = find('ConfigMap', 'tapwatch-config');
    const secret = find('Secret', 'tapwatch-secrets');
    for (const d of docs.filter((x) => x.spec?.template)) {
      const pod = d.spec.template.spec;
      for (const c of pod.containers) {
        for (const e of c.env ?? []) {
          if (e.valueFrom?.configMapKeyRef) expect(cm.data, e.name).toHaveProperty(e.valueFrom.configMapKeyRef.key);
          if (e.valueFrom?.secretKeyRef) expect(secret.stringData, e.name).toHaveProperty(e.valueFrom.secretKeyRef.key);
        }
      }
      for (const v of pod.volumes ?? []) {
        for (const item of v.configMap?.items ?? []) expect(cm.data).toHaveProperty(item.key);
        for (const item of v.secret?.items ?? []) expect(secret.stringData).toHaveProperty(item.key);
      }
    }
  });

  describe('the collector answers the probe paths', () => {
    // The real app with no database and no Kafka: /healthz must still say ok
    // (liveness checks nothing else), /readyz must answer 503, not 404.
    let app: Doc;
    beforeAll(async () => {
      const { build } = await import('../../collector/src/app.js');
      const { defaultConfig } = await import('../../collector/src/config.js');
      app = await build({ config: { ...defaultConfig(), databaseUrl: 'postgres://nobody@127.0.0.1:1/none', apiToken: 't' }, migrate: false, kafka: false, retention: false, defaultMetrics: false });
    });
    afterAll(async () => {
      await app?.close();
    });
    it.each([['/healthz', 200], ['/readyz', 503]])('%s -> %i', async (url, status) => {
      const probes = find('Deployment', 'tapwatch-collector').spec.template.spec.containers[0];
      expect([probes.livenessProbe.httpGet.path, probes.readinessProbe.httpGet.path]).toContain(url);
      const r = await app.inject({ method: 'GET', url });
      expect(r.statusCode).toBe(status);
    });
  });
});
