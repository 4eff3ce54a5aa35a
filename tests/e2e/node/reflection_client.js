// A client nobody here wrote: it knows no gattway proto file, only the address, and learns the API
// through server reflection, as grpcurl does. Lists the services, then calls Health/Check and an
// unbuilt RPC using descriptors fetched from the server.
'use strict';
const assert = require('node:assert/strict');
const grpc = require('@grpc/grpc-js');
const { GrpcReflection } = require('grpc-js-reflection-client');

const address = process.env.GATTWAY_ADDRESS;

function unary(client, method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + 5000 }, (err, reply) =>
      err ? reject(err) : resolve(reply));
  });
}

async function clientFor(reflection, service) {
  const descriptor = await reflection.getDescriptorBySymbol(service);
  const pkg = descriptor.getPackageObject({ keepCase: true, enums: String, longs: String });
  const Ctor = service.split('.').reduce((o, part) => o[part], pkg);
  return new Ctor(address, grpc.credentials.createInsecure());
}

(async () => {
  const reflection = new GrpcReflection(address, grpc.credentials.createInsecure());
  const services = await reflection.listServices();
  console.log('services:', services.join(', '));
  for (const s of ['gattway.v1.AdapterService', 'gattway.v1.ScanService',
    'gattway.v1.SessionService', 'gattway.v1.GattService', 'gattway.v1.PeripheralService',
    'gattway.v1.MetricsService', 'grpc.health.v1.Health']) {
    assert.ok(services.includes(s), `reflection lists ${s}`);
  }

  const methods = (await reflection.listMethods('gattway.v1.GattService')).map((m) => m.name);
  assert.deepEqual(methods.sort(),
    ['Discover', 'Execute', 'GetMtu', 'Read', 'Subscribe', 'Write']);

  const health = await clientFor(reflection, 'grpc.health.v1.Health');
  const reply = await unary(health, 'Check', { service: '' });
  console.log('health:', reply.status);
  assert.equal(reply.status, 'SERVING');

  const peripheral = await clientFor(reflection, 'gattway.v1.PeripheralService');
  await assert.rejects(unary(peripheral, 'Notify', {}), (err) => {
    console.log('Notify:', grpc.status[err.code], '-', err.details);
    return err.code === grpc.status.INVALID_ARGUMENT &&
      /characteristic\.characteristic_uuid/.test(err.details);
  });
  console.log('reflection client: ok');
  process.exit(0);
})().catch((err) => {
  console.error('reflection client failed:', err);
  process.exit(1);
});
