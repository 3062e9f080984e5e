"""What runs inside an actor: the runner and its VUs, the HTTP client, scenario
loading, and the API scripts import.
"""
