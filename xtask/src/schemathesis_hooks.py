"""Schemathesis hooks of the api suite (loaded through SCHEMATHESIS_HOOKS).

- Seeds: operations whose success needs a value no generator can guess (an OTP, an action
  token, a device the caller registered, a real host) get, at their first call and then every
  fifth while seeds last, a request made from the seeds file `GATEBELL_API_SEEDS` names
  (`{operationId: [{"body": ..., "path": {...}}]}`, each seed used once). A seed goes only into
  a positive case with the operation's own method: a negative case (no credentials, a wrong
  method) would spend it on an answer that says nothing. Every other call is schemathesis's
  own, so the fuzzing is not narrowed.
- Record: every answer's operation and status is appended to `GATEBELL_API_RECORD` (JSON
  lines), from which `cargo xtask test --only api` tells which operations never answered 2xx.
"""

import collections
import json
import os

import schemathesis

with open(os.environ["GATEBELL_API_SEEDS"], encoding="utf-8") as f:
    SEEDS = json.load(f)
RECORD = open(os.environ["GATEBELL_API_RECORD"], "a", encoding="utf-8")
CALLS = collections.Counter()


def operation_id(case):
    return case.operation.definition.raw.get("operationId", case.operation.label)


def positive(case):
    meta = getattr(case, "_meta", None)
    mode = getattr(getattr(meta, "generation", None), "mode", "positive")
    return str(mode) == "positive" and case.method.upper() == case.operation.method.upper()


@schemathesis.hook
def before_call(context, case, kwargs):
    op = operation_id(case)
    seeds = SEEDS.get(op)
    if not seeds or not positive(case):
        return
    n = CALLS[op]
    CALLS[op] += 1
    if n % 5 != 0:
        return
    seed = seeds.pop(0)
    if "body" in seed:
        case.body = seed["body"]
        case.media_type = "application/json"
    if "path" in seed:
        case.path_parameters = dict(case.path_parameters or {}, **seed["path"])


@schemathesis.hook
def after_call(context, case, response):
    RECORD.write(json.dumps({"op": operation_id(case), "status": response.status_code}) + "\n")
    RECORD.flush()
