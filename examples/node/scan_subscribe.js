#!/usr/bin/env node
// scan_subscribe: scans through a gattway gateway for a heart-rate device (service 180D), connects
// to the first one found and prints its Heart Rate Measurement (2A37) notifications.
//
//   node scan_subscribe.js --address 127.0.0.1:50051 [--count 5] [--scan 10]
//
// Needs @grpc/grpc-js and @grpc/proto-loader (npm install them, or set NODE_PATH to
// tests/npm/node_modules). The protos are loaded at run time from the repository's proto/.
'use strict';
const path = require('node:path');
const { parseArgs } = require('node:util');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const { values: args } = parseArgs({
  options: {
    address: { type: 'string', default: process.env.GATTWAY_ADDRESS || '127.0.0.1:50051' },
    count: { type: 'string', default: '5' },
    scan: { type: 'string', default: '10' },
    proto: { type: 'string', default: path.join(__dirname, '..', '..', 'proto') },
  },
});

const definition = protoLoader.loadSync(
  ['gattway/v1/scan.proto', 'gattway/v1/session.proto', 'gattway/v1/gatt.proto'],
  { includeDirs: [args.proto], keepCase: true, enums: String, longs: Number, arrays: true });
const v1 = grpc.loadPackageDefinition(definition).gattway.v1;
const creds = grpc.credentials.createInsecure();
const scanService = new v1.ScanService(args.address, creds);
const sessions = new v1.SessionService(args.address, creds);
const gatt = new v1.GattService(args.address, creds);

// Heart Rate Measurement: flags, then bpm as uint8 (flags bit 0 clear) or little-endian uint16.
function heartRate(value) {
  return value[0] & 0x01 ? value.readUInt16LE(1) : value[1];
}

function fail(what, err) {
  console.error(`${what}: ${grpc.status[err.code]}: ${err.details}`);
  process.exit(1);
}

function findHeartRateDevice() {
  return new Promise((resolve, reject) => {
    const call = scanService.Scan({
      filter: { service_uuids: ['180D'] },
      duration: { seconds: Number(args.scan) },
    });
    let found = null;
    call.on('data', (message) => {
      if (!found && message.results.length > 0) {
        found = message.results[0];
        call.cancel();
        resolve(found);
      }
    });
    call.on('error', (err) => { if (!found) reject(err); });
    call.on('end', () => { if (!found) reject(new Error('no heart-rate device found')); });
  });
}

(async () => {
  const device = await findHeartRateDevice().catch((err) => fail('scan', err));
  console.log(`found ${device.address} "${device.name}" rssi ${device.rssi}`);

  const reply = await new Promise((resolve, reject) => sessions.Connect(
    { address: device.address }, { deadline: Date.now() + 30000 },
    (err, r) => (err ? reject(err) : resolve(r)))).catch((err) => fail('connect', err));
  console.log(`connected on ${reply.session.adapter}, state ${reply.session.state}`);

  // The open Subscribe stream keeps the ephemeral session alive.
  const stream = gatt.Subscribe({
    address: device.address, characteristic: { characteristic_uuid: '2A37' },
  });
  let received = 0;
  stream.on('data', (message) => {
    if (message.event) console.log(`event ${message.event.type}`);
    for (const n of message.notifications) {
      console.log(`#${n.sequence} heart rate ${heartRate(n.value)} bpm`);
      if (++received === Number(args.count)) {
        stream.cancel();
        process.exit(0);
      }
    }
  });
  stream.on('error', (err) => fail('subscribe', err));
})();
