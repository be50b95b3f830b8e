// A mixed, API-like profile, the same as bench/wrk/mixed.lua:
//   60 %  GET  /plain/api/items/<id>?page=<n>   small JSON
//   10 %  GET  /plain/api/export/bytes?n=16384  16 KiB response
//   10 %  POST /post/api/upload                 4 KiB JSON body
//   12 %  GET  /auth-hs/api/me                  HS256 token (TOKEN or TOKEN_FILE, first line)
//    8 %  GET  /rl/api/search?q=<n>             rate-limited, 1000 client keys (X-Forwarded-For)
//   k6 run -e TARGET=http://127.0.0.1:8080 -e TOKEN_FILE=/tmp/hs256.token bench/k6/mixed.js
import http from 'k6/http';
import { body, clientIP, options as base, ok, target, tokens } from './lib.js';

export const options = base();

const bearer = 'Bearer ' + tokens()[0];
const payload = body(4096, true);

const profile = [
  [60, (n) => http.get(`${target}/plain/api/items/${n}?page=${n % 7}`, { tags: { name: 'items' } })],
  [10, () => http.get(`${target}/plain/api/export/bytes?n=16384`, { tags: { name: 'export' } })],
  [10, () => http.post(`${target}/post/api/upload`, payload, {
    headers: { 'Content-Type': 'application/json' },
    tags: { name: 'upload' },
  })],
  [12, () => http.get(`${target}/auth-hs/api/me`, { headers: { Authorization: bearer }, tags: { name: 'me' } })],
  [8, (n) => http.get(`${target}/rl/api/search?q=${n}`, {
    headers: { 'X-Forwarded-For': clientIP(n, 1000) },
    tags: { name: 'search' },
  })],
];
const total = profile.reduce((s, [w]) => s + w, 0);

export default function () {
  const n = __VU * 1000 + __ITER;
  let x = Math.random() * total;
  for (const [w, send] of profile) {
    x -= w;
    if (x < 0) {
      ok(send(n));
      return;
    }
  }
}
