// k6's cookie API and responseCallback: null, as real k6 runs them (one VU, one
// iteration). tests/conformance/test_k6_cookie_api.py runs this and vr_cookie_api.py
// against the same byte-exact server; each logs one JSON line per step.
import http from 'k6/http';

export const options = {
  scenarios: { api: { executor: 'per-vu-iterations', vus: 1, iterations: 1, maxDuration: '120s' } },
  thresholds: {
    'http_reqs{expected_response:true}': ['count>=0'],
    'http_reqs{expected_response:false}': ['count>=0'],
    'http_reqs{cb:null}': ['count>=0'],
  },
};

if (__ENV.GLOBAL === '1') http.setResponseCallback(null);

function out(step, value) {
  console.log(JSON.stringify({ step, value }));
}

export default function () {
  const u = __ENV.BASE;
  const jar = http.cookieJar();
  out('res.cookies /set', http.get(`${u}/set`).cookies);
  out('res.cookies after a redirect', http.get(`${u}/redir`).cookies);
  out('res.cookies none', http.get(`${u}/404`).cookies);
  out('res.cookies no response', http.get(__ENV.REFUSED).cookies);
  out('jar for /p/x', jar.cookiesForURL(`${u}/p/x`));
  jar.set(u, 'k', 'v', { path: '/p', max_age: 100 });
  jar.set(`${u}/p/q/r`, 'k2', 'v2');
  jar.set(u, 'k3', 'v 3,4');
  jar.set(u, 'old', '1', { expires: 'Thu, 01 Jan 1970 00:00:00 GMT' });
  jar.set(u, 'dom', '1', { domain: '127.0.0.1' });
  jar.set(u, 'dom2', '1', { domain: '.127.0.0.1' });
  jar.set(u, 'semi', 'a;b"c\\d');
  jar.set(u, 'sec', '1', { secure: true });
  out('jar after set', jar.cookiesForURL(`${u}/p/q/r`));
  out('jar for https', jar.cookiesForURL(`${u.replace('http:', 'https:')}/`));
  http.get(`${u}/p/q/r`);
  jar.delete(u, 'a');
  jar.delete(u, 'k');
  out('jar after delete', jar.cookiesForURL(`${u}/p/q/r`));
  jar.clear(`${u}/p/q/r`);
  out('jar after clear', jar.cookiesForURL(`${u}/p/q/r`));
  http.get(`${u}/p/q/r`);
  const own = new http.CookieJar();
  own.set(u, 'mine', '1');
  http.get(`${u}/own`, { jar: own });
  http.get(`${u}/set2`, { jar: own });
  out('own jar', own.cookiesForURL(`${u}/`));
  out('vu jar untouched', jar.cookiesForURL(`${u}/`));
  const nul = { responseCallback: null, tags: { cb: 'null' } };
  http.get(`${u}/404`, nul);
  http.get(`${u}/ok`, nul);
  http.get(__ENV.REFUSED, nul);
  http.get(`${u}/404`, { tags: { cb: 'default' } });
  http.setResponseCallback(http.expectedStatuses(404));
  http.get(`${u}/404`, { tags: { cb: 'vu404' } });
  http.setResponseCallback(null);
  http.get(`${u}/404`, { tags: { cb: 'vunull' } });
}
