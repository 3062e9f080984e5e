"""Exit codes, k6's where k6 has one, so CI jobs written for k6 read them the same way."""

OK = 0
THRESHOLDS_FAILED = 99  # k6 ThresholdsHaveFailed (also after abortOnFail)
LOST_LOAD = 103  # a run that delivered less than planned (lost actors or nodes)
INVALID_CONFIG = 104  # k6 InvalidConfig: bad options, threshold, exec, CLI flag
EXTERNAL_ABORT = 105  # k6 ExternalAbort: Ctrl-C / SIGTERM on the driver
SCRIPT_ERROR = 107  # k6 ScriptException: the scenario file could not be loaded
PREFLIGHT_FAILED = 108  # k6 ScriptAborted: the pre-flight health check failed, nothing sent
CLUSTER_ERROR = 111  # not a k6 code: Ray could not be reached or could not place the actors
GENERATOR_SATURATED = 112  # not a k6 code: the load generators could not run the plan on time
OUTPUT_LOST = 113  # not a k6 code: an output the user asked for was lost or truncated
CONVERT_PARTIAL = 116  # not a k6 code: `convert` left TODO(convert) lines (see --allow-partial)
SETUP_TIMEOUT = 100  # k6 SetupTimeout: setup() ran past setupTimeout, no VU started
TEARDOWN_TIMEOUT = 101  # k6 TeardownTimeout: teardown() ran past teardownTimeout
SCRIPT_ABORTED = 108  # k6 ScriptAborted: k6/execution test.abort() (same code as PREFLIGHT_FAILED)
BASELINE_REGRESSION = 114  # not a k6 code: a row worse than the baseline (compare, run --baseline)
NOT_ACCEPTED = 115  # not a k6 code: `history accept` says the acceptance chain is not met
