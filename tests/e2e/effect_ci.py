"""The 95 % intervals of a suggestion's effect, recomputed independently of
the service: Wilson intervals from scipy, Newcombe's hybrid score interval
combined from them, the log interval of the rate ratio, and Welch's t
interval from scipy. Reads {"treated": [revenue fen per member], "control":
[...], "treated_responders": n, "control_responders": n} as the argument and
prints the intervals as JSON."""

import json
import math
import sys

from scipy import stats

spec = json.loads(sys.argv[1])
rt, nt = spec["treated_responders"], len(spec["treated"])
rc, nc = spec["control_responders"], len(spec["control"])
z = stats.norm.ppf(0.975)


def wilson(r, n):
    ci = stats.binomtest(r, n).proportion_ci(confidence_level=0.95, method="wilson")
    return ci.low, ci.high


pt, pc = rt / nt, rc / nc
lt, ut = wilson(rt, nt)
lc, uc = wilson(rc, nc)
d = pt - pc
out = {
    "difference": [
        d - math.sqrt((pt - lt) ** 2 + (uc - pc) ** 2),
        d + math.sqrt((ut - pt) ** 2 + (pc - lc) ** 2),
    ]
}
if rt > 0 and rc > 0:
    se = math.sqrt(1 / rt - 1 / nt + 1 / rc - 1 / nc)
    ratio = pt / pc
    out["ratio"] = [ratio * math.exp(-z * se), ratio * math.exp(z * se)]
welch = stats.ttest_ind(spec["treated"], spec["control"], equal_var=False)
ci = welch.confidence_interval(0.95)
out["welch"] = [float(ci.low), float(ci.high)]
print(json.dumps(out))
