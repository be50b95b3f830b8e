// Plain proxied GET: a small JSON answer from the upstream's echo.
//   k6 run -e TARGET=http://127.0.0.1:8080 bench/k6/plain.js
import http from 'k6/http';
import { options as base, ok, target } from './lib.js';

export const options = base();

const url = target + (__ENV.URL_PATH || '/plain/api/items');

export default function () {
  ok(http.get(url, { tags: { name: 'plain' } }));
}
