// Validates deploy/k8s/*.yaml against the Kubernetes (and Prometheus Operator) JSON schemas that
// the kubernetes-models packages carry: wrong field names, types or missing required fields fail.
// Usage: node tests/npm/validate-k8s.mjs deploy/k8s   (ESM: it lives beside its node_modules)
import fs from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';

const kinds = {
  'v1/Namespace': ['kubernetes-models/v1/Namespace', 'Namespace'],
  'v1/Service': ['kubernetes-models/v1/Service', 'Service'],
  'v1/Secret': ['kubernetes-models/v1/Secret', 'Secret'],
  'apps/v1/DaemonSet': ['kubernetes-models/apps/v1/DaemonSet', 'DaemonSet'],
  'monitoring.coreos.com/v1/ServiceMonitor':
    ['@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor',
      'ServiceMonitor'],
};

const dir = process.argv[2];
let failures = 0;
let checked = 0;
for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()) {
  for (const doc of yaml.loadAll(fs.readFileSync(path.join(dir, file), 'utf8'))) {
    if (!doc) continue;
    const key = `${doc.apiVersion}/${doc.kind}`;
    try {
      if (!kinds[key]) throw new Error(`no schema known for ${key}`);
      const [module, name] = kinds[key];
      const Model = (await import(module))[name];
      new Model(doc).validate();
      console.log(`ok   ${file}: ${key} ${doc.metadata && doc.metadata.name}`);
      checked++;
    } catch (err) {
      console.error(`FAIL ${file}: ${key}: ${err.message}`);
      failures++;
    }
  }
}
if (checked === 0) failures++;
process.exit(failures ? 1 : 0);
