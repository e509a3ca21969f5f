// deploy/kubernetes: every manifest validates against the Kubernetes API schemas (kubernetes-models; no cluster
// here), and the pieces agree with each other and with the proxy's config: the ports the ConfigMap's file and
// the environment set are the ones the container, the Service, the probes and the NetworkPolicy name.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { ConfigMap, type IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret, type ISecret } from 'kubernetes-models/v1/Secret';
import { Service, type IService } from 'kubernetes-models/v1/Service';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler, type IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { NetworkPolicy, type INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget, type IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { resolveConfig } from '../../src/config/resolve-config.js';
import { REPO_ROOT } from './start-command.js';

const DIR = path.join(REPO_ROOT, 'deploy', 'kubernetes');

/** The model class for each kind we ship; a manifest of any other kind is a test failure, not a skip. */
const MODELS: Record<string, (data: object) => { validate(): void }> = {
  'v1/Namespace': (data) => new Namespace(data),
  'v1/ConfigMap': (data) => new ConfigMap(data),
  'v1/Secret': (data) => new Secret(data),
  'v1/Service': (data) => new Service(data),
  'apps/v1/Deployment': (data) => new Deployment(data),
  'policy/v1/PodDisruptionBudget': (data) => new PodDisruptionBudget(data),
  'networking.k8s.io/v1/NetworkPolicy': (data) => new NetworkPolicy(data),
  'autoscaling/v2/HorizontalPodAutoscaler': (data) => new HorizontalPodAutoscaler(data),
};

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string; namespace?: string };
}

const files = readdirSync(DIR).filter((name) => name.endsWith('.yaml'));
const manifests: Array<{ file: string; data: Manifest }> = files.flatMap((file) =>
  parseAllDocuments(readFileSync(path.join(DIR, file), 'utf8')).map((document) => {
    assert.deepEqual(document.errors, [], `${file}: YAML errors`);
    return { file, data: document.toJS() as Manifest };
  }),
);
const resources = manifests.filter((m) => m.data.kind !== 'Kustomization');
function only<T>(kind: string): { file: string; data: T } {
  const found = resources.filter((m) => m.data.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0] as unknown as { file: string; data: T };
}

const deployment = only<IDeployment>('Deployment');
const podSpec = deployment.data.spec!.template.spec!;
const podLabels = deployment.data.spec!.template.metadata!.labels!;
const container = podSpec.containers[0]!;
const env = Object.fromEntries((container.env ?? []).map((variable) => [variable.name, variable.value ?? '']));
const containerPort = (name: string): number | undefined => container.ports?.find((port) => port.name === name)?.containerPort;
const mountNamed = (name: string) => container.volumeMounts?.find((mount) => mount.name === name);

const work = mkdtempSync(path.join(os.tmpdir(), 'egress-proxy-k8s-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** The config the pod runs with: the ConfigMap's file as mounted, under the Deployment's environment. */
async function podConfig() {
  const configMap = only<IConfigMap>('ConfigMap').data;
  const subPath = mountNamed('config')!.subPath!;
  const file = path.join(work, subPath);
  writeFileSync(file, configMap.data![subPath]!);
  return (await resolveConfig({ configFile: file }, env)).config;
}

describe('deploy/kubernetes', () => {
  it('every manifest is valid for its kind', () => {
    for (const { file, data } of resources) {
      const model = MODELS[`${data.apiVersion}/${data.kind}`];
      assert.ok(model, `${file}: no model for ${data.apiVersion} ${data.kind}`);
      assert.doesNotThrow(() => model(data).validate(), file);
    }
  });

  it('a broken manifest fails validation (the check can fail)', () => {
    const broken = structuredClone(deployment.data) as unknown as { spec: { template: { spec: { containers: Array<{ ports: Array<{ containerPort: unknown }> }> } } } };
    broken.spec.template.spec.containers[0]!.ports[0]!.containerPort = 'proxy';
    assert.throws(() => new Deployment(broken as never).validate(), /containerPort/);
  });

  it('kustomization.yaml lists every resource but the MITM CA template, all in one namespace', () => {
    const kustomization = manifests.find((m) => m.data.kind === 'Kustomization')!.data as unknown as { resources: string[] };
    const expected = files.filter((file) => !['kustomization.yaml', 'mitm-ca-secret.yaml'].includes(file));
    assert.deepEqual([...kustomization.resources].sort(), expected.sort());
    for (const { file, data } of resources.filter((m) => m.data.kind !== 'Namespace')) {
      assert.equal(data.metadata?.namespace, 'egress-proxy', file);
    }
  });

  it("the ConfigMap holds DataKit's [[inputs.proxy]] file, and the ports it and the environment set are the container's", async () => {
    assert.match(Object.values(only<IConfigMap>('ConfigMap').data.data!)[0]!, /^\[\[inputs\.proxy\]\]/m);
    const config = await podConfig();
    assert.equal(config.bind, '0.0.0.0');
    assert.equal(config.admin.bind, '0.0.0.0', 'probes reach the admin port on the pod address');
    assert.equal(containerPort('proxy'), config.port);
    assert.equal(containerPort('admin'), config.admin.port);
    assert.equal(typeof config.workers, 'number');
  });

  it('probes: readiness on /readyz and liveness on /healthz, on the admin port', () => {
    assert.deepEqual(container.readinessProbe?.httpGet, { path: '/readyz', port: 'admin' });
    assert.deepEqual(container.livenessProbe?.httpGet, { path: '/healthz', port: 'admin' });
  });

  it('2+ replicas, resources, non-root with a read-only root file system and the data dir writable', () => {
    assert.ok((deployment.data.spec!.replicas ?? 1) >= 2);
    assert.ok(container.resources?.requests?.['cpu'] !== undefined && container.resources.limits?.['memory'] !== undefined);
    assert.equal(podSpec.securityContext?.runAsNonRoot, true);
    assert.notEqual(podSpec.securityContext?.runAsUser, 0);
    assert.equal(container.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext?.allowPrivilegeEscalation, false);
    const dataMount = container.volumeMounts?.find((mount) => mount.mountPath === '/var/lib/egress-proxy');
    assert.ok(podSpec.volumes?.find((volume) => volume.name === dataMount?.name)?.emptyDir, 'the image data dir is writable');
    // The drain (10 s by default) fits in the grace period.
    assert.ok((podSpec.terminationGracePeriodSeconds ?? 30) > 10);
  });

  it('the CA Secret, for MITM, is mounted read-only where EGRESS_PROXY_DATA_DIR is told to point', () => {
    const secret = only<ISecret>('Secret').data;
    assert.deepEqual(Object.keys(secret.stringData ?? {}).sort(), ['ca.crt', 'ca.key']);
    const volume = podSpec.volumes?.find((v) => v.secret?.secretName === secret.metadata?.name);
    assert.ok(volume, 'the Deployment mounts the Secret');
    assert.equal(volume.secret?.optional, true, 'optional: MITM is off by default');
    const mount = mountNamed(volume.name)!;
    assert.equal(mount.readOnly, true);
    const deploymentText = readFileSync(path.join(DIR, deployment.file), 'utf8');
    assert.match(deploymentText, new RegExp(`name: EGRESS_PROXY_DATA_DIR\\n\\s*#\\s+value: ${mount.mountPath}\\n`));
  });

  it('the Service, the PodDisruptionBudget and the HPA select the pods; the Service targets the named ports', () => {
    const service = only<IService>('Service').data;
    assert.deepEqual(service.spec?.selector, podLabels);
    assert.deepEqual(
      service.spec?.ports?.map((port) => [port.targetPort, port.port]),
      [['proxy', containerPort('proxy')], ['admin', containerPort('admin')]],
    );
    const pdb = only<IPodDisruptionBudget>('PodDisruptionBudget').data;
    assert.deepEqual(pdb.spec?.selector?.matchLabels, podLabels);
    assert.ok(Number(pdb.spec?.minAvailable) < (deployment.data.spec!.replicas ?? 1), 'a node drain can always proceed');
    const hpa = only<IHorizontalPodAutoscaler>('HorizontalPodAutoscaler').data;
    assert.deepEqual(hpa.spec?.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.data.metadata?.name });
    assert.equal(hpa.spec?.minReplicas, deployment.data.spec!.replicas);
    assert.equal(hpa.spec?.metrics?.[0]?.resource?.name, 'cpu');
  });

  it('the NetworkPolicy lets only the agents namespace reach the proxy port', async () => {
    const policy = only<INetworkPolicy>('NetworkPolicy').data;
    assert.deepEqual(policy.spec?.podSelector.matchLabels, podLabels);
    const config = await podConfig();
    const rules = policy.spec?.ingress ?? [];
    const proxyRules = rules.filter((rule) => rule.ports?.some((port) => port.port === config.port));
    assert.equal(proxyRules.length, 1);
    assert.deepEqual(proxyRules[0]!.from, [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'datakit' } } }]);
    for (const rule of rules) assert.ok((rule.from?.length ?? 0) > 0, 'no rule admits everyone');
  });
});
