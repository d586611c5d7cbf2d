"""The index a TA reads: a class holding every flag, rendered for real and read as a TA would.

Each run is the checked-in record under its own cover, with prediction arrays written to match
its metrics (so only the flag each run is made for, and `quick` for the shipped sample, appear).
"""

import copy
import csv
import io
import json
import re

import numpy as np
import pytest

from labreport.core.stats import metrics
from labreport.site import publish as site
from labreport.site.checks import CHECKS

COURSE = "Deep Learning 101 (Fall)"


def write_run(folder, record, student_id, name, predictions=True, seed=0):
    record = copy.deepcopy(record)
    record["config"]["report"].update(student_id=student_id, name=name)
    folder.mkdir(parents=True)
    if predictions:
        reviews = record["dataset"]["splits"]["test"]["total"]
        rng = np.random.default_rng(seed)
        labels = np.repeat([0, 1], reviews // 2).astype(np.int64)
        arrays = {"labels": labels, "lengths": rng.integers(10, 200, reviews).astype(np.int32)}
        for model, entry in record["models"].items():
            for key, suffix in (("test", ""), ("test_last_epoch", "_last")):
                probabilities = rng.uniform(0, 1, reviews).astype(np.float32)
                arrays[model + suffix] = probabilities
                entry[key].update(metrics(labels, probabilities))
        np.savez(folder / "predictions.npz", **arrays)
    (folder / "results.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    return record


@pytest.fixture(scope="module")
def every_flag(tmp_path_factory, checked_in_record):
    root = tmp_path_factory.mktemp("index")
    subs = root / "subs"
    base = checked_in_record
    partial = copy.deepcopy(base)
    partial["dataset"]["source"] = "archive"
    write_run(subs / "a", partial, "2024001", "김민지", seed=1)
    (subs / "a" / "notes.ko.md").write_text("# 토의\n\n<!-- 질문 -->\nGRU가 더 빨랐다.\n", encoding="utf-8")
    write_run(subs / "b", base, "2024002", "Bob", seed=2)
    wider = copy.deepcopy(base)
    wider["config"]["model"]["hidden_units"] += 2
    write_run(subs / "c", wider, "2024003", "이서준", seed=3)
    edited = write_run(subs / "d", base, "2024004", "Dan", seed=4)
    edited["models"]["gru"]["test"]["accuracy"] = 0.99
    (subs / "d" / "results.json").write_text(json.dumps(edited, ensure_ascii=False), encoding="utf-8")
    write_run(subs / "e", base, "2024005", "Eve", predictions=False)
    write_run(subs / "f", base, "2024006", "Fay", seed=6)
    (subs / "f" / "predictions.npz").write_bytes(b"not an npz")
    write_run(subs / "g", base, "2024007", "Gus", seed=2)  # Bob's predictions
    miscounted = copy.deepcopy(base)
    miscounted["models"]["lstm"]["params"]["layers"][2]["ok"] = False
    write_run(subs / "h", miscounted, "2024008", "Hal", seed=8)
    write_run(subs / "i", base, "2024001", "Ivy", seed=9)  # 김민지's student ID
    (root / "labreport.toml").write_text(f'[report]\ncourse = "{COURSE}"\nlab_title = {{ ko = "실습 5", en = "Lab 5" }}\n',
                                         encoding="utf-8")
    out = root / "site"
    patch = pytest.MonkeyPatch()
    patch.chdir(root)  # the TA's folder, with its labreport.toml
    try:
        summary = site.build([subs], out, languages=["ko", "en"], formats=("html",))
    finally:
        patch.undo()
    return out, summary


def test_the_class_holds_every_flag(every_flag):
    _, summary = every_flag
    assert {flag["check"] for row in summary["runs"] for flag in row["flags"]} == set(CHECKS)


@pytest.mark.parametrize("page, lang", [("index.html", "ko"), ("index.en.html", "en")])
def test_one_line_per_run_with_its_badges_reasons_and_links_korean_first(every_flag, page, lang):
    out, summary = every_flag
    html = (out / page).read_text(encoding="utf-8")
    bodies = re.findall(r"<tbody data-flags=\"([^\"]*)\">(.*?)</tbody>", html, re.S)
    assert len(bodies) == len(summary["runs"]) == 9
    assert "<tbody hidden" not in html  # without the script, every run shows
    for (flags, body), row in zip(bodies, summary["runs"]):
        assert flags.split() == [flag["check"] for flag in row["flags"]]
        line, details = body.split('<tr class="details">')
        assert row["name"] in line
        assert len(re.findall(r'<span class="badge" title="[^"]+">', line)) == len(row["flags"])
        assert len(re.findall(r"<li>", details)) == len(row["flags"])
        links = re.findall(r'<a href="(runs/[^"]+)" aria-label="([^"]+)" title="[^"]+">([^<]+)</a>', line)
        assert [href for href, _, _ in links] == [f"runs/{row['id']}/report.ko.html", f"runs/{row['id']}/report.en.html"]
        assert [name for _, name, _ in links] == ["한국어 HTML", "English HTML"]
        assert [text for _, _, text in links] == ["HTML", "HTML"]
        assert re.findall(r'<span class="lang" lang="(\w+)">', line) == ["ko", "en"]
    title = "실습 5" if lang == "ko" else "Lab 5"
    assert f'<div class="course">{COURSE}</div>' in html and f"<h1>{title}</h1>" in html


def test_the_flags_are_counted_once_at_the_top(every_flag):
    out, summary = every_flag
    html = (out / "index.en.html").read_text(encoding="utf-8")
    top = re.search(r'<dd id="flag-counts">(.*?)</dd>', html, re.S).group(1)
    counted = dict(re.findall(r'<span class="badge" data-flag="([a-z_]+)">[^<]*? (\d+)</span>', top))
    expected = {}
    for row in summary["runs"]:
        for flag in row["flags"]:
            expected[flag["check"]] = expected.get(flag["check"], 0) + 1
    assert {check: int(count) for check, count in counted.items()} == expected
    assert list(counted)[0] == "edited"  # what needs attention first
    assert 'title="the record&#39;s numbers do not match its own predictions (edited?): models.gru.test.accuracy"' in html


def test_own_sections_are_shown_and_written_to_the_csv_and_summary(every_flag):
    out, summary = every_flag
    html = (out / "index.html").read_text(encoding="utf-8")
    first = re.search(r"<tbody[^>]*>(.*?)</tbody>", html, re.S).group(1)
    assert "ko: 작성, 1개 절 9자" in first and "en: 작성 안 함" in first
    rows = list(csv.DictReader(io.StringIO((out / "grades.csv").read_bytes().decode("utf-8-sig"))))
    by_name = {r["name"]: r for r in rows}
    assert (by_name["김민지"]["own_sections_ko"], by_name["김민지"]["own_characters_ko"]) == ("1", "9")
    assert (by_name["Bob"]["own_sections_ko"], by_name["Bob"]["own_characters_ko"]) == ("0", "0")
    assert summary["runs"][0]["own_sections"] == {"ko": {"sections": 1, "characters": 9},
                                                  "en": {"sections": 0, "characters": 0}}


@pytest.mark.parametrize("page, said", [("index.html", "실행 9개를 모두 읽었다."), ("index.en.html", "All 9 runs could be read.")])
def test_a_class_read_whole_says_so_without_a_count_of_nothing(every_flag, page, said):
    out, _ = every_flag
    html = (out / page).read_text(encoding="utf-8")
    assert said in html and "0개는 읽지" not in html and "0 could not" not in html
