"""The benchmark suite at its smallest size: it runs, and writes every result and section.

These tests check that ``python -m bench run --size small`` keeps working; they
assert no time. The suite runs once for the module, into a scratch directory,
so the committed results and docs/benchmarks.md are left alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("psutil", reason="the benchmark suite needs pip install -e '.[bench]'")
pytest.importorskip("matplotlib", reason="the benchmark suite needs pip install -e '.[bench]'")

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ("inbox", "processing", "fanout", "reads", "search", "memory", "scale", "peer")
TITLES = (
    "## Inbox acceptance",
    "## Processing",
    "## Fan-out",
    "## Read paths",
    "## Lesson-plan search",
    "## Memory",
    "## Scale with processes",
    "## Side by side with bovine-herd",
    "## Targets",
    "## History",
)
RUN_TIMEOUT = 600  # seconds; a bound on a hung run, not a performance check


@dataclass
class SuiteRun:
    returncode: int
    output: str
    results: Path
    docs: Path

    def result(self, name: str) -> dict:
        return json.loads((self.results / f"{name}.json").read_text())

    @property
    def page(self) -> str:
        return (self.docs / "benchmarks.md").read_text()


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    directory = tmp_path_factory.mktemp("bench")
    results, docs = directory / "results", directory / "docs"
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--size", "small",
         "--results", str(results), "--docs", str(docs)],
        cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT,
    )
    return SuiteRun(completed.returncode, completed.stdout + completed.stderr, results, docs)


def test_bench_small_run_exits_zero(suite: SuiteRun) -> None:
    assert suite.returncode == 0, suite.output[-5000:]


@pytest.mark.parametrize("name", BENCHMARKS)
def test_bench_small_writes_result_json(suite: SuiteRun, name: str) -> None:
    assert suite.result(name)["name"] == name


@pytest.mark.parametrize("name", [name for name in BENCHMARKS if name != "peer"])
def test_bench_small_result_has_limit_row(suite: SuiteRun, name: str) -> None:
    kinds = {row["kind"] for row in suite.result(name)["rows"]}
    assert "limit" in kinds


@pytest.mark.parametrize(
    "name", ["inbox", "processing", "fanout", "reads", "search", "memory", "scale"]
)
def test_bench_small_result_has_ratio(suite: SuiteRun, name: str) -> None:
    ratios = [row["ratio"] for row in suite.result(name)["rows"] if "ratio" in row]
    assert ratios


def test_bench_small_result_records_cores(suite: SuiteRun) -> None:
    assert suite.result("inbox")["machine"]["cores"] >= 1


def test_bench_small_result_records_commit(suite: SuiteRun) -> None:
    assert suite.result("inbox")["commit"]


def test_bench_small_inbox_accepts_every_request(suite: SuiteRun) -> None:
    assert [note for note in suite.result("inbox")["notes"] if "not accepted" in note] == []


def test_bench_small_processing_finishes_every_activity(suite: SuiteRun) -> None:
    assert set(suite.result("processing")["extra"]["outcome"]["states"]) == {"done"}


@pytest.mark.parametrize("name", ["reads", "search"])
def test_bench_small_reads_answer_every_request(suite: SuiteRun, name: str) -> None:
    assert [note for note in suite.result(name)["notes"] if "failed" in note] == []


def test_bench_small_fanout_deliveries_verify(suite: SuiteRun) -> None:
    assert [run["rejected"] for run in suite.result("fanout")["extra"]["runs"]] == [0]


@pytest.mark.parametrize("title", TITLES)
def test_bench_small_page_has_section(suite: SuiteRun, title: str) -> None:
    assert f"\n{title}\n" in suite.page


def test_bench_small_page_names_the_command(suite: SuiteRun) -> None:
    assert "`python -m bench run --size small --only inbox`" in suite.page


def test_bench_small_page_links_existing_plots(suite: SuiteRun) -> None:
    linked = [line.split("](", 1)[1].rstrip(")") for line in suite.page.splitlines()
              if line.startswith("![")]
    assert linked and all((suite.docs / name).is_file() for name in linked)
