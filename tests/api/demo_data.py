"""Who and what the seeded demo region holds, for the API tests (from the deterministic plant)."""

from __future__ import annotations

from dusttwin.demo import demo_plant

PLANT = demo_plant()
BAOSHAN = [e for e in PLANT if e.record.adcode == "310113"]
JIADING = [e for e in PLANT if e.record.adcode == "310114"]
FENGXIAN = [e for e in PLANT if e.record.adcode == "310120"]
# qiye-310113 is the first Baoshan enterprise; the integrator was granted the first ten of them.
OWN = BAOSHAN[0]
GRANTED = BAOSHAN[1]
UNGRANTED_BAOSHAN = BAOSHAN[15]
JIADING_ONE = JIADING[0]
