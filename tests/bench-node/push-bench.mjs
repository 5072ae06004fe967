// Node side of `cargo bench --bench push_send`: encrypts and signs every message with the `web-push`
// package (generateRequestDetails: aes128gcm + a VAPID JWT per message, as the library does) and posts it
// to the same loopback sink over a keep-alive agent, `concurrency` requests in flight. Prints JSON.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import webpush from 'web-push';

const [, , subsFile, concurrencyArg] = process.argv;
const { subscriptions, vapid, payload } = JSON.parse(readFileSync(subsFile, 'utf8'));
const concurrency = Number(concurrencyArg ?? 16);
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });

function post(details) {
  return new Promise((resolve, reject) => {
    const url = new URL(details.endpoint);
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: details.headers, agent }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 201 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(details.body);
  });
}

const started = process.hrtime.bigint();
let next = 0;
async function lane() {
  while (next < subscriptions.length) {
    const sub = subscriptions[next++];
    const details = webpush.generateRequestDetails(sub, payload, { vapidDetails: vapid, TTL: 3600, contentEncoding: 'aes128gcm' });
    await post(details);
  }
}
await Promise.all(Array.from({ length: concurrency }, lane));
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
agent.destroy();
console.log(JSON.stringify({ sent: subscriptions.length, seconds, per_second: subscriptions.length / seconds }));
