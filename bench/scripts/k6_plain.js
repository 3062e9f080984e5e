// k6 plain: one GET per iteration, no check, no custom metric.
import http from 'k6/http';

export const options = { discardResponseBodies: true };
const URL = __ENV.URL;

export default function () {
  http.get(URL);
}
