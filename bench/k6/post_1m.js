// POST with a 1 MiB body (an upload): measures request body streaming.
//   k6 run -e TARGET=http://127.0.0.1:8080 bench/k6/post_1m.js
import http from 'k6/http';
import { body, options as base, ok, target } from './lib.js';

export const options = base();

const url = target + (__ENV.URL_PATH || '/post/upload');
const payload = body(1 << 20, false);
const params = {
  headers: { 'Content-Type': 'application/octet-stream' },
  tags: { name: 'post_1m' },
  timeout: '10s',
};

export default function () {
  ok(http.post(url, payload, params));
}
