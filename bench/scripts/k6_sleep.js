// Memory case: every VU sleeps 1 s between requests.
import http from 'k6/http';
import { sleep } from 'k6';

export const options = { discardResponseBodies: true };
const URL = __ENV.URL;

export default function () {
  http.get(URL);
  sleep(1);
}
