"""Locust FastHttpUser: one GET per task; wait time from the BENCH_WAIT env (seconds)."""

import os

from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser

WAIT = float(os.environ.get("BENCH_WAIT", "0"))


class Hammer(FastHttpUser):
    wait_time = constant(WAIT)

    @task
    def get(self):
        self.client.get("/")
