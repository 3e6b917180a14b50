"""The generic alert rules cover z.ai's pools without a change: promtool runs the
unit test written on the series the zai provider exports (pool `glm` windows `5h`
and `weekly`, pool `mcp` window `monthly`)."""

from __future__ import annotations

import subprocess

from tests.promql_util import RULE_TESTS_DIR, binary


def test_zai_pools_page_and_warn_through_the_generic_rules() -> None:
    path = RULE_TESTS_DIR / "zai_pools_test.yml"
    result = subprocess.run([binary("promtool"), "test", "rules", str(path)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr
