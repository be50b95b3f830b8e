// Shared by the k6 scenarios of bench/k6. Every script reads:
//   TARGET    gateway base URL             [http://127.0.0.1:8080]
//   VUS       virtual users (connections)  [64]
//   DURATION  test length                  [30s]
// Example: k6 run -e TARGET=http://127.0.0.1:8080 -e VUS=64 -e DURATION=30s bench/k6/plain.js
//
// The routes (/plain/, /post/, /auth-hs/, /auth-rs/, /rl/) are those of
// bench/configs/fluxgate.yaml.tmpl and bench/nginx/nginx.conf.tmpl, in front
// of bin/upstream (any path works on it directly too).
import { check } from 'k6';

export const target = (__ENV.TARGET || 'http://127.0.0.1:8080').replace(/\/+$/, '');

// options returns the common options, merged with extra.
export function options(extra) {
  return Object.assign(
    {
      vus: Number(__ENV.VUS || 64),
      duration: __ENV.DURATION || '30s',
      // The bodies are not looked at: do not keep them (k6 still reads them).
      discardResponseBodies: true,
      summaryTrendStats: ['avg', 'med', 'p(90)', 'p(99)', 'max'],
      thresholds: {
        http_req_failed: ['rate<0.001'],
        checks: ['rate>0.999'],
      },
    },
    extra || {},
  );
}

// ok records whether res is a 2xx, under the request's name tag.
export function ok(res) {
  return check(res, { 'status is 2xx': (r) => r.status >= 200 && r.status < 300 });
}

// body returns a string of n bytes: a JSON object when json is true.
export function body(n, json) {
  if (json) {
    return '{"data":"' + 'x'.repeat(n - 11) + '"}';
  }
  return '0123456789abcdef'.repeat(Math.ceil(n / 16)).slice(0, n);
}

// tokens reads TOKEN, else TOKEN_FILE (one JWT a line); call it from the init
// context (open() is only available there).
export function tokens() {
  if (__ENV.TOKEN) {
    return [__ENV.TOKEN];
  }
  if (!__ENV.TOKEN_FILE) {
    throw new Error('set TOKEN or TOKEN_FILE (mint them with: go run ./bench/tools/benchtool token ...)');
  }
  const list = open(__ENV.TOKEN_FILE)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  if (list.length === 0) {
    throw new Error('no token in ' + __ENV.TOKEN_FILE);
  }
  return list;
}

// clientIP is the index-th of n distinct addresses 10.a.b.c.
export function clientIP(index, n) {
  const k = index % n;
  return '10.' + (Math.floor(k / 65536) % 256) + '.' + (Math.floor(k / 256) % 256) + '.' + (k % 256);
}
