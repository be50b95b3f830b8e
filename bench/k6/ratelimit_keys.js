// GET on a rate-limited route from KEYS (default 10000) distinct clients,
// named by X-Forwarded-For: the gateway must trust the load generator's
// address as a proxy (fluxgate: server.trusted_proxies) for the header to
// become the rate-limit key.
//   k6 run -e TARGET=http://127.0.0.1:8080 -e KEYS=10000 bench/k6/ratelimit_keys.js
import http from 'k6/http';
import { clientIP, options as base, ok, target } from './lib.js';

export const options = base();

const url = target + (__ENV.URL_PATH || '/rl/api/items');
const keys = Number(__ENV.KEYS || 10000);

export default function () {
  const ip = clientIP(__VU * 4099 + __ITER, keys);
  ok(http.get(url, { headers: { 'X-Forwarded-For': ip }, tags: { name: 'ratelimit' } }));
}
