// POST with a 4 KiB JSON body; the upstream reads it all and answers its length.
//   k6 run -e TARGET=http://127.0.0.1:8080 bench/k6/post_4k.js
import http from 'k6/http';
import { body, options as base, ok, target } from './lib.js';

export const options = base();

const url = target + (__ENV.URL_PATH || '/post/upload');
const payload = body(4096, true);
const params = { headers: { 'Content-Type': 'application/json' }, tags: { name: 'post_4k' } };

export default function () {
  ok(http.post(url, payload, params));
}
