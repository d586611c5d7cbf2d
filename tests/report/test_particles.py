"""Korean particles follow the word as it is read aloud, not as it is written.

Each row is a word, the particle pair the catalog asks for, and the particle a Korean reader
expects, written by hand (with the reading that decides it), not computed by the code under test.
"""

import pytest

from labreport.report import catalog

PAIRS = {
    "이/가": ("이", "가"), "은/는": ("은", "는"), "을/를": ("을", "를"), "과/와": ("과", "와"),
    "으로/로": ("으로", "로"), "이고/고": ("이고", "고"), "이다/다": ("이다", "다"),
    "이었다/였다": ("이었다", "였다"),
}

# word | pair | expected particle   (the reading that decides it)
TABLE = """
16 | 과/와 | 과            십육
16 | 은/는 | 은            십육
32 | 과/와 | 와            삼십이
32 | 이/가 | 가            삼십이
3·16 | 은/는 | 은          삼 점 십육: the last number read
2 × 3·16 | 은/는 | 은      십육
32 × 16 | 과/와 | 과       십육
16 × 32 | 과/와 | 와       삼십이
0 | 이/가 | 이             영
1 | 이/가 | 이             일
2 | 이/가 | 가             이
3 | 이/가 | 이             삼
4 | 이/가 | 가             사
5 | 이/가 | 가             오
6 | 이/가 | 이             육
7 | 이/가 | 이             칠
8 | 이/가 | 이             팔
9 | 이/가 | 가             구
10 | 이/가 | 이            십
20 | 은/는 | 은            이십
64 | 은/는 | 는            육십사
100 | 을/를 | 을           백
128 | 을/를 | 을           백이십팔
200 | 과/와 | 과           이백
256 | 을/를 | 을           이백오십육
1000 | 이/가 | 이          천
2000 | 과/와 | 과          이천
2,000 | 과/와 | 과         이천
10000 | 은/는 | 은         만
10,000 | 으로/로 | 으로    만
25,000 | 이/가 | 이        이만오천
20,000 | 을/를 | 을        이만
100,000 | 이/가 | 이       십만
1,354,625 | 이/가 | 가     백삼십오만사천육백이십오
164,833 | 을/를 | 을       십육만사천팔백삼십삼
164,832 | 을/를 | 를       …삼십이
2,049 | 이/가 | 가         이천사십구
1,000,000 | 이/가 | 이     백만
100,000,000 | 이/가 | 이   억
1,000,000,000,000 | 이/가 | 가   조
42 | 으로/로 | 로         사십이
7 | 으로/로 | 로          칠 (ㄹ)
8 | 으로/로 | 로          팔 (ㄹ)
1 | 으로/로 | 로          일 (ㄹ)
10 | 으로/로 | 으로       십
3 | 으로/로 | 으로        삼
6 | 으로/로 | 으로        육
0 | 으로/로 | 으로        영
2 | 으로/로 | 로          이
1000 | 으로/로 | 으로     천
42, 43 | 으로/로 | 으로    사십삼
42, 44 | 으로/로 | 로      사십사
0.6058 | 이/가 | 이        영 점 육공오팔
0.6058 | 으로/로 | 로      팔 (ㄹ)
0.6230 | 으로/로 | 으로    영
0.4859 | 으로/로 | 로      영 점 사팔오구
0.4853 | 으로/로 | 으로    삼
0.4852 | 은/는 | 는        이
0.86 | 은/는 | 은          육
0.8631 | 은/는 | 은        일
0.05 | 이다/다 | 다        오
0.01 | 이다/다 | 이다      일
0.13 | 으로/로 | 으로      삼
0.12 | 으로/로 | 로        이
−0.05 | 이/가 | 가        마이너스 영 점 공오
1.0 | 과/와 | 과          영
3.5 | 과/와 | 와          오
1,917.0 | 이/가 | 이      영
12.3 | 이/가 | 이         삼
2.5 | 이/가 | 가          오
86.31% | 이/가 | 가       퍼센트
86.31% | 을/를 | 를       퍼센트
50% | 은/는 | 는         퍼센트
12.00%p | 이/가 | 가      퍼센트포인트
0.51%p | 으로/로 | 로      퍼센트포인트
3%p | 과/와 | 와         포인트
2.3× | 이다/다 | 다        배
1.25× | 은/는 | 는       배
BiGRU | 이/가 | 가          비지알유
BiGRU | 은/는 | 는          유
BiGRU | 을/를 | 를          유
BiGRU | 과/와 | 와          유
BiGRU | 으로/로 | 로        유
BiGRU | 이다/다 | 다        유
BiLSTM | 이/가 | 이         엠
BiLSTM | 은/는 | 은         엠
BiLSTM | 을/를 | 을         엠
BiLSTM | 과/와 | 과         엠
BiLSTM | 으로/로 | 으로     엠
BiLSTM | 이다/다 | 이다     엠
BiRNN | 은/는 | 은          엔
BiRNN | 이/가 | 이          엔
BiRNN | 과/와 | 과          엔
LSTM | 은/는 | 은           엘에스티엠
GRU | 은/는 | 는            지알유
RNN | 을/를 | 을            알엔엔
GRU | 과/와 | 와            유
BiGRU, BiLSTM | 을/를 | 을   엠
BiLSTM, BiGRU | 을/를 | 를   유
BiRNN, BiGRU, BiLSTM | 이/가 | 이   엠
CPU | 이/가 | 가            씨피유
GPU | 으로/로 | 로          유
IMDB | 은/는 | 는           아이엠디비
IMDB | 을/를 | 를           디비
JSON | 으로/로 | 으로        제이슨
HTML | 으로/로 | 로         에이치티엠엘 (ㄹ)
HTML | 이/가 | 이           엘
PDF | 이/가 | 가            피디에프
PDF | 으로/로 | 로          프
Adam | 은/는 | 은           아담
Adam | 으로/로 | 으로       담
Keras | 가/가 | 가          케라스 (a pair with one form)
Keras | 이/가 | 가          케라스
Keras | 의/의 | 의          —
TensorFlow | 이/가 | 가      텐서플로
TensorFlow | 으로/로 | 로    플로
Python | 으로/로 | 으로      파이썬
McNemar | 은/는 | 는         맥니마
Spearman | 은/는 | 은        스피어먼
ReLU | 은/는 | 는            렐루
tanh | 은/는 | 는            탄에이치
sigmoid | 을/를 | 를         시그모이드
Dense | 는/는 | 는           —
dense | 이/가 | 가           덴스
Dropout | 은/는 | 은         드롭아웃
dropout | 을/를 | 을         아웃
Embedding | 은/는 | 은       임베딩
embedding | 으로/로 | 으로     딩
Bidirectional | 은/는 | 은   바이디렉셔널
bidirectional | 으로/로 | 로   널 (ㄹ)
max_length | 은/는 | 는       맥스 렝스
max_length | 이/가 | 가       렝스
max_length | 을/를 | 를       렝스
max_length | 과/와 | 와       렝스
max_length | 이고/고 | 고     렝스
max_length, units | 이/가 | 가   유닛츠
units | 을/를 | 를            유닛츠
embedding_dim | 은/는 | 은    딤
embedding_dim | 으로/로 | 으로  딤
learning_rate | 이/가 | 가    레이트
batch_size | 는/는 | 는      —
batch_size | 이/가 | 가       사이즈
vocab_size | 을/를 | 를       사이즈
dropout_rate | 과/와 | 와     레이트
reset_after | 은/는 | 는      애프터
gru_reset_after | 를/를 | 를   —
epochs | 이/가 | 가           에포크스
seeds | 이/가 | 가            시드스
seed | 을/를 | 를             시드
train.compiled | 이/가 | 가     컴파일드
models.gru.params.total | 을/를 | 을   토털
models.gru.params.total.derived | 이/가 | 가   디라이브드
model | 이/가 | 이            모델
model | 으로/로 | 로          모델 (ㄹ)
layer | 이/가 | 가            레이어
table | 이/가 | 이            테이블
simple | 을/를 | 을           심플
time | 이/가 | 이             타임
line | 을/를 | 을             라인
padding | 이/가 | 이          패딩
bucketing | 을/를 | 을        버키팅
pre | 는/는 | 는              —
pre | 이/가 | 가              프리
post | 이/가 | 가             포스트
concat | 은/는 | 은           콘캣
sum | 으로/로 | 으로          섬
ave | 는/는 | 는              —
mul | 으로/로 | 로            멀 (ㄹ)
ok | 이/가 | 가               오케이
keras | 가/가 | 가            —
derived, keras, ok | 이/가 | 가   오케이
labreport | 는/는 | 는        —
labreport | 이/가 | 가        랩리포트
web | 이/가 | 이              웹
lab | 은/는 | 은              랩
stack | 이/가 | 이            스택
mask | 가/가 | 가             —
mask | 을/를 | 를             마스크
loop | 를/를 | 를             —
loop | 이/가 | 가             루프
sweep | 으로/로 | 로          스위프
step | 이/가 | 이             스텝
setup | 이/가 | 이            셋업
output | 이/가 | 이           아웃풋
log | 가/가 | 가              —
log | 이/가 | 가              로그
word | 이/가 | 가             워드
optimizer | 가/가 | 가        —
optimizer | 이/가 | 가        옵티마이저
data | 이/가 | 가             데이터
tfds | 는/는 | 는             —
tfds | 은/는 | 는             티에프디에스
npz | 은/는 | 는              엔피제트
h | 이/가 | 가                에이치
d | 와/와 | 와                —
d | 과/와 | 와                디
V | 이/가 | 가                브이
T | 는/는 | 는                —
T | 은/는 | 는                티
L | 은/는 | 은                엘
L | 으로/로 | 로              엘 (ㄹ)
M | 이/가 | 이                엠
N | 과/와 | 과                엔
R | 으로/로 | 로              알 (ㄹ)
x | 를/를 | 를                —
x | 을/를 | 를                엑스
z | 는/는 | 는                —
z | 은/는 | 는                제트
b′ | 은/는 | 은               비 프라임
x² | 은/는 | 은               엑스 제곱
ρ | 는/는 | 는                —
ρ | 은/는 | 는                로
ρ | 으로/로 | 로              로
α | 이/가 | 가                알파
β | 은/는 | 는                베타
ε | 이/가 | 이                엡실론
ε | 으로/로 | 으로            엡실론 (ㄴ)
λ | 을/를 | 를                람다
σ | 과/와 | 와                시그마
μ | 이/가 | 가                뮤
θ | 은/는 | 는                세타
η | 을/를 | 를                에타
Σ | 은/는 | 는                시그마
Ω | 과/와 | 와                오메가
스피어만 ρ = 0.13 | 으로/로 | 으로   삼
스피어만 ρ = 0.12 | 으로/로 | 로     이
모델 | 으로/로 | 로             ㄹ
학습 | 이/가 | 이               ㅂ
시드 | 으로/로 | 로             ㅡ
체크포인트 | 은/는 | 는         ㅡ
층 | 을/를 | 을                 ㅇ
에포크 | 이/가 | 가             ㅡ
정확도 | 과/와 | 와             ㅗ
손실 | 과/와 | 과               ㄹ
손실 | 으로/로 | 로             ㄹ
마지막 에포크(0.6058) | 이/가 | 가   에포크: the aside is not read before the particle
최적 체크포인트(7 에포크) | 은/는 | 는   트
BiGRU (시드 42) | 은/는 | 는     유
(16) | 과/와 | 과               십육, nothing before the parenthesis
"max_length" | 은/는 | 는       렝스, inside quotes
`units` | 을/를 | 를            유닛츠, inside backticks
[3] | 은/는 | 은               삼
BiGRU. | 은/는 | 는             유, a full stop is not read
IMDB 표본 2,000개 | 으로/로 | 로   개
"""


def rows():
    for line in TABLE.strip().splitlines():
        word, pair, rest = (part.strip() for part in line.split("|", 2))
        expected = rest.split()[0]
        if pair not in PAIRS:
            continue  # rows with a one-form pair are notes to the reader, not cases
        yield pytest.param(word, pair, expected, id=f"{word}{expected}")


CASES = list(rows())


def test_the_table_is_large():
    assert len(CASES) >= 200


@pytest.mark.parametrize("word, pair, expected", CASES)
def test_the_particle_follows_the_word_as_read(word, pair, expected):
    assert catalog.korean_particle(word, *PAIRS[pair]) == word + expected
