// The conformance cases as real k6 makes them: one iteration, every case in order, one
// console line per request (k6 run --console-output FILE --log-format json).
// The cases come from tests/conformance/wire.py as JSON (CASES=path).
import http from 'k6/http';

const CASES = JSON.parse(open(__ENV.CASES));

const thresholds = {};
for (const c of CASES) {
  thresholds[`http_reqs{case:${c.name}}`] = ['count>=0'];
  thresholds[`http_req_failed{case:${c.name}}`] = ['rate>=0'];
  thresholds[`http_reqs{case:${c.name},proto:HTTP/1.1}`] = ['count>=0'];
  thresholds[`http_reqs{url:${c.reqs[0].url}}`] = ['count>=0'];
}

export const options = {
  scenarios: { conformance: { executor: 'per-vu-iterations', vus: 1, iterations: 1, maxDuration: '300s' } },
  userAgent: 'conformance/1',
  thresholds,
};

function body(spec) {
  if (spec === null || typeof spec === 'string') return spec;
  if (spec.form) return spec.form;
  const out = {};
  for (const [k, v] of Object.entries(spec.multipart.fields)) out[k] = v;
  for (const [k, f] of Object.entries(spec.multipart.files)) out[k] = http.file(f[0], f[1], f[2]);
  return out;
}

export default function () {
  for (const c of CASES) {
    c.reqs.forEach((r, i) => {
      const params = { headers: r.headers, tags: { case: c.name } };
      if (r.timeout !== null) params.timeout = `${r.timeout * 1000}ms`;
      Object.assign(params, r.params);
      const res = http.request(r.method, r.url, body(r.body), params);
      const shown = {};
      for (const h of r.show) shown[h] = res.headers[h] === undefined ? null : res.headers[h];
      console.log(JSON.stringify({
        case: c.name, i, status: res.status, status_text: res.status_text, url: res.url,
        body: res.body, error_code: res.error_code, headers: shown,
      }));
    });
  }
}
