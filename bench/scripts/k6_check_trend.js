// k6 with the instrumentation veza-ray always pays for: a check() and a Trend.add per iteration.
import http from 'k6/http';
import { check } from 'k6';
import { Trend } from 'k6/metrics';

export const options = { discardResponseBodies: true };
const URL = __ENV.URL;
const ttfb = new Trend('ttfb_ms', true);

export default function () {
  const res = http.get(URL, { tags: { name: 'hammer' } });
  check(res, { 'status 200': (r) => r.status === 200 });
  ttfb.add(res.timings.waiting);
}
