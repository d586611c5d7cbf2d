"""How Korean reads a written word aloud, reduced to the one thing a particle needs: its last syllable.

A Korean particle follows the sound, not the letter: "16과" because 16 is read 십육, "3·16은",
"LSTM은" (엘에스티엠), "BiGRU는" (비지알유), "0.4859로" (…팔, ㄹ takes 로), "max_length는" (맥스 렝스).
`last_spoken_syllable` returns that syllable for what the report puts before a particle: Hangul,
numbers with thousands separators and decimals, %, %p, ×, Latin acronyms, English words and
identifiers, Greek letters; `labreport.report.catalog` picks the particle from its final consonant.
"""

from __future__ import annotations

import re

# Sino-Korean digits, as a number's last digit (or a decimal's digits, one by one) is read.
DIGITS = "영일이삼사오육칠팔구"
# The unit read after the lowest non-zero group of four digits: 10000 만, 10^8 억, 10^12 조, 10^16 경.
GROUP_UNITS = ("", "만", "억", "조", "경")

# How each Latin letter is called: A 에이, …, L 엘, M 엠, N 엔, R 알, …
LETTERS = {
    "a": "에이", "b": "비", "c": "씨", "d": "디", "e": "이", "f": "에프", "g": "지", "h": "에이치",
    "i": "아이", "j": "제이", "k": "케이", "l": "엘", "m": "엠", "n": "엔", "o": "오", "p": "피",
    "q": "큐", "r": "알", "s": "에스", "t": "티", "u": "유", "v": "브이", "w": "더블유", "x": "엑스",
    "y": "와이", "z": "제트",
}

GREEK = {
    "α": "알파", "β": "베타", "γ": "감마", "δ": "델타", "ε": "엡실론", "ζ": "제타", "η": "에타",
    "θ": "세타", "ι": "이오타", "κ": "카파", "λ": "람다", "μ": "뮤", "ν": "뉴", "ξ": "크사이",
    "ο": "오미크론", "π": "파이", "ρ": "로", "σ": "시그마", "ς": "시그마", "τ": "타우", "υ": "입실론",
    "φ": "파이", "χ": "카이", "ψ": "프사이", "ω": "오메가",
}

# Words whose Korean reading the spelling rules below would get wrong, or that the report says often.
WORDS = {
    "length": "렝스", "size": "사이즈", "rate": "레이트", "dim": "딤", "type": "타입", "adam": "아담",
    "keras": "케라스", "relu": "렐루", "tanh": "탄에이치", "tensorflow": "텐서플로", "python": "파이썬",
    "gru": "지알유", "lstm": "엘에스티엠", "rnn": "알엔엔", "imdb": "아이엠디비", "cpu": "씨피유",
    "gpu": "지피유", "json": "제이슨", "html": "에이치티엠엘", "ok": "오케이", "mcnemar": "맥니마",
    "nemar": "니마", "spearman": "스피어먼", "bootstrap": "부트스트랩", "units": "유닛츠",
    "epochs": "에포크스", "epoch": "에포크", "params": "파람스", "total": "토털", "derived": "디라이브드",
    "dropout": "드롭아웃", "output": "아웃풋", "input": "인풋", "set": "세트", "test": "테스트",
    "batch": "배치", "seed": "시드", "seeds": "시드스", "check": "체크", "mask": "마스크",
    "labreport": "랩리포트", "report": "리포트", "sigmoid": "시그모이드", "dense": "덴스",
    "bidirectional": "바이디렉셔널", "embedding": "임베딩", "model": "모델", "layer": "레이어",
    "max": "맥스", "min": "민", "mean": "민", "loss": "로스", "accuracy": "어큐러시", "vocab": "보캡",
    "sample": "샘플", "quick": "퀵", "native": "네이티브", "compiled": "컴파일드", "side": "사이드",
    "pre": "프리", "post": "포스트", "concat": "콘캣", "sum": "섬", "ave": "애버리지", "mul": "멀",
    "after": "애프터", "reset": "리셋", "textbook": "텍스트북", "bucketing": "버키팅", "cell": "셀",
    "gate": "게이트", "step": "스텝", "loop": "루프", "sweep": "스위프", "stop": "스톱", "web": "웹",
    "lab": "랩", "note": "노트", "notes": "노츠", "word": "워드", "words": "워즈", "gradient": "그레이디언트",
    "gradients": "그레이디언츠", "flow": "플로", "norm": "놈", "rho": "로", "pvalue": "피밸류",
    "value": "밸류", "learning": "러닝", "optimizer": "옵티마이저", "clang": "클랭", "gcc": "지씨씨",
    "avx": "에이브이엑스", "fp16": "에프피식스틴", "pdf": "피디에프", "docx": "독스", "hwpx": "에이치더블유피엑스",
}

CLOSING = ")]}>'\"’”`.,;:!?…"
PAIRS = {")": "(", "]": "[", "}": "{", "”": "“", "’": "‘"}


def last_spoken_syllable(text: str) -> str:
    """The last syllable of `text` as Korean reads it aloud, in Hangul ("" when nothing is read).

    Examples: "16" → "육" (십육), "20" → "십", "100,000" → "만", "0.6058" → "팔", "86.31%" → "트"
    (퍼센트), "0.51%p" → "트" (퍼센트포인트), "BiLSTM" → "엠", "max_length" → "스" (렝스), "ρ" → "로",
    "마지막 에포크(0.6058)" → "크" (a parenthesis is read after the word it follows).
    """
    text = str(text).rstrip()
    while text:
        last = text[-1]
        if last.isspace():
            text = text.rstrip()
        elif last in PAIRS or last in CLOSING:
            opening = PAIRS.get(last)
            start = text.rfind(opening) if opening else -1
            before = text[:start].rstrip() if start > 0 else ""
            if before:  # "에포크(0.6058)" is read as "에포크" followed by an aside
                text = before
            else:
                text = text[:-1] if start < 0 else text[start + 1:-1]
        else:
            break
    if not text:
        return ""
    last = text[-1]
    if "가" <= last <= "힣":
        return last
    if text.endswith(("%p", "%P", "%pt")):
        return "트"  # 퍼센트포인트
    if last in "%％":
        return "트"  # 퍼센트
    if last == "‰":
        return "밀"  # 퍼밀
    if last == "×":
        return "배"  # "2.3×" is read 이 점 삼 배
    if last == "²":
        return "곱"  # 제곱
    if last == "³":
        return "곱"  # 세제곱
    if last in "′'":
        return "임"  # 프라임
    if last.isdigit():
        return _number_ending(text)
    if last.lower() in GREEK:
        return GREEK[last.lower()][-1]
    if "a" <= last.lower() <= "z":
        return _latin_ending(text)
    return ""


def _number_ending(text: str) -> str:
    match = re.search(r"(\d[\d,]*)(?:\.(\d+))?$", text)
    whole, decimals = match.group(1).replace(",", ""), match.group(2)
    if decimals:  # decimals are read digit by digit: 0.6058 → 영 점 육공오팔
        return DIGITS[int(decimals[-1])]
    digits = whole.lstrip("0")
    if not digits:
        return "영"
    groups = [int(digits[max(0, end - 4):end]) for end in range(len(digits), 0, -4)]
    index = next(i for i, group in enumerate(groups) if group)  # the highest group is never 0
    group = groups[index]
    if index:  # 100,000 is 십만: the unit of the lowest non-zero group is read last
        return GROUP_UNITS[min(index, len(GROUP_UNITS) - 1)]
    if group % 10:
        return DIGITS[group % 10]
    if group % 100:
        return "십"
    if group % 1000:
        return "백"
    return "천"


def _latin_ending(text: str) -> str:
    run = re.search(r"[A-Za-z]+$", text).group(0)
    upper_tail = re.search(r"[A-Z]+$", run)
    if upper_tail and (len(upper_tail.group(0)) >= 2 or len(run) == 1 or not run[:-1].islower()):
        return LETTERS[run[-1].lower()][-1]  # an acronym is spelled: BiGRU → 비지알유, LSTM → 엘에스티엠
    if len(run) == 1:
        return LETTERS[run.lower()][-1]  # a variable: h → 에이치, d → 디
    # The last word of a camelCase name: McNemar → Nemar.
    word = re.search(r"[A-Z]?[a-z]+$", run).group(0).lower()
    if word in WORDS:
        return WORDS[word][-1]
    if not re.search(r"[aeiouy]", word):
        return LETTERS[word[-1]][-1]  # a lower-case acronym: tfds, npz
    return _english_ending(word)


def _english_ending(word: str) -> str:
    """The last syllable of an English word as Korean loanwords write it, by its spelling."""
    if word.endswith("ng"):
        return "잉"
    if word.endswith(("me", "ne")):
        return "임" if word.endswith("me") else "인"
    if len(word) > 2 and word.endswith("le") and word[-3] not in "aeiou":
        return "블"  # table 테이블, simple 심플
    last = word[-1]
    if last == "m":
        return "음"
    if last == "n":
        return "은"
    if last == "l":
        return "을"
    if last == "b":
        return "웹"
    if last == "k" or word.endswith("ck"):
        return "크" if word.endswith("sk") else "옥"
    if last == "p":
        return "프" if word[-3:-1] in ("oo", "ee", "ea") else "업"
    if word.endswith(("out", "ut")):
        return "웃"
    return "으"  # a vowel (데이터, 레이어) or a consonant Korean writes with ㅡ (시드, 로그, 테스트, 렝스)
