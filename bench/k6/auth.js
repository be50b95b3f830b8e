// Authenticated GET with "Authorization: Bearer <JWT>".
// TOKEN is one token; TOKEN_FILE holds one a line (each VU walks the list
// from its own offset, so many tokens defeat the gateway's verified-token
// cache). URL_PATH picks the route: /auth-hs/api/me (HS256, the default) or
// /auth-rs/api/me (RS256).
//   k6 run -e TARGET=http://127.0.0.1:8080 -e TOKEN_FILE=/tmp/hs256.token bench/k6/auth.js
//   k6 run -e TARGET=http://127.0.0.1:8080 -e URL_PATH=/auth-rs/api/me -e TOKEN_FILE=/tmp/rs256_many.tokens bench/k6/auth.js
import http from 'k6/http';
import { SharedArray } from 'k6/data';
import { options as base, ok, target, tokens as readTokens } from './lib.js';

export const options = base();

const url = target + (__ENV.URL_PATH || '/auth-hs/api/me');
// One copy for all VUs, however long the list.
const tokens = new SharedArray('tokens', readTokens);

export default function () {
  const t = tokens[(__VU * 7919 + __ITER) % tokens.length];
  ok(http.get(url, { headers: { Authorization: 'Bearer ' + t }, tags: { name: 'auth' } }));
}
